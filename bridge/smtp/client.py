"""The outbound SMTP endpoint: one delivery attempt of one message (RFC 5321 §5, §4.1, §3.3).

:func:`deliver` groups the recipients by domain (all of them together when a smarthost is
configured), finds the next hops (smarthost, else MX records in preference order, else the
domain's own address records -- RFC 5321 §5.1), and tries the hosts in order until one takes
part in a transaction.  The outcome of every recipient comes from the replies (RFC 5321 §4.2,
RFC 3463 enhanced codes, derived from the basic code when the server sends none):

* DNS: NXDOMAIN -> ``Failed 5.1.2``; a null MX (RFC 7505) -> ``Failed 5.1.10``; SERVFAIL or a
  timeout -> ``Deferred 4.4.3``.
* Connecting: refused, unreachable or timed out at every host -> ``Deferred 4.4.1`` ("no answer
  from host"); the connection lost or a reply timed out inside a session -> ``Deferred 4.4.2``
  ("bad connection").  A 4yz/5yz greeting or EHLO, or a failed TLS requirement, moves on to
  the next host; the last such problem is the outcome when no host is left.
* Transaction: MAIL refused -> every recipient of the group gets that reply; RCPT replies
  decide each recipient; the DATA reply decides all recipients RCPT accepted.  2yz ->
  ``Delivered`` (detail: the reply and the host), 4yz -> ``Deferred``, 5yz -> ``Failed``.  If
  the connection is lost after the message was sent but before the reply, the recipients are
  ``Deferred``: the queue will send again (RFC 5321 §6.1 duplicate window).
* Capabilities (RFC 1869): SMTPUTF8 is used when the envelope or the header is not ASCII, and
  a server without it gives ``Failed 5.6.7`` (RFC 6531 §3.2); 8-bit data to a server without
  8BITMIME gives ``Failed 5.6.3`` (RFC 6152 §3: we do not downgrade); SIZE is declared and a
  message over the server's limit gives ``Failed 5.3.4`` (RFC 1870 §6); the DSN parameters
  NOTIFY, ORCPT, RET, ENVID are sent only to a server offering DSN (RFC 3461 §5.2).  When it
  does not and SUCCESS was requested, ``Delivered.detail`` starts with ``relayed`` so the
  queue can send the "relayed" DSN of RFC 3461 §5.2.2.
* TLS: ``opportunistic`` uses STARTTLS when offered without checking the certificate (RFC 7435)
  and falls back to plain text with that host if the handshake fails; ``required`` checks the
  certificate against the system's CAs and defers (4.7.0) hosts without STARTTLS.

The recipient's ``address`` is the mapped address (an RFC 5322 addr-spec as RFC 2156 §4.3.5
writes it); the result is keyed by it.  Every path goes on the command line in RFC 5321
§4.1.2 form (:func:`smtp_path`): the local part as a Dot-string when it is one, else as a
Quoted-string -- so a std-or local part with a blank ADMD (``"/S=Smith/ADMD= /C=GB/"@gw``)
is sent -- and only what no path can hold (controls such as CR, LF, NUL; non-ASCII without
SMTPUTF8; a domain that is neither a Domain nor an address-literal) is refused: ``Failed 5.1.7``
for the sender, ``Failed 5.1.3`` for a recipient.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from bridge.queue.model import Deferred, Delivered, Failed, Outcome, Recipient
from bridge.smtp.cache import SessionCache
from bridge.smtp.params import xtext_encode
from bridge.smtp.path import smtp_path
from bridge.smtp.tunnel import retunnel

log = logging.getLogger("x400bridge.smtp")

Tls = Literal["opportunistic", "never", "required"]

#: RFC 3463 §2: an enhanced code at the start of a reply's text.
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")
#: Enhanced codes derived from basic codes when a server sends none (RFC 5321 §4.2.2 meanings
#: mapped onto RFC 3463 subjects); otherwise class.0.0.
_DERIVED = {421: "4.4.2", 450: "4.2.0", 451: "4.3.0", 452: "4.3.1", 550: "5.0.0",
            551: "5.1.6", 552: "5.2.2", 553: "5.1.3", 554: "5.0.0"}
_HEADER_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundSettings:
    """Settings of the outbound endpoint (config section ``[smtp.out]``)."""

    smarthost: tuple[str, int] | None = None
    port: int = 25  # the port of MX hosts (tests use a free port)
    timeout: float = 60.0  # per connection, command and DNS query
    helo: str = "localhost"
    tls: Tls = "opportunistic"
    resolver_nameservers: tuple[str, ...] = ()  # empty: the system's resolv.conf
    resolver_port: int = 53
    #: RFC 6710 §9.2 policy that turns X.400 priority / precedence into MT-PRIORITY (the
    #: gateway's one policy, ``[smtp.in] mt-priority-policy``)
    mt_priority_policy: str = "MIXER"


@dataclass(frozen=True, slots=True)
class _Hop:
    name: str  # the host name (for TLS and logs)
    address: str  # what we connect to
    port: int


class _NoRoute(Exception):
    """The next hops of a domain cannot be found; ``outcome`` applies to its recipients."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def reply_status(code: int, message: str) -> str:
    """The RFC 3463 code of a reply: the one it carries (if its class matches) or derived."""
    match = _ENHANCED.match(message)
    if match and int(match.group(1)) == code // 100:
        return ".".join(match.groups())
    return _DERIVED.get(code, f"{code // 100}.0.0")


