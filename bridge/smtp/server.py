"""The inbound SMTP endpoint: an aiosmtpd handler in front of the queue (RFC 5321, RFC 3461).

Theory of operation.  :class:`InboundHandler` is the aiosmtpd *handler*: it validates at MAIL
and RCPT (parameters, relay control, ``check_recipient``) and takes the message at DATA, where
it answers "250" only once ``submit`` has returned the queue id -- that is, once the message is
durable (RFC 5321 §6.1: the server takes responsibility only then).
:class:`~bridge.smtp.protocol.GatewaySMTP` (aiosmtpd's protocol, subclassed only where the
library gives no hook: MAIL/RCPT parameters, enhanced codes on every reply, AUTH only after
STARTTLS off loopback, DATA read in bulk) serves each connection.

Decisions:

* One direction per message: the first accepted recipient fixes the direction; a recipient with
  another one gets ``452 4.5.3`` (RFC 5321 §4.5.3.1.10 lets the client send it in a new
  transaction).
* Relay control: a recipient routed ``to-smtp`` is accepted only from a client in
  ``relay_networks`` (unless ``require_auth_for_relay``) or an authenticated one; otherwise
  ``550 5.7.1``.  X.400 destinations are open to every client: that is the gateway's job.
* Line endings: DATA ends only at ``CRLF.CRLF`` (so ``\\n.\\n``, ``\\r.\\n``,
  ``\\n.\\r\\n`` cannot smuggle a second message); a message that still contains a bare CR or
  LF is refused whole with ``550 5.6.0`` (RFC 5321 §2.3.8), not normalised: we never guess
  what another MTA would have made of it.
* Limits (docs/security.md): connections in all and per client, recipients per transaction,
  commands without progress, AUTH failures -- counted per server by :class:`Anvil` (Postfix's
  anvil(8) in miniature: per-client counters, a growing delay after AUTH failures, and one log
  line per client and minute for repeated failures).
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import hmac
import ipaddress
import logging
import re
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from bridge.convert.limits import DEFAULT_LIMITS, MessageLimits, MessageTooComplex, check_limits
from bridge.convert.priority import DEFAULT_POLICY, POLICIES, PolicyName
from bridge.errors import BridgeError, SMTPReply
from bridge.queue.model import Direction, Recipient, Submission
from bridge.queue.types import QueueError
from bridge.smtp import replies
from bridge.smtp.data import MAX_HOPS, has_bare_cr_or_lf, hops
from bridge.smtp.params import ParamError, parse_mail, parse_rcpt
from bridge.smtp.protocol import (
    GatewaySMTP,
    _client_ip,
    _peer_ip,
    _speed_up_aiosmtpd,
    _Transaction,
    client_key,
)
from bridge.smtp.tunnel import header_priority
from bridge.throttle import FailureTracker, Held, LogLimiter

if TYPE_CHECKING:
    from bridge.config import SmtpInConfig

log = logging.getLogger("x400bridge.smtp")

#: Characters of a client's HELO argument kept in our Received: field (others become "?"),
#: so a client cannot inject header text or break the comment syntax (RFC 5322 §3.2.2).
_HELO_UNSAFE = re.compile(r"[^\x21-\x27\x2a-\x5b\x5d-\x7e]")
#: RFC 5321 §4.5.3.1.4/§4.5.3.1.5 give 512 octets per command line; RFC 3461 §9 allows
#: ENVID (100) and RET on MAIL and ORCPT (500) and NOTIFY on RCPT; RFC 1870/6152/6531 add
#: SIZE, BODY and SMTPUTF8, RFC 6710 §3 item 6 MT-PRIORITY (15).  aiosmtpd's reader stops
#: lines at 1001 octets anyway.
_COMMAND_LIMITS = {"MAIL": 512 + 26 + 14 + 9 + 10 + 107 + 15, "RCPT": 512 + 30 + 507}


@dataclass(frozen=True, slots=True, kw_only=True)
class RcptDecision:
    """What ``check_recipient`` says about one RCPT address.

    Accepted: ``direction`` (required) and ``route`` (the destination key, see
    :class:`~bridge.queue.model.Recipient`); ``extra`` is stored on the recipient.  Refused:
    ``reply`` is sent (default ``550 5.1.1``).
    """

    accept: bool
    direction: Direction | None = None
    route: str = ""
    reply: SMTPReply | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.accept and self.direction is None:
            raise ValueError("an accepted recipient needs a direction")


#: The reply to a refused recipient whose decision names none (RFC 3463 X.1.1).
DEFAULT_REFUSAL = SMTPReply(code=550, enhanced="5.1.1", text="Recipient address rejected")


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundSettings:
    """Settings of the inbound endpoint (config section ``[smtp.in]``, same names; the limits
    are described in docs/security.md, each default with its source)."""

    hostname: str
    max_message_size: int = 10 * 1024 * 1024
    relay_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    auth: Mapping[str, str] = field(default_factory=dict)  # user -> password
    require_auth_for_relay: bool = False
    timeout: float = 300.0                # RFC 5321 §4.5.3.2.7: waiting for a command
    data_timeout: float = 180.0           # RFC 5321 §4.5.3.2.5: waiting for a block of data
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_connections: int = 100            # Postfix default_process_limit
    max_connections_per_client: int = 50  # Postfix smtpd_client_connection_count_limit
    max_recipients: int = 1000            # Postfix smtpd_recipient_limit
    junk_command_limit: int = 100         # Postfix smtpd_junk_command_limit
    max_auth_failures: int = 5            # per connection, then 421 and close
    auth_failure_delay: float = 1.0       # Postfix smtpd_error_sleep_time; doubles per failure
    auth_failure_delay_max: float = 30.0
    mt_priority_policy: PolicyName = DEFAULT_POLICY  # RFC 6710 §9.2, named in EHLO (§3)

    def __post_init__(self) -> None:
        if self.mt_priority_policy not in POLICIES:
            raise ValueError(f"mt_priority_policy is one of {', '.join(POLICIES)}")
        for network in self.relay_networks:
            ipaddress.ip_network(network)  # ValueError names the bad one
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        for name in ("max_connections", "max_connections_per_client", "max_recipients",
                     "junk_command_limit", "max_auth_failures"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not (self.timeout > 0 and self.data_timeout > 0):
            raise ValueError("timeouts must be longer than 0")
        if not 0 <= self.auth_failure_delay <= self.auth_failure_delay_max:
            raise ValueError("need 0 <= auth_failure_delay <= auth_failure_delay_max")

    @classmethod
    def from_config(cls, config: SmtpInConfig) -> InboundSettings:
        """The settings from ``[smtp.in]``: every field of the same name (the keys that are
        not the endpoint's -- ``listen``, ``processes`` -- are the caller's)."""
        values = {f.name: getattr(config, f.name) for f in fields(cls)}
        values["relay_networks"] = tuple(str(n) for n in config.relay_networks)
        return cls(**values)


#: Postfix anvil(8)'s time unit: repeated failures of one kind from one client are logged at
#: most once in this many seconds, with the number of those in between
LOG_INTERVAL = 60.0
#: a client's AUTH failures are forgotten this long after its last one (fail2ban's default
#: ``findtime``, 10 minutes)
FAILURE_MEMORY = 600.0
#: clients whose failures are remembered at once (an entry is ~200 octets: ~2 MB in all); when
#: more fail, the one quiet for longest is forgotten first
MAX_CLIENTS = 10_000


class Anvil:
    """Per-client state shared by the connections of one server -- Postfix's anvil(8) in
    miniature.  No I/O and no clock: ``now`` (the event loop's monotonic time) comes in.

    * Connections (:meth:`admit`, :meth:`release`): at most ``max_connections`` open, and
      ``max_connections_per_client`` from one client (:func:`~bridge.smtp.protocol.client_key`:
      an IPv4 address, an IPv6 /64); over either, the connection gets a 421 and is closed.
    * AUTH failures (:meth:`auth_gate`, :meth:`auth_failed`): after the n-th failure of a
      client, its answer waits ``auth_failure_delay * 2**(n-1)`` (at most
      ``auth_failure_delay_max``), and further AUTH commands of that client -- on any of its
      connections -- are checked one per such delay, in turn: guessing in parallel
      connections is no faster than guessing in one.
    * Logging (:meth:`note`, :meth:`flush`): the first event of a kind from a client is logged
      at once, the next ones at most once per :data:`LOG_INTERVAL` with the number not logged.
    """

    def __init__(self, settings: InboundSettings) -> None:
        self.settings = settings
        self.open = 0                     # connections open in all
        self._open: dict[str, int] = {}   # ... per client
        self._auth = FailureTracker(base_delay=settings.auth_failure_delay,
                                    max_delay=settings.auth_failure_delay_max,
                                    forget_after=FAILURE_MEMORY, max_keys=MAX_CLIENTS)
        self._logged = LogLimiter(interval=LOG_INTERVAL, max_keys=MAX_CLIENTS)

    # ------------------------------------------------------------------ connections

    def admit(self, client: str) -> SMTPReply | None:
        """Count a new connection from ``client``, or the 421 to refuse it with."""
        if self.open >= self.settings.max_connections:
            return replies.TOO_MANY_CONNECTIONS
        count = self._open.get(client, 0)
        if count >= self.settings.max_connections_per_client:
            return replies.TOO_MANY_CLIENT_CONNECTIONS
        self.open += 1
        self._open[client] = count + 1
        return None

    def release(self, client: str) -> None:
        """An admitted connection of ``client`` has ended."""
        self.open -= 1
        count = self._open.pop(client) - 1
        if count:
            self._open[client] = count

    def connections(self, client: str) -> int:
        """Connections of ``client`` open now."""
        return self._open.get(client, 0)

    # ------------------------------------------------------------------ AUTH failures

    def delay(self, failures: int) -> float:
        """The wait that follows a client's ``failures``-th AUTH failure."""
        return self._auth.delay(failures)

    def auth_gate(self, client: str, now: float) -> float:
        """Seconds before an AUTH command of ``client`` may be checked.  A client with
        failures has one turn per :meth:`delay`: each command takes the next turn."""
        return self._auth.gate(client, now)

    def auth_failed(self, client: str, now: float) -> float:
        """Record a failed AUTH of ``client``; the seconds its answer waits."""
        return self._auth.fail(client, now)

    def failures(self, client: str) -> int:
        """AUTH failures of ``client`` remembered now."""
        return self._auth.failures(client)

    # ------------------------------------------------------------------ logging

    def note(self, now: float, kind: str, client: str, text: str) -> None:
        """Log ``text`` about an event of ``kind`` (a failed AUTH, a refused connection ...)
        from ``client`` -- unless one of that kind from that client was logged less than
        :data:`LOG_INTERVAL` ago: then it is only counted, and the next line says how many."""
        held = self._logged.admit(f"{kind} from {client}", now)
        if held is None:
            return
        if held.count:
            text += (f" (and {held.count} more {held.key} not logged in the "
                     f"last {now - held.since:.0f} s)")
        log.warning("%s", text)
        self.flush(now)
        for quiet in self._logged.overflow():
            self._summary(quiet, now)

    def flush(self, now: float) -> None:
        """Log the counts not logged yet of clients quiet for :data:`LOG_INTERVAL`, and
        forget them (``now=math.inf``: all)."""
        for held in self._logged.quiet(now):
            self._summary(held, now)

    @staticmethod
    def _summary(held: Held, now: float) -> None:
        span = (f"in the last {now - held.since:.0f} s" if now != float("inf") else
                "(since the last line about them)")
        log.warning("%d more %s not logged %s", held.count, held.key, span)


def _address_literal(ip: str) -> str:
    """RFC 5321 §4.1.3 address literal: ``[192.0.2.1]`` or ``[IPv6:2001:db8::1]``."""
    return f"[IPv6:{ip}]" if ":" in ip else f"[{ip}]"


def _sender_value(address: str) -> str:
    """RFC 5321 §4.1.1.2: the null reverse-path ``<>`` is stored as ""."""
    return "" if address == "<>" else address


class InboundHandler:
    """The aiosmtpd handler: hooks ``handle_EHLO/MAIL/RCPT/DATA`` plus the AUTH check."""

    def __init__(self, settings: InboundSettings, *,
                 check_recipient: Callable[[str], Awaitable[RcptDecision]],
                 submit: Callable[[Submission], Awaitable[str]],
                 message_limits: MessageLimits = DEFAULT_LIMITS) -> None:
        self.settings = settings
        self._check_recipient = check_recipient
        self._submit = submit
        self.message_limits = message_limits
        self._relay_networks = tuple(ipaddress.ip_network(n) for n in settings.relay_networks)
        self.anvil = Anvil(settings)

    # ------------------------------------------------------------------ EHLO (RFC 5321 §4.1.1.1)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        """Our keyword list (RFC 1870, 6152, 6531, 2920, 2034, 3461, 6710, 3207, 4954)."""
        session.host_name = hostname
        server.command_size_limits.update(_COMMAND_LIMITS)
        keywords = [f"SIZE {self.settings.max_message_size}", "8BITMIME", "SMTPUTF8",
                    "PIPELINING", "ENHANCEDSTATUSCODES", "DSN",
                    f"MT-PRIORITY {self.settings.mt_priority_policy}"]
        for line in responses[1:]:
            word = line[4:]
            if word == "STARTTLS" or (word.startswith("AUTH ") and self.settings.auth):
                keywords.append(word)
        lines = [responses[0]] + [f"250-{k}" for k in keywords]
        lines[-1] = "250 " + lines[-1][4:]
        return lines

    # ------------------------------------------------------------------ MAIL (RFC 5321 §4.1.1.2)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        assert isinstance(envelope, _Transaction)
        try:
            params = parse_mail(mail_options, max_size=self.settings.max_message_size)
        except ParamError as exc:
            return str(exc.smtp)
        if not address.isascii() and not params.smtputf8:
            return str(replies.NON_ASCII_ADDRESS)  # RFC 6531 §3.4
        envelope.mail_from = address
        envelope.mail_options = list(mail_options)
        envelope.smtp_utf8 = params.smtputf8
        if params.mt_priority is not None and params.mt_priority > 0 \
                and not self.may_relay(session):
            # RFC 6710 §4.1: no upgraded priority from an untrusted source; the new priority
            # is said with X.3.6 and leads the text
            envelope.params = dataclasses.replace(params, mt_priority=0)
            return str(replies.PRIORITY_LOWERED)
        envelope.params = params
        return str(replies.SENDER_OK)

    # ------------------------------------------------------------------ RCPT (RFC 5321 §4.1.1.3)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        assert isinstance(envelope, _Transaction)
        try:
            params = parse_rcpt(rcpt_options)
        except ParamError as exc:
            return str(exc.smtp)
        if not address.isascii() and not envelope.smtp_utf8:
            return str(replies.NON_ASCII_ADDRESS)
        try:
            decision = await self._check_recipient(address)
        except BridgeError as exc:
            return str(exc.smtp)
        except OSError:
            log.exception("check_recipient failed for %r", address)
            return str(replies.LOCAL_ERROR)
        if not decision.accept:
            return str(decision.reply or DEFAULT_REFUSAL)
        if decision.direction == "to-smtp" and not self.may_relay(session):
            return str(replies.RELAY_DENIED)
        if envelope.direction is not None and decision.direction != envelope.direction:
            return str(replies.ONE_DIRECTION)
        envelope.direction = decision.direction
        envelope.recipients.append(Recipient(address=address, route=decision.route,
                                             notify=params.notify, orcpt=params.orcpt,
                                             extra=dict(decision.extra)))
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return str(replies.RCPT_OK)

    def may_relay(self, session: Session) -> bool:
        """Relay control: authenticated clients, and (unless ``require_auth_for_relay``)
        clients whose address is in ``relay_networks``."""
        if session.authenticated:
            return True
        if self.settings.require_auth_for_relay:
            return False
        try:
            ip = _client_ip(_peer_ip(session))
        except ValueError:
            return False
        return any(ip in network for network in self._relay_networks)

    # ------------------------------------------------------------------ DATA (RFC 5321 §4.1.1.4)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope, _Transaction)
        content = envelope.original_content or b""
        if has_bare_cr_or_lf(content):
            return str(replies.BARE_LINE_ENDING)
        if hops(content) > MAX_HOPS:
            return str(replies.MAIL_LOOP)
        assert envelope.direction is not None and envelope.mail_from is not None
        if envelope.direction == "to-x400":
            try:      # what the converter could not parse safely is refused now, not later
                check_limits(content, self.message_limits)
            except MessageTooComplex as exc:
                log.info("message from %s refused: %s", _peer_ip(session), exc)
                return f"{exc.smtp.code} {exc.smtp.enhanced} {exc.smtp.text}: {exc}"
        if envelope.params.mt_priority is None:
            self._tunnelled_priority(session, envelope, content)
        tracking = secrets.token_hex(8)
        protocol = _protocol_name(session, envelope)
        received = self.received_field(session, envelope, protocol=protocol, tracking=tracking)
        params = envelope.params
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        submission = Submission(
            direction=envelope.direction, origin="smtp", priority=params.mt_priority or 0,
            sender=_sender_value(envelope.mail_from),
            recipients=tuple(envelope.recipients),
            data=received + content,
            meta={"envid": params.envid, "ret": params.ret, "client": _peer_ip(session),
                  "helo": session.host_name, "smtputf8": params.smtputf8,
                  "body": params.body or "7BIT", "tracking": tracking, "protocol": protocol,
                  **({"mt_priority": params.mt_priority,
                      "mt_priority_policy": self.settings.mt_priority_policy}
                     if params.mt_priority is not None else {}),
                  "auth": login.decode("utf-8", "replace") if login is not None else None})
        try:
            queue_id = await self._submit(submission)
        except QueueError as exc:          # disk full (452 4.3.1), queue gone, locked (451)
            log.error("submit failed (tracking %s): %s", tracking, exc)
            return f"{exc.smtp.code} {exc.smtp.enhanced} {exc.smtp.text}"
        except (BridgeError, OSError):
            log.exception("submit failed (tracking %s)", tracking)
            return str(replies.QUEUE_FAILED)
        return replies.QUEUED.format(id=queue_id)

    def _tunnelled_priority(self, session: Session, envelope: _Transaction,
                            content: bytes) -> None:
        """RFC 6758 §3.1 rule 4a: without MT-PRIORITY on MAIL FROM, a single valid
        ``MT-Priority`` header field gives the priority -- not raised above 0 for a client
        that may not relay (RFC 6710 §4.1, RFC 6758 §7)."""
        value = header_priority(content)
        if value is None:
            return
        if value > 0 and not self.may_relay(session):
            log.info("MT-Priority: %d from untrusted %s taken as 0 (RFC 6710 §4.1)",
                     value, _peer_ip(session))
            value = 0
        envelope.params = dataclasses.replace(envelope.params, mt_priority=value)

    def received_field(self, session: Session, envelope: _Transaction, *, protocol: str,
                       tracking: str) -> bytes:
        """The trace field we prepend (RFC 5321 §4.4): from / by / with / id / [for]
        [PRIORITY]; date.  The PRIORITY clause (RFC 6710 §4.1 rule 2, §7 ``Pri``, an
        Additional-Registered-Clause) records the MT-PRIORITY the message was accepted with
        -- after §4.1's lowering -- when the client gave one."""
        helo = _HELO_UNSAFE.sub("?", session.host_name or "")[:255] or "unknown"
        ip = _peer_ip(session)
        lines = [f"Received: from {helo} ({_address_literal(ip)})",
                 f"\tby {self.settings.hostname} (x400bridge) with {protocol} id {tracking}"]
        date = _date_now()
        if len(envelope.recipients) == 1:  # naming all recipients would disclose Bcc
            lines.append(f"\tfor <{envelope.recipients[0].address}>")
        mt_priority = envelope.params.mt_priority
        if mt_priority is not None:
            lines[-1] += f" PRIORITY {mt_priority}"
        if len(envelope.recipients) == 1:
            lines[-1] += f"; {date}"
        else:
            lines[-1] += ";"
            lines.append(f"\t{date}")
        return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape")

    # ------------------------------------------------------------------ AUTH (RFC 4954)

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        """aiosmtpd ``authenticator``: PLAIN and LOGIN against ``settings.auth``."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        expected = self.settings.auth.get(user)
        ok = expected is not None and hmac.compare_digest(
            expected.encode("utf-8"), auth_data.password)
        if not ok:
            ip = _peer_ip(session)
            self.anvil.note(server.loop.time(), "AUTH failures", client_key(ip),
                            f"AUTH {mechanism} failed for {user!r} from {ip}")
            return AuthResult(success=False, handled=False, message=str(replies.AUTH_FAILED))
        return AuthResult(success=True, auth_data=auth_data)

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error: %r", error)
        return str(replies.LOCAL_ERROR)


_DATE: list[Any] = [None, ""]        # (second, its RFC 5322 date-time)


def _date_now() -> str:
    """RFC 5322 §3.3 date-time of now, local time with its offset; computed once a second."""
    second = int(time.time())
    if _DATE[0] != second:
        _DATE[:] = [second, email.utils.format_datetime(
            datetime.fromtimestamp(second).astimezone())]
    text: str = _DATE[1]
    return text


def _protocol_name(session: Session, envelope: Envelope) -> str:
    """RFC 3848 ESMTP/ESMTPS/ESMTPA/ESMTPSA; RFC 6531 §3.7.3 UTF8SMTP* with SMTPUTF8."""
    if not session.extended_smtp:
        return "SMTP"
    suffix = ("S" if session.ssl is not None else "") + ("A" if session.authenticated else "")
    return ("UTF8SMTP" if envelope.smtp_utf8 else "ESMTP") + suffix


class SMTPServer:
    """A listening inbound endpoint (what :func:`start_server` returns)."""

    def __init__(self, server: asyncio.Server, connections: set[GatewaySMTP],
                 anvil: Anvil) -> None:
        self._server = server
        self._connections = connections
        self.anvil = anvil
        loop = asyncio.get_running_loop()
        self._flusher = loop.call_later(LOG_INTERVAL, self._flush)

    def _flush(self) -> None:
        """Every :data:`LOG_INTERVAL`: the counts of repeated failures not logged yet."""
        loop = asyncio.get_running_loop()
        self.anvil.flush(loop.time())
        self._flusher = loop.call_later(LOG_INTERVAL, self._flush)

    @property
    def port(self) -> int:
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self._server.sockets)

    @property
    def connections(self) -> tuple[GatewaySMTP, ...]:
        """The sessions open now."""
        return tuple(self._connections)

    async def close(self, *, grace: float = 10.0) -> None:
        """Stop accepting; let transactions inside DATA finish (up to ``grace`` seconds, so a
        message being queued gets its reply); then close every connection."""
        self._server.close()
        self._flusher.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while any(c.in_data for c in self._connections) and loop.time() < deadline:
            await asyncio.sleep(0.05)  # bounded poll (not synchronisation in a test)
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()
        await self._server.wait_closed()
        self.anvil.flush(float("inf"))


def tls_context(settings: InboundSettings) -> ssl.SSLContext | None:
    """The server-side context for STARTTLS (RFC 3207), when a certificate is configured."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


async def start_server(handler: InboundHandler, host: str, port: int, *,
                       reuse_port: bool = False) -> SMTPServer:
    """Listen on ``host:port`` (0 = a free port) in the running loop; ``reuse_port`` lets
    several processes listen on the same port (SO_REUSEPORT, the kernel spreads connections)."""
    loop = asyncio.get_running_loop()
    _speed_up_aiosmtpd()
    context = tls_context(handler.settings)
    connections: set[GatewaySMTP] = set()
    server = await loop.create_server(
        lambda: GatewaySMTP(handler, tls_context=context, loop=loop, connections=connections),
        host=host, port=port, reuse_port=reuse_port or None)
    return SMTPServer(server, connections, handler.anvil)
