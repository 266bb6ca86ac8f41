"""The outbound SMTP endpoint against real servers on loopback.

Two kinds of sink: our own inbound endpoint (it offers DSN, SMTPUTF8, STARTTLS; its test
``check_recipient`` answers per address) and plain aiosmtpd (no DSN: it refuses every RCPT
parameter, so a test passes only if we sent none).  MX routing uses the authoritative DNS
server of tests/dnsserver.py.
"""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import dns.zone
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from bridge.errors import SMTPReply
from bridge.queue.model import Deferred, Delivered, Failed, Recipient, Submission
from bridge.smtp.cache import SessionCache
from bridge.smtp.client import OutboundSettings, deliver, outcome_of, reply_status
from bridge.smtp.server import InboundHandler, InboundSettings, RcptDecision, start_server
from tests.dnsserver import DNSServer
from tests.tlscert import self_signed

T = TypeVar("T")
MESSAGE = b"From: o@x400.example\r\nTo: a@example.test\r\nSubject: hi\r\n\r\nHello\r\n"


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 30)
    return asyncio.run(bounded())


def rcpt(address: str, **kwargs: Any) -> Recipient:
    return Recipient(address=address, **kwargs)


# ---------------------------------------------------------------------------- sinks

REPLIES = {"busy": SMTPReply(code=450, enhanced="4.2.1", text="Mailbox busy"),
           "nobody": SMTPReply(code=550, enhanced="5.1.1", text="No such user")}


class GatewaySink:
    """Our inbound endpoint as the next hop; ``submissions`` records what it took."""

    def __init__(self) -> None:
        self.submissions: list[Submission] = []

    async def check(self, address: str) -> RcptDecision:
        local = address.partition("@")[0]
        if local in REPLIES:
            return RcptDecision(accept=False, reply=REPLIES[local])
        return RcptDecision(accept=True, direction="to-x400", route="peer")

    async def submit(self, submission: Submission) -> str:
        self.submissions.append(submission)
        return "Q1"


@asynccontextmanager
async def gateway_sink(settings: InboundSettings | None = None
                       ) -> AsyncIterator[tuple[GatewaySink, int]]:
    sink = GatewaySink()
    handler = InboundHandler(settings or InboundSettings(hostname="sink.test", timeout=10),
                             check_recipient=sink.check, submit=sink.submit)
    server = await start_server(handler, "127.0.0.1", 0)
    try:
        yield sink, server.port
    finally:
        await server.close(grace=1)


class PlainSink:
    """Handler for stock aiosmtpd: per-address RCPT replies, a fixed DATA reply."""

    def __init__(self, data_reply: str = "250 2.0.0 Ok") -> None:
        self.data_reply = data_reply
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return self.data_reply


@asynccontextmanager
async def plain_sink(handler: PlainSink, *, utf8: bool = False,
                     idle_timeout: float = 300) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="plain.test", enable_SMTPUTF8=utf8, loop=loop,
                     timeout=idle_timeout),
        "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def smarthost(port: int, **kwargs: Any) -> OutboundSettings:
    return OutboundSettings(smarthost=("127.0.0.1", port), timeout=5, helo="gw.test", **kwargs)


# ---------------------------------------------------------------------------- via a smarthost