def outcome_of(code: int, message: str, *, host: str = "") -> Outcome:
    """The outcome of a reply: 2yz delivered, 4yz deferred, 5yz failed (RFC 5321 §4.2.1)."""
    text = " ".join(message.split())
    diagnostic = f"smtp; {code} {text}"
    if code // 100 == 2:
        return Delivered(detail=f"{code} {text}" + (f" ({host})" if host else ""))
    if code // 100 == 4:
        return Deferred(status=reply_status(code, message), diagnostic=diagnostic)
    return Failed(status=reply_status(code, message), diagnostic=diagnostic)


def needs_smtputf8(sender: str, recipients: Sequence[Recipient], data: bytes) -> bool:
    """RFC 6531 §3.2: non-ASCII in the envelope or in the header section needs SMTPUTF8."""
    if not sender.isascii() or any(not r.address.isascii() for r in recipients):
        return True
    head = _HEADER_END.split(data, maxsplit=1)[0]
    return not head.isascii()


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def _resolver(settings: OutboundSettings) -> dns.asyncresolver.Resolver:
    if settings.resolver_nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = list(settings.resolver_nameservers)
        resolver.port = settings.resolver_port
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = settings.timeout
    resolver.timeout = min(settings.timeout, 5.0)
    return resolver


async def _addresses(resolver: dns.asyncresolver.Resolver, name: str) -> list[str]:
    """A then AAAA records of ``name`` (empty when it has none); other DNS errors raise."""
    found: list[str] = []
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        try:
            answer = await resolver.resolve(name, rdtype)
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        found.extend(r.address for r in answer)
    return found


async def next_hops(domain: str, settings: OutboundSettings,
                    resolver: dns.asyncresolver.Resolver) -> list[_Hop]:
    """RFC 5321 §5.1: MX hosts by preference (equal preferences shuffled), each with its
    addresses; no MX: the domain itself (implicit MX).  Raises :class:`_NoRoute`."""
    try:
        answer = await resolver.resolve(domain, dns.rdatatype.MX)
        records = sorted(answer, key=lambda r: (r.preference, random.random()))
        names = [r.exchange.to_text(omit_final_dot=True) for r in records]
        if len(names) == 1 and names[0] in ("", "."):  # RFC 7505 null MX
            raise _NoRoute(Failed(status="5.1.10", diagnostic=f"{domain} has a null MX"))
        implicit = False
    except dns.resolver.NoAnswer:
        names, implicit = [domain], True
    except dns.resolver.NXDOMAIN:
        raise _NoRoute(Failed(status="5.1.2", diagnostic=f"{domain}: no such domain")) from None
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise _NoRoute(Deferred(status="4.4.3", diagnostic=f"{domain}: DNS: {exc}")) from None
    hops: list[_Hop] = []
    failure: Exception | None = None
    for name in names:
        try:
            hops.extend(_Hop(name, a, settings.port) for a in await _addresses(resolver, name))
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            failure = exc
    if not hops:
        if implicit and failure is None:
            raise _NoRoute(Failed(status="5.1.2", diagnostic=f"{domain}: no MX and no address"))
        raise _NoRoute(Deferred(status="4.4.3", diagnostic=f"{domain}: MX hosts not found"))
    return hops


