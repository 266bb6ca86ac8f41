"""aiosmtpd's SMTP protocol, where the handler API cannot do what the gateway needs.

:class:`GatewaySMTP` subclasses aiosmtpd's ``SMTP`` (the *handler*, with the decisions, is
:class:`bridge.smtp.server.InboundHandler`):

* MAIL and RCPT: aiosmtpd upper-cases parameter values and refuses all RCPT parameters, so the
  two commands pass the parameter words unchanged to the handler (RFC 3461 NOTIFY/ORCPT/ENVID);
* replies: every reply but the greeting and the HELO/EHLO replies carries an RFC 3463 code
  (RFC 2034 §3), aiosmtpd's own replies included;
* AUTH: offered after STARTTLS, or at once to a client on a loopback address (RFC 4954 §4);
* DATA: read in bulk by :mod:`bridge.smtp.data` with aiosmtpd's rules, keeping no more than
  the size limit; the timeout runs per block of data (RFC 5321 §4.5.3.2.5), not for the data
  as a whole, and stops while the reply is being made;
* limits (docs/security.md): connections (total and per client) are admitted by the
  handler's :class:`~bridge.smtp.server.Anvil`, as are AUTH checks after failures; recipients
  per transaction, commands without progress and AUTH failures per connection are counted
  here, and each limit ends in a 452 or a 421 (RFC 5321 §3.8);
* speed: aiosmtpd's per-connection and per-command work that the gateway's CPU profile showed
  (``inspect`` and ``dir`` calls per connection, a timer per command, the address parser,
  log arguments sanitized for disabled levels) is done once per class, on a fast path or not
  at all, with the same results.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import ipaddress
import logging
import math
import re
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, AnyStr

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session, syntax

from bridge.errors import SMTPReply
from bridge.queue.model import Direction, Recipient
from bridge.smtp import replies
from bridge.smtp.data import DataReader
from bridge.smtp.params import MailParams

if TYPE_CHECKING:
    from bridge.smtp.server import InboundHandler

log = logging.getLogger("x400bridge.smtp")

#: RFC 5321 §4.5.3.1.6: 1000 octets a text line with its CRLF (aiosmtpd, and so we, allow 1001)
DATA_LINE_LIMIT = 1001


class _Transaction(Envelope):
    """aiosmtpd's envelope plus what we parsed: parameters, direction, recipients."""

    def __init__(self) -> None:
        super().__init__()
        self.params = MailParams()
        self.direction: Direction | None = None
        self.recipients: list[Recipient] = []
        self.overshoot = 0                # RCPTs refused for max_recipients


