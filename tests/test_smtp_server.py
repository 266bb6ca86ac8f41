"""The inbound SMTP endpoint against real clients (smtplib and raw sockets) on loopback.

The server runs in its own event loop in a thread; ``check_recipient`` and ``submit`` are test
doubles that record what they were given.  Every reply is checked for its RFC 3463 code.
"""

from __future__ import annotations

import asyncio
import email
import email.utils
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import MappingError, SMTPReply
from bridge.queue.model import Submission
from bridge.smtp import replies
from bridge.smtp.params import (
    MailParams,
    ParamError,
    RcptParams,
    parse_mail,
    parse_rcpt,
    xtext_decode,
    xtext_encode,
)
from bridge.smtp.server import InboundHandler, InboundSettings, RcptDecision, start_server

MAX = 4096
SETTINGS = InboundSettings(hostname="gw.test", max_message_size=MAX, timeout=10,
                           auth_failure_delay=0.01)
MESSAGE = b"From: a@example.org\r\nTo: bob@x400.example\r\nSubject: hi\r\n\r\nHello\r\n"


async def check_recipient(address: str) -> RcptDecision:
    local, _, domain = address.rpartition("@")
    if local == "unknown":
        raise MappingError("no mapping", address=address)
    if local == "busy":
        return RcptDecision(accept=False, reply=SMTPReply(code=451, enhanced="4.3.0",
                                                          text="Try later"))
    if domain == "x400.example":
        return RcptDecision(accept=True, direction="to-x400", route="peer-a",
                            extra={"or": f"/S={local}/O=x/"})
    if domain in ("internet.example", "bücher.example"):
        return RcptDecision(accept=True, direction="to-smtp", route=domain)
    return RcptDecision(accept=False)


class Gateway:
    """The endpoint in a thread with its own loop; ``submissions`` records what was queued."""

    def __init__(self, settings: InboundSettings = SETTINGS, *, fail_submit: bool = False
                 ) -> None:
        self.settings = settings
        self.fail_submit = fail_submit
        self.submissions: list[Submission] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def submit(self, submission: Submission) -> str:
        if self.fail_submit:
            raise OSError("disk full")
        self.submissions.append(submission)
        return f"Q{len(self.submissions)}"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        handler = InboundHandler(self.settings, check_recipient=check_recipient,
                                 submit=self.submit)
        server = await start_server(handler, "127.0.0.1", 0)
        self.port = server.port
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await server.close(grace=2)

    def __enter__(self) -> Gateway:
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive()
        if self._error is not None:
            raise self._error

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example", timeout=10)


@pytest.fixture
def gw() -> Iterator[Gateway]:
    with Gateway() as gateway:
        yield gateway


def assert_enhanced(reply: tuple[int, bytes], code: int, enhanced: str) -> None:
    assert reply[0] == code, reply
    text = reply[1].decode()
    assert text.startswith(enhanced + " "), reply


# ---------------------------------------------------------------------------- EHLO and replies

def test_greeting_and_ehlo_keywords(gw: Gateway) -> None:
    with gw.client() as client:
        code, banner = client.ehlo()
        assert code == 250
        assert client.does_esmtp
        features = client.esmtp_features
        assert features["size"] == str(MAX)
        for keyword in ("8bitmime", "smtputf8", "pipelining", "enhancedstatuscodes", "dsn"):
            assert keyword in features, keyword
        assert "starttls" not in features and "auth" not in features
        assert banner.decode().startswith("gw.test")


def test_library_replies_carry_enhanced_codes(gw: Gateway) -> None:
    with gw.client() as client:
        client.ehlo()
        assert_enhanced(client.docmd("NOOP"), 250, "2.0.0")
        assert_enhanced(client.docmd("RCPT", "TO:<bob@x400.example>"), 503, "5.5.1")
        assert_enhanced(client.docmd("DATA"), 503, "5.5.1")
        assert_enhanced(client.docmd("BOGUS"), 500, "5.5.2")
        assert_enhanced(client.docmd("RSET"), 250, "2.0.0")
        assert_enhanced(client.docmd("MAIL", "FROM:<a@example.org"), 553, "5.1.7")
        assert_enhanced(client.docmd("MAIL", "TO:<a@example.org>"), 501, "5.5.4")
        assert_enhanced(client.docmd("AUTH", "PLAIN AAAA"), 504, "5.5.4")


