"""Limits of the inbound SMTP endpoint (issue 12): a hostile client gets bounded memory,
bounded time and a clear answer.

Each test reproduces a case of the adversarial probe, scaled to run in a second or two: DATA
without end beyond the size limit (the octets kept are measured on the reader's structure, not
by RSS), connections in all and per client, recipients per transaction, commands without
progress, AUTH guessing (a growing delay, the end of the session, one log line per client and
minute), and the DATA timeout per block of data (RFC 5321 §4.5.3.2.5).  The server runs in the
test's event loop on loopback (a second client address is 127.0.0.2, which Linux routes to
the loopback interface); the schedule of the AUTH delays is checked on :class:`Anvil` with a
clock of the test's.  Every timing assertion is a bound, never a synchronisation: the tests
wait for replies, not for time.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest

from bridge.queue.model import Submission
from bridge.smtp.protocol import client_key
from bridge.smtp.server import (
    FAILURE_MEMORY,
    LOG_INTERVAL,
    Anvil,
    InboundHandler,
    InboundSettings,
    RcptDecision,
    SMTPServer,
    start_server,
)

MIB = 1024 * 1024
#: long enough for a slow CI box, short enough that a hung test ends by itself
TIMEOUT = 20.0
SETTINGS = InboundSettings(hostname="gw.test", max_message_size=MIB, timeout=TIMEOUT,
                           auth={"alice": "s3cret"}, auth_failure_delay=0.0)
MESSAGE = b"From: a@example.org\r\nTo: b@x400.example\r\nSubject: hi\r\n\r\nHello\r\n"


async def check_recipient(address: str) -> RcptDecision:
    if address.endswith("@x400.example"):
        return RcptDecision(accept=True, direction="to-x400", route="peer")
    return RcptDecision(accept=False)


class Handler(InboundHandler):
    """The real handler with a queue double; it records every exception that reached
    aiosmtpd's ``handle_exception`` (none may)."""

    def __init__(self, settings: InboundSettings, *, slow_submit: float = 0.0) -> None:
        super().__init__(settings, check_recipient=check_recipient, submit=self._record)
        self.slow_submit = slow_submit
        self.submissions: list[Submission] = []
        self.errors: list[Exception] = []

    async def _record(self, submission: Submission) -> str:
        if self.slow_submit:
            await asyncio.sleep(self.slow_submit)     # a slow queue commit, not a sync
        self.submissions.append(submission)
        return f"Q{len(self.submissions)}"

    async def handle_exception(self, error: Exception) -> str:
        self.errors.append(error)
        return await super().handle_exception(error)


@asynccontextmanager
async def serving(settings: InboundSettings = SETTINGS, *, slow_submit: float = 0.0
                  ) -> AsyncIterator[tuple[SMTPServer, Handler]]:
    handler = Handler(settings, slow_submit=slow_submit)
    server = await start_server(handler, "127.0.0.1", 0)
    try:
        yield server, handler
    finally:
        await server.close(grace=2)
    assert handler.errors == []


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 60))


