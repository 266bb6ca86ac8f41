"""AUTH is offered to a remote client only under TLS, and to a loopback client at once.

RFC 4954 §4: a server should not advertise (and must refuse) a plaintext mechanism such as
PLAIN or LOGIN on an unencrypted connection ("538 5.7.11 Encryption required for requested
authentication mechanism", RFC 4954 §6); RFC 3207 §4.2: after STARTTLS the server discards
what it knew of the client and the client starts again with EHLO.  Our rule
(:class:`bridge.smtp.server.GatewaySMTP`): a password never crosses a network in clear, so a
client on a non-loopback address gets AUTH only after STARTTLS; a loopback client (local
submission, tests) gets it at once.

A test cannot connect *from* a non-loopback address (servers listen on loopback only), so these
tests drive the real protocol object over an in-memory transport whose ``peername`` is whatever
the test says.  STARTTLS runs for real through that transport: the server's own
``asyncio.sslproto.SSLProtocol`` against a client ``ssl.SSLObject`` on memory BIOs, with a
throw-away certificate -- the handshake, the ciphertext and the TLS session are genuine; only
the socket is not.  (No CONFORMANCE.md row covers SMTP AUTH or STARTTLS: those rows are about
RFC 2156 mapping.)
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, Envelope, Session

from bridge.queue.model import Submission
from bridge.smtp.server import (
    GatewaySMTP,
    InboundHandler,
    InboundSettings,
    RcptDecision,
    tls_context,
)

#: Long enough for a slow CI box, short enough that a hung test ends by itself.
TIMEOUT = 10.0
PASSWORD = "s3cret"
SETTINGS = InboundSettings(hostname="gw.test", max_message_size=4096, timeout=TIMEOUT,
                           auth={"alice": PASSWORD}, auth_failure_delay=0.01)
MESSAGE = b"From: alice@example.org\r\nTo: eve@internet.example\r\nSubject: hi\r\n\r\nHello\r\n"
REMOTE_PEERS = [("192.0.2.7", 40000), ("2001:db8::7", 40000, 0, 0)]  # RFC 5737 / RFC 3849
LOOPBACK_PEERS = [("127.0.0.1", 40000), ("127.8.9.10", 40000), ("::1", 40000, 0, 0),
                  ("::ffff:127.0.0.1", 40000, 0, 0)]     # IPv4 client of a dual-stack socket


#: A reply line's basic code, and its RFC 3463 enhanced code when it has one.
_CODES = re.compile(r"^\d{3}(?: [245]\.\d{1,3}\.\d{1,3}(?= |$))?")


def plain(user: str, password: str) -> str:
    """The RFC 4616 §2 initial response: authzid NUL authcid NUL passwd, in base64."""
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def check_recipient(address: str) -> RcptDecision:
    domain = address.rpartition("@")[2]
    if domain == "x400.example":
        return RcptDecision(accept=True, direction="to-x400", route="peer-a")
    if domain == "internet.example":
        return RcptDecision(accept=True, direction="to-smtp", route=domain)
    return RcptDecision(accept=False)


class RecordingHandler(InboundHandler):
    """The real handler, recording every mechanism its ``authenticate`` was asked to check
    and every submission (a test double for the queue).  No attribute of a handler may start
    with ``auth_``: aiosmtpd would take it for an AUTH mechanism and advertise it."""

    def __init__(self, settings: InboundSettings) -> None:
        super().__init__(settings, check_recipient=check_recipient, submit=self._record)
        self.checked_mechanisms: list[str] = []
        self.submissions: list[Submission] = []

    async def _record(self, submission: Submission) -> str:
        self.submissions.append(submission)
        return f"Q{len(self.submissions)}"

    def authenticate(self, server: Any, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        self.checked_mechanisms.append(mechanism)
        return super().authenticate(server, session, envelope, mechanism, auth_data)


class MemoryTransport(asyncio.Transport):
    """A TCP connection's server end without a socket: ``peername`` is set by the test, what
    the server writes is collected in :attr:`outbox`, and the test delivers the client's
    bytes to whichever protocol the transport currently serves (aiosmtpd's, or the
    ``SSLProtocol`` it installs with ``set_protocol`` at STARTTLS)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, peer: Any) -> None:
        super().__init__({"peername": peer, "sockname": ("198.51.100.1", 25)})
        self._loop = loop
        self.protocol: asyncio.BaseProtocol | None = None
        self.outbox = bytearray()
        self.wrote = asyncio.Event()
        self.closed = False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "write after close"
        self.outbox += data
        self.wrote.set()

    def take(self) -> bytes:
        data = bytes(self.outbox)
        self.outbox.clear()
        return data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self._force_close(None)

    def abort(self) -> None:
        self._force_close(None)

    def _force_close(self, exc: Exception | None) -> None:
        """What a socket transport does: close, then tell the protocol on the next turn."""
        if not self.closed:
            self.closed = True
            assert self.protocol is not None
            self._loop.call_soon(self.protocol.connection_lost, exc)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return not self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def deliver(self, data: bytes) -> None:
        """Hand the client's bytes to the protocol as the event loop would."""
        protocol = self.protocol
        if isinstance(protocol, asyncio.BufferedProtocol):
            view = memoryview(data)
            while view:
                buffer = memoryview(protocol.get_buffer(len(view)))
                n = min(len(buffer), len(view))
                buffer[:n] = view[:n]
                protocol.buffer_updated(n)
                view = view[n:]
        else:
            assert isinstance(protocol, asyncio.Protocol)
            protocol.data_received(data)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run until ``condition`` holds (bounded: fails after 1000 turns)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"timed out waiting for {what}")


