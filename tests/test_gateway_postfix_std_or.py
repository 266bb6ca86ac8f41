"""Issue 11 item 9 end to end: an X.400 originator with a blank ADMD reaches a real Postfix.

    remote X.400 MTA --P1--> gateway --SMTP--> Postfix (destination) --> Maildir

The originator ``/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/`` has no MCGAM, so RFC 2156
§4.3.5 B3/B5 write it as the std-or local part at the gateway's domain,
``"/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/"@gw.example``, which has a space: the
gateway's SMTP client used to refuse it ("address unusable on a command line").  RFC 5321
§4.1.2 sends it as a Quoted-string; Postfix takes it and records it as the Return-Path.
Assertions are on the delivered bytes and Postfix's own log line, not on our logs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bridge.codec import encode_apdu
from bridge.convert.to_x400 import mime_to_x400
from bridge.gateway.app import App
from bridge.mapping.address import Role
from bridge.model.apdu import Message
from bridge.model.envelope import PerRecipientIndicators, Recipient
from bridge.model.oraddress import ORName
from bridge.model.ortext import parse_or_address
from bridge.x400.peers import LocalMTA, Peer, PeerTable
from bridge.x400.shell import Responder
from tests.postfix import Postfix, free_port, instance_root, require_postfix
from tests.test_gateway import RemoteMTA, make_config
from tests.test_gateway_postfix import maildir, mime, p1_send

pytestmark = pytest.mark.oracle

ORIGINATOR = "/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/"
#: RFC 2156 §4.3.5 B5 at the gateway domain of tests.test_gateway.make_config
MAIL_FROM = f'"{ORIGINATOR}"@gw.example'
RECIPIENT = "bob@example.net"


@asynccontextmanager
async def rig() -> AsyncIterator[tuple[App, Postfix]]:
    """The gateway, whose smarthost is a destination Postfix delivering every domain to a
    Maildir; a P1 responder plays the remote MTA the gateway is configured with."""
    require_postfix()
    responder = Responder(PeerTable(local=LocalMTA(name="remote", password="rpw"), peers={
        "gateway": Peer(key="gateway", mta_name="gateway", password="gwpw")}), RemoteMTA())
    await responder.start("127.0.0.1", 0)
    with instance_root() as root:
        pf = Postfix(root / "dst", name="dst", smtpd_port=free_port())
        app = App(make_config(root / "gw", remote_port=responder.port, sink_port=pf.smtpd_port))
        try:
            pf.start()
            await app.start()
            yield app, pf
        finally:
            await app.stop(drain=5)
            pf.stop()
            await responder.close(drain=1)


def test_blank_admd_originator_is_the_return_path_in_postfix() -> None:
    async def main() -> None:
        async with rig() as (app, pf):
            ctx = app.gateway.ctx()
            # an X.400 message for an Internet recipient, as a remote MTA would send it
            apdu = mime_to_x400(mime(MAIL_FROM, RECIPIENT, "Blank ADMD", "From PP.\n"),
                                MAIL_FROM, [RECIPIENT], ctx).apdu
            assert isinstance(apdu, Message)
            bob = ctx.mapper.to_x400(RECIPIENT, Role.SMTP_RECIPIENT).address
            message = dataclasses.replace(apdu, envelope=dataclasses.replace(
                apdu.envelope, originator=ORName(address=parse_or_address(ORIGINATOR)),
                recipients=(Recipient(name=ORName(address=bob), number=1,
                                      indicators=PerRecipientIndicators.RESPONSIBILITY),)))
            assert str(message.envelope.originator.address) == ORIGINATOR
            await p1_send(app, encode_apdu(message))
            [raw] = await maildir(pf, RECIPIENT)
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            # virtual(8) writes the MAIL FROM path it received as the Return-Path
            assert msg["Return-Path"] == f"<{MAIL_FROM}>"
            assert msg["Delivered-To"] == RECIPIENT
            assert msg["Subject"] == "Blank ADMD"
            assert f"from=<{MAIL_FROM}>" in await asyncio.to_thread(pf.log)
    asyncio.run(asyncio.wait_for(main(), 240))