def test_mail_before_ehlo_is_a_bad_sequence(gw: Gateway) -> None:
    with gw.client() as client:
        assert_enhanced(client.docmd("MAIL", "FROM:<a@example.org>"), 503, "5.5.1")


# ---------------------------------------------------------------------------- the happy path

def test_message_with_dsn_parameters_is_queued(gw: Gateway) -> None:
    with gw.client() as client:
        client.ehlo()
        assert_enhanced(client.mail("a@example.org", ["RET=HDRS", "ENVID=Id+2Bx+3D1",
                                                      "SIZE=100", "BODY=8BITMIME"]),
                        250, "2.1.0")
        assert_enhanced(client.rcpt("bob@x400.example",
                                    ["NOTIFY=SUCCESS,failure", "ORCPT=rfc822;Bob+40X.org"]),
                        250, "2.1.5")
        assert_enhanced(client.rcpt("carol@x400.example", ["NOTIFY=NEVER"]), 250, "2.1.5")
        code, text = client.data(MESSAGE + b"..dot stuffed\r\n")
        assert (code, text) == (250, b"2.0.0 Ok: queued as Q1")
    [sub] = gw.submissions
    assert sub.direction == "to-x400" and sub.origin == "smtp" and sub.sender == "a@example.org"
    bob, carol = sub.recipients
    assert (bob.address, bob.route, bob.notify, bob.orcpt) == (
        "bob@x400.example", "peer-a", ("SUCCESS", "FAILURE"), "rfc822;Bob+40X.org")
    assert bob.extra == {"or": "/S=bob/O=x/"}
    assert (carol.notify, carol.orcpt) == (("NEVER",), None)
    meta = sub.meta
    assert meta["envid"] == "Id+x=1" and meta["ret"] == "HDRS" and meta["body"] == "8BITMIME"
    assert meta["client"] == "127.0.0.1" and meta["helo"] == "client.example"
    assert meta["smtputf8"] is False and meta["protocol"] == "ESMTP"
    head, _, rest = sub.data.partition(b"\r\nFrom: ")
    assert head.startswith(b"Received: from client.example ([127.0.0.1])\r\n\tby gw.test ")
    assert b"with ESMTP id " + meta["tracking"].encode() + b";" in head
    assert b"for <" not in head  # two recipients: not disclosed
    assert rest.endswith(b"\r\nHello\r\n..dot stuffed\r\n")  # smtplib stuffs, we unstuff


def test_null_sender_single_recipient(gw: Gateway) -> None:
    with gw.client() as client:
        client.ehlo()
        assert client.mail("")[0] == 250
        assert client.rcpt("bob@x400.example")[0] == 250
        assert client.data(MESSAGE)[0] == 250
    [sub] = gw.submissions
    assert sub.sender == "" and sub.meta["envid"] is None and sub.meta["ret"] is None
    assert b"\tfor <bob@x400.example>; " in sub.data.split(b"\r\nFrom:")[0]


def test_smtputf8(gw: Gateway) -> None:
    with gw.client() as client:
        client.ehlo()
        client.command_encoding = "utf-8"
        assert_enhanced(client.docmd("MAIL", "FROM:<jösé@example.org>"), 553, "5.6.7")
        assert client.mail("jösé@example.org", ["SMTPUTF8"])[0] == 250
        assert client.rcpt("bob@x400.example")[0] == 250
        assert client.data("Subject: ☃\r\n\r\nbody\r\n".encode())[0] == 250
    [sub] = gw.submissions
    assert sub.sender == "jösé@example.org"
    assert sub.meta["smtputf8"] is True and sub.meta["protocol"] == "UTF8SMTP"
    assert sub.data.endswith("Subject: ☃\r\n\r\nbody\r\n".encode())