class Client:
    """One raw SMTP session; every read is bounded by TIMEOUT."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, *, local: str = "127.0.0.1") -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
        return cls(reader, writer)

    async def line(self) -> bytes:
        return await asyncio.wait_for(self.reader.readline(), TIMEOUT)

    async def reply(self) -> bytes:
        """The last line of the next reply (RFC 5321 §4.2.1)."""
        while (line := await self.line())[3:4] == b"-":
            pass
        return line

    async def command(self, text: str | bytes) -> bytes:
        self.writer.write((text.encode() if isinstance(text, str) else text) + b"\r\n")
        return await self.reply()

    async def start(self) -> None:
        assert (await self.reply()).startswith(b"220 ")
        assert (await self.command("EHLO client.test")).startswith(b"250 ")

    async def transaction(self) -> None:
        assert (await self.command("MAIL FROM:<a@example.org>")).startswith(b"250 2.1.0")
        assert (await self.command("RCPT TO:<b@x400.example>")).startswith(b"250 2.1.5")
        assert (await self.command("DATA")).startswith(b"354 ")

    async def closed(self) -> bool:
        """Whether the server closed the connection (EOF, nothing more)."""
        return await asyncio.wait_for(self.reader.read(), TIMEOUT) == b""

    def close(self) -> None:
        self.writer.close()


# ------------------------------------------------------------------------ DATA and memory

#: the DataReader holds at most the size limit (plus transparency dots) and one chunk of the
#: stream reader's buffer: twice its limit of 64 KiB before it pauses the socket, plus one
#: socket read (256 KiB in asyncio)
DATA_BOUND = MIB + 2 * 64 * 1024 + 256 * 1024


@pytest.mark.parametrize("shape", ["lines", "one line"])
def test_20_mb_without_terminator_is_not_kept(shape: str) -> None:
    """Issue 12 #2: 20 MB of DATA without the terminator to a server with a 1 MiB limit.
    The reader reads it all (the session stays in step) but keeps no more than the limit;
    the terminator then gets 552 5.3.4 and the session goes on."""
    block = (b"y" * 510 + b"\r\n") * 128 if shape == "lines" else b"z" * 65536
    total = 20 * MIB

    async def main() -> None:
        async with serving() as (server, handler):
            client = await Client.open(server.port)
            await client.start()
            await client.transaction()
            [connection] = server.connections
            held = 0
            for _ in range(total // len(block)):
                client.writer.write(block)
                await client.writer.drain()
                assert connection.data_reader is not None
                held = max(held, connection.data_reader.kept)
            reply = await client.command(b"\r\n." if shape == "one line" else b".")
            assert reply.startswith(b"552 5.3.4 "), reply
            reader = connection.data_reader
            assert reader.octets == total + (2 if shape == "one line" else 0)
            assert held <= reader.peak <= DATA_BOUND, (held, reader.peak)
            await client.transaction()            # the session goes on
            assert (await client.command(MESSAGE + b".")).startswith(b"250 2.0.0")
            assert len(handler.submissions) == 1
            client.close()

    run(main)


@pytest.mark.parametrize(("lines", "accepted"), [(250, True), (251, False)])
def test_size_is_counted_after_unstuffing(lines: int, accepted: bool) -> None:
    """RFC 1870 §3: the size excludes the transparency dots.  Lines "..a" are 5 octets as
    sent, 4 as stored: 250 of them are 1250 octets sent but 1000 of message, within a limit
    of 1000; 251 are not."""
    settings = replace(SETTINGS, max_message_size=1000)

    async def main() -> None:
        async with serving(settings) as (server, handler):
            client = await Client.open(server.port)
            await client.start()
            await client.transaction()
            reply = await client.command(b"..a\r\n" * lines + b".")
            assert reply.startswith(b"250 2.0.0" if accepted else b"552 5.3.4"), reply
            if accepted:
                [submission] = handler.submissions
                assert submission.data.endswith(b"\r\n" + b".a\r\n" * lines)
            client.close()

    run(main)


# ------------------------------------------------------------------------ connections

def test_connection_limits_in_all_and_per_client(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 12 #4: over ``max_connections_per_client`` from one address, or over
    ``max_connections`` in all, a connection gets 421 4.7.0 and is closed; a connection that
    ends makes room.  The refusals of one client are logged once, then counted."""
    settings = replace(SETTINGS, max_connections=3, max_connections_per_client=2)

    async def greeted(port: int, local: str = "127.0.0.1") -> Client:
        client = await Client.open(port, local=local)
        assert (await client.line()).startswith(b"220 ")
        return client

    async def refused(port: int, local: str, text: bytes) -> None:
        client = await Client.open(port, local=local)
        line = await client.line()
        assert line.startswith(b"421 4.7.0 " + text), line
        assert await client.closed()
        client.close()

    async def main() -> None:
        async with serving(settings) as (server, _):
            port = server.port
            a1, a2 = await greeted(port), await greeted(port)
            for _ in range(3):
                await refused(port, "127.0.0.1", b"Too many connections from your address")
            b1 = await greeted(port, "127.0.0.2")
            await refused(port, "127.0.0.2", b"Too many connections, try again later")
            assert server.anvil.open == 3
            assert (await a1.command("QUIT")).startswith(b"221 ")
            assert await a1.closed()                      # released before the socket closed
            a1.close()
            a3 = await greeted(port)
            assert server.anvil.connections("127.0.0.1") == 2
            for client in (a2, a3, b1):
                client.close()

    with caplog.at_level(logging.WARNING, logger="x400bridge.smtp"):
        run(main)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("refused a connection from 127.0.0.1" in m for m in lines) == 1, lines
    assert sum("refused a connection from 127.0.0.2" in m for m in lines) == 1, lines
    assert any(m.startswith("2 more connections over the limit from 127.0.0.1 ") for m in lines)