def test_per_recipient_replies_and_dsn_parameters() -> None:
    async def main() -> tuple[dict[str, Any], list[Submission]]:
        async with gateway_sink() as (sink, port):
            outcomes = await deliver(
                sender="o@x400.example", data=MESSAGE, settings=smarthost(port),
                envid="X400-MTS-Identifier: [c=gb;a= ;p=uk.ac;l=1]", ret="HDRS",
                recipients=[rcpt("a@example.test", notify=("SUCCESS", "FAILURE"),
                                 orcpt="x400;/S+3Da/O+3Dx+2F"),
                            rcpt("busy@example.test"), rcpt("nobody@example.test")])
            return outcomes, sink.submissions
    outcomes, [sub] = run(main())
    assert isinstance(outcomes["a@example.test"], Delivered)
    assert "250 2.0.0 Ok: queued as Q1" in outcomes["a@example.test"].detail
    assert outcomes["busy@example.test"] == Deferred(
        status="4.2.1", diagnostic="smtp; 450 4.2.1 Mailbox busy")
    assert outcomes["nobody@example.test"] == Failed(
        status="5.1.1", diagnostic="smtp; 550 5.1.1 No such user")
    [a] = sub.recipients
    assert (a.address, a.notify, a.orcpt) == ("a@example.test", ("SUCCESS", "FAILURE"),
                                              "x400;/S+3Da/O+3Dx+2F")
    assert sub.meta["envid"] == "X400-MTS-Identifier: [c=gb;a= ;p=uk.ac;l=1]"
    assert sub.meta["ret"] == "HDRS" and sub.meta["helo"] == "gw.test"
    assert sub.sender == "o@x400.example" and sub.data.endswith(MESSAGE)


def test_no_dsn_parameters_to_a_server_without_dsn() -> None:
    handler = PlainSink()

    async def main() -> dict[str, Any]:
        async with plain_sink(handler) as port:
            return await deliver(sender="", data=MESSAGE, settings=smarthost(port),
                                 envid="e1", ret="FULL",
                                 recipients=[rcpt("a@example.test", notify=("SUCCESS",),
                                                  orcpt="rfc822;a@example.test")])
    outcomes = run(main())
    [envelope] = handler.envelopes
    assert envelope.mail_from == "<>" and envelope.rcpt_options == []
    assert not any(o.startswith(("RET", "ENVID")) for o in envelope.mail_options)
    assert f"SIZE={len(MESSAGE)}" in envelope.mail_options
    result = outcomes["a@example.test"]
    assert isinstance(result, Delivered) and result.detail.startswith("relayed")


BLANK_ADMD = '"/G=John/S=Smith/O=Sales/PRMD=Acme/ADMD= /C=GB/"@gw.example'


def test_quoted_std_or_paths_with_a_blank_admd() -> None:
    """Issue 11 item 9 / RFC 5321 §4.1.2: a std-or local part with a blank ADMD goes on MAIL
    FROM and RCPT TO as a Quoted-string; both our inbound endpoint and aiosmtpd take it."""
    handler = PlainSink()
    to = '"/S=Bloggs/PRMD=Pm/ADMD= /C=GB/"@example.test'

    async def main() -> tuple[dict[str, Any], dict[str, Any], list[Submission]]:
        async with plain_sink(handler) as port:
            plain = await deliver(sender=BLANK_ADMD, data=MESSAGE, settings=smarthost(port),
                                  recipients=[rcpt(to)])
        async with gateway_sink() as (sink, port):
            ours = await deliver(sender=BLANK_ADMD, data=MESSAGE, settings=smarthost(port),
                                 recipients=[rcpt(to)])
        return plain, ours, sink.submissions
    plain, ours, [sub] = run(main())
    assert isinstance(plain[to], Delivered) and isinstance(ours[to], Delivered)
    [envelope] = handler.envelopes
    assert envelope.mail_from == BLANK_ADMD and envelope.rcpt_tos == [to]
    assert sub.sender == BLANK_ADMD and [r.address for r in sub.recipients] == [to]