class Client:
    """The client end of one session: sends lines, reads whole replies, can start TLS."""

    def __init__(self, handler: RecordingHandler, peer: Any, *,
                 context: ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        self.server = GatewaySMTP(handler, tls_context=context, loop=loop)
        self.transport = MemoryTransport(loop, peer)
        self.transport.set_protocol(self.server)
        self._received = bytearray()  # plaintext from the server
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls: ssl.SSLObject | None = None
        self.server.connection_made(self.transport)

    # -------------------------------------------------------------- bytes in and out

    def send(self, data: bytes) -> None:
        if self._tls is not None:
            self._tls.write(data)
            data = self._outgoing.read()
        self.transport.deliver(data)

    def _pull(self) -> None:
        data = self.transport.take()
        if self._tls is None:
            self._received += data
            return
        self._incoming.write(data)
        while True:
            try:
                chunk = self._tls.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                return
            if not chunk:
                return
            self._received += chunk

    async def _await_output(self) -> None:
        self.transport.wrote.clear()
        await asyncio.wait_for(self.transport.wrote.wait(), TIMEOUT)

    async def reply(self) -> list[str]:
        """The next complete reply (RFC 5321 §4.2.1: lines "ddd-..." then "ddd ...")."""
        while True:
            self._pull()
            lines = self._received.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if line[3:4] != b"-":
                    del self._received[:sum(len(x) + 2 for x in lines[:i + 1])]
                    return [x.decode() for x in lines[:i + 1]]
            await self._await_output()

    async def command(self, line: str) -> list[str]:
        self.send(line.encode() + b"\r\n")
        return await self.reply()

    async def code(self, line: str) -> str:
        """The last reply line's code and enhanced code if any, e.g. ``"538 5.7.11"``."""
        match = _CODES.match((await self.command(line))[-1])
        assert match is not None
        return match.group(0)

    async def ehlo(self) -> list[str]:
        """The EHLO keywords (RFC 5321 §4.1.1.1), after checking the reply is a 250."""
        lines = await self.command("EHLO client.example")
        assert all(line.startswith("250") for line in lines), lines
        return [line[4:] for line in lines[1:]]

    # -------------------------------------------------------------- STARTTLS (RFC 3207 §4)

    async def starttls(self, context: ssl.SSLContext) -> None:
        assert (await self.command("STARTTLS"))[-1].startswith("220 ")
        # The server installs its SSLProtocol right after pushing the 220 reply.
        await until(lambda: isinstance(self.transport.protocol, asyncio.BufferedProtocol),
                    "the server to switch to TLS")
        assert self._received == b"", "plaintext after 220 would be a STARTTLS injection"
        tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname="gw.test")
        for _ in range(10):  # TLS 1.3 needs 1 round trip, 1.2 needs 2
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.transport.deliver(self._outgoing.read())
                if not self.transport.outbox:
                    await self._await_output()
                self._incoming.write(self.transport.take())
        else:
            raise AssertionError("TLS handshake did not finish")
        self.transport.deliver(self._outgoing.read())  # the client's Finished
        self._tls = tls
        await until(lambda: self.server.session is not None
                    and self.server.session.ssl is not None, "the server's TLS session")

    # -------------------------------------------------------------- the end

    async def close(self) -> None:
        """QUIT, then drop the connection and wait for the server to see it go."""
        if not self.transport.closed:
            assert (await self.command("QUIT"))[-1].startswith("221 ")
        self.transport.close()
        await until(lambda: self.server.transport is None, "the server to close")


