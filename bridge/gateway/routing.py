"""Where a recipient goes: X.400 (which peer MTA, or the spool) or the Internet (which domain).

* An RFC 5321 recipient goes to X.400 when RFC 2156 §4.3.4 maps it in Stage I (the address is
  an X.400 address carried in RFC 822: a table MCGAM matched, or its local part is std-or
  text); a Stage II result means a genuine Internet address, relayed by SMTP -- unless it is in
  the gateway's own domain, where it names nobody (550 5.1.1).
* An X.400 O/R address is routed by the *X.400 routing table* -- ``mappings/x400-routes.txt`` or
  the file named by ``[x400] routes`` -- longest match on the O/R hierarchy (C, ADMD, PRMD, O,
  OU1..4), in the App F table syntax (least significant first, ``$`` between attribute and
  value, ``@`` for an omitted level)::

      PRMD$uk.ac.ADMD$ .C$gb#percival#       # to the peer MTA nicknamed "percival"
      C$de#spool#                            # to the file spool's out/ folder
      *#spool#                               # default (without it: the spool)

* An Internet recipient's route is its domain (the key of the per-destination backoff).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bridge.errors import ConfigError, MappingError, SMTPReply
from bridge.mapping.address import AddressMapper, Role, lookup_key
from bridge.mapping.orprefix import ORPrefix, ORPrefixSyntaxError
from bridge.mapping.source import LookupDeferred
from bridge.mapping.tables import MappingTables
from bridge.memo import Memo
from bridge.model.oraddress import ORAddress
from bridge.smtp.server import RcptDecision

SPOOL = "spool"


@dataclass(frozen=True, slots=True)
class X400Routes:
    """O/R prefix -> route (peer nickname or "spool"); longest match."""

    routes: dict[tuple[tuple[str, str | None], ...], str]
    default: str = SPOOL

    @classmethod
    def load(cls, path: Path | None) -> X400Routes:
        """Read a routing table; a missing default file is an empty table."""
        if path is None or not path.exists():
            return cls(routes={})
        routes: dict[tuple[tuple[str, str | None], ...], str] = {}
        default = SPOOL
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        for n, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split("#")
            if len(fields) < 3 or not fields[1].strip():
                raise ConfigError(f"{path}:{n}: expected 'dmn-or-address#route#'")
            prefix, route = fields[0].strip(), fields[1].strip()
            if prefix == "*":
                default = route
                continue
            try:
                routes[ORPrefix.from_dmn(prefix).key()] = route
            except ORPrefixSyntaxError as exc:
                raise ConfigError(f"{path}:{n}: {exc}") from exc
        return cls(routes=routes, default=default)

    def route(self, address: ORAddress) -> str:
        """The route for ``address``: the longest matching prefix, else the default."""
        key = lookup_key(address).key()
        for n in range(len(key), 0, -1):
            found = self.routes.get(key[:n])
            if found is not None:
                return found
        return self.default


#: RCPT decisions a :class:`Router` remembers (see :meth:`Router.smtp_recipient`)
DECISIONS_KEPT = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Where an RFC 5321 recipient goes, or why it is refused."""

    direction: Literal["to-x400", "to-smtp"] | None
    route: str = ""
    or_address: str = ""
    reply: SMTPReply | None = None


class Router:
    """Recipient decisions for the SMTP side (RCPT) and routes for both sides."""

    def __init__(self, mapper: AddressMapper, routes: X400Routes, *,
                 peers: frozenset[str]) -> None:
        self.mapper = mapper
        self.routes = routes
        self.peers = peers
        # RCPT decisions per address while the mapping is the tables alone: they depend on
        # nothing but this router's tables and routes (a reload builds a new router)
        self._decisions: Memo[str, Decision] = Memo(DECISIONS_KEPT)

    @property
    def in_memory(self) -> bool:
        """Whether a lookup needs no I/O: the mapping source is the App F tables alone (no
        RFC 2163 DNS behind them)."""
        return isinstance(self.mapper.source, MappingTables)

    def smtp_recipient(self, address: str) -> Decision:
        """RFC 5321 RCPT: to X.400 (Stage I) or to the Internet (Stage II), or refused.

        Only an address whose domain belongs in X.400 (:meth:`AddressMapper.x400_domain`:
        the gateway's own, or an MCGAM's) is mapped; any other is an Internet address routed
        by its domain, relay rules applying -- a std-or local part at example.com is a
        mailbox at example.com (issue 12), and a non-ASCII Internet address needs no X.400
        form at all (RFC 6531: the SMTP client sends it with SMTPUTF8).

        With the tables alone (:attr:`in_memory`) a decision is remembered per address (up to
        :data:`DECISIONS_KEPT`; then forgotten all at once): a gateway sees the same
        recipients again and again, and the route and the address text were computed anew
        for each RCPT."""
        if not self.in_memory:
            return self._decide(address)
        decision = self._decisions.get(address)
        if decision is None:
            decision = self._decisions.keep(address, self._decide(address))
        return decision

    def _decide(self, address: str) -> Decision:
        domain = address.rpartition("@")[2].lower()
        try:
            if not self.mapper.x400_domain(domain):
                return Decision(direction="to-smtp", route=domain)
            result = self.mapper.to_x400(address, Role.SMTP_RECIPIENT)
        except (MappingError, LookupDeferred) as exc:
            # LookupDeferred (RFC 2156 §4.2.1, A-12): 451 4.4.3, the client asks again later
            return Decision(direction=None, reply=exc.smtp)
        if result.stage == 1:
            route = self.routes.route(result.address)
            if route != SPOOL and route not in self.peers:
                return Decision(direction=None, reply=SMTPReply(
                    code=451, enhanced="4.3.5", text=f"X.400 route {route!r} not configured"))
            return Decision(direction="to-x400", route=route,
                            or_address=str(result.address))
        if domain == self.mapper.gateway.domain.lower():
            return Decision(direction=None, reply=SMTPReply(
                code=550, enhanced="5.1.1", text="No such X.400 recipient at this gateway"))
        return Decision(direction="to-smtp", route=domain)

    def x400_route(self, address: ORAddress) -> str:
        """The route of an O/R address (reports back to an originator, probes)."""
        return self.routes.route(address)


async def rcpt_decision(router: Router, address: str) -> RcptDecision:
    """The SMTP handler's answer to RCPT ``address`` (RFC 5321 §4.1.1.3), for the gateway
    process and the intake processes alike."""
    if router.in_memory:                  # tables only: a memoised lookup, no I/O
        decision = router.smtp_recipient(address)
    else:                                 # RFC 2163 DNS lookups may wait: not on the loop
        decision = await asyncio.to_thread(router.smtp_recipient, address)
    if decision.direction is None:
        return RcptDecision(accept=False, reply=decision.reply)
    return RcptDecision(accept=True, direction=decision.direction, route=decision.route,
                        extra={"or": decision.or_address} if decision.or_address else {})
