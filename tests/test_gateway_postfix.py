"""The gateway between two real Postfix instances and an X.400 MTA (issue 6 "Done when").

    client --smtp--> Postfix A (relay) --smtp--> gateway --P1--> remote X.400 MTA (our responder)
    remote X.400 MTA --P1--> gateway --smtp--> Postfix B --> Maildir (dest.example, a.example)
                                                       \\--> sink answering 550 (bounce.example)
    Postfix B's bounces for X.400 senders --smtp--> gateway (B relays everything else there)

1. Mail sent to Postfix crosses to X.400 and comes back through the gateway to the second
   Postfix, which delivers it to a Maildir.
2. An X.400 NDR becomes a DSN that Postfix delivers to the original sender.
3. A Postfix bounce (Postfix accepted, its next hop refused) becomes an X.400 NDR.
Assertions are on the delivered bytes and the received APDUs, not on logs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import smtplib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from bridge.codec import decode_apdu, decode_content, encode_apdu
from bridge.convert.gateway_reports import RecipientFate, message_report
from bridge.gateway.app import App
from bridge.mapping.address import Role
from bridge.model.apdu import Message
from bridge.model.envelope import PerRecipientIndicators, Recipient
from bridge.model.oraddress import ORName
from bridge.model.report import NonDeliveryOutcome, Report
from bridge.x400.peers import LocalMTA, Peer
from bridge.x400.shell import Association
from tests.postfix import Postfix, free_port, instance_root, require_postfix
from tests.test_gateway import RemoteMTA, make_config, wait_for

pytestmark = pytest.mark.oracle


class Refuser:
    """The next hop of bounce.example: refuses every recipient."""

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        return f"550 5.1.1 <{address}>: no such user"


@asynccontextmanager
async def rig() -> AsyncIterator[tuple[App, RemoteMTA, Postfix, Postfix]]:
    require_postfix()
    loop = asyncio.get_running_loop()
    refuser = await loop.create_server(lambda: SMTP(Refuser(), hostname="refuser.test",
                                                    loop=loop), "127.0.0.1", 0)
    refuser_port = refuser.sockets[0].getsockname()[1]
    remote = RemoteMTA()
    from bridge.x400.peers import PeerTable
    from bridge.x400.shell import Responder

    responder = Responder(PeerTable(local=LocalMTA(name="remote", password="rpw"), peers={
        "gateway": Peer(key="gateway", mta_name="gateway", password="gwpw")}), remote)
    await responder.start("127.0.0.1", 0)
    gw_port, a_port, b_port = free_port(), free_port(), free_port()
    with instance_root() as root:
        a = Postfix(root / "a", name="a", smtpd_port=a_port, relay_to=("127.0.0.1", gw_port))
        b = Postfix(root / "b", name="b", smtpd_port=b_port, relay_to=("127.0.0.1", gw_port),
                    maildir_domains=("dest.example", "a.example"),
                    routes={"bounce.example": ("127.0.0.1", refuser_port)})
        config = make_config(root / "gw", remote_port=responder.port, sink_port=b_port,
                             smtp__in={"listen": f"127.0.0.1:{gw_port}",
                                       "relay-networks": ["127.0.0.0/8"]})
        app = App(config)
        try:
            a.start()
            b.start()
            await app.start()
            yield app, remote, a, b
        finally:
            await app.stop(drain=5)
            a.stop()
            b.stop()
            await responder.close(drain=1)
            refuser.close()
            await refuser.wait_closed()


def mime(sender: str, to: str, subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@a.example>"
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP_POLICY)


async def submit_to_postfix(port: int, sender: str, rcpt: str, data: bytes) -> None:
    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            assert s.sendmail(sender, [rcpt], data) == {}
    await asyncio.to_thread(send)


async def p1_send(app: App, apdu: bytes) -> None:
    assoc = await Association.open(
        Peer(key="gw", mta_name="gateway", password="gwpw", host="127.0.0.1",
             port=app.p1_port, timeout=30), LocalMTA(name="remote", password="rpw"))
    await assoc.transfer(apdu)
    await assoc.release()


async def maildir(pf: Postfix, address: str, count: int = 1) -> list[bytes]:
    return await asyncio.to_thread(pf.wait_for_messages, address, count, 90)


def run(fn: Callable[[], Any]) -> None:
    asyncio.run(asyncio.wait_for(fn(), 240))


def test_round_trip_through_x400_to_a_maildir() -> None:
    async def main() -> None:
        async with rig() as (app, remote, a, b):
            body = "Across X.400 and back, via Postfix both ways.\n"
            await submit_to_postfix(a.smtpd_port, "alice@a.example", "John.Smith@x400.example",
                                    mime("alice@a.example", "John.Smith@x400.example",
                                         "Round trip", body))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived, 90)
            got = decode_apdu(remote.apdus[0])
            assert isinstance(got, Message)
            ipm = decode_content(got.content)
            assert ipm.heading.subject == "Round trip"  # type: ignore[union-attr]
            # the X.400 side sends the same IPM on to an Internet recipient
            ctx = app.gateway.ctx()
            bob = ctx.mapper.to_x400("bob@dest.example", Role.SMTP_RECIPIENT).address
            onward = dataclasses.replace(got, envelope=dataclasses.replace(
                got.envelope, recipients=(Recipient(
                    name=ORName(address=bob), number=1,
                    indicators=PerRecipientIndicators.RESPONSIBILITY),)))
            await p1_send(app, encode_apdu(onward))
            [delivered] = await maildir(b, "bob@dest.example")
            msg = email.message_from_bytes(delivered, policy=email.policy.default)
            assert msg["Subject"] == "Round trip"
            assert body.strip() in msg.get_body().get_content()  # type: ignore[union-attr]
            assert "alice@a.example" in str(msg["From"])
            assert msg["Delivered-To"] == "bob@dest.example"
    run(main)


def test_x400_ndr_becomes_a_dsn_delivered_to_the_sender() -> None:
    async def main() -> None:
        async with rig() as (app, remote, a, b):
            await submit_to_postfix(a.smtpd_port, "alice@a.example", "John.Smith@x400.example",
                                    mime("alice@a.example", "John.Smith@x400.example",
                                         "Refused in X.400", "Please bounce.\n"))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived, 90)
            got = decode_apdu(remote.apdus[0])
            assert isinstance(got, Message)
            ctx = app.gateway.ctx()
            ndr = message_report(got, {got.envelope.recipients[0].number: RecipientFate(
                status="5.1.1", diagnostic="unknown recipient")}, ctx)
            assert ndr is not None
            await p1_send(app, encode_apdu(ndr))
            [dsn] = await maildir(b, "alice@a.example")
            msg = email.message_from_bytes(dsn, policy=email.policy.default)
            assert msg.get_content_type() == "multipart/report"
            assert msg.get_param("report-type") == "delivery-status"
            assert b"Action: failed" in dsn and b"Status: 5.1.1" in dsn
            assert b"John.Smith@x400.example" in dsn or b"x400" in dsn.lower()
    run(main)


def test_postfix_bounce_becomes_an_x400_ndr() -> None:
    async def main() -> None:
        async with rig() as (app, remote, a, b):
            ctx = app.gateway.ctx()
            from bridge.convert.to_x400 import mime_to_x400

            doomed = mime_to_x400(mime("John.Smith@x400.example", "nobody@bounce.example",
                                       "Will bounce", "Postfix will bounce this.\n"),
                                  "John.Smith@x400.example", ["nobody@bounce.example"],
                                  ctx).apdu
            assert isinstance(doomed, Message)
            await p1_send(app, encode_apdu(doomed))
            # Postfix B accepts it, its next hop refuses, B bounces to the X.400 originator,
            # the bounce comes back through the gateway as an X.400 report
            await wait_for(lambda: any(isinstance(decode_apdu(x), Report)
                                       for x in remote.apdus), remote.arrived, 120)
            [report] = [r for r in map(decode_apdu, remote.apdus) if isinstance(r, Report)]
            assert isinstance(report, Report)
            assert any(isinstance(r.outcome, NonDeliveryOutcome) for r in report.recipients)
            assert report.subject_identifier == doomed.envelope.identifier
    run(main)