def _peer_ip(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return ""


def _client_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The client's address; an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``, an IPv4
    client of a dual-stack listener, RFC 4291 §2.5.5.2) as the IPv4 address it is.
    ValueError if ``text`` is not an address."""
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


#: IPv6 clients are counted per /64, the smallest prefix a site is given (RFC 6177 §2): one
#: client cannot dodge the per-client limits by changing the host part of its address
IPV6_CLIENT_PREFIX = 64


@functools.lru_cache(maxsize=4096)
def client_key(ip: str) -> str:
    """Who a client is for the per-client limits: its IPv4 address, or its IPv6 /64."""
    try:
        address = _client_ip(ip)
    except ValueError:
        return ip or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


@functools.lru_cache(maxsize=4096)
def _is_loopback(ip: str) -> bool:
    try:
        return _client_ip(ip).is_loopback
    except ValueError:
        return False


#: RFC 5321 §4.1.2 Path with a dot-atom local part and a plain domain: the common case,
#: parsed without the email package's header parser (aiosmtpd's ``_getaddr`` uses it and
#: defines a class on every call); anything else goes the original way.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_SIMPLE_PATH = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})*)>")


class _Members:
    """Stand-in for the ``inspect`` module inside aiosmtpd.smtp: ``SMTP.__init__`` calls
    ``inspect.getmembers`` on the protocol and the handler for *every connection* only to find
    their ``auth_*`` methods -- a third of a connection's set-up cost -- and
    ``inspect.signature`` of the handler's EHLO hook.  Both are the same for every instance of
    a class, so they are computed once per class (per function); everything else is the real
    ``inspect``."""

    def __init__(self) -> None:
        self._names: dict[type, tuple[str, ...]] = {}
        self._signatures: dict[object, inspect.Signature] = {}

    def signature(self, fn: Callable[..., Any]) -> inspect.Signature:
        """``inspect.signature`` memoised per function (a bound method: per class function,
        the same for every instance)."""
        key = (getattr(fn, "__func__", fn), hasattr(fn, "__self__"))
        found = self._signatures.get(key)
        if found is None:
            found = self._signatures[key] = inspect.signature(fn)
        return found

    def getmembers(self, obj: object) -> list[tuple[str, Any]]:
        names = self._names.get(type(obj))
        if names is None:
            names = tuple(n for n in dir(type(obj)) if n.startswith("auth_"))
            self._names[type(obj)] = names
        return [(n, getattr(obj, n)) for n in names]

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


class _HookNames:
    """Stand-in for the builtin ``dir`` inside aiosmtpd.smtp, which calls it twice per
    connection, on the handler and on the protocol, only to collect their ``handle_*`` hooks
    and ``smtp_*`` command methods (the two dict comprehensions were two thirds of a
    connection's set-up cost).  Returns, once computed per class, the names of the class's
    attributes with one of those prefixes: hooks and commands are methods, defined on the
    class (aiosmtpd 1.4.6, pinned, looks for nothing else with ``dir``)."""

    PREFIXES = ("smtp_", "handle_")

    def __init__(self) -> None:
        self._names: dict[type, list[str]] = {}

    def __call__(self, obj: object) -> list[str]:
        names = self._names.get(type(obj))
        if names is None:
            names = [n for n in dir(type(obj)) if n.startswith(self.PREFIXES)]
            self._names[type(obj)] = names
        return names


#: the logging methods aiosmtpd passes to ``sanitized_log``, and their levels
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
               "error": logging.ERROR}


def _lazy_sanitized_log(original: Callable[..., None]) -> Callable[..., None]:
    """aiosmtpd's ``sanitized_log(log.info, msg, *args)`` masks AUTH secrets in the arguments
    (a regular expression per argument) before the logger decides whether the level is on --
    twice per command line, at levels the gateway never logs (aiosmtpd's ``mail.log`` is not
    one of ours).  The wrapped one asks the logger first; when the level is on, it is the
    original, secrets masked as before."""
    def sanitized_log(func: Callable[..., None], msg: Any, *args: Any, **kwargs: Any) -> None:
        logger = getattr(func, "__self__", None)
        level = _LOG_LEVELS.get(getattr(func, "__name__", ""))
        if isinstance(logger, logging.Logger) and level is not None and \
                not logger.isEnabledFor(level):
            return
        original(func, msg, *args, **kwargs)
    sanitized_log.wrapped = original  # type: ignore[attr-defined]
    return sanitized_log


def _speed_up_aiosmtpd() -> None:
    import aiosmtpd.smtp

    if not hasattr(aiosmtpd.smtp.sanitized_log, "wrapped"):
        aiosmtpd.smtp.sanitized_log = _lazy_sanitized_log(aiosmtpd.smtp.sanitized_log)

    if not isinstance(aiosmtpd.smtp.inspect, _Members):  # type: ignore[attr-defined]
        aiosmtpd.smtp.inspect = _Members()  # type: ignore[assignment,attr-defined]
    if not isinstance(getattr(aiosmtpd.smtp, "dir", None), _HookNames):
        aiosmtpd.smtp.dir = _HookNames()  # type: ignore[attr-defined]


class GatewaySMTP(SMTP):
    """aiosmtpd's protocol with the few changes the handler API cannot make (module doc)."""

    #: aiosmtpd sizes its stream reader's buffer limit by this; DATA lines are held to
    #: DATA_LINE_LIMIT by our reader, command lines to the command size limits by aiosmtpd,
    #: so the buffer can hold a whole typical message (one search per DATA, no pausing the
    #: socket every 2 KB)
    line_length_limit = 64 * 1024

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """``SMTP._getaddr`` with a fast path for the common ``<dot-atom@domain>`` form."""
        text = arg.lstrip()
        m = _SIMPLE_PATH.match(text)
        rest = text[m.end():].lstrip(" \t") if m is not None else ""
        if m is None or rest.startswith("("):     # comments (CFWS): the original parser
            original: tuple[str | None, str | None] = super()._getaddr(arg)
            return original
        addr = m.group(1)
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest

    def __init__(self, handler: InboundHandler, *, tls_context: ssl.SSLContext | None,
                 loop: asyncio.AbstractEventLoop,
                 connections: set[GatewaySMTP] | None = None) -> None:
        settings = handler.settings
        super().__init__(
            handler, data_size_limit=settings.max_message_size, enable_SMTPUTF8=True,
            decode_data=False, hostname=settings.hostname, ident="ESMTP x400bridge",
            tls_context=tls_context, timeout=settings.timeout, auth_require_tls=True,
            auth_exclude_mechanism=() if settings.auth else ("PLAIN", "LOGIN"),
            authenticator=handler.authenticate, loop=loop)
        # aiosmtpd keeps these limits in a class-level dict; ours is per connection.
        self.command_size_limits = collections.defaultdict(lambda: self.command_size_limit)
        self._plain_replies = True  # the greeting carries no enhanced code (RFC 2034 §3)
        self._deadline = 0.0                  # of the idle timeout (see _reset_timeout)
        self._timer_due: float | None = None  # when the armed timer fires, None if none
        self._connections = connections
        self._settings = settings
        self._anvil = handler.anvil
        self._client = ""                     # client_key(), once admitted
        self._admitted = False
        self._closing = False                 # a 421 has been sent: nothing more
        self._data_timeout = 0.0              # while reading DATA: its per-block timeout
        self._junk = 0                        # commands without progress (push, _junk_command)
        self._auth_failures = 0               # on this connection
        self.in_data = False
        self.timed_out = False
        self.data_reader: DataReader | None = None   # of the current or last DATA

    def _create_envelope(self) -> _Transaction:
        return _Transaction()

    # ------------------------------------------------------------ timeouts (RFC 5321 §4.5.3.2)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd's idle timeout, reset at every command: the deadline moves, and one timer
        per connection checks it when it fires (aiosmtpd cancels and re-creates a timer per
        command, and the event loop's heap carries every cancelled one until it expires)."""
        deadline = self.loop.time() + (duration or self._timeout_duration)
        self._deadline = deadline
        if self._timer_due is None or deadline < self._timer_due:
            if self._timeout_handle is not None:
                self._timeout_handle.cancel()
            self._timer_due = deadline
            self._timeout_handle = self.loop.call_at(deadline, self._check_idle)

    def _check_idle(self) -> None:
        if self.loop.time() >= self._deadline:
            self._timer_due = None
            self._timed_out()
        elif self._deadline == math.inf:      # suspended while a DATA reply is being made
            self._timer_due = None
        else:
            self._timer_due = self._deadline
            self._timeout_handle = self.loop.call_at(self._deadline, self._check_idle)

    def _timed_out(self) -> None:
        """The client was silent too long -- waiting for a command (``timeout``, RFC 5321
        §4.5.3.2.7) or for the next block of data (``data_timeout``, §4.5.3.2.5): say so in
        the log and to the client (421, §3.8), and close."""
        if self.transport is None or self.session is None:
            return
        ip = _peer_ip(self.session)
        self.timed_out = True
        if self._data_timeout:
            log.info("timeout in DATA from %s: no data for %g s", ip, self._data_timeout)
        else:
            log.info("timeout waiting for a command from %s (%g s)", ip, self._timeout_duration)
        transport = self.transport
        if not self._closing and isinstance(transport, asyncio.WriteTransport) and \
                not transport.is_closing():
            self._closing = True
            transport.write(f"{replies.TIMEOUT}\r\n".encode())
        self._timeout_cb()  # type: ignore[no-untyped-call]  # closes the transport

    def data_received(self, data: bytes) -> None:
        if self._data_timeout:                # RFC 5321 §4.5.3.2.5: per block of data
            self._deadline = self.loop.time() + self._data_timeout
        super().data_received(data)

    # ------------------------------------------------------------------ connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:            # a new connection, not STARTTLS's TLS layer
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            client = client_key(ip)
            refusal = self._anvil.admit(client)
            if refusal is not None:           # no session: the reply, and close
                self._anvil.note(self.loop.time(), "connections over the limit", client,
                                 f"refused a connection from {ip}: {refusal}")
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(f"{refusal}\r\n".encode())
                transport.close()
                return
            self._client, self._admitted = client, True
        super().connection_made(transport)
        if self._connections is not None:
            self._connections.add(self)
        assert self.session is not None
        self._auth_require_tls = not _is_loopback(_peer_ip(self.session))

    def connection_lost(self, error: Exception | None) -> None:
        if not self._admitted:                # refused in connection_made
            return
        self._admitted = False
        self._anvil.release(self._client)
        self._anvil.flush(self.loop.time())
        if self._connections is not None:
            self._connections.discard(self)
        super().connection_lost(error)

    async def _close_with(self, reply: SMTPReply, kind: str) -> None:
        """End the session at once (RFC 5321 §3.8): ``reply`` (a 421), then close; ``kind``
        names the limit in the log (rate-limited per client).  Called from within the
        session's task, it does not return there (:meth:`_end_session`)."""
        self._closing = True
        transport = self.transport
        if transport is not None and not transport.is_closing():
            ip = _peer_ip(self.session) if self.session is not None else ""
            self._anvil.note(self.loop.time(), kind, self._client,
                             f"closing the connection of {ip}: {reply}")
            await super().push(str(reply))
            transport.close()
        self._end_session()
        await asyncio.sleep(0)                # the cancellation takes effect here

    def _end_session(self) -> None:
        """Cancel the session's task (as QUIT does) -- called from within it, so that not
        even a pipelined command already in the reader's buffer (read without a pause) runs:
        the caller awaits once more, and the cancellation takes effect there."""
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()

    # ------------------------------------------------------------------ replies

    async def push(self, status: AnyStr, *, counts: bool = True) -> None:
        """Send a reply line with its enhanced code.  An error reply (4yz, 5yz) counts as a
        command without progress (``counts=False``: not this one); past
        ``junk_command_limit`` of those the session is closed with 421 instead."""
        if self._closing:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            # The connection is ending -- aiosmtpd closes it itself after too many unknown
            # commands, and goes on with the commands still in the reader's buffer: no more
            # replies, and no more commands (this one ends at its first reply, before it
            # does anything that counts, such as queueing a message).
            self._closing = True
            self._end_session()
            await asyncio.sleep(0)            # the cancellation takes effect here
            return
        line = status.decode("utf-8", "surrogateescape") if isinstance(status, bytes) else status
        if self._plain_replies and line.startswith(("220", "250")):
            self._plain_replies = line.startswith("250-")  # an EHLO reply goes on
        else:
            line = replies.with_enhanced_code(line)
            if counts and line[:1] in ("4", "5") and not await self._junk_command():
                return
        await super().push(line)

    async def _junk_command(self) -> bool:
        """Count a command that made no progress (Postfix ``smtpd_junk_command_limit``:
        NOOP, RSET, VRFY, HELP, HELO/EHLO, and here every command answered with an error);
        an accepted message starts the count again.  False, with the session closed, when
        this one is over the limit."""
        self._junk += 1
        if self._junk <= self._settings.junk_command_limit:
            return True
        await self._close_with(replies.TOO_MANY_JUNK_COMMANDS, "sessions without progress")
        return False

    # ------------------------------------------------------------------ commands

    async def smtp_HELO(self, hostname: str) -> None:
        if await self._junk_command():
            self._plain_replies = True
            await super().smtp_HELO(hostname)

    async def smtp_EHLO(self, hostname: str) -> None:
        if await self._junk_command():
            self._plain_replies = True
            await super().smtp_EHLO(hostname)
            self._plain_replies = False

    @syntax("NOOP [ignored]")
    async def smtp_NOOP(self, arg: str) -> None:
        if await self._junk_command():
            await super().smtp_NOOP(arg)

    @syntax("RSET")
    async def smtp_RSET(self, arg: str) -> None:
        if await self._junk_command():
            await super().smtp_RSET(arg)

    @syntax("VRFY <address>")
    async def smtp_VRFY(self, arg: str) -> None:
        if await self._junk_command():
            await super().smtp_VRFY(arg)

    @syntax("HELP [command]")
    async def smtp_HELP(self, arg: str) -> None:
        if await self._junk_command():
            await super().smtp_HELP(arg)

    # ------------------------------------------------------------------ AUTH (RFC 4954)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        """aiosmtpd's AUTH, after the client's turn (:meth:`Anvil.auth_gate`): a client with
        recent failures has its AUTH commands checked one per delay."""
        wait = self._anvil.auth_gate(self._client, self.loop.time())
        if wait > 0:
            await asyncio.sleep(wait)
        await super().smtp_AUTH(arg)

    async def auth_PLAIN(self, _: SMTP, args: list[str]) -> AuthResult:
        return await self._judged(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: SMTP, args: list[str]) -> AuthResult:
        return await self._judged(await super().auth_LOGIN(_, args))

    async def _judged(self, result: AuthResult) -> AuthResult:
        """After a check of credentials that failed (``handled`` false: the 535 is still to
        be sent): wait the client's delay (:meth:`Anvil.auth_failed`), then answer -- with
        421 and the end of the session at ``max_auth_failures`` on this connection."""
        if result.success or result.handled:
            return result
        self._auth_failures += 1
        wait = self._anvil.auth_failed(self._client, self.loop.time())
        if wait > 0:
            await asyncio.sleep(wait)
        if self._auth_failures < self._settings.max_auth_failures:
            return result
        await self._close_with(replies.TOO_MANY_AUTH_FAILURES, "AUTH failure limits")
        return AuthResult(success=False, handled=True)

    # ------------------------------------------------------------------ DATA

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """RFC 5321 §4.1.1.4 -- aiosmtpd's DATA with the data read in bulk (reading it line by
        line was a tenth of the gateway's CPU per message) by the same rules: the data ends
        only at CRLF "." CRLF at the start of a line (so no bare-LF / bare-CR variant can
        smuggle a second message); a leading "." is removed (§4.5.2); a line over
        DATA_LINE_LIMIT octets (§4.5.3.1.6) gets 500 and more than ``data_size_limit`` octets
        552 (RFC 1870 §6.3), after the whole data has been read (§4.2.5).  While the data
        comes, the client may pause up to ``data_timeout`` between blocks (§4.5.3.2.5); once
        it has ended, the session waits for our reply without a timeout of its own (the
        client waits 10 minutes for it, §4.5.3.2.6)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        self.in_data = True
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            self._data_timeout = self._settings.data_timeout
            self._reset_timeout(self._data_timeout)
            try:
                problem = await self._read_data()
            finally:
                self._data_timeout = 0.0
            self._deadline = math.inf         # the reply is ours to make now
            status = problem if problem is not None else await self._call_handler_hook("DATA")
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            reply = "250 OK" if status is MISSING else status
            await self.push(reply)
            if problem is None and reply.startswith("250"):
                self._junk = 0                # a message accepted: progress
        finally:
            self.in_data = False
            if self._deadline == math.inf and self.transport is not None:
                self._reset_timeout()         # waiting for the next command again

    async def _read_data(self) -> str | None:
        """Read the data up to the terminating line into the envelope (in bulk,
        :mod:`bridge.smtp.data`); the refusal if the data broke a limit."""
        assert self.envelope is not None
        reader = self.data_reader = DataReader(size_limit=self.data_size_limit,
                                               line_limit=DATA_LINE_LIMIT)
        try:
            data = await reader.read(self._reader)
        except (asyncio.CancelledError, asyncio.IncompleteReadError):
            if not self.timed_out:
                ip = _peer_ip(self.session) if self.session is not None else ""
                log.info("connection lost during DATA from %s", ip)
            self._writer.close()
            raise
        if data.content is None:
            return data.problem
        self.envelope.content = data.content
        self.envelope.original_content = data.content
        return None

    async def smtp_MAIL(self, arg: str | None) -> None:
        """RFC 5321 §4.1.1.2 with the parameter words passed on unchanged."""
        if await self.check_helo_needed() or await self.check_auth_needed("MAIL"):
            return
        assert self.session is not None and self.envelope is not None
        parsed = self._parse_path("FROM:", arg)
        if parsed is None:
            await self.push(str(replies.MAIL_SYNTAX))
            return
        address, words = parsed
        if address is None:
            await self.push(str(replies.BAD_SENDER))
        elif words and not self.session.extended_smtp:
            await self.push(str(replies.MAIL_SYNTAX))
        elif self.envelope.mail_from is not None:
            await self.push(str(replies.NESTED_MAIL))
        else:
            await self.push(await self._call_handler_hook("MAIL", address, words))

    async def smtp_RCPT(self, arg: str | None) -> None:
        """RFC 5321 §4.1.1.3 with the parameter words passed on unchanged."""
        if await self.check_helo_needed() or await self.check_auth_needed("RCPT"):
            return
        assert self.session is not None and self.envelope is not None
        if self.envelope.mail_from is None:
            await self.push(str(replies.NEED_MAIL))
            return
        parsed = self._parse_path("TO:", arg)
        if parsed is None:
            await self.push(str(replies.RCPT_SYNTAX))
            return
        address, words = parsed
        if address is None or address == "<>":
            await self.push(str(replies.BAD_RECIPIENT))
        elif words and not self.session.extended_smtp:
            await self.push(str(replies.RCPT_SYNTAX))
        elif len(self.envelope.rcpt_tos) >= self._settings.max_recipients:
            # RFC 5321 §4.5.3.1.10: 452, the client sends the rest in another transaction;
            # as many again are not junk (Postfix smtpd_recipient_overshoot_limit)
            assert isinstance(self.envelope, _Transaction)
            self.envelope.overshoot += 1
            await self.push(str(replies.TOO_MANY_RECIPIENTS),
                            counts=self.envelope.overshoot > self._settings.max_recipients)
        else:
            await self.push(await self._call_handler_hook("RCPT", address, words))

    def _parse_path(self, keyword: str, arg: str | None) -> tuple[str | None, list[str]] | None:
        """``(address, parameter words)``; address None if malformed; None on bad syntax."""
        rest = self._strip_command_keyword(keyword, arg or "")
        if not rest:
            return None
        address, params = self._getaddr(rest)
        # RFC 5321 §4.1.2: Path = "<" ... ">" -- the parser would take a missing bracket.
        if (address is None or params is None or not rest.startswith("<")
                or not rest[:len(rest) - len(params)].rstrip().endswith(">")):
            return None, []
        return address, params.split()