def test_client_key() -> None:
    """An IPv4 client is its address; an IPv6 client its /64 (RFC 6177); an IPv4 client of
    a dual-stack socket its IPv4 address."""
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == \
        "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("") == "unknown"


# ------------------------------------------------------------------------ recipients, junk

def _pipelined(port: int, payload: bytes, check: Callable[[list[bytes]], None]
               ) -> Callable[[], Awaitable[None]]:
    """A session that sends ``payload`` in one write and reads every reply line until the
    server closes the connection; ``check`` judges the lines."""
    async def main() -> None:
        client = await Client.open(port)
        assert (await client.line()).startswith(b"220 ")
        client.writer.write(payload)
        lines = []
        while line := await client.line():
            lines.append(line)
        check(lines)
        client.close()
    return main


def answers(lines: list[bytes]) -> list[bytes]:
    """The code and enhanced code of each reply (an EHLO reply is one: its last line)."""
    return [line[:9] for line in lines if not line.startswith(b"250-")]


def test_recipients_per_transaction() -> None:
    """RFC 5321 §4.5.3.1.10: over ``max_recipients`` each RCPT gets 452 4.5.3 and the client
    sends those recipients in another transaction; the message goes to the ones taken."""
    settings = replace(SETTINGS, max_recipients=3)

    async def main() -> None:
        async with serving(settings) as (server, handler):
            client = await Client.open(server.port)
            await client.start()
            assert (await client.command("MAIL FROM:<a@example.org>")).startswith(b"250")
            replies = [await client.command(f"RCPT TO:<r{n}@x400.example>") for n in range(5)]
            assert [r[:9] for r in replies] == [b"250 2.1.5"] * 3 + [b"452 4.5.3"] * 2
            assert (await client.command("DATA")).startswith(b"354")
            assert (await client.command(MESSAGE + b".")).startswith(b"250 2.0.0")
            [submission] = handler.submissions
            assert [r.address for r in submission.recipients] == [
                "r0@x400.example", "r1@x400.example", "r2@x400.example"]
            client.close()

    run(main)


def test_recipients_over_the_limit_are_junk_only_beyond_as_many_again() -> None:
    """Like Postfix's smtpd_recipient_overshoot_limit: a client that pipelines too many
    recipients is not cut off for it, but one that sends nothing else is."""
    settings = replace(SETTINGS, max_recipients=2, junk_command_limit=3)
    rcpts = b"".join(b"RCPT TO:<r%d@x400.example>\r\n" % n for n in range(9))

    def check(lines: list[bytes]) -> None:
        # EHLO is junk 1; RCPTs 3-4 are over the limit but not junk, 5-6 are junk 2-3
        assert answers(lines)[1:] == [
            b"250 2.1.0", b"250 2.1.5", b"250 2.1.5", b"452 4.5.3", b"452 4.5.3",
            b"452 4.5.3", b"452 4.5.3", b"421 4.7.0"], lines

    async def main() -> None:
        async with serving(settings) as (server, _):
            await _pipelined(server.port, b"EHLO c\r\nMAIL FROM:<a@example.org>\r\n" + rcpts,
                             check)()

    run(main)


@pytest.mark.parametrize("command", [b"NOOP", b"RSET", b"VRFY bob", b"HELP", b"EHLO c",
                                     b"EXPN x", b"MAIL FROM:<bad", b"DATA"])
def test_commands_without_progress_end_the_session(command: bytes) -> None:
    """Issue 12 #4 ("NOOP forever"): after ``junk_command_limit`` commands that make no
    progress -- NOOP, RSET, VRFY, HELP, EHLO, or any command answered with an error -- the
    session ends with 421 4.7.0, however many more the client pipelined."""
    settings = replace(SETTINGS, junk_command_limit=10)

    async def main() -> None:
        async with serving(settings) as (server, _):
            def expect(lines: list[bytes]) -> None:
                assert lines[-1].startswith(b"421 4.7.0 Too many commands without"), lines[-3:]
                assert len(answers(lines)) == 1 + 9 + 1    # EHLO's reply, 9 answers, the 421
            await _pipelined(server.port, b"EHLO c\r\n" + (command + b"\r\n") * 1000,
                             expect)()

    run(main)


