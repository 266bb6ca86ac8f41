"""The real-Postfix harness (tests/postfix.py) does what the end-to-end tests rely on.

(a) a destination instance delivers to a Maildir and answers RCPT from recipient_rules;
(b) a relay instance hands mail to the next hop given as relay_to;
(c) a relay whose next hop refuses a recipient bounces to the sender with an RFC 3464 DSN
    (multipart/report; report-type=delivery-status, RFC 3462) kept in its bounce Maildir.
"""

from __future__ import annotations

import email
import smtplib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.postfix import Postfix, free_port, instance_root, require_postfix

SMTP_TIMEOUT = 30.0
RELAY_TIMEOUT = 60.0


@pytest.fixture
def root() -> Iterator[Path]:
    require_postfix()
    with instance_root() as path:
        yield path


@dataclass(kw_only=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass(kw_only=True)
class SinkHandler:
    """aiosmtpd handler: refuses the local parts in `refuse` at RCPT, keeps the rest."""

    refuse: dict[str, str] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.refuse.get(address.split("@", 1)[0])
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=bytes(envelope.original_content),
            )
        )
        self.arrived.set()
        return "250 2.0.0 queued"


@pytest.fixture
def sink() -> Iterator[tuple[SinkHandler, int]]:
    handler = SinkHandler(refuse={"nosuch": "550 5.1.1 no such user here"})
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _message(subject: str, body: str, sender: str, rcpt: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@x400bridge.test>\r\n\r\n{body}\r\n"
    ).encode()


# ------------------------------------------------------------------------------------------------
# (a) destination


def test_destination_delivers_to_maildir_and_applies_recipient_rules(root: Path) -> None:
    rules = {"nosuch": "550 5.1.1 no such user", "later": "451 4.3.0 try later"}
    with Postfix(root / "dst", name="dst", smtpd_port=free_port(), recipient_rules=rules) as pf:
        raw = _message("harness-a", "the body of test a", "alice@src.test", "bob@dst.test")
        with smtplib.SMTP("127.0.0.1", pf.smtpd_port, timeout=SMTP_TIMEOUT) as client:
            assert client.ehlo("client.test")[0] == 250
            for keyword in ("pipelining", "8bitmime", "dsn", "smtputf8", "enhancedstatuscodes"):
                assert client.has_extn(keyword), keyword
            assert client.sendmail("alice@src.test", ["bob@dst.test"], raw) == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail("alice@src.test", ["nosuch@dst.test"], raw)
            code, text = refused.value.recipients["nosuch@dst.test"]
            assert code == 550 and text.startswith(b"5.1.1 ")
            # a refused recipient among accepted ones: only the good one is delivered
            failed = client.sendmail("alice@src.test", ["LATER@dst.test", "carol@dst.test"], raw)
            assert failed["LATER@dst.test"][0] == 451
            assert failed["LATER@dst.test"][1].startswith(b"4.3.0 ")

        [delivered] = pf.wait_for_messages("bob@dst.test", 1, timeout=RELAY_TIMEOUT)
        assert b"the body of test a" in delivered
        parsed = email.message_from_bytes(delivered)
        assert "(Postfix)" in parsed["Received"] and "dst.x400bridge.test" in parsed["Received"]
        assert parsed["Delivered-To"] == "bob@dst.test"
        assert parsed["Return-Path"] == "<alice@src.test>"
        assert parsed["Subject"] == "harness-a"
        assert len(pf.wait_for_messages("carol@dst.test", 1, timeout=RELAY_TIMEOUT)) == 1
        assert pf.maildir_messages("later@dst.test") == []
        assert pf.maildir_messages("nosuch@dst.test") == []
        assert len(pf.maildir_messages("catchall")) == 2
        assert pf.queue_empty()
        pids = pf.pids()
        assert pids
    assert pf.pids() == []


# ------------------------------------------------------------------------------------------------
# (b) relay


def test_relay_hands_mail_to_next_hop(root: Path, sink: tuple[SinkHandler, int]) -> None:
    handler, sink_port = sink
    with Postfix(
        root / "relay", name="relay", smtpd_port=free_port(), relay_to=("127.0.0.1", sink_port)
    ) as pf:
        raw = _message("harness-b", "the body of test b", "alice@src.test", "dave@remote.test")
        with smtplib.SMTP("127.0.0.1", pf.smtpd_port, timeout=SMTP_TIMEOUT) as client:
            assert client.sendmail("alice@src.test", ["dave@remote.test"], raw) == {}
        assert handler.arrived.wait(RELAY_TIMEOUT), pf.log()
        [got] = handler.messages
        assert got.mail_from == "alice@src.test"
        assert got.rcpt_tos == ["dave@remote.test"]
        assert b"the body of test b" in got.content
        received = email.message_from_bytes(got.content)["Received"]
        assert "by relay.x400bridge.test (Postfix)" in received
        _wait_queue_empty(pf)


def _wait_queue_empty(pf: Postfix) -> None:
    deadline = time.monotonic() + RELAY_TIMEOUT
    while not pf.queue_empty():
        assert time.monotonic() < deadline, pf.log()
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------------
# (c) bounce