def test_paths_no_command_line_can_hold_fail_alone() -> None:
    """RFC 5321 §4.1.2: CR/LF (or any control) fit in no path: that recipient fails 5.1.3,
    the others are sent; such a sender fails every recipient with 5.1.7."""
    handler = PlainSink()
    bad = '"a\r\nRCPT TO:<x@evil.example>"@example.test'

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with plain_sink(handler) as port:
            one = await deliver(sender="o@x.example", data=MESSAGE, settings=smarthost(port),
                                recipients=[rcpt(bad), rcpt("a@example.test")])
            every = await deliver(sender="o\x00@x.example", data=MESSAGE,
                                  settings=smarthost(port), recipients=[rcpt("a@example.test")])
        return one, every
    one, every = run(main())
    assert isinstance(one[bad], Failed) and one[bad].status == "5.1.3"
    assert isinstance(one["a@example.test"], Delivered)
    assert isinstance(every["a@example.test"], Failed)
    assert every["a@example.test"].status == "5.1.7"
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == ["a@example.test"]


@pytest.mark.parametrize(("reply", "expected"), [
    ("554 5.6.0 Content rejected", Failed(status="5.6.0",
                                          diagnostic="smtp; 554 5.6.0 Content rejected")),
    ("451 Try again", Deferred(status="4.3.0", diagnostic="smtp; 451 Try again")),
])
def test_data_reply_decides_accepted_recipients(reply: str, expected: Any) -> None:
    handler = PlainSink(data_reply=reply)

    async def main() -> dict[str, Any]:
        async with plain_sink(handler) as port:
            return await deliver(sender="o@x", data=MESSAGE, settings=smarthost(port),
                                 recipients=[rcpt("a@example.test"), rcpt("b@example.test"),
                                             rcpt("nobody@example.test")])
    outcomes = run(main())
    assert outcomes["a@example.test"] == outcomes["b@example.test"] == expected
    assert outcomes["nobody@example.test"] == Failed(
        status="5.0.0", diagnostic="smtp; 550 No such user here")  # derived from 550


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_is_deferred() -> None:
    outcomes = run(deliver(sender="o@x", data=MESSAGE, settings=smarthost(_free_port()),
                           recipients=[rcpt("a@example.test")]))
    result = outcomes["a@example.test"]
    assert isinstance(result, Deferred) and result.status == "4.4.1"


def test_silent_server_times_out_deferred() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts (kernel backlog) but never greets
        settings = OutboundSettings(smarthost=listener.getsockname(), timeout=0.5)
        outcomes = run(deliver(sender="o@x", data=MESSAGE, settings=settings,
                               recipients=[rcpt("a@example.test")]))
    result = outcomes["a@example.test"]
    assert isinstance(result, Deferred) and result.status == "4.4.1"


def test_smtputf8_needed_but_not_offered_fails_5_6_7() -> None:
    handler = PlainSink()

    async def main() -> dict[str, Any]:
        async with plain_sink(handler) as port:
            return await deliver(sender="jösé@example.org", data=MESSAGE,
                                 settings=smarthost(port), recipients=[rcpt("a@example.test")])
    result = run(main())["a@example.test"]
    assert isinstance(result, Failed) and result.status == "5.6.7"
    assert handler.envelopes == []


def test_smtputf8_used_when_offered() -> None:
    data = "Subject: ☃\r\n\r\nbody\r\n".encode()

    async def main() -> tuple[dict[str, Any], list[Submission]]:
        async with gateway_sink() as (sink, port):
            outcomes = await deliver(sender="o@x400.example", data=data,
                                     settings=smarthost(port),
                                     recipients=[rcpt("jösé@example.test")])
            return outcomes, sink.submissions
    outcomes, [sub] = run(main())
    assert isinstance(outcomes["jösé@example.test"], Delivered)
    assert sub.meta["smtputf8"] is True and sub.meta["body"] == "8BITMIME"
    assert sub.recipients[0].address == "jösé@example.test" and sub.data.endswith(data)


def test_eight_bit_body_without_8bitmime_fails() -> None:
    """aiosmtpd with decode_data offers no 8BITMIME; we do not downgrade (RFC 6152 §3)."""
    handler = PlainSink()

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, decode_data=True, loop=loop), "127.0.0.1", 0)
        try:
            return await deliver(sender="o@x", data=b"Subject: x\r\n\r\n\xc3\xa9\r\n",
                                 settings=smarthost(server.sockets[0].getsockname()[1]),
                                 recipients=[rcpt("a@example.test")])
        finally:
            server.close()
            await server.wait_closed()
    result = run(main())["a@example.test"]
    assert isinstance(result, Failed) and result.status == "5.6.3"