def run(handler: RecordingHandler, peer: Any, context: ssl.SSLContext | None,
        body: Callable[[Client], Awaitable[None]]) -> None:
    """Run ``body`` against a fresh session that has been greeted; always close it."""

    async def main() -> None:
        client = Client(handler, peer, context=context)
        try:
            assert (await client.reply())[-1].startswith("220 gw.test ")
            await body(client)
        finally:
            await client.close()

    asyncio.run(main())


@pytest.fixture(scope="module")
def tls_settings(certificate: tuple[Path, Path]) -> InboundSettings:
    cert, key = certificate
    return replace(SETTINGS, tls_cert=cert, tls_key=key)


@pytest.fixture(scope="module")
def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def has_auth(keywords: list[str]) -> bool:
    return any(k == "AUTH" or k.startswith("AUTH ") for k in keywords)


# ---------------------------------------------------------------------------- remote, no TLS

@pytest.mark.parametrize("peer", REMOTE_PEERS, ids=["ipv4", "ipv6"])
def test_remote_client_gets_no_auth_before_starttls(tls_settings: InboundSettings,
                                                    peer: Any) -> None:
    """RFC 4954 §4 / RFC 3207: STARTTLS offered, AUTH neither offered nor accepted in clear;
    without AUTH the client is not trusted to relay (550 5.7.1) but may still reach X.400."""
    handler = RecordingHandler(tls_settings)

    async def body(client: Client) -> None:
        keywords = await client.ehlo()
        assert "STARTTLS" in keywords and not has_auth(keywords), keywords
        assert await client.code("AUTH PLAIN " + plain("alice", PASSWORD)) == "538 5.7.11"
        assert await client.code("AUTH LOGIN " + b64("alice")) == "538 5.7.11"
        assert await client.code("AUTH LOGIN") == "538 5.7.11"
        assert client.server.session is not None
        assert not client.server.session.authenticated
        assert client.server.session.auth_data is None
        assert await client.code("MAIL FROM:<alice@example.org>") == "250 2.1.0"
        assert await client.code("RCPT TO:<eve@internet.example>") == "550 5.7.1"
        assert await client.code("RCPT TO:<bob@x400.example>") == "250 2.1.5"

    run(handler, peer, tls_context(tls_settings), body)
    assert handler.checked_mechanisms == []  # the password was never even checked


def test_remote_client_without_tls_configured_can_never_authenticate() -> None:
    """No certificate: no STARTTLS, so a remote client is never offered AUTH (RFC 4954 §4)."""
    handler = RecordingHandler(SETTINGS)

    async def body(client: Client) -> None:
        keywords = await client.ehlo()
        assert "STARTTLS" not in keywords and not has_auth(keywords), keywords
        assert await client.code("STARTTLS") == "454 4.7.0"
        assert await client.code("AUTH PLAIN " + plain("alice", PASSWORD)) == "538 5.7.11"
        assert client.server.session is not None and not client.server.session.authenticated

    run(handler, REMOTE_PEERS[0], None, body)
    assert handler.checked_mechanisms == []


