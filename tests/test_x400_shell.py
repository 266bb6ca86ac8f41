"""The asyncio shell over real loopback TCP: responder, initiator, peer table, timeouts."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from bridge.errors import AssociationError, BridgeError, DecodeError
from bridge.x400.peers import LocalMTA, Peer, PeerTable
from bridge.x400.shell import Association, Responder, Timeouts

APDUS = [p.read_bytes() for p in sorted((Path(__file__).parent / "data" / "samples")
                                         .glob("*.p1.ber"))]

SERVER_LOCAL = LocalMTA(name="guinevere", password="merlin", listen_port=0)
CLIENT_LOCAL = LocalMTA(name="percival", password="excalibur")


def server_table(mode: str = "normal", **peer: object) -> PeerTable:
    entry = Peer(key="percival", mta_name="percival", password="excalibur",
                 mode=mode)  # type: ignore[arg-type]
    if peer:
        from dataclasses import replace
        entry = replace(entry, **peer)  # type: ignore[arg-type]
    return PeerTable(local=SERVER_LOCAL, peers={"percival": entry})


def client_peer(port: int, mode: str = "normal", password: str = "merlin") -> Peer:
    return Peer(key="guinevere", mta_name="guinevere", password=password, host="127.0.0.1",
                port=port, mode=mode, timeout=10)  # type: ignore[arg-type]


class Store:
    """An on_apdu callback that keeps what it got (and can be told to fail)."""

    def __init__(self, fail: bool = False) -> None:
        self.got: list[bytes] = []
        self.fail = fail

    async def __call__(self, apdu: bytes, peer: Peer) -> None:
        if self.fail:
            raise DecodeError("storage refused it")
        self.got.append(apdu)


async def _serve(table: PeerTable, store: Store, timeouts: Timeouts | None = None) \
        -> Responder:
    responder = Responder(table, store, timeouts=timeouts or Timeouts())
    await responder.start("127.0.0.1", 0)
    return responder


@pytest.mark.parametrize("mode", ["normal", "x410"])
def test_many_messages_over_one_association(mode: str) -> None:
    async def main() -> None:
        store = Store()
        responder = await _serve(server_table(mode), store)
        try:
            assoc = await Association.open(client_peer(responder.port, mode), CLIENT_LOCAL)
            payloads = [*APDUS, os.urandom(300_000)]
            for apdu in payloads:
                await assoc.transfer(apdu)
            await assoc.release()
            assert store.got == payloads
            assert assoc.transferred == len(payloads)
        finally:
            await responder.close()

    asyncio.run(main())


def test_concurrent_associations() -> None:
    async def main() -> None:
        store = Store()
        responder = await _serve(server_table(), store)

        async def one(n: int) -> None:
            assoc = await Association.open(client_peer(responder.port), CLIENT_LOCAL)
            for i in range(5):
                await assoc.transfer(f"{n}:{i}".encode() * 100)
            await assoc.release()

        try:
            await asyncio.gather(*(one(n) for n in range(6)))
        finally:
            await responder.close()
        assert sorted(store.got) == sorted(f"{n}:{i}".encode() * 100
                                           for n in range(6) for i in range(5))

    asyncio.run(main())


@pytest.mark.parametrize(("who", "password", "mode"), [
    ("percival", "wrong", "normal"), ("mordred", "excalibur", "normal"),
    ("percival", "wrong", "x410"), ("percival", "excalibur", "x410-mismatch")])
def test_bind_refused_is_logged_and_closed(who: str, password: str, mode: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        store = Store()
        server_mode = "normal" if mode == "x410-mismatch" else mode
        responder = await _serve(server_table(server_mode), store)
        client_mode = "x410" if mode == "x410-mismatch" else mode
        try:
            with pytest.raises(AssociationError, match="refused the bind"):
                await Association.open(client_peer(responder.port, client_mode),
                                       LocalMTA(name=who, password=password))
        finally:
            await responder.close()
        assert store.got == []

    with caplog.at_level(logging.WARNING, logger="x400bridge.x400"):
        asyncio.run(main())
    assert "refused" in caplog.text


def test_initiator_checks_the_responders_password() -> None:
    async def main() -> None:
        responder = await _serve(server_table(), Store())
        try:
            with pytest.raises(AssociationError, match="wrong password"):
                await Association.open(client_peer(responder.port, password="not-merlin"),
                                       CLIENT_LOCAL)
        finally:
            await responder.close()

    asyncio.run(main())


def test_address_restriction() -> None:
    async def main() -> None:
        responder = await _serve(server_table(allowed_addresses=("192.0.2.0/24",)), Store())
        try:
            with pytest.raises(AssociationError, match="refused the bind"):
                await Association.open(client_peer(responder.port), CLIENT_LOCAL)
        finally:
            await responder.close()

    asyncio.run(main())


def test_store_failure_aborts_and_the_sender_keeps_the_message() -> None:
    """Mail accepted is mail kept: no confirmation without a durable store."""
    async def main() -> None:
        responder = await _serve(server_table(), Store(fail=True))
        try:
            assoc = await Association.open(client_peer(responder.port), CLIENT_LOCAL)
            with pytest.raises(AssociationError):
                await assoc.transfer(APDUS[0])
            assert assoc.transferred == 0
        finally:
            await responder.close()

    asyncio.run(main())


def test_garbage_and_silent_peers_are_dropped() -> None:
    async def main() -> None:
        responder = await _serve(server_table(), Store(), Timeouts(bind=0.5, idle=0.5))
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", responder.port)
            writer.write(os.urandom(100_000))
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 5) is not None   # closed by them
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", responder.port)
            assert await asyncio.wait_for(reader.read(), 5) == b""         # bind timeout
            writer.close()
        finally:
            await responder.close()

    asyncio.run(main())


def test_connect_refused_is_an_association_error() -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        with pytest.raises(AssociationError) as info:
            await Association.open(client_peer(port), CLIENT_LOCAL,
                                   timeouts=Timeouts(connect=2))
        assert isinstance(info.value, BridgeError)
        assert info.value.smtp.code == 451           # temporary: the queue retries

    asyncio.run(main())


def test_one_mta_may_bind_in_both_modes_with_an_entry_for_each() -> None:
    """PP 6.0 calls in normal mode or X.410-1984 mode depending on the route: two entries
    with the same MTA name, one per mode, and each bind finds the entry of its mode."""
    from bridge.x400.mta import BindError

    normal = Peer(key="pp", mta_name="PPMTA", password="pppass", mode="normal")
    x410 = Peer(key="pp-x410", mta_name="ppmta", password="pppass", mode="x410")
    table = PeerTable(local=SERVER_LOCAL, peers={"pp": normal, "pp-x410": x410})
    from bridge.codec.rtpdu import MTABind

    bind = MTABind(name="PPMTA", password="pppass")
    assert table.check_bind(bind, "127.0.0.1", "normal").peer == normal
    assert table.check_bind(bind, "127.0.0.1", "x410").peer == x410
    only = PeerTable(local=SERVER_LOCAL, peers={"pp": normal})
    refused = only.check_bind(bind, "127.0.0.1", "x410")
    assert refused.peer is None and refused.error == BindError.UNACCEPTABLE_DIALOGUE_MODE
