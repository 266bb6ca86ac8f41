"""The per-message shortcuts of the gateway process give the results of the long way.

Each shortcut below was added for CPU per message (bench/gateway.py); the tests compare it
with what it replaces: the log time stamp formatted once per second, aiosmtpd's per-connection
``dir`` scans done once per class, aiosmtpd's log-argument sanitizing skipped for disabled
levels (secrets still masked when enabled), RCPT decisions remembered per router, and a
message no peer profile changes sent as it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime
from pathlib import Path

import aiosmtpd.smtp
import pytest

from bridge.codec import decode_apdu
from bridge.config import parse_config
from bridge.gateway import routing
from bridge.gateway.logs import TEXT_FORMAT, Formatter, JSONFormatter
from bridge.gateway.wiring import router_for
from bridge.model.apdu import Message
from bridge.model.envelope import internal_trace_extension
from bridge.smtp.protocol import GatewaySMTP, _HookNames, _speed_up_aiosmtpd
from bridge.smtp.server import InboundHandler, InboundSettings, RcptDecision
from bridge.x400.profile import PeerProfile, prepare

SAMPLES = Path(__file__).parent / "data" / "samples"
STD_OR = '"/C=GB/ADMD= /PRMD=Acme/O=Sales/S=Smith/"'


def _record(created: float, message: str = "queued Q1") -> logging.LogRecord:
    record = logging.LogRecord("x400bridge.gateway", logging.INFO, "", 0, message, (), None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    record.node = "node-1"
    return record


@pytest.mark.parametrize("times", [
    [1_765_000_000.001, 1_765_000_000.999, 1_765_000_001.0, 1_765_000_001.5],
    [1_765_000_005.25, 1_765_000_004.75, 1_765_000_005.25],    # the clock stepped back
    [0.5, 86_400.123, 86_400.9],
])
def test_log_time_stamps_equal_the_standard_formatters(times: list[float]) -> None:
    ours, standard = Formatter(TEXT_FORMAT), logging.Formatter(TEXT_FORMAT)
    for created in times:
        record = _record(created)
        assert ours.format(record) == standard.format(record)
    assert ours.formatTime(_record(times[0]), "%Y") == standard.formatTime(_record(times[0]),
                                                                            "%Y")


def test_json_log_lines_carry_the_same_time_stamp() -> None:
    record = _record(1_765_000_000.042)
    assert f'"time": "{logging.Formatter().formatTime(record)}"' in \
        JSONFormatter().format(record)


async def _never(*_: object) -> RcptDecision:
    return RcptDecision(accept=False)


def test_aiosmtpd_sees_the_same_commands_and_hooks() -> None:
    """The ``dir`` stand-in names exactly the ``smtp_*``/``handle_*`` attributes the builtin
    finds, and a connection's command and hook tables are those aiosmtpd builds with it."""
    async def main() -> None:
        _speed_up_aiosmtpd()
        assert isinstance(aiosmtpd.smtp.dir, _HookNames)  # type: ignore[attr-defined]
        handler = InboundHandler(InboundSettings(hostname="sink.test", timeout=10),
                                 check_recipient=_never, submit=_never)
        protocol = GatewaySMTP(handler, tls_context=None, loop=asyncio.get_running_loop())
        assert set(protocol._smtp_methods) == {
            n.removeprefix("smtp_") for n in dir(protocol) if n.startswith("smtp_")}
        assert {"DATA", "RCPT", "MAIL", "EHLO", "QUIT", "AUTH"} <= set(protocol._smtp_methods)
        assert protocol._smtp_methods["RCPT"] == protocol.smtp_RCPT
        assert set(protocol._handle_hooks) == {
            n.removeprefix("handle_") for n in dir(handler) if n.startswith("handle_")}
        assert protocol._handle_hooks["DATA"] == handler.handle_DATA
        again = GatewaySMTP(handler, tls_context=None, loop=asyncio.get_running_loop())
        assert again._smtp_methods["RCPT"].__self__ is again   # bound per connection
    asyncio.run(main())


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_aiosmtpd_log_arguments_are_masked_when_logged_and_skipped_otherwise() -> None:
    _speed_up_aiosmtpd()
    sanitized_log = aiosmtpd.smtp.sanitized_log
    assert hasattr(sanitized_log, "wrapped")
    mail_log = logging.getLogger("mail.log")
    capture = _Capture()
    mail_log.addHandler(capture)
    level = mail_log.level
    try:
        mail_log.setLevel(logging.WARNING)
        sanitized_log(mail_log.info, "%r >> %r", "peer", b"AUTH PLAIN c2VjcmV0\r\n")
        assert capture.lines == []
        mail_log.setLevel(logging.INFO)
        sanitized_log(mail_log.info, "%r >> %r", "peer", b"AUTH PLAIN c2VjcmV0\r\n")
        sanitized_log(mail_log.debug, "%r", b"AUTH PLAIN c2VjcmV0\r\n")    # DEBUG is off
        sanitized_log(print, "%r", b"not a logger method: the original, always")
    finally:
        mail_log.setLevel(level)
        mail_log.removeHandler(capture)
    assert capture.lines == ["'peer' >> b'AUTH PLAIN ********\\r\\n'"]


def test_rcpt_decisions_are_remembered_per_router_and_bounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config({}, base=tmp_path)
    router = router_for(config)
    assert router.in_memory
    addresses = [f"{STD_OR}@x400-gateway.invalid", "someone@example.com",
                 "nobody@x400-gateway.invalid"]
    first = [router.smtp_recipient(a) for a in addresses]
    assert [d.direction for d in first] == ["to-x400", "to-smtp", None]
    assert first[0].or_address == "/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/"
    assert [router.smtp_recipient(a) for a in addresses] == first
    assert router.smtp_recipient(addresses[0]) is first[0]            # remembered
    fresh = router_for(config)
    assert [fresh.smtp_recipient(a) for a in addresses] == first      # the long way
    monkeypatch.setattr(routing, "DECISIONS_KEPT", 2)
    bounded = router_for(config)
    for n in range(7):
        bounded.smtp_recipient(f"user{n}@example.com")
        assert len(bounded._decisions) <= 2
    assert bounded.smtp_recipient(addresses[0]) == first[0]


def test_a_message_the_profile_leaves_alone_is_not_copied() -> None:
    """bridge.x400.profile.prepare: nothing to filter -> the same (frozen) objects; a
    filtered field -> a changed envelope, the original untouched."""
    sample = decode_apdu((SAMPLES / "message-full.p1.ber").read_bytes())
    now = datetime(2026, 12, 7, tzinfo=UTC)
    message = prepare(sample, PeerProfile(), mta_name="gw", now=now).apdu   # trace removed
    assert isinstance(message, Message) and message != sample
    prepared = prepare(message, PeerProfile(), mta_name="gw", now=now)
    assert prepared.apdu is message and prepared.notes == ()
    trace = internal_trace_extension(())
    traced = dataclasses.replace(message, envelope=dataclasses.replace(
        message.envelope, extensions=(*message.envelope.extensions, trace)))
    prepared = prepare(traced, PeerProfile(), mta_name="gw", now=now)
    assert isinstance(prepared.apdu, Message)
    assert prepared.apdu.envelope.extensions == message.envelope.extensions
    assert prepared.apdu.envelope.recipients == message.envelope.recipients
    assert trace in traced.envelope.extensions and prepared.notes
