"""The conversion processes (bridge/gateway/convertpool.py): RFC 2156 §5.1 conversions run in
spawned processes fed over pipes by the event loop.

What a delivery worker relies on: every request gets its own answer, also when many arrive
before the first process has started; a process that dies or a conversion with a bug fails
only the requests in flight, with a temporary error (the messages stay queued), and the next
request gets a fresh process; reload and close let the running processes finish first.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.codec import decode_apdu, decode_content
from bridge.errors import BridgeError
from bridge.gateway.convertpool import ConversionCrash, Converter, Refusal, to_x400
from bridge.gateway.wiring import context_for, conversion_context, mapper_for
from bridge.model.apdu import Message
from bridge.model.ipm import IPM
from tests.test_gateway import make_config

SENDER = "alice@internet.example"
RECIPIENT = "John.Smith@x400.example"
TIMEOUT = 60.0


def _message(i: int) -> bytes:
    return (f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: pool {i}\r\n"
            f"Message-ID: <{i}.pool@internet.example>\r\n\r\nbody {i}\r\n").encode()


def _explode(_: int) -> int:
    """A conversion with a bug (runs in the conversion process)."""
    raise ZeroDivisionError("a bug in a converter")


def _pid() -> int:
    return os.getpid()


def _config(tmp: Path) -> object:
    return make_config(tmp, remote_port=1, sink_port=2)


def _converter(tmp: Path, processes: int = 1) -> Converter:
    config = _config(tmp)
    gateway = config.gateway  # type: ignore[attr-defined]
    return Converter(functools.partial(conversion_context, gateway),
                     context_for(gateway, mapper_for(gateway)), processes=processes)


def _subjects(apdus: list[bytes]) -> str:
    message = decode_apdu(apdus[0])
    assert isinstance(message, Message) and isinstance(message.content, bytes)
    ipm = decode_content(message.content)
    assert isinstance(ipm, IPM)
    return str(ipm.heading.subject)


def test_concurrent_first_requests_all_converted_by_the_process(tmp_path: Path) -> None:
    """30 requests before the process is up: each gets its own message back (no request is
    refused while the first process starts, none gets another's answer)."""
    async def main() -> list[list[bytes] | Refusal]:
        converter = _converter(tmp_path)
        try:
            return await asyncio.wait_for(asyncio.gather(*(
                converter.run(to_x400, _message(i), SENDER, [RECIPIENT], None)
                for i in range(30))), TIMEOUT)
        finally:
            await converter.aclose()

    results = asyncio.run(main())
    for i, result in enumerate(results):
        assert isinstance(result, list), result
        assert _subjects(result) == f"pool {i}"


def test_a_refusal_is_a_value_and_a_bug_a_temporary_error(tmp_path: Path) -> None:
    async def main() -> tuple[object, BaseException, int, int]:
        converter = _converter(tmp_path)
        try:
            refusal = await converter.run(to_x400, b"no header section at all", SENDER,
                                          [RECIPIENT], None)
            with pytest.raises(ConversionCrash) as crash:
                await converter.run(_explode, 1)
            before = await converter.run(_pid)
            after = await converter.run(_pid)       # the bug did not end the process
            return refusal, crash.value, before, after
        finally:
            await converter.aclose()

    refusal, crash, before, after = asyncio.run(main())
    assert isinstance(refusal, (Refusal, list))
    assert isinstance(crash, BridgeError) and crash.smtp.enhanced.startswith("4.")
    assert "ZeroDivisionError" in str(crash)
    assert before == after != os.getpid()


def test_a_killed_process_fails_its_requests_and_is_replaced(tmp_path: Path) -> None:
    async def main() -> tuple[int, int]:
        converter = _converter(tmp_path)
        try:
            first = await converter.run(_pid)
            slow = asyncio.ensure_future(converter.run(time.sleep, 30))
            await asyncio.sleep(0)                   # the request is on its way
            os.kill(first, signal.SIGKILL)
            with pytest.raises(ConversionCrash):
                await asyncio.wait_for(slow, TIMEOUT)
            second = await asyncio.wait_for(converter.run(_pid), TIMEOUT)
            return first, second
        finally:
            await converter.aclose()

    first, second = asyncio.run(main())
    assert first != second


def test_reload_and_close_let_requests_in_flight_finish(tmp_path: Path) -> None:
    async def main() -> tuple[int, int, int]:
        converter = _converter(tmp_path)
        try:
            old = await converter.run(_pid)
            in_flight = asyncio.ensure_future(converter.run(to_x400, _message(1), SENDER,
                                                            [RECIPIENT], None))
            await asyncio.sleep(0)
            converter.reload(converter.context)
            new = await converter.run(_pid)          # a new process for new tables
            done = await asyncio.wait_for(in_flight, TIMEOUT)
            assert isinstance(done, list) and _subjects(done) == "pool 1"
            last = asyncio.ensure_future(converter.run(to_x400, _message(2), SENDER,
                                                       [RECIPIENT], None))
            await asyncio.sleep(0)
        finally:
            await converter.aclose()
        result = last.result()
        assert isinstance(result, list) and _subjects(result) == "pool 2"
        return old, new, os.getpid()

    old, new, own = asyncio.run(main())
    assert old != new and own not in (old, new)
    for pid in (old, new):                            # both exited (and were reaped)
        assert not Path(f"/proc/{pid}").exists()


def test_processes_zero_converts_here(tmp_path: Path) -> None:
    async def main() -> int:
        return await _converter(tmp_path, processes=0).run(_pid_here)

    assert asyncio.run(main()) == os.getpid()


def _pid_here(_context: object) -> int:
    return os.getpid()


# ------------------------------------------------------------------ poison messages (issue 12)

def _poison(what: str) -> str:
    """A conversion: "poison" kills its process at once, anything else takes a moment."""
    if what == "poison":
        os._exit(9)
    time.sleep(0.3)
    return what.upper()


def _greedy(octets: int) -> int:
    """A conversion that wants ``octets`` of memory at once."""
    return len(bytearray(octets))


def test_a_poison_message_is_isolated_counted_and_refused(tmp_path: Path) -> None:
    """The innocent conversions that shared the process it killed are converted after all
    (alone); the poison fails alone, is deferred, and after max_crashes is refused."""
    async def main() -> tuple[list[object], list[object]]:
        config = _config(tmp_path)
        gateway = config.gateway  # type: ignore[attr-defined]
        converter = Converter(functools.partial(conversion_context, gateway), None,
                              processes=1, max_crashes=2)
        try:
            await converter.start()
            first = await asyncio.wait_for(asyncio.gather(
                converter.run(_poison, "poison", key="p"),
                converter.run(_poison, "a", key="a"),
                converter.run(_poison, "b", key="b"),
                return_exceptions=True), TIMEOUT)
            later = [await asyncio.wait_for(converter.run(_poison, "poison", key="p"),
                                            TIMEOUT),
                     await converter.run(_poison, "poison", key="p"),   # refused: no process
                     await converter.run(_poison, "c", key="c")]
            return first, later
        finally:
            await converter.aclose()

    first, later = asyncio.run(main())
    assert isinstance(first[0], ConversionCrash)            # failed alone once: deferred
    assert first[1:] == ["A", "B"]
    assert all(isinstance(r, Refusal) and r.status == "5.6.0" for r in later[:2])
    assert "failed 2 times" in later[0].reason  # type: ignore[union-attr]
    assert later[2] == "C"


def test_a_conversion_over_the_memory_limit_gets_a_memory_error(tmp_path: Path) -> None:
    async def main() -> tuple[int, BaseException, int]:
        config = _config(tmp_path)
        gateway = config.gateway  # type: ignore[attr-defined]
        converter = Converter(functools.partial(conversion_context, gateway), None,
                              processes=1, memory_limit=512 * 1024 * 1024)
        try:
            small = await converter.run(_greedy, 16 * 1024 * 1024)
            with pytest.raises(ConversionCrash) as crash:
                await converter.run(_greedy, 2 * 1024 * 1024 * 1024)
            again = await converter.run(_greedy, 1024)           # a fresh process
            return small, crash.value, again
        finally:
            await converter.aclose()

    small, crash, again = asyncio.run(main())
    assert small == 16 * 1024 * 1024 and again == 1024
    assert "MemoryError" in str(crash)


def test_an_arrival_is_decoded_and_mapped_in_a_conversion_process(tmp_path: Path) -> None:
    """inspect_arrival (the P1 side's decode and recipient mapping, off the event loop): the
    recipients mapped as the gateway maps them, a report or a probe left to the gateway
    process, undecodable octets and deferred lookups refused."""
    from bridge.codec import encode_apdu
    from bridge.convert.to_x400 import mime_to_x400
    from bridge.errors import DecodeError
    from bridge.gateway.convertpool import Arrival, NotAMessage, inspect_arrival
    from bridge.mapping.source import LookupDeferred

    config = _config(tmp_path)
    gateway = config.gateway  # type: ignore[attr-defined]
    ctx = context_for(gateway, mapper_for(gateway))
    res = mime_to_x400(_message(1), "bob@internet.example",
                       [RECIPIENT, "carol@internet.example"], ctx)
    apdu = encode_apdu(res.apdu)
    message = decode_apdu(apdu)
    assert isinstance(message, Message)
    expected = tuple((r.number, ctx.mapper.to_rfc822(r.name).address, False)
                     for r in message.envelope.recipients)
    assert len(expected) == 2
    broken = b"\x30\x03\x02\x01"
    with pytest.raises(DecodeError) as info:
        decode_apdu(broken)
    samples = Path(__file__).parent / "data" / "samples"

    async def main() -> None:
        converter = _converter(tmp_path)
        try:
            arrival = await converter.run(inspect_arrival, apdu)
            assert arrival == Arrival(
                recipients=expected, sender=str(message.envelope.originator.address),
                priority=message.envelope.priority, mts_id=str(message.envelope.identifier),
                report=None)
            assert await converter.run(inspect_arrival, broken) == \
                NotAMessage(reason=str(info.value))
            for name in ("probe.p1.ber", "report.p1.ber"):
                other = (samples / name).read_bytes()
                assert await converter.run(inspect_arrival, other) == NotAMessage()
        finally:
            await converter.aclose()
    asyncio.run(asyncio.wait_for(main(), TIMEOUT))

    def deferred(*args: object, **kwargs: object) -> object:
        raise LookupDeferred("DNS timed out")
    ctx.mapper.to_rfc822 = deferred  # type: ignore[method-assign]
    assert inspect_arrival(apdu, ctx) == NotAMessage(reason="address mapping lookup timed out",
                                                     deferred=True)


def test_an_arrival_is_decoded_once_for_its_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message inspect_arrival decoded is the one to_mime converts (one decode of the
    MTS-APDU per inbound message, not two), equal to a fresh decode -- also for an APDU whose
    decode repaired 8-bit octets; kept once, and not above the bound."""
    import bridge.codec
    import bridge.convert.to_mime
    from bridge.gateway import convertpool
    from bridge.gateway.convertpool import MimeOut, inspect_arrival, to_mime
    from tests.helpers import gateway_context
    from tests.test_codec_repairs import _eight_bit

    ctx = gateway_context(datetime(2026, 12, 8, 2, 0, tzinfo=UTC))
    samples = Path(__file__).parent / "data" / "samples"
    decodes: list[bytes] = []
    converted: list[object] = []
    real_decode, real_convert = bridge.codec.decode_apdu, bridge.convert.to_mime.x400_to_mime

    def counted(data: bytes) -> object:
        decodes.append(data)
        return real_decode(data)

    def recorded(message: object, c: object) -> object:
        converted.append(message)
        return real_convert(message, c)  # type: ignore[arg-type]

    monkeypatch.setattr(bridge.codec, "decode_apdu", counted)
    monkeypatch.setattr(bridge.convert.to_mime, "x400_to_mime", recorded)
    for apdu in ((samples / "message-full.p1.ber").read_bytes(), _eight_bit()):
        convertpool._ARRIVED.clear()
        decodes.clear()
        converted.clear()
        inspect_arrival(apdu, ctx)
        assert isinstance(to_mime(apdu, ctx), MimeOut)
        assert decodes == [apdu]
        assert converted == [real_decode(apdu)]
        to_mime(apdu, ctx)                    # taken out when used: decoded again
        assert len(decodes) == 2
    assert any(m.repairs for m in converted)  # type: ignore[attr-defined]
    big = (samples / "message-full.p1.ber").read_bytes()
    monkeypatch.setattr(convertpool, "ARRIVED_MAX_OCTETS", len(big) - 1)
    convertpool._ARRIVED.clear()
    inspect_arrival(big, ctx)
    assert not convertpool._ARRIVED