@pytest.mark.parametrize("peer", ["", None, ("not-an-address", 0)], ids=["empty", "none", "name"])
def test_unknown_peer_is_treated_as_remote(tls_settings: InboundSettings, peer: Any) -> None:
    """A peer address we cannot read (a Unix socket, a proxy) fails closed: no AUTH in clear."""
    handler = RecordingHandler(tls_settings)

    async def body(client: Client) -> None:
        assert not has_auth(await client.ehlo())
        assert await client.code("AUTH PLAIN " + plain("alice", PASSWORD)) == "538 5.7.11"

    run(handler, peer, tls_context(tls_settings), body)
    assert handler.checked_mechanisms == []


# ---------------------------------------------------------------------------- remote, with TLS

@pytest.mark.parametrize("peer", REMOTE_PEERS, ids=["ipv4", "ipv6"])
def test_remote_client_authenticates_after_starttls(tls_settings: InboundSettings,
                                                    client_context: ssl.SSLContext,
                                                    peer: Any) -> None:
    """RFC 3207 §4.2: after the handshake the client starts again (EHLO needed; no STARTTLS
    offered); AUTH is now offered and checked (RFC 4954 §4, §6: 535 then 235); the
    authenticated client may relay, and the trace says ESMTPSA (RFC 3848)."""
    handler = RecordingHandler(tls_settings)

    async def body(client: Client) -> None:
        assert await client.code("EHLO client.example") == "250"
        await client.starttls(client_context)
        assert client.server.session is not None and client.server.session.ssl is not None
        assert await client.code("MAIL FROM:<alice@example.org>") == "503 5.5.1"  # no EHLO
        keywords = await client.ehlo()
        assert "STARTTLS" not in keywords
        assert "AUTH LOGIN PLAIN" in keywords, keywords
        assert await client.code("AUTH PLAIN " + plain("alice", "wrong")) == "535 5.7.8"
        assert not client.server.session.authenticated
        assert await client.code("AUTH PLAIN " + plain("alice", PASSWORD)) == "235 2.7.0"
        assert client.server.session.authenticated
        assert await client.code("MAIL FROM:<alice@example.org>") == "250 2.1.0"
        assert await client.code("RCPT TO:<eve@internet.example>") == "250 2.1.5"
        assert (await client.command("DATA"))[-1].startswith("354 ")
        client.send(MESSAGE + b".\r\n")
        assert (await client.reply())[-1] == "250 2.0.0 Ok: queued as Q1"

    run(handler, peer, tls_context(tls_settings), body)
    assert handler.checked_mechanisms == ["PLAIN", "PLAIN"]
    [sub] = handler.submissions
    assert sub.direction == "to-smtp" and sub.meta["client"] == peer[0]
    assert sub.meta["auth"] == "alice" and sub.meta["protocol"] == "ESMTPSA"
    assert b" with ESMTPSA id " in sub.data


def test_auth_login_after_starttls(tls_settings: InboundSettings,
                                   client_context: ssl.SSLContext) -> None:
    """AUTH LOGIN's 334 exchange (RFC 4954 §4) runs inside TLS for a remote client."""
    handler = RecordingHandler(tls_settings)

    async def body(client: Client) -> None:
        await client.ehlo()
        await client.starttls(client_context)
        await client.ehlo()
        assert (await client.command("AUTH LOGIN"))[-1].startswith("334 ")
        assert (await client.command(b64("alice")))[-1].startswith("334 ")
        assert await client.code(b64(PASSWORD)) == "235 2.7.0"
        assert client.server.session is not None and client.server.session.authenticated

    run(handler, REMOTE_PEERS[0], tls_context(tls_settings), body)
    assert handler.checked_mechanisms == ["LOGIN"]