def _delivery_status(report: Message) -> tuple[Message, list[Message]]:
    """The per-message and per-recipient field groups of the message/delivery-status part."""
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            groups = part.get_payload()
            assert isinstance(groups, list) and len(groups) >= 2
            fields = [group for group in groups if isinstance(group, Message)]
            assert len(fields) == len(groups)
            return fields[0], fields[1:]
    raise AssertionError("no message/delivery-status part")


def test_relay_bounces_next_hop_refusal_into_bounce_maildir(
    root: Path, sink: tuple[SinkHandler, int]
) -> None:
    handler, sink_port = sink
    with Postfix(
        root / "relay",
        name="relay",
        smtpd_port=free_port(),
        relay_to=("127.0.0.1", sink_port),
        bounce_maildir=True,
    ) as pf:
        sender = "alice@relay.x400bridge.test"
        raw = _message("harness-c", "the body of test c", sender, "nosuch@remote.test")
        with smtplib.SMTP("127.0.0.1", pf.smtpd_port, timeout=SMTP_TIMEOUT) as client:
            assert client.sendmail(sender, ["nosuch@remote.test"], raw) == {}

        [bounce] = pf.wait_for_messages("bounces", 1, timeout=RELAY_TIMEOUT)
        assert handler.messages == []
        report = email.message_from_bytes(bounce, policy=default_policy)
        assert report.get_content_type() == "multipart/report"
        assert report.get_param("report-type") == "delivery-status"
        assert report["To"] == sender
        assert "MAILER-DAEMON" in report["From"]
        assert email.message_from_bytes(bounce)["Return-Path"] == "<>"
        per_message, per_recipient = _delivery_status(report)
        assert per_message["Reporting-MTA"] == "dns; relay.x400bridge.test"
        [rcpt] = per_recipient
        assert rcpt["Final-Recipient"] == "rfc822; nosuch@remote.test"
        assert rcpt["Action"] == "failed"
        assert rcpt["Status"] == "5.1.1"
        assert "550 5.1.1 no such user here" in rcpt["Diagnostic-Code"]
        # the original message is returned (RET defaults to FULL)
        assert b"the body of test c" in bounce
        assert pf.maildir_messages(sender) == [bounce]
        _wait_queue_empty(pf)


def test_stop_is_idempotent_and_a_taken_port_is_refused(root: Path) -> None:
    port = free_port()
    first = Postfix(root / "one", name="one", smtpd_port=port)
    first.start()
    try:
        # a second instance on the same port would share it (SO_REUSEPORT): start() refuses
        second = Postfix(root / "two", name="two", smtpd_port=port)
        try:
            with pytest.raises(RuntimeError, match="is in use"):
                second.start()
            assert second.pids() == []
        finally:
            second.stop()
    finally:
        first.stop()
        first.stop()
    assert first.pids() == []


def test_failed_start_explains_and_leaves_nothing_running(root: Path) -> None:
    pf = Postfix(root / "bad", name="bad", smtpd_port=free_port(), myhostname="bad..host")
    try:
        with pytest.raises(
            RuntimeError, match=r"(?s)start exited.*myhostname: bad parameter value"
        ):
            pf.start()
        assert pf.pids() == []
    finally:
        pf.stop()


def test_relay_defers_while_next_hop_is_down_and_flush_delivers(root: Path) -> None:
    handler = SinkHandler()
    sink_port = free_port()
    with Postfix(
        root / "relay", name="relay", smtpd_port=free_port(), relay_to=("127.0.0.1", sink_port)
    ) as pf:
        raw = _message("harness-d", "the body of test d", "alice@src.test", "erin@remote.test")
        with smtplib.SMTP("127.0.0.1", pf.smtpd_port, timeout=SMTP_TIMEOUT) as client:
            assert client.sendmail("alice@src.test", ["erin@remote.test"], raw) == {}
        deadline = time.monotonic() + RELAY_TIMEOUT
        while "status=deferred" not in pf.log():
            assert time.monotonic() < deadline, pf.log()
            time.sleep(0.05)
        assert not pf.queue_empty()
        controller = Controller(handler, hostname="127.0.0.1", port=sink_port, ready_timeout=10)
        controller.start()
        try:
            pf.flush()
            assert handler.arrived.wait(RELAY_TIMEOUT), pf.log()
        finally:
            controller.stop()
        [got] = handler.messages
        assert got.rcpt_tos == ["erin@remote.test"]
        assert b"the body of test d" in got.content
        _wait_queue_empty(pf)


def test_start_refuses_a_root_postfix_cannot_reach(root: Path) -> None:
    private = root / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    pf = Postfix(private / "pf", name="pf", smtpd_port=free_port())
    try:
        with pytest.raises(RuntimeError, match="not searchable by others"):
            pf.start()
        assert not (private / "pf").exists()
        assert pf.pids() == []
    finally:
        pf.stop()


def test_instance_root_stops_an_instance_left_running() -> None:
    require_postfix()
    with instance_root() as path:
        pf = Postfix(path / "leak", name="leak", smtpd_port=free_port())
        pf.start()
        assert pf.pids()
    assert pf.pids() == []
    assert not path.exists()
