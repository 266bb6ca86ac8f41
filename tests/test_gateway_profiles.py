"""The gateway sends each P1 peer what its profile says it takes (issue 11, "Peer profiles").

End to end in one process: SMTP in, conversion in the conversion pool, P1 out to a responder
standing in for PP 6.0 (``x411-edition = 1988``) or for a peer inside our management domain
(``same-domain = true``); the peer table comes from TOML as an operator writes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from bridge.codec import decode_apdu, encode_apdu
from bridge.gateway.app import App
from bridge.model.apdu import Message
from bridge.model.common import StandardExtension
from bridge.model.report import Report
from bridge.x400.peers import LocalMTA, Peer, PeerTable, load_peer_table
from bridge.x400.profile import PeerProfile
from bridge.x400.shell import Responder
from tests.test_gateway import (
    RemoteMTA,
    Sink,
    make_config,
    mime,
    run,
    smtp_send,
    wait_for,
    x400_message,
)

ITI = StandardExtension.INTERNAL_TRACE_INFORMATION


@asynccontextmanager
async def world(tmp: Path, profile: dict[str, Any]) -> AsyncIterator[tuple[App, RemoteMTA]]:
    loop = asyncio.get_running_loop()
    smtp_server = await loop.create_server(              # the Internet side: refuses nobody@
        lambda: SMTP(Sink(), hostname="sink.test", loop=loop), "127.0.0.1", 0)
    remote = RemoteMTA()
    responder = Responder(PeerTable(local=LocalMTA(name="remote", password="rpw"), peers={
        "gateway": Peer(key="gateway", mta_name="gateway", password="gwpw")}), remote)
    await responder.start("127.0.0.1", 0)
    config = make_config(tmp, remote_port=responder.port,
                         sink_port=smtp_server.sockets[0].getsockname()[1])
    table = load_peer_table({"peers": {"remote": {
        "mta-name": "remote", "password": "rpw", "host": "127.0.0.1", "port": responder.port,
        "timeout": 10, **profile}}}, where="x400")
    config = dataclasses.replace(config, x400=dataclasses.replace(config.x400,
                                                                  peers=table.peers))
    app = App(config)
    await app.start()
    try:
        yield app, remote
    finally:
        await app.stop(drain=5)
        await responder.close(drain=1)
        smtp_server.close()
        await smtp_server.wait_closed()


def test_a_1988_peer_gets_the_1988_extension_form_and_no_internal_trace(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, {"x411-edition": 1988}) as (app, remote):
            assert app.config.x400.peers["remote"].profile == PeerProfile(x411_edition=1988)
            await smtp_send(app.smtp_port, "alice@internet.example",
                            ["John.Smith@x400.example"],
                            mime("alice@internet.example", "John.Smith@x400.example", "88"))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            data = remote.apdus[0]
            msg = decode_apdu(data)
            assert isinstance(msg, Message)
            assert msg.envelope.extensions                      # e.g. the content correlator
            assert ITI not in [e.type for e in msg.envelope.extensions]
            assert b"\xa0\x03\x02\x01" in data                  # [0] { INTEGER } -- X.411 1988
            assert encode_apdu(msg, extension_form="1988") == data
    run(main)


def test_a_peer_in_our_domain_gets_internal_trace_with_our_element(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, {"same-domain": True}) as (app, remote):
            await smtp_send(app.smtp_port, "alice@internet.example",
                            ["John.Smith@x400.example"],
                            mime("alice@internet.example", "John.Smith@x400.example", "MD"))
            await wait_for(lambda: len(remote.apdus) >= 1, remote.arrived)
            msg = decode_apdu(remote.apdus[0])
            assert isinstance(msg, Message)
            assert msg.envelope.internal_trace[-1].mta_name == "gateway"
            assert b"\x80\x01\x26" in remote.apdus[0]          # the 1992 form by default
    run(main)


def test_reports_we_make_go_out_in_the_peers_form(tmp_path: Path) -> None:
    """An NDR the gateway makes (stored ready-made in the queue) is re-encoded for the peer."""
    async def main() -> None:
        async with world(tmp_path, {"x411-edition": 1988, "envelope-extensions": False}) \
                as (app, remote):
            res = x400_message(app, "John.Smith@x400.example", "nobody@internet.example",
                               "Doomed")
            from bridge.x400.shell import Association

            assoc = await Association.open(
                Peer(key="gw", mta_name="gateway", password="gwpw", host="127.0.0.1",
                     port=app.p1_port), LocalMTA(name="remote", password="rpw"))
            await assoc.transfer(encode_apdu(res.apdu))
            await assoc.release()
            await asyncio.wait_for(remote.arrived.wait(), 60)
            report = decode_apdu(remote.apdus[0])
            assert isinstance(report, Report)
            assert report.envelope_extensions == ()
    run(main)