async def deliver(*, sender: str, recipients: Sequence[Recipient], data: bytes,
                  settings: OutboundSettings, envid: str | None = None,
                  ret: str | None = None, mt_priority: int | None = None,
                  cache: SessionCache | None = None) -> dict[str, Outcome]:
    """One delivery attempt; an outcome for every recipient, keyed by ``address``.
    ``mt_priority`` (RFC 6710, -9..9) is sent to a server that offers MT-PRIORITY (§4.2).
    With ``cache`` a session to the same host is reused (RSET first) and kept afterwards."""
    outcomes: dict[str, Outcome] = {}
    groups: dict[str, list[Recipient]] = {}
    for recipient in recipients:
        domain = _domain(recipient.address)
        if "@" not in recipient.address or not domain:
            outcomes[recipient.address] = Failed(status="5.1.3", diagnostic="no domain")
            continue
        groups.setdefault("" if settings.smarthost else domain, []).append(recipient)
    resolver = _resolver(settings) if settings.smarthost is None else None
    message = _Message(sender=sender, data=data, envid=envid, ret=ret, mt_priority=mt_priority)
    for domain, group in groups.items():
        try:
            if settings.smarthost is not None:
                host, port = settings.smarthost
                hops = [_Hop(host, host, port)]
            else:
                assert resolver is not None
                hops = await next_hops(domain, settings, resolver)
        except _NoRoute as exc:
            outcomes.update((r.address, exc.outcome) for r in group)
            continue
        outcomes.update(await _deliver_group(message, group, hops, settings, cache))
    return outcomes


@dataclass(frozen=True, slots=True, kw_only=True)
class _Message:
    sender: str
    data: bytes
    envid: str | None
    ret: str | None
    mt_priority: int | None = None