# ---------------------------------------------------------------------------- TLS

def _certificate(directory: Path) -> tuple[Path, Path]:
    return self_signed(directory, common_name="sink", alt_names="DNS:sink.test")


def test_opportunistic_starttls(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    settings = InboundSettings(hostname="sink.test", tls_cert=cert, tls_key=key, timeout=10)

    async def main() -> list[Submission]:
        async with gateway_sink(settings) as (sink, port):
            outcomes = await deliver(sender="o@x", data=MESSAGE, settings=smarthost(port),
                                     recipients=[rcpt("a@example.test")])
            assert isinstance(outcomes["a@example.test"], Delivered)
            return sink.submissions
    [sub] = run(main())
    assert sub.meta["protocol"] == "ESMTPS"


def test_required_tls_defers_a_server_without_starttls() -> None:
    handler = PlainSink()

    async def main() -> dict[str, Any]:
        async with plain_sink(handler) as port:
            return await deliver(sender="o@x", data=MESSAGE,
                                 settings=smarthost(port, tls="required"),
                                 recipients=[rcpt("a@example.test")])
    result = run(main())["a@example.test"]
    assert isinstance(result, Deferred) and result.status == "4.7.0"
    assert handler.envelopes == []


# ---------------------------------------------------------------------------- via MX

ZONE = """\
$TTL 300
@           SOA ns hostmaster 1 3600 600 86400 60
@           NS  ns
ns          A   127.0.0.1
mail        MX  20 mx2
mail        MX  10 mx1
mx1         A   127.0.0.2
mx2         A   127.0.0.1
implicit    A   127.0.0.1
null        MX  0 .
nohost      MX  10 missing
"""


@pytest.fixture(scope="module")
def dns_server() -> Any:
    zone = dns.zone.from_text(ZONE, origin="example.test.", relativize=False)
    with DNSServer([zone], servfail_names=["broken.example.test."]) as server:
        yield server


def via_mx(dns_server: DNSServer, port: int) -> OutboundSettings:
    return OutboundSettings(port=port, timeout=3, helo="gw.test",
                            resolver_nameservers=(dns_server.host,),
                            resolver_port=dns_server.port)


def test_mx_in_preference_order_falls_back(dns_server: DNSServer) -> None:
    """mx1 (preference 10, 127.0.0.2) refuses; mx2 (20, our sink) takes the message."""
    async def main() -> tuple[dict[str, Any], list[Submission]]:
        async with gateway_sink() as (sink, port):
            outcomes = await deliver(sender="o@x", data=MESSAGE,
                                     settings=via_mx(dns_server, port),
                                     recipients=[rcpt("a@mail.example.test"),
                                                 rcpt("b@implicit.example.test")])
            return outcomes, sink.submissions
    outcomes, subs = run(main())
    assert all(isinstance(o, Delivered) for o in outcomes.values()), outcomes
    assert sorted(s.recipients[0].address for s in subs) == ["a@mail.example.test",
                                                             "b@implicit.example.test"]
    asked = [(q.qname, q.qtype) for q in dns_server.queries]
    assert ("mail.example.test.", "MX") in asked and ("mx1.example.test.", "A") in asked


@pytest.mark.parametrize(("address", "kind", "status"), [
    ("a@nope.example.test", Failed, "5.1.2"),
    ("a@null.example.test", Failed, "5.1.10"),
    ("a@broken.example.test", Deferred, "4.4.3"),
    ("a@nohost.example.test", Deferred, "4.4.3"),
    ("no-domain", Failed, "5.1.3"),
])
def test_routing_failures(dns_server: DNSServer, address: str, kind: type, status: str
                          ) -> None:
    outcomes = run(deliver(sender="o@x", data=MESSAGE, settings=via_mx(dns_server, 1),
                           recipients=[rcpt(address)]))
    result = outcomes[address]
    assert isinstance(result, kind) and isinstance(result, Failed | Deferred), result
    assert result.status == status


# ---------------------------------------------------------------------------- reply codes

def test_reply_status_and_outcome() -> None:
    assert reply_status(550, "5.7.1 Relaying denied") == "5.7.1"
    assert reply_status(450, "5.7.1 class mismatch") == "4.2.0"  # RFC 3463 §2: class = basic
    assert reply_status(552, "Too big") == "5.2.2"
    assert reply_status(599, "odd") == "5.0.0"
    assert outcome_of(250, "2.0.0 Ok\n  queued", host="mx") == Delivered(
        detail="250 2.0.0 Ok queued (mx)")




# ---------------------------------------------------------------------------- RFC 6710

def test_mt_priority_sent_to_a_server_that_offers_it() -> None:
    """RFC 6710 §4.2: MT-PRIORITY on MAIL FROM to a server offering it (our endpoint)."""
    async def main() -> list[Submission]:
        async with gateway_sink() as (sink, port):
            await deliver(sender="o@x400.example", data=MESSAGE, settings=smarthost(port),
                          recipients=[rcpt("a@example.test")], mt_priority=4)
            await deliver(sender="o@x400.example", data=MESSAGE, settings=smarthost(port),
                          recipients=[rcpt("a@example.test")], mt_priority=-4)
            await deliver(sender="o@x400.example", data=MESSAGE, settings=smarthost(port),
                          recipients=[rcpt("a@example.test")])
            return sink.submissions
    urgent, low, plain = run(main())
    assert (urgent.priority, low.priority, plain.priority) == (4, -4, 0)
    assert "mt_priority" not in plain.meta


def test_no_mt_priority_to_a_server_without_it() -> None:
    """RFC 6710 §4.3: a server that does not offer MT-PRIORITY gets none (stock aiosmtpd)."""
    handler = PlainSink()

    async def main() -> dict[str, Any]:
        async with plain_sink(handler) as port:
            return await deliver(sender="o@x400.example", data=MESSAGE,
                                 settings=smarthost(port), mt_priority=4,
                                 recipients=[rcpt("a@example.test")])
    outcomes = run(main())
    assert isinstance(outcomes["a@example.test"], Delivered)
    [envelope] = handler.envelopes
    assert not any(o.upper().startswith("MT-PRIORITY") for o in envelope.mail_options)
    # RFC 6758 §3.3 rule 3: the priority is tunnelled in an MT-Priority field instead
    delivered = email.message_from_bytes(envelope.original_content or b"")
    assert delivered.get_all("MT-Priority") == ["4"]
    assert delivered.get_payload() == "Hello\r\n"


def test_mt_priority_fields_replaced_when_tunnelled() -> None:
    """RFC 6758 §3.3 rules 2-3: toward a server without MT-PRIORITY every MT-Priority field
    is removed, and one with the message's priority added; without a priority none is left.
    Toward a server offering MT-PRIORITY the message is passed as it is (§3.2)."""
    forged = (b"MT-Priority: 9\r\nFrom: o@x400.example\r\nMT-Priority:\r\n (folded) 6\r\n"
              b"To: a@example.test\r\n\r\nMT-Priority: 5 stays in the body\r\n")
    handler = PlainSink()

    async def main() -> list[Submission]:
        async with plain_sink(handler) as port:
            for value in (-3, None):
                await deliver(sender="o@x400.example", data=forged, settings=smarthost(port),
                              mt_priority=value, recipients=[rcpt("a@example.test")])
        async with gateway_sink() as (sink, port):
            await deliver(sender="o@x400.example", data=forged, settings=smarthost(port),
                          mt_priority=2, recipients=[rcpt("a@example.test")])
            return sink.submissions
    [offered] = run(main())
    with_value, without = (e.original_content or b"" for e in handler.envelopes)
    head, _, body = with_value.partition(b"\r\n\r\n")
    assert email.message_from_bytes(with_value).get_all("MT-Priority") == ["-3"]
    assert head.count(b"MT-Priority") == 1 and b"(folded)" not in head
    assert body == b"MT-Priority: 5 stays in the body\r\n"
    assert email.message_from_bytes(without).get_all("MT-Priority") is None
    assert without.endswith(body) and b"From: o@x400.example\r\n" in without
    assert offered.priority == 2 and offered.data.endswith(forged)


# ---------------------------------------------------------------------------- session cache

class CountingSink(PlainSink):
    """Counts the sessions (EHLO) and the transactions (DATA) it sees."""

    def __init__(self, data_reply: str = "250 2.0.0 Ok") -> None:
        super().__init__(data_reply)
        self.sessions = 0

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses


def test_cached_sessions_carry_several_transactions() -> None:
    """RFC 5321 §4.1.4: one session, several transactions (RSET before each reused one);
    a session the server closed meanwhile is noticed by RSET and replaced; a refused
    transaction leaves the session usable; close() sends QUIT."""
    handler = CountingSink()

    async def main() -> SessionCache:
        cache = SessionCache(per_host=2, idle_time=60)
        async with plain_sink(handler, idle_timeout=1.0) as port:
            settings = smarthost(port)
            for n in range(3):
                outcomes = await deliver(sender="o@x400.example", data=MESSAGE,
                                         settings=settings, cache=cache,
                                         recipients=[rcpt(f"a{n}@example.test")])
                assert isinstance(outcomes[f"a{n}@example.test"], Delivered)
            assert (handler.sessions, len(handler.envelopes), len(cache)) == (1, 3, 1)
            refused = await deliver(sender="o@x400.example", data=MESSAGE, settings=settings,
                                    cache=cache, recipients=[rcpt("nobody@example.test")])
            assert isinstance(refused["nobody@example.test"], Failed)
            assert (handler.sessions, len(cache)) == (1, 1)        # kept, RSET next time
            await asyncio.sleep(1.5)                  # the server's idle timeout ends it
            outcomes = await deliver(sender="o@x400.example", data=MESSAGE, settings=settings,
                                     cache=cache, recipients=[rcpt("b@example.test")])
            assert isinstance(outcomes["b@example.test"], Delivered)
            assert (handler.sessions, len(handler.envelopes)) == (2, 4)
            await cache.close()
            assert len(cache) == 0
        return cache
    run(main())


def test_session_cache_bounds() -> None:
    """At most ``per_host`` idle sessions per host, ``max_uses`` transactions each, and none
    idle longer than ``idle_time`` (sweep)."""
    now = [0.0]

    class Fake:
        def __init__(self) -> None:
            self.is_connected = True

        def close(self) -> None:
            self.is_connected = False

    cache = SessionCache(per_host=2, idle_time=10, max_uses=3, clock=lambda: now[0])
    key = ("127.0.0.1", 25, "never")
    a: Any = Fake()
    b: Any = Fake()
    c: Any = Fake()
    for client in (a, b, c):
        cache.give(key, client)
    assert len(cache) == 2 and not c.is_connected          # over per_host: ended
    assert cache.take(key) is b and cache.take(key) is a and cache.take(key) is None
    cache.give(key, a)                                     # a's second transaction
    assert cache.take(key) is a
    cache.give(key, a)                                    # its third: max_uses, ended
    assert len(cache) == 0 and not a.is_connected
    cache.give(key, b)
    now[0] = 11.0
    cache.sweep()
    assert len(cache) == 0 and not b.is_connected