def test_an_accepted_message_is_progress() -> None:
    """The count of commands without progress starts again with each accepted message: a
    long session that delivers mail is never cut off."""
    settings = replace(SETTINGS, junk_command_limit=4)

    async def main() -> None:
        async with serving(settings) as (server, handler):
            client = await Client.open(server.port)
            await client.start()                              # EHLO: 1
            for _ in range(5):
                for _ in range(3):
                    assert (await client.command("NOOP")).startswith(b"250 ")
                await client.transaction()
                assert (await client.command(MESSAGE + b".")).startswith(b"250 2.0.0")
            for _ in range(4):
                assert (await client.command("RSET")).startswith(b"250 ")
            assert (await client.command("NOOP")).startswith(b"421 4.7.0 ")
            assert await client.closed()
            assert len(handler.submissions) == 5
            client.close()

    run(main)


# ------------------------------------------------------------------------ AUTH guessing

def plain(user: str, password: str) -> bytes:
    """RFC 4616 §2: authzid NUL authcid NUL passwd, base64."""
    return base64.b64encode(f"\0{user}\0{password}".encode())


def test_auth_guessing_on_one_connection_ends_it(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 12 #4: 300 wrong passwords pipelined on one connection (the probe's 0.02 s):
    ``max_auth_failures`` of them are answered -- the last with 421 4.7.0 -- and the
    connection is closed; the failures are logged in one line, not one each."""
    settings = replace(SETTINGS, auth_failure_delay=0.01, auth_failure_delay_max=0.02)

    async def main() -> None:
        async with serving(settings) as (server, _):
            def expect(lines: list[bytes]) -> None:
                assert answers(lines)[1:] == [b"535 5.7.8"] * 4 + [b"421 4.7.0"], lines
            guesses = b"".join(b"AUTH PLAIN " + plain("alice", f"guess{n}") + b"\r\n"
                               for n in range(300))
            await _pipelined(server.port, b"EHLO c\r\n" + guesses, expect)()
            assert server.anvil.failures("127.0.0.1") == 5

    with caplog.at_level(logging.WARNING, logger="x400bridge.smtp"):
        run(main)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("AUTH PLAIN failed for 'alice' from 127.0.0.1" in m for m in lines) == 1, lines
    assert any(m.startswith("4 more AUTH failures from 127.0.0.1 not logged") for m in lines)


def test_auth_failures_are_answered_after_a_growing_delay() -> None:
    """Each failure of a client is answered later than the one before (the delay doubles,
    Postfix-anvil style); the right password, when it comes, is taken at once."""
    settings = replace(SETTINGS, auth_failure_delay=0.1, auth_failure_delay_max=0.25,
                       max_auth_failures=3)

    async def main() -> None:
        async with serving(settings) as (server, _):
            client = await Client.open(server.port)
            await client.start()
            waits = []
            for expected in (b"535 5.7.8", b"535 5.7.8", b"421 4.7.0"):
                began = time.monotonic()
                reply = await client.command(b"AUTH PLAIN " + plain("alice", "wrong"))
                waits.append(time.monotonic() - began)
                assert reply.startswith(expected), reply
            assert await client.closed()
            assert waits[0] >= 0.1 and waits[1] >= 0.2 and waits[2] >= 0.25, waits
            client.close()
            again = await Client.open(server.port)          # same client, right password
            await again.start()
            assert (await again.command(b"AUTH PLAIN " + plain("alice", "s3cret"))
                    ).startswith(b"235 2.7.0")
            again.close()

    run(main)


def test_anvil_auth_schedule() -> None:
    """:class:`Anvil` with a clock of the test's: after the n-th failure the answer waits
    base * 2**(n-1) (at most the maximum); further AUTH commands of that client are checked
    one per such delay, even from parallel connections; other clients are not affected;
    failures are forgotten FAILURE_MEMORY after the last one."""
    anvil = Anvil(replace(SETTINGS, auth_failure_delay=1.0, auth_failure_delay_max=8.0))
    assert [anvil.delay(n) for n in range(0, 7)] == [0, 1, 2, 4, 8, 8, 8]
    assert anvil.auth_gate("c", 0.0) == 0
    assert anvil.auth_failed("c", 0.0) == 1          # answered at 1
    assert anvil.auth_gate("c", 1.0) == 0            # the next check at once: its turn
    assert anvil.auth_failed("c", 1.0) == 2          # answered at 3
    assert [anvil.auth_gate("c", 3.0) for _ in range(3)] == [0, 2, 4]   # parallel: in turn
    assert anvil.auth_gate("d", 3.0) == 0 and anvil.failures("d") == 0
    assert anvil.failures("c") == 2
    anvil.auth_gate("c", 9.0 + FAILURE_MEMORY)        # quiet long enough: forgotten
    assert anvil.failures("c") == 0
    assert Anvil(replace(SETTINGS, auth_failure_delay=0.0)).auth_failed("c", 0.0) == 0


def test_anvil_logs_a_client_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    """One line for the first event of a kind from a client; the next ones within
    LOG_INTERVAL are counted, and said in the next line or in the summary."""
    anvil = Anvil(SETTINGS)
    with caplog.at_level(logging.WARNING, logger="x400bridge.smtp"):
        for n in range(10):
            anvil.note(float(n), "AUTH failures", "192.0.2.7", f"failure {n}")
        anvil.note(5.0, "AUTH failures", "192.0.2.8", "another client")
        anvil.note(LOG_INTERVAL + 1, "AUTH failures", "192.0.2.7", "failure 10")
        anvil.note(LOG_INTERVAL + 2, "AUTH failures", "192.0.2.7", "failure 11")
        anvil.flush(math.inf)
    assert [r.getMessage() for r in caplog.records] == [
        "failure 0", "another client",
        "failure 10 (and 9 more AUTH failures from 192.0.2.7 not logged in the last 61 s)",
        "1 more AUTH failures from 192.0.2.7 not logged (since the last line about them)"]


# ------------------------------------------------------------------------ timeouts

def test_data_timeout_is_per_block_not_for_the_whole_data() -> None:
    """Issue 12 #6: a client that sends a line every 0.1 s goes on for longer than both the
    command timeout and the DATA timeout -- each block restarts the clock
    (RFC 5321 §4.5.3.2.5) -- and its message is taken."""
    settings = replace(SETTINGS, timeout=0.5, data_timeout=0.3)

    async def main() -> None:
        async with serving(settings) as (server, handler):
            client = await Client.open(server.port)
            await client.start()
            await client.transaction()
            began = time.monotonic()
            while time.monotonic() - began < 1.5:             # 3 x timeout, 5 x data timeout
                client.writer.write(b"a line of the message\r\n")
                await asyncio.sleep(0.1)                      # the slow client's pace
            assert (await client.command(b".")).startswith(b"250 2.0.0")
            assert len(handler.submissions) == 1
            client.close()

    run(main)


def test_a_stalled_data_section_times_out(caplog: pytest.LogCaptureFixture) -> None:
    """A client that stops sending inside DATA gets 421 4.4.2 after ``data_timeout`` and is
    disconnected; the log says "timeout", not "connection lost"."""
    settings = replace(SETTINGS, timeout=5.0, data_timeout=0.3)

    async def main() -> None:
        async with serving(settings) as (server, handler):
            client = await Client.open(server.port)
            await client.start()
            await client.transaction()
            client.writer.write(b"Subject: then nothing\r\n")
            began = time.monotonic()
            assert (await client.line()).startswith(b"421 4.4.2 ")
            assert await client.closed()
            assert 0.25 <= time.monotonic() - began < 4
            assert handler.submissions == []
            client.close()

    with caplog.at_level(logging.INFO, logger="x400bridge.smtp"):
        run(main)
    messages = [r.getMessage() for r in caplog.records if r.name == "x400bridge.smtp"]
    assert "timeout in DATA from 127.0.0.1: no data for 0.3 s" in messages, messages
    assert not any("connection lost" in m for m in messages), messages


def test_no_timeout_while_the_reply_is_made() -> None:
    """Once the data has ended the reply is ours to make: a slow queue commit (longer than
    both timeouts) still ends in 250, not in a timeout (RFC 5321 §4.5.3.2.6: the client
    waits 10 minutes for it)."""
    settings = replace(SETTINGS, timeout=0.3, data_timeout=0.2)

    async def main() -> None:
        async with serving(settings, slow_submit=0.8) as (server, handler):
            client = await Client.open(server.port)
            await client.start()
            await client.transaction()
            assert (await client.command(MESSAGE + b".")).startswith(b"250 2.0.0")
            assert (await client.command("NOOP")).startswith(b"250 ")   # idle clock again
            assert len(handler.submissions) == 1
            client.close()

    run(main)