def test_pipelined_commands_in_one_write(gw: Gateway) -> None:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"EHLO client.example\r\n")
        while reader.readline()[3:4] == b"-":
            pass
        sock.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\n"
                     b"RCPT TO:<unknown@x400.example>\r\nRCPT TO:<c@x400.example>\r\nDATA\r\n")
        answers = [reader.readline() for _ in range(5)]
        assert [a[:9] for a in answers] == [b"250 2.1.0", b"250 2.1.5", b"550 5.1.1",
                                            b"250 2.1.5", b"354 End d"]
        sock.sendall(MESSAGE + b"..stuffed\r\n.\r\nQUIT\r\n")
        assert reader.readline().startswith(b"250 2.0.0 Ok: queued as Q1")
        assert reader.readline().startswith(b"221 2.0.0")
    [sub] = gw.submissions
    assert [r.address for r in sub.recipients] == ["bob@x400.example", "c@x400.example"]
    assert sub.data.endswith(b"\r\nHello\r\n.stuffed\r\n")  # RFC 5321 §4.5.2


# ---------------------------------------------------------------------------- refusals

@pytest.mark.parametrize(("command", "args", "code", "enhanced"), [
    ("MAIL", "FROM:<a@example.org> SIZE=4097", 552, "5.3.4"),
    ("MAIL", "FROM:<a@example.org> SIZE=big", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> RET=NONE", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> ENVID=a+2b", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> ENVID=" + "x" * 101, 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> RET=FULL RET=HDRS", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> BODY=BINARYMIME", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> XFOO=1", 555, "5.5.4"),
    # RFC 6710 §4.1 rule 1: not -9..9 (§7 priority-value), or given twice
    ("MAIL", "FROM:<a@example.org> MT-PRIORITY=10", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> MT-PRIORITY=-0", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> MT-PRIORITY=+4", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> MT-PRIORITY=04", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> MT-PRIORITY", 501, "5.5.4"),
    ("MAIL", "FROM:<a@example.org> MT-PRIORITY=1 MT-PRIORITY=2", 501, "5.5.4"),
])
def test_mail_refusals(gw: Gateway, command: str, args: str, code: int, enhanced: str) -> None:
    with gw.client() as client:
        client.ehlo()
        assert_enhanced(client.docmd(command, args), code, enhanced)


@pytest.mark.parametrize(("args", "code", "enhanced"), [
    ("TO:<unknown@x400.example>", 550, "5.1.1"),  # MappingError's own reply
    ("TO:<someone@elsewhere.example>", 550, "5.1.1"),  # refused without a reply
    ("TO:<busy@x400.example>", 451, "4.3.0"),
    ("TO:<bob@x400.example> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"),
    ("TO:<bob@x400.example> NOTIFY=SUCCESS,SUCCESS", 501, "5.5.4"),
    ("TO:<bob@x400.example> NOTIFY=", 501, "5.5.4"),
    ("TO:<bob@x400.example> ORCPT=bob@x", 501, "5.5.4"),
    ("TO:<bob@x400.example> ORCPT=rfc822;a+4x", 501, "5.5.4"),
    ("TO:<bob@x400.example> XFOO", 555, "5.5.4"),
    ("TO:<>", 553, "5.1.3"),
    ("TO:<jösé@x400.example>", 553, "5.6.7"),
])
def test_rcpt_refusals(gw: Gateway, args: str, code: int, enhanced: str) -> None:
    with gw.client() as client:
        client.ehlo()
        assert client.mail("a@example.org")[0] == 250
        client.command_encoding = "utf-8"
        assert_enhanced(client.docmd("RCPT", args), code, enhanced)


