"""What an unauthenticated or guessing P1 peer may cost (issue 12 items 3 and 4, P1 side).

* Before its MTA-bind succeeded a peer may make us buffer only a bind-sized TSDU
  (``PRE_BIND_LIMIT``): 8 connections sending DT TPDUs without end-of-TSDU once took 500 MB.
* Connections at once are limited in total and per address.
* Wrong bind passwords cost the guesser a doubling delay, and are logged once a minute per
  address, not once per guess.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bridge.errors import AssociationError, ProtocolError
from bridge.throttle import FailureTracker, LogLimiter
from bridge.x400.peers import LocalMTA
from bridge.x400.shell import Association, Responder, ResponderLimits
from bridge.x400.stack import PRE_BIND_LIMIT, Stack
from tests.test_x400_shell import CLIENT_LOCAL, Store, client_peer, server_table

CR = bytes.fromhex("0300000b06e00000000100")          # TPKT + COTP CR, class 0, no options


def _dt(payload: bytes, eot: bool) -> bytes:
    """TPKT + COTP DT (X.224 §13.7): 02 f0 then EOT bit."""
    body = b"\x02\xf0" + (b"\x80" if eot else b"\x00") + payload
    return b"\x03\x00" + (4 + len(body)).to_bytes(2, "big") + body


def test_before_the_bind_only_a_bind_sized_tsdu_is_buffered() -> None:
    stack = Stack("responder", mode=None)
    stack.receive_data(CR)
    stack.data_to_send()
    chunk = bytes(8192)
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        for _ in range(100):                                   # 800 KB, never an EOT
            stack.receive_data(_dt(chunk, eot=False))
            assert stack.cotp.reassembling <= PRE_BIND_LIMIT
    assert stack.closed


def test_the_apdu_limit_applies_after_the_bind() -> None:
    from tests.test_x400_stack import bound_pair, transfer

    ini, res = bound_pair("normal")
    assert res.cotp.max_tsdu > PRE_BIND_LIMIT and ini.cotp.max_tsdu > PRE_BIND_LIMIT
    transfer(ini, res, b"\x04\x83\x04\x00\x00" + bytes(4 * 65536))   # 256 KiB after the bind


def test_pre_bind_flood_over_tcp_is_cut_off() -> None:
    async def main() -> None:
        responder = Responder(server_table(), Store())
        await responder.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", responder.port)
            writer.write(CR)
            await writer.drain()
            await asyncio.wait_for(reader.readexactly(11), 10)          # our CC
            sent = 0
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                while sent < 4 * 1024 * 1024:
                    writer.write(_dt(bytes(8192), eot=False))
                    await writer.drain()
                    sent += 8192
                    if reader.at_eof():
                        raise ConnectionResetError
                    await asyncio.sleep(0)
                await asyncio.wait_for(reader.readexactly(1), 10)
            assert sent < 1024 * 1024
            writer.close()
        finally:
            await responder.close(drain=1)

    asyncio.run(main())


def test_connections_per_address_are_limited(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        responder = Responder(server_table(), Store(),
                              limits=ResponderLimits(max_per_address=2))
        await responder.start("127.0.0.1", 0)
        try:
            held = [await asyncio.open_connection("127.0.0.1", responder.port)
                    for _ in range(2)]
            await asyncio.sleep(0.05)      # let the server accept both (no data is sent)
            reader, writer = await asyncio.open_connection("127.0.0.1", responder.port)
            assert await asyncio.wait_for(reader.read(), 10) == b""      # closed at once
            writer.close()
            for _, w in held:
                w.close()
            # once they are gone a new association binds as usual
            for _ in range(100):
                if not responder._per_address:
                    break
                await asyncio.sleep(0.01)
            assoc = await Association.open(client_peer(responder.port), CLIENT_LOCAL)
            await assoc.release()
        finally:
            await responder.close(drain=1)

    with caplog.at_level(logging.WARNING, logger="x400bridge.x400"):
        asyncio.run(main())
    assert "limit of 2 associations from 127.0.0.1" in caplog.text


def test_bind_guessing_is_slowed_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[float]:
        responder = Responder(server_table(), Store(), limits=ResponderLimits(
            bind_failure_delay=0.01, bind_failure_delay_max=0.04))
        await responder.start("127.0.0.1", 0)
        try:
            for n in range(6):
                with pytest.raises(AssociationError, match="authentication-error"):
                    await Association.open(client_peer(responder.port),
                                           LocalMTA(name="percival", password=f"guess{n}"))
            now = asyncio.get_running_loop().time()
            return [responder._failures.failures("127.0.0.1", now)]
        finally:
            await responder.close(drain=1)

    with caplog.at_level(logging.WARNING, logger="x400bridge.x400"):
        assert asyncio.run(main()) == [6]
    refusals = [r for r in caplog.records if "bind from" in r.getMessage()]
    assert len(refusals) == 1


def test_failure_tracker_doubles_caps_forgets_and_clears() -> None:
    t = FailureTracker(base_delay=1.0, max_delay=5.0, forget_after=100.0, max_keys=2)
    assert [t.fail("a", 0.0) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert t.failures("a", 50.0) == 5 and t.failures("a", 200.0) == 0
    assert t.fail("a", 200.0) == 1.0                          # forgotten, starts afresh
    t.succeed("a")
    assert t.failures("a", 200.0) == 0
    for key in "bcd":
        t.fail(key, 0.0)
    assert t.failures("b", 0.0) == 0 and t.failures("d", 0.0) == 1   # bounded: stalest gone


def test_log_limiter_counts_what_it_held_back() -> None:
    limit = LogLimiter(interval=60.0)
    assert limit.allow("k", 0.0) == 0
    assert [limit.allow("k", t) for t in (1.0, 2.0, 3.0)] == [None, None, None]
    assert limit.allow("k", 61.0) == 3
    assert limit.allow("other", 61.5) == 0


def test_failure_tracker_turns_and_no_overflow() -> None:
    """Attempts of a key with failures are checked one per delay, in turn (the P1 responder
    gates every bind of an address with failures, as the SMTP server gates AUTH); a key
    that failed thousands of times still gets the capped delay, not an OverflowError."""
    t = FailureTracker(base_delay=1.0, max_delay=8.0, forget_after=100.0)
    assert t.gate("a", 0.0) == 0                      # no failures: at once
    assert t.fail("a", 0.0) == 1.0                    # refusal answered at 1
    assert [t.gate("a", 1.0) for _ in range(3)] == [0.0, 1.0, 2.0]   # parallel: in turn
    for n in range(2000):
        t.fail("b", float(n) / 1000)
    assert t.delay(2000) == 8.0 and t.failures("b") == 2000
    assert t.gate("c", 0.0) == 0 and t.failures("c") == 0
    assert FailureTracker(base_delay=0.0).fail("d", 0.0) == 0.0


def test_log_limiter_gives_the_counts_of_quiet_keys() -> None:
    """What was held back is never lost: a key quiet for the interval yields its count."""
    limit = LogLimiter(interval=60.0, max_keys=2)
    assert limit.allow("k", 0.0) == 0 and limit.allow("k", 1.0) is None
    assert limit.allow("j", 2.0) == 0
    assert list(limit.quiet(30.0)) == []
    [held] = limit.quiet(61.0)
    assert (held.key, held.count, held.since) == ("k", 1, 0.0)
    assert limit.allow("k", 62.0) == 0                # forgotten after its summary
    limit.allow("j", 3.0)
    limit.allow("x", 70.0)
    [dropped] = limit.overflow()                      # over max_keys: the stalest goes
    assert dropped.key == "j" and dropped.count == 1