@pytest.mark.parametrize(("peer", "relays"), [
    (("::ffff:10.1.2.3", 40000, 0, 0), True),       # RFC 4291 §2.5.5.2: it is 10.1.2.3
    (("::ffff:192.0.2.7", 40000, 0, 0), False),
])
def test_ipv4_mapped_client_is_judged_by_its_ipv4_address(tls_settings: InboundSettings,
                                                          peer: Any, relays: bool) -> None:
    """An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d: relay-networks (IPv4
    prefixes) apply to it as to the IPv4 address it is."""
    handler = RecordingHandler(replace(tls_settings, relay_networks=("10.0.0.0/8",)))

    async def body(client: Client) -> None:
        await client.ehlo()
        assert await client.code("MAIL FROM:<alice@example.org>") == "250 2.1.0"
        assert await client.code("RCPT TO:<eve@internet.example>") == (
            "250 2.1.5" if relays else "550 5.7.1")

    run(handler, peer, tls_context(tls_settings), body)


# ---------------------------------------------------------------------------- loopback

@pytest.mark.parametrize("peer", LOOPBACK_PEERS, ids=["127.0.0.1", "127/8", "::1", "mapped"])
def test_loopback_client_gets_auth_at_once(tls_settings: InboundSettings, peer: Any) -> None:
    """Local submission: AUTH PLAIN LOGIN offered without STARTTLS; 535 for a wrong password,
    235 for the right one (RFC 4954 §6); authenticated, the client may relay even though it
    is outside ``relay_networks``."""
    handler = RecordingHandler(replace(tls_settings, relay_networks=("10.0.0.0/8",)))

    async def body(client: Client) -> None:
        keywords = await client.ehlo()
        assert "AUTH LOGIN PLAIN" in keywords and "STARTTLS" in keywords, keywords
        assert await client.code("MAIL FROM:<alice@example.org>") == "250 2.1.0"
        assert await client.code("RCPT TO:<eve@internet.example>") == "550 5.7.1"
        assert await client.code("RSET") == "250 2.0.0"
        assert await client.code("AUTH PLAIN " + plain("alice", "wrong")) == "535 5.7.8"
        assert await client.code("AUTH PLAIN " + plain("mallory", PASSWORD)) == "535 5.7.8"
        assert client.server.session is not None
        assert not client.server.session.authenticated
        assert await client.code("AUTH PLAIN " + plain("alice", PASSWORD)) == "235 2.7.0"
        assert client.server.session.authenticated
        assert await client.code("AUTH PLAIN " + plain("alice", PASSWORD)) == "503 5.5.1"
        assert await client.code("MAIL FROM:<alice@example.org>") == "250 2.1.0"
        assert await client.code("RCPT TO:<eve@internet.example>") == "250 2.1.5"

    run(handler, peer, tls_context(tls_settings), body)
    assert handler.checked_mechanisms == ["PLAIN", "PLAIN", "PLAIN"]


def test_loopback_client_without_tls_configured_gets_auth() -> None:
    """A loopback client needs no certificate on the gateway to authenticate."""
    handler = RecordingHandler(SETTINGS)

    async def body(client: Client) -> None:
        keywords = await client.ehlo()
        assert "AUTH LOGIN PLAIN" in keywords and "STARTTLS" not in keywords, keywords
        assert (await client.command("AUTH LOGIN"))[-1].startswith("334 ")
        assert (await client.command(b64("alice")))[-1].startswith("334 ")
        assert await client.code(b64(PASSWORD)) == "235 2.7.0"

    run(handler, LOOPBACK_PEERS[0], None, body)
    assert handler.checked_mechanisms == ["LOGIN"]


def test_no_auth_configured_means_no_auth_for_anyone(tls_settings: InboundSettings) -> None:
    """Without ``[smtp] auth`` no mechanism exists: not offered, 504 if tried."""
    handler = RecordingHandler(replace(tls_settings, auth={}))

    async def body(client: Client) -> None:
        assert not has_auth(await client.ehlo())
        assert await client.code("AUTH PLAIN " + plain("alice", PASSWORD)) == "504 5.5.4"

    run(handler, LOOPBACK_PEERS[0], tls_context(tls_settings), body)
    assert handler.checked_mechanisms == []