def test_oversize_data_is_refused_and_not_queued(gw: Gateway) -> None:
    big = MESSAGE + b"x" * 70 + b"\r\n"
    big += (b"y" * 70 + b"\r\n") * (MAX // 72 + 1)
    with gw.client() as client:
        client.ehlo()
        client.mail("a@example.org")
        client.rcpt("bob@x400.example")
        assert_enhanced(client.data(big), 552, "5.3.4")
        # the session goes on: a message within the limit is taken
        client.mail("a@example.org")
        client.rcpt("bob@x400.example")
        assert client.data(MESSAGE)[0] == 250
    assert len(gw.submissions) == 1


def test_relay_denied_to_client_outside_relay_networks() -> None:
    settings = replace(SETTINGS, relay_networks=("10.0.0.0/8",))
    with Gateway(settings) as gw, gw.client() as client:
        client.ehlo()
        client.mail("a@example.org")
        assert_enhanced(client.rcpt("eve@internet.example"), 550, "5.7.1")
        assert_enhanced(client.rcpt("bob@x400.example"), 250, "2.1.5")  # X.400: not relaying


def test_relay_allowed_from_relay_networks_one_direction_per_message(gw: Gateway) -> None:
    with gw.client() as client:
        client.ehlo()
        client.mail("a@example.org")
        assert_enhanced(client.rcpt("eve@internet.example"), 250, "2.1.5")
        assert_enhanced(client.rcpt("bob@x400.example"), 452, "4.5.3")
        assert client.data(MESSAGE)[0] == 250
    [sub] = gw.submissions
    assert sub.direction == "to-smtp" and [r.route for r in sub.recipients] == [
        "internet.example"]


def test_require_auth_for_relay_overrides_networks() -> None:
    settings = replace(SETTINGS, require_auth_for_relay=True)
    with Gateway(settings) as gw, gw.client() as client:
        client.ehlo()
        client.mail("a@example.org")
        assert_enhanced(client.rcpt("eve@internet.example"), 550, "5.7.1")


def test_submit_failure_is_451_and_nothing_accepted() -> None:
    with Gateway(fail_submit=True) as gw, gw.client() as client:
        client.ehlo()
        client.mail("a@example.org")
        client.rcpt("bob@x400.example")
        assert_enhanced(client.data(MESSAGE), 451, "4.3.0")
        assert gw.submissions == []


# ---------------------------------------------------------------------------- line endings

def _raw_session(port: int, payload: bytes) -> list[bytes]:
    """Send EHLO, then ``payload`` in one write, then QUIT; return every reply line after EHLO."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"EHLO client.example\r\n")
        while reader.readline()[3:4] == b"-":
            pass
        sock.sendall(payload + b"QUIT\r\n")
        lines = []
        while line := reader.readline():
            lines.append(line)
            if line.startswith(b"221"):
                break
        return lines


SMUGGLED = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@x400.example>\r\nDATA\r\n"
            b"From: ceo@example.org\r\n\r\nsmuggled\r\n")


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"])
def test_smuggling_sequences_do_not_end_data(gw: Gateway, fake_end: bytes) -> None:
    payload = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\nDATA\r\n"
               b"Subject: real\r\n\r\nbody" + fake_end + SMUGGLED + b".\r\n")
    lines = _raw_session(gw.port, payload)
    assert [line[:9] for line in lines] == [b"250 2.1.0", b"250 2.1.5", b"354 End d",
                                            b"550 5.6.0", b"221 2.0.0"]
    assert gw.submissions == []


def test_bare_lf_in_a_header_is_refused(gw: Gateway) -> None:
    lines = _raw_session(gw.port, b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\n"
                                  b"DATA\r\nSubject: a\nBcc: x\r\n\r\nbody\r\n.\r\n")
    assert lines[3].startswith(b"550 5.6.0")
    assert gw.submissions == []


def test_proper_end_of_data_then_next_command(gw: Gateway) -> None:
    """CRLF.CRLF ends the data, and what follows is read as commands (RFC 5321 §4.1.1.4)."""
    payload = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\nDATA\r\n"
               b"Subject: one\r\n\r\nbody\r\n.\r\n" + SMUGGLED + b".\r\n")
    lines = _raw_session(gw.port, payload)
    assert sum(line.startswith(b"250 2.0.0 Ok: queued") for line in lines) == 2
    assert [s.sender for s in gw.submissions] == ["a@example.org", "evil@example.org"]


def test_dot_stuffed_lines_are_unstuffed(gw: Gateway) -> None:
    """RFC 5321 §4.5.2: a line of the data that starts with "." had one more added by the
    client; a line that is only ".." is a line that was only "." (not the end)."""
    payload = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\nDATA\r\n"
               b"Subject: dots\r\n\r\n..\r\n...two\r\n.x\r\nend\r\n.\r\n")
    lines = _raw_session(gw.port, payload)
    assert lines[3].startswith(b"250 2.0.0 Ok: queued")
    (submission,) = gw.submissions
    assert submission.data.endswith(b"Subject: dots\r\n\r\n.\r\n..two\r\nx\r\nend\r\n")


@pytest.mark.parametrize(("length", "accepted"), [(1001, True), (1002, False), (3000, False)])
def test_line_length_limit_and_the_reply_after_the_whole_data(gw: Gateway, length: int,
                                                             accepted: bool) -> None:
    """RFC 5321 §4.5.3.1.6: text lines of at most 1000 octets with CRLF (aiosmtpd, and so we,
    allow 1001); a longer one refuses the message with 500, and only once the data has ended
    (§4.2.5: the lines after it are data, not commands).  (tests/test_smtp_data.py checks
    the reader against line-by-line reading for any octets and any TCP segmentation.)"""
    payload = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\nDATA\r\n"
               b"Subject: long\r\n\r\n" + b"x" * (length - 2) + b"\r\nafter\r\n.\r\n")
    lines = _raw_session(gw.port, payload)
    assert [line[:3] for line in lines] == [b"250", b"250", b"354",
                                            b"250" if accepted else b"500", b"221"]
    if accepted:
        (submission,) = gw.submissions
        assert submission.data.endswith(b"x" * (length - 2) + b"\r\nafter\r\n")
    else:
        assert gw.submissions == []


def test_size_limit_counts_the_whole_data(gw: Gateway) -> None:
    """RFC 1870 §6.3: more data than SIZE allows gets 552 once the data has ended, and the
    session goes on (the next transaction is taken)."""
    body = b"y" * 70 + b"\r\n"
    payload = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\nDATA\r\n"
               + body * (MAX // len(body) + 2) + b".\r\n"
               + b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\nDATA\r\n"
               + b"Subject: small\r\n\r\nok\r\n.\r\n")
    lines = _raw_session(gw.port, payload)
    assert [line[:9] for line in lines] == [b"250 2.1.0", b"250 2.1.5", b"354 End d",
                                            b"552 5.3.4", b"250 2.1.0", b"250 2.1.5",
                                            b"354 End d", b"250 2.0.0", b"221 2.0.0"]
    assert [sub.data.endswith(b"ok\r\n") for sub in gw.submissions] == [True]


def test_idle_timeout_closes_only_an_idle_session() -> None:
    """RFC 5321 §4.5.3.2.7: the server may close a session idle longer than its timeout;
    every command restarts the clock, so a session that keeps talking stays open."""
    with Gateway(replace(SETTINGS, timeout=0.6)) as gateway, \
            socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220")
        began = time.monotonic()
        while True:                                      # 2.5 timeouts, never 0.6 s idle
            sent = time.monotonic()
            sock.sendall(b"NOOP\r\n")
            assert reader.readline().startswith(b"250")
            if sent - began > 1.5:
                break
            time.sleep(0.15)
        assert reader.readline().startswith(b"421 4.4.2 ")   # then closed by the server ...
        assert reader.readline() == b""
        assert 0.55 <= time.monotonic() - sent < 5       # ... once idle for the timeout


# ---------------------------------------------------------------------------- STARTTLS and AUTH

def test_starttls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = replace(SETTINGS, tls_cert=cert, tls_key=key)
    context = ssl.create_default_context(cafile=str(cert))
    with Gateway(settings) as gw, gw.client() as client:
        client.ehlo()
        assert "starttls" in client.esmtp_features
        assert_enhanced(client.starttls(context=context), 220, "2.0.0")
        client.ehlo()
        assert "starttls" not in client.esmtp_features
        client.sendmail("a@example.org", ["bob@x400.example"], MESSAGE)
    [sub] = gw.submissions
    assert sub.meta["protocol"] == "ESMTPS" and b" with ESMTPS id " in sub.data


def test_auth_plain_on_loopback_and_authenticated_relay() -> None:
    settings = replace(SETTINGS, relay_networks=("10.0.0.0/8",), auth={"alice": "s3cret"})
    with Gateway(settings) as gw:
        with gw.client() as client:
            client.ehlo()
            assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.login("alice", "wrong")
            assert (refused.value.smtp_code, refused.value.smtp_error[:6]) == (535, b"5.7.8 ")
        with gw.client() as client:
            client.ehlo()
            client.user, client.password = "alice", "s3cret"
            assert_enhanced(client.auth("PLAIN", client.auth_plain), 235, "2.7.0")
            client.mail("a@example.org")
            assert_enhanced(client.rcpt("eve@internet.example"), 250, "2.1.5")
            assert client.data(MESSAGE)[0] == 250
    [sub] = gw.submissions
    assert sub.meta["auth"] == "alice" and sub.meta["protocol"] == "ESMTPA"
    assert sub.direction == "to-smtp"


# ---------------------------------------------------------------------------- parameters

def test_parse_mail_and_rcpt() -> None:
    assert parse_mail(["size=10", "Body=8bitmime", "SMTPUTF8", "ret=full", "ENVID=a+20b"],
                      max_size=10) == MailParams(size=10, body="8BITMIME", smtputf8=True,
                                                 ret="FULL", envid="a b")
    assert parse_mail([], max_size=1) == MailParams()
    assert parse_rcpt(["notify=delay,Success", "ORCPT=utf-8;j\\x{F6}s\u00e9@x"]) == RcptParams(
        notify=("DELAY", "SUCCESS"), orcpt="utf-8;j\\x{F6}s\u00e9@x")
    with pytest.raises(ParamError) as err:
        parse_mail(["SIZE=11"], max_size=10)
    assert err.value.smtp == replies.TOO_BIG
    for bad in (["SMTPUTF8=yes"], ["=1"], ["ENVID="], ["ENVID=a b"]):
        with pytest.raises(ParamError):
            parse_mail(bad, max_size=10)
    assert xtext_decode("+C3+A9t+C3+A9") == "été"
    with pytest.raises(ParamError):
        xtext_decode("+FF")  # not UTF-8


@given(st.text())
def test_xtext_round_trip(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeError:
        return
    encoded = xtext_encode(value)
    assert encoded.isascii() and " " not in encoded and "=" not in encoded
    assert xtext_decode(encoded) == value


def test_with_enhanced_code() -> None:
    assert replies.with_enhanced_code("250 OK") == "250 2.0.0 OK"
    assert replies.with_enhanced_code("250 2.1.5 Ok") == "250 2.1.5 Ok"
    assert replies.with_enhanced_code("354 End data") == "354 End data"
    assert replies.with_enhanced_code("552 Error: Too much") == "552 5.3.4 Error: Too much"
    assert replies.with_enhanced_code("599 odd") == "599 5.0.0 odd"


@given(st.lists(st.text(min_size=1, max_size=30), max_size=4))
def test_parameter_parsers_refuse_only_with_param_error(words: list[str]) -> None:
    for parse in (lambda w: parse_mail(w, max_size=100), parse_rcpt):
        try:
            parse(words)
        except ParamError as exc:
            assert exc.smtp.code in (501, 552, 555)


# ---------------------------------------------------------------------------- lifecycle

def test_close_lets_the_message_in_flight_get_its_reply() -> None:
    """250 only once submit returned; close() stops listening but waits for that reply."""
    async def main() -> None:
        entered, release = asyncio.Event(), asyncio.Event()

        async def slow_submit(submission: Submission) -> str:
            entered.set()
            await release.wait()
            return "Q9"

        handler = InboundHandler(SETTINGS, check_recipient=check_recipient, submit=slow_submit)
        server = await start_server(handler, "127.0.0.1", 0)
        port = server.port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@x400.example>\r\n"
                     b"DATA\r\n" + MESSAGE + b".\r\n")
        await entered.wait()
        closing = asyncio.create_task(server.close(grace=10))
        while True:  # bounded by the outer wait_for
            try:
                _, probe = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                break  # no longer listening
            probe.close()
            await asyncio.sleep(0)
        assert not closing.done()
        lines = []
        release.set()
        while not (line := await reader.readline()).startswith((b"250 2.0.0", b"4", b"5")):
            lines.append(line)
        assert line.startswith(b"250 2.0.0 Ok: queued as Q9")
        await closing
        assert await reader.read() == b""  # the server closed the connection
        writer.close()

    asyncio.run(asyncio.wait_for(main(), 20))


@pytest.mark.parametrize("arg", [
    "<alice@example.org>", "<alice@example.org> SIZE=100", "  <a.b-c+d@x-y.example>",
    "<\"quoted local\"@example.org>", "<>", "<@relay:alice@example.org>", "alice@example.org",
    "<a..b@example.org>", "<alice@-bad.example>", "<" + "x" * 70 + "@example.org>"])
def test_fast_path_parses_like_aiosmtpd(arg: str) -> None:
    """The <dot-atom@domain> fast path of GatewaySMTP._getaddr agrees with aiosmtpd's own."""
    from aiosmtpd.smtp import SMTP as Stock

    from bridge.smtp.server import GatewaySMTP

    ours = GatewaySMTP.__new__(GatewaySMTP)
    stock = Stock.__new__(Stock)
    for proto in (ours, stock):
        proto.local_part_limit = 64
    assert ours._getaddr(arg) == stock._getaddr(arg)


@pytest.mark.parametrize(("received", "x400_received", "accepted"),
                         [(100, 0, True), (101, 0, False), (60, 41, False), (0, 100, True)])
def test_hop_count_loop_detection(gw: Gateway, received: int, x400_received: int,
                                  accepted: bool) -> None:
    """RFC 5321 §6.3 (and CONFORMANCE T-4): more than 100 trace fields -- Received and
    X400-Received both count -- is a loop: 554 5.4.6, nothing queued."""
    trace = b"Received: h\r\n" * received + b"X400-Received: x\r\n" * x400_received
    lines = _raw_session(gw.port, b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@x400.example>\r\n"
                                  b"DATA\r\n" + trace + b"Subject: loop\r\n\r\nbody\r\n.\r\n")
    if accepted:
        assert lines[3].startswith(b"250 2.0.0 Ok: queued")
        assert len(gw.submissions) == 1
    else:
        assert lines[3].startswith(b"554 5.4.6")
        assert gw.submissions == []


@settings(max_examples=500)
@given(st.binary(max_size=300).map(lambda b: b.replace(b"a", b"\r").replace(b"b", b"\n")))
def test_bare_line_ending_check_matches_the_definition(data: bytes) -> None:
    """has_bare_cr_or_lf agrees with RFC 5321 §2.3.8 written as a regular expression."""
    import re

    from bridge.smtp.data import has_bare_cr_or_lf

    assert has_bare_cr_or_lf(data) == bool(re.search(rb"\r(?!\n)|(?<!\r)\n", data))


# ---------------------------------------------------------------------------- RFC 6710 MT-PRIORITY

def test_mt_priority_offered_with_the_policy_and_kept(gw: Gateway) -> None:
    """RFC 6710 §3: the EHLO keyword names the policy; MT-PRIORITY=n is the submission's
    priority (§4.1 rule 4) and kept in the meta with the policy."""
    with gw.client() as client:
        client.ehlo()
        assert client.esmtp_features["mt-priority"] == "MIXER"
        assert_enhanced(client.mail("a@example.org", ["MT-PRIORITY=4"]), 250, "2.1.0")
        assert client.rcpt("bob@x400.example")[0] == 250
        assert client.data(MESSAGE)[0] == 250
        client.rset()
        assert client.mail("a@example.org", ["mt-priority=-9"])[0] == 250
        assert client.rcpt("bob@x400.example")[0] == 250
        assert client.data(MESSAGE)[0] == 250
        assert client.mail("a@example.org")[0] == 250
        assert client.rcpt("bob@x400.example")[0] == 250
        assert client.data(MESSAGE)[0] == 250
    urgent, low, plain = gw.submissions
    assert urgent.priority == 4 and urgent.meta["mt_priority"] == 4
    assert urgent.meta["mt_priority_policy"] == "MIXER"
    assert low.priority == -9 and low.meta["mt_priority"] == -9
    assert plain.priority == 0 and "mt_priority" not in plain.meta
    # §4.1 rule 2: our Received field carries the PRIORITY clause (§7 "Pri") after "for",
    # before the ";" and the date -- and only when the client gave a value
    for sub, clause in ((urgent, " PRIORITY 4;"), (low, " PRIORITY -9;"), (plain, None)):
        received = email.message_from_bytes(sub.data)["Received"]
        stamp, _, date = " ".join(received.split()).rpartition(";")
        assert email.utils.parsedate_to_datetime(date.strip()) is not None
        if clause is None:
            assert "PRIORITY" not in received
        else:
            assert (stamp + ";").endswith(f"for <bob@x400.example>{clause}")


def test_mt_priority_policy_stanag4406_in_ehlo() -> None:
    with Gateway(replace(SETTINGS, mt_priority_policy="STANAG4406")) as gw, \
            gw.client() as client:
        client.ehlo()
        assert client.esmtp_features["mt-priority"] == "STANAG4406"
    with pytest.raises(ValueError, match="mt_priority_policy"):
        replace(SETTINGS, mt_priority_policy="NSEP")  # type: ignore[arg-type]


def test_mt_priority_upgrade_from_an_untrusted_client_is_lowered() -> None:
    """RFC 6710 §4.1: no positive priority from an untrusted source; X.3.6 with the new
    priority first; a lower priority is kept."""
    with Gateway(replace(SETTINGS, relay_networks=())) as gw, gw.client() as client:
        client.ehlo()
        code, text = client.mail("a@example.org", ["MT-PRIORITY=6"])
        assert code == 250 and text.startswith(b"2.3.6 0 ")
        assert client.rcpt("bob@x400.example")[0] == 250
        assert client.data(MESSAGE)[0] == 250
        assert_enhanced(client.mail("a@example.org", ["MT-PRIORITY=-2"]), 250, "2.1.0")
        assert client.rcpt("bob@x400.example")[0] == 250
        assert client.data(MESSAGE)[0] == 250
    lowered, kept = gw.submissions
    assert lowered.priority == 0 and lowered.meta["mt_priority"] == 0
    assert kept.priority == -2


@pytest.mark.parametrize(("trusted", "field", "params", "expected"), [
    (True, b"MT-Priority: 6 (flash)", [], 6),           # RFC 6758 §3.1 rule 4a
    (True, b"MT-Priority: 6", ["MT-PRIORITY=-1"], -1),   # the parameter wins (rule 4)
    (True, b"MT-Priority: 6\r\nMT-Priority: 6", [], None),    # not a single field
    (True, b"MT-Priority: +6", [], None),               # not a priority-value
    (False, b"MT-Priority: 6", [], 0),                  # RFC 6710 §4.1 / RFC 6758 §7
    (False, b"MT-Priority: -4", [], -4),
])
def test_mt_priority_header_field_tunnelled_in(trusted: bool, field: bytes,
                                               params: list[str], expected: int | None) -> None:
    """RFC 6758 §3.1: without MT-PRIORITY on MAIL FROM, one valid MT-Priority field is the
    message's priority (never above 0 from a client that may not relay); our Received field
    then says PRIORITY (RFC 6710 §4.1 rule 2)."""
    settings = SETTINGS if trusted else replace(SETTINGS, relay_networks=())
    with Gateway(settings) as gw, gw.client() as client:
        client.ehlo()
        assert client.mail("a@example.org", params)[0] == 250
        assert client.rcpt("bob@x400.example")[0] == 250
        assert client.data(field + b"\r\n" + MESSAGE)[0] == 250
    [sub] = gw.submissions
    assert sub.priority == (expected or 0) and sub.meta.get("mt_priority") == expected
    received = email.message_from_bytes(sub.data)["Received"]
    assert ("PRIORITY" in received) == (expected is not None)
    if expected is not None:
        assert f" PRIORITY {expected};" in " ".join(received.split())
    assert sub.data.endswith(field + b"\r\n" + MESSAGE)     # the message is not changed


@pytest.mark.parametrize("value", [str(n) for n in range(-9, 10)])
def test_parse_mail_mt_priority_every_value(value: str) -> None:
    assert parse_mail([f"MT-PRIORITY={value}"], max_size=10).mt_priority == int(value)