class _TryNextHost(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


async def _deliver_group(message: _Message, group: list[Recipient], hops: list[_Hop],
                         settings: OutboundSettings,
                         cache: SessionCache | None = None) -> dict[str, Outcome]:
    last: Outcome = Deferred(status="4.4.1", diagnostic="no host answered")
    for hop in hops:
        try:
            try:
                return await _session(message, group, hop, settings, tls=settings.tls,
                                      cache=cache)
            except _TryNextHost as exc:
                if exc.outcome != _TLS_FAILED or settings.tls != "opportunistic":
                    raise
                log.info("TLS with %s failed, trying without", hop.name)
                return await _session(message, group, hop, settings, tls="never",
                                      cache=cache)
        except _TryNextHost as exc:
            log.info("%s (%s:%d): %s", hop.name, hop.address, hop.port, exc.outcome)
            last = exc.outcome
    return {r.address: last for r in group}


_TLS_FAILED = Deferred(status="4.7.0", diagnostic="STARTTLS failed")


async def _session(message: _Message, group: list[Recipient], hop: _Hop,
                   settings: OutboundSettings, *, tls: Tls,
                   cache: SessionCache | None = None) -> dict[str, Outcome]:
    """One transaction with ``hop`` on a cached session (after RSET, RFC 5321 §4.1.1.5) or a
    new one; raises :class:`_TryNextHost` when no transaction could start."""
    key = (hop.address, hop.port, tls)
    client = await _reuse(cache, key) if cache is not None else None
    if client is None:
        client = await _open(hop, settings, tls=tls)
    keep = False
    try:
        result = await _transaction(client, message, group, hop)
        keep = cache is not None
        return result
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        raise _TryNextHost(Deferred(status="4.4.2", diagnostic=f"{hop.name}: {exc}")) from None
    finally:
        if keep and cache is not None and client.is_connected:
            cache.give(key, client)
        else:
            if cache is not None:
                cache.forget(client)
            await _close(client)


async def _reuse(cache: SessionCache, key: tuple[str, int, str]) -> aiosmtplib.SMTP | None:
    """A cached session that answers RSET, or None (a dead one is closed)."""
    while (client := cache.take(key)) is not None:
        try:
            reply = await client.rset()
            if reply.code // 100 == 2:
                return client
        except (aiosmtplib.SMTPException, OSError):
            pass
        cache.forget(client)
        await _close(client)
    return None


async def _open(hop: _Hop, settings: OutboundSettings, *, tls: Tls) -> aiosmtplib.SMTP:
    """A new session with ``hop``: connect, EHLO, STARTTLS as ``tls`` says, EHLO again;
    raises :class:`_TryNextHost`."""
    client = aiosmtplib.SMTP(hostname=hop.address, port=hop.port, timeout=settings.timeout,
                             local_hostname=settings.helo, start_tls=False,
                             validate_certs=tls == "required")
    try:
        await client.connect()
    except aiosmtplib.SMTPConnectResponseError as exc:
        raise _TryNextHost(outcome_of(exc.code, exc.message)) from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        raise _TryNextHost(Deferred(status="4.4.1", diagnostic=f"{hop.name}: {exc}")) from None
    try:
        await _hello(client)
        if tls != "never" and client.supports_extension("starttls"):
            try:
                await client.starttls(server_hostname=hop.name)
            except (aiosmtplib.SMTPException, OSError) as exc:
                log.info("STARTTLS with %s: %r", hop.name, exc)
                raise _TryNextHost(_TLS_FAILED) from None
            await _hello(client)
        elif tls == "required":
            raise _TryNextHost(Deferred(status="4.7.0",
                                        diagnostic=f"{hop.name} does not offer STARTTLS"))
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        await _close(client)
        raise _TryNextHost(Deferred(status="4.4.2", diagnostic=f"{hop.name}: {exc}")) from None
    except _TryNextHost:
        await _close(client)
        raise
    return client


async def _close(client: aiosmtplib.SMTP) -> None:
    """QUIT (RFC 5321 §4.1.1.10), or drop the connection when that fails."""
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


async def _hello(client: aiosmtplib.SMTP) -> None:
    """EHLO, falling back to HELO when the server refuses EHLO (RFC 5321 §4.1.4)."""
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError as exc:
        try:
            await client.helo()
        except aiosmtplib.SMTPHeloError:
            raise _TryNextHost(outcome_of(exc.code, exc.message)) from None


async def _transaction(client: aiosmtplib.SMTP, message: _Message, group: list[Recipient],
                       hop: _Hop) -> dict[str, Outcome]:
    """MAIL, RCPT per recipient, DATA (RFC 5321 §3.3) with the options the server offers."""
    if not client.supports_extension("mt-priority"):
        # RFC 6710 §4.3 / RFC 6758 §3.3: the priority travels in an MT-Priority field
        message = dataclasses.replace(message, data=retunnel(message.data, message.mt_priority))
    utf8 = needs_smtputf8(message.sender, group, message.data)
    eight_bit = not message.data.isascii()
    dsn = client.supports_extension("dsn")
    if utf8 and not client.supports_extension("smtputf8"):
        failed = Failed(status="5.6.7", diagnostic=f"{hop.name} does not offer SMTPUTF8")
        return {r.address: failed for r in group}
    if eight_bit and not client.supports_extension("8bitmime"):
        failed = Failed(status="5.6.3", diagnostic=f"{hop.name} does not offer 8BITMIME")
        return {r.address: failed for r in group}
    options: list[bytes] = []
    if client.supports_extension("size"):
        limit = client.esmtp_extensions["size"]
        if limit.isdigit() and 0 < int(limit) < len(message.data):
            failed = Failed(status="5.3.4", diagnostic=f"{hop.name} takes at most {limit}")
            return {r.address: failed for r in group}
        options.append(b"SIZE=%d" % len(message.data))
    if eight_bit:
        options.append(b"BODY=8BITMIME")
    if utf8:
        options.append(b"SMTPUTF8")
    if dsn and message.ret:
        options.append(b"RET=" + message.ret.encode("ascii"))
    if dsn and message.envid is not None:
        options.append(b"ENVID=" + xtext_encode(message.envid).encode("ascii"))
    if message.mt_priority is not None and client.supports_extension("mt-priority"):
        options.append(b"MT-PRIORITY=%d" % message.mt_priority)   # RFC 6710 §4.2

    outcomes: dict[str, Outcome] = {}
    try:
        reply = await client.execute_command(
            b"MAIL", b"FROM:" + smtp_path(message.sender, utf8=utf8), *options)
    except ValueError as exc:
        failed = Failed(status="5.1.7", diagnostic=str(exc))
        return {r.address: failed for r in group}
    if reply.code // 100 != 2:
        refused = outcome_of(reply.code, reply.message, host=hop.name)
        return {r.address: refused for r in group}
    accepted: list[Recipient] = []
    for recipient in group:
        rcpt_options: list[bytes] = []
        if dsn and recipient.notify:
            rcpt_options.append(b"NOTIFY=" + ",".join(recipient.notify).encode("ascii"))
        if dsn and recipient.orcpt:
            rcpt_options.append(b"ORCPT=" + recipient.orcpt.encode("utf-8"))
        try:
            reply = await client.execute_command(
                b"RCPT", b"TO:" + smtp_path(recipient.address, utf8=utf8), *rcpt_options)
        except ValueError as exc:
            outcomes[recipient.address] = Failed(status="5.1.3", diagnostic=str(exc))
            continue
        if reply.code // 100 == 2:
            accepted.append(recipient)
        else:
            outcomes[recipient.address] = outcome_of(reply.code, reply.message, host=hop.name)
    if not accepted:
        return outcomes
    try:
        reply = await client.data(message.data)
    except aiosmtplib.SMTPResponseException as exc:
        reply = aiosmtplib.SMTPResponse(exc.code, exc.message)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
        lost = Deferred(status="4.4.2", diagnostic=f"{hop.name}: {exc}")
        outcomes.update((r.address, lost) for r in accepted)
        return outcomes
    for recipient in accepted:
        result = outcome_of(reply.code, reply.message, host=hop.name)
        if isinstance(result, Delivered) and not dsn and "SUCCESS" in recipient.notify:
            result = Delivered(detail="relayed (next hop offers no DSN): " + result.detail)
        outcomes[recipient.address] = result
    return outcomes
