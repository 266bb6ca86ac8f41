"""RFC 2156 §4.3–§4.5: RFC 822 addresses <-> X.400 O/R addresses.

:class:`AddressMapper` holds the mapping sources (MCGAM and gateway tables, DNS) and the
gateway's own identity; it is immutable and safe to share.  Both directions return the result
together with the steps that decided it (rule, what happened, the table entry used), so an
operator can see why (``x400bridge map lookup --explain``).

* 822 -> X.400 (:meth:`AddressMapper.to_x400`): §4.3.4 Stage I (an X.400 address encoded in
  822: std-or or encoded-pn local-part, C/ADMD/PRMD/O/OU from the domain through the longest
  MCGAM), else Stage II (the 822 address in the RFC-822 domain-defined attribute, RFC822C1..3
  for overflow, the rest of the O/R address from the MCGAM, or by role: the gateway's own O/R
  for the SMTP return address, the preferred-gateway table for header addresses).
* X.400 -> 822 (:meth:`AddressMapper.to_rfc822`): §4.3.5 Mapping A (exactly one RFC-822 DDA)
  or Mapping B (longest MCGAM, subdomains allocated below it, the rest on the left as
  encoded-pn or std-or), with §4.5 directory names as a comment.
* §4.4.1 recursive mappings: :meth:`AddressMapper.recursive` tells when an O/R address's
  RFC-822 DDA is itself an X.400 address reachable without protocol conversion.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from enum import Enum

from bridge.errors import AddressSyntaxError, BridgeError, MappingError, SMTPReply, X400Diagnostic
from bridge.mapping.downgrade import decode_x400_88, downgrade_address, is_1984_form
from bridge.mapping.orprefix import ORPrefix
from bridge.mapping.psencode import ps_decode, ps_encode
from bridge.mapping.rfc822 import format_address, is_domain_syntax, parse_address
from bridge.mapping.source import Entry, MappingSource, Table
from bridge.model.oraddress import DomainDefinedAttribute, ORAddress, ORName, PersonalName
from bridge.model.ortext import (
    ORAddressSyntaxError,
    ORText,
    is_printable,
    parse_or_address,
    parse_or_text,
)
from bridge.model.pn import EncodedPNError, format_encoded_pn, parse_encoded_pn


class Role(Enum):
    """Where an address is used; decides Stage II when no MCGAM applies (§4.3.4)."""

    SMTP_ORIGINATOR = "smtp-originator"  # the SMTP return address: the local gateway's O/R
    SMTP_RECIPIENT = "smtp-recipient"  # an MTS-level recipient
    HEADER = "header"  # IPMS (heading) addresses: the preferred-gateway table

    @property
    def mts_level(self) -> bool:
        return self is not Role.HEADER


@dataclass(frozen=True, slots=True)
class Step:
    """One decision: the RFC clause, what happened, the table entry if one was used."""

    rule: str
    text: str
    entry: Entry | None = None
    value: object = None  # an address shown after the text (formatted only when displayed)

    def __str__(self) -> str:
        shown = f" {self.value}" if self.value is not None else ""
        via = f"  [{self.entry.line()}  from {self.entry.origin}]" if self.entry else ""
        return f"{self.rule}: {self.text}{shown}{via}"


@dataclass(frozen=True, slots=True)
class X400Result:
    address: ORAddress
    steps: tuple[Step, ...]
    stage: int  # 1 = X.400 address carried in 822, 2 = genuine 822 address in the RFC-822 DDA
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class RFC822Result:
    address: str  # addr-spec
    steps: tuple[Step, ...]
    mapping: str  # "A" or "B"
    comment: str | None = None  # §4.5: the directory name, RFC 1485 string form

    def __str__(self) -> str:
        return self.address + (f" ({self.comment})" if self.comment else "")


@dataclass(frozen=True, slots=True)
class GatewayIdentity:
    """The gateway's own 822 domain and O/R address (RFC 2156 §4.3.4 Stage II, §4.3.5 B3)."""

    domain: str
    or_address: ORAddress


# X.411 upper bounds (ub-*) used by §4.3.4 step 8/9
UB = {"ADMD": 16, "PRMD": 16, "O": 64, "OU": 32, "S": 40, "G": 16, "I": 5, "GQ": 3, "CN": 64,
      "X121": 16, "T-ID": 24, "UA-ID": 32, "DD.type": 8, "DD.value": 128}
MAX_OUS = 4
MAX_DDAS = 4
DDA_RFC822 = ("RFC-822", "RFC822C1", "RFC822C2", "RFC822C3")  # §4.3.2
HIERARCHY = ("C", "ADMD", "PRMD", "O")


def _mnemonic_only(a: ORAddress) -> bool:
    """True iff ``a`` uses only attributes of the mnemonic form (X.402 §18.5.1): no X.121,
    UA-ID, terminal id, postal, extended network address or terminal type."""
    return (a.x121 is None and a.ua_id is None and a.terminal_id is None and not a.postal
            and a.extended_network_address is None and a.terminal_type is None)


def bounds_problem(a: ORAddress) -> str | None:
    """The first X.411 upper bound or X.402 restriction ``a`` violates, or None (§4.3.4 I.9)."""
    checks: list[tuple[str, str | None]] = [
        ("ADMD", a.admd), ("PRMD", a.prmd), ("O", a.organization), ("CN", a.common_name),
        ("X121", a.x121), ("T-ID", a.terminal_id), ("UA-ID", a.ua_id)]
    if a.personal_name is not None:
        pn = a.personal_name
        checks += [("S", pn.surname), ("G", pn.given_name), ("I", pn.initials),
                   ("GQ", pn.generation_qualifier)]
    checks += [("OU", ou) for ou in a.org_units]
    for key, value in checks:
        if value is not None and len(value) > UB[key]:
            return f"{key} longer than {UB[key]}"
        if value is not None and key not in ("X121", "UA-ID") and not is_printable(value):
            return f"{key} is not PrintableString"
    if a.country is not None and not (
            (len(a.country) == 2 and a.country.isalpha())
            or (len(a.country) == 3 and a.country.isdigit())):
        return "C is neither 2 letters nor 3 digits"
    if len(a.org_units) > MAX_OUS:
        return f"more than {MAX_OUS} OUs"
    if len(a.ddas) > MAX_DDAS:
        return f"more than {MAX_DDAS} domain-defined attributes"
    for d in a.ddas:
        if len(d.type) > UB["DD.type"] or len(d.value) > UB["DD.value"]:
            return "domain-defined attribute too long"
    if a.personal_name is not None and not a.personal_name.surname:
        return "personal name without surname"
    return None


def _x400_1984_form(a: ORAddress) -> bool:
    """App B: only the 84/88 attributes of the §4.1.1 table (a non-teletex CN is allowed: it
    becomes the DDA "Common"), no teletex values (RFC 1328 §3)."""
    return is_1984_form(a)


def downgrade_1984(result: X400Result, gateway: ORAddress | None = None) -> X400Result:
    """App B / RFC 1328 §3.2: a non-teletex common name becomes the domain-defined attribute
    "Common" for an X.400(1984) peer (which has no extension attributes); with ``gateway``
    (the gateway's own O/R address) any other 88-only address -- or a CN with no free DDA --
    is carried in the DDA "X400-88" under it (RFC 1328 §3.1)."""
    addr = result.address
    if gateway is None:
        if addr.common_name is None or not is_1984_form(addr):
            return result
        if len(addr.ddas) >= MAX_DDAS:
            raise MappingError(f"{addr}: no room for the CN as DDA \"Common\" (App B)",
                               address=str(addr), x400=X400Diagnostic(reason=1, diagnostic=11))
    down = downgrade_address(addr, gateway if gateway is not None else ORAddress())
    if not down.rule:
        return result
    return replace(result, address=down.address, steps=result.steps + (
        Step(down.rule, down.text, value=down.address),))


def _x402_valid(a: ORAddress) -> bool:
    """§4.3.4 I.6: a complete X.400 address (X.402 §18.5): C and ADMD and something below, or
    a terminal form (X.121)."""
    if a.x121 is not None:
        return True
    below = (a.prmd, a.organization, a.ua_id, a.common_name, a.personal_name, a.terminal_id)
    return a.country is not None and a.admd is not None and (
        any(v is not None for v in below) or bool(a.org_units) or bool(a.ddas) or bool(a.postal))


class AddressMapper:
    """RFC 2156 §4.3 address mapping over a :class:`MappingSource` (tables and/or DNS)."""

    def __init__(self, source: MappingSource, gateway: GatewayIdentity, *,
                 cache_size: int = 4096) -> None:
        self.source = source
        self.gateway = gateway
        # The mapper and its results are immutable, and a gateway meets the same addresses
        # again and again: memoise both directions (errors are not cached).  A source that
        # can defer (DNS) raises instead of answering, so no undecided answer is kept.
        self.to_x400 = functools.lru_cache(maxsize=cache_size)(  # type: ignore[method-assign]
            self._to_x400)
        self.to_rfc822 = functools.lru_cache(maxsize=cache_size)(  # type: ignore[method-assign]
            self._to_rfc822)

    # ================================================================ 822 -> X.400 (§4.3.4)

    def x400_domain(self, domain: str) -> bool:
        """Whether mail for ``domain`` belongs in X.400: the gateway's own domain (or one
        below it), or a domain an MCGAM (table2, RFC 2156 §4.3.4 I.8) maps.  Elsewhere an
        822 address is a genuine Internet address, whatever its local part looks like.
        May raise :class:`~bridge.mapping.source.LookupDeferred` (RFC 2163 DNS)."""
        domain = domain.rstrip(".").lower()
        own = self.gateway.domain.rstrip(".").lower()
        if domain == own or domain.endswith("." + own):
            return True
        return self.source.lookup_domain(Table.TABLE2, domain) is not None

    def to_x400(self, address: str, role: Role = Role.HEADER, *,
                x400_1984: bool = False) -> X400Result:
        """RFC 822 address -> O/R address (§4.3.4), memoised per mapper.  ``x400_1984``: the
        address goes to an X.400(1984) peer (App B)."""
        return self._to_x400(address, role, x400_1984=x400_1984)

    def _to_x400(self, address: str, role: Role = Role.HEADER, *,
                 x400_1984: bool = False) -> X400Result:
        result = self._map_to_x400(address, role, x400_1984)
        return downgrade_1984(result, self.gateway.or_address) if x400_1984 else result

    def _map_to_x400(self, address: str, role: Role, x400_1984: bool) -> X400Result:
        steps: list[Step] = []
        parsed = parse_address(address)
        if not parsed.simple:
            routed = parsed.route[0] if parsed.route else parsed.domain
            steps.append(Step("§4.3.4 I.1", "not local-part@domain: the route is kept and the "
                              f"address is a genuine 822 address routed via {routed!r}"))
            rhs = self._rhs_from_domain(routed, steps) if routed else None
            return self._stage2(address, routed, rhs, role, steps)
        assert parsed.domain is not None
        local, domain = parsed.local, parsed.domain
        lhs = self._stage1_lhs(local, steps)
        if lhs is not None and x400_1984 and not _x400_1984_form(lhs):
            steps.append(Step("App B", "attributes beyond the 84/88 set or teletex values in "
                              "std-or: treated as an RFC 822 address"))
            lhs = None
        if lhs is None:
            rhs = self._rhs_from_domain(domain, steps)
            return self._stage2(address, domain, rhs, role, steps)
        if _x402_valid(lhs) and bounds_problem(lhs) is None:
            steps.append(Step("§4.3.4 I.6", "the local-part is a complete X.400 address"))
            steps.append(Step("§4.3.4 I.10", "X.400 address", value=lhs))
            return X400Result(address=lhs, steps=tuple(steps), stage=1)
        if not _mnemonic_only(lhs) or lhs.country is not None:
            steps.append(Step("§4.3.4 I.7", "cannot become a mnemonic O/R address with "
                              "attributes from the domain: Stage II"))
            rhs = self._rhs_from_domain(domain, steps)
            return self._stage2(address, domain, rhs, role, steps)
        rhs = self._rhs_from_domain(domain, steps)
        if rhs is None or rhs.failed:
            return self._stage2(address, domain, rhs, role, steps)
        merged = self._merge(lhs, rhs.address, steps)
        problem = bounds_problem(merged)
        if problem is not None or not _x402_valid(merged):
            steps.append(Step("§4.3.4 I.9", f"{problem or 'not a valid X.400 address'}: "
                              "Stage II"))
            return self._stage2(address, domain, rhs, role, steps)
        steps.append(Step("§4.3.4 I.10", "X.400 address", value=merged))
        return X400Result(address=merged, steps=tuple(steps), stage=1)

    def _stage1_lhs(self, local: str, steps: list[Step]) -> ORAddress | None:
        """Stage I steps 2–5: the local-part as O/R attributes, or None (go to Stage II)."""
        if local != local.strip() or "  " in local:
            steps.append(Step("§4.3.4 I.2", "leading, trailing or double spaces: Stage II"))
            return None
        if not all(c in "{}*$" or is_printable(c) for c in local):
            steps.append(Step("§4.3.4 I.3", "characters outside PrintableString: Stage II"))
            return None
        if "=" in local:
            try:
                read = parse_or_text(local)
            except ORAddressSyntaxError as exc:
                steps.append(Step("§4.3.4 I.4", f"not std-or-address-input ({exc}): Stage II"))
                return None
            steps.extend(ou_order_steps(read))
            steps.append(Step("§4.3.4 I.4", "local-part parsed as std-or-address:",
                              value=read.address))
            return read.address
        try:
            pn = parse_encoded_pn(local)
        except EncodedPNError:
            steps.append(Step("§4.3.4 I.4", "neither std-or-address nor encoded-pn: Stage II"))
            return None
        steps.append(Step("§4.3.4 I.4", f"local-part parsed as encoded-pn {local!r}"))
        return ORAddress(personal_name=PersonalName(**pn))

    @dataclass(frozen=True, slots=True)
    class _RHS:
        address: ORAddress
        entry: Entry
        failed: bool = False

    def _rhs_from_domain(self, domain: str, steps: list[Step]) -> _RHS | None:
        """Stage I step 8: longest MCGAM (table2) for ``domain`` and the systematic allocation
        of the remaining labels to C, ADMD, PRMD, O, OU (omitted levels skipped)."""
        entry = self.source.lookup_domain(Table.TABLE2, domain)
        if entry is None:
            steps.append(Step("§4.3.4 I.8", f"no MCGAM for {domain!r}"))
            return None
        labels = domain.split(".")
        matched = len(entry.domain.split("."))
        extra = labels[: len(labels) - matched]
        if not all(is_domain_syntax(x) for x in extra):
            steps.append(Step("§4.3.4 I.8", "a subdomain is not domain-syntax", entry))
            return None
        values: dict[str, str | None] = {}
        ous: list[str] = []
        for key, value in entry.prefix.parts:
            if key == "OU":
                if value is not None:
                    ous.append(value)
            else:
                values[key] = value
        levels = [k for k, _ in entry.prefix.parts]
        next_level = len(levels)
        failed = False
        for label in reversed(extra):
            level = (HIERARCHY + ("OU",) * MAX_OUS)[next_level] if next_level < 8 else None
            if level is None or (level == "OU" and len(ous) >= MAX_OUS) or len(label) > UB.get(
                    level if level != "C" else "ADMD", 64):
                steps.append(Step("§4.3.4 I.8", f"{label!r} would exceed an upper bound or "
                              "the four OUs: Stage II", entry))
                failed = True
                break
            if level == "OU":
                ous.append(label)
            else:
                values[level] = label
            next_level += 1
        addr = ORAddress(country=values.get("C"), admd=values.get("ADMD"),
                         prmd=values.get("PRMD"), organization=values.get("O"),
                         org_units=tuple(ous))
        steps.append(Step("§4.3.4 I.8", f"domain {domain!r} by the longest MCGAM "
                          f"{entry.domain!r} ->", entry, value=addr))
        return AddressMapper._RHS(address=addr, entry=entry, failed=failed)

    @staticmethod
    def _merge(lhs: ORAddress, rhs: ORAddress, steps: list[Step]) -> ORAddress:
        """Stage I step 8 merge: LHS attributes all used; RHS supplies the levels above."""
        take: tuple[str, ...]
        if lhs.admd is not None:
            take = ("C",)
        elif lhs.prmd is not None:
            take = ("C", "ADMD")
        elif lhs.organization is not None:
            take = ("C", "ADMD", "PRMD")
        else:
            take = ("C", "ADMD", "PRMD", "O", "OU")
        merged = replace(
            lhs,
            country=rhs.country,
            admd=rhs.admd if "ADMD" in take else lhs.admd,
            prmd=rhs.prmd if "PRMD" in take else lhs.prmd,
            organization=rhs.organization if "O" in take else lhs.organization,
            org_units=(rhs.org_units + lhs.org_units) if "OU" in take else lhs.org_units,
        )
        steps.append(Step("§4.3.4 I.8", f"merged: {'/'.join(take)} from the domain"))
        return merged

    def _stage2(self, address: str, domain: str | None, rhs: _RHS | None, role: Role,
                steps: list[Step]) -> X400Result:
        """Stage II: the 822 address in the RFC-822 DDA (+ RFC822C1..3), the rest by MCGAM,
        else by role."""
        try:
            encoded = ps_encode(address)
        except AddressSyntaxError:
            raise MappingError(f"{address!r} has non-ASCII characters and cannot be carried "
                               "in the RFC-822 domain-defined attribute", address=address,
                               smtp=SMTPReply(code=553, enhanced="5.1.3",
                                              text="Address cannot be represented in X.400"),
                               x400=X400Diagnostic(reason=1, diagnostic=11)) from None
        truncated = False
        limit = 128 * len(DDA_RFC822)
        if len(encoded) > limit:
            if role.mts_level:
                raise MappingError(
                    f"{address!r} is {len(encoded)} characters ps-encoded; at most {limit} fit "
                    "in RFC-822/RFC822C1..3 (RFC 2156 §4.3.2): rejected", address=address,
                    smtp=SMTPReply(code=553, enhanced="5.1.3", text="Address too long for X.400"),
                    x400=X400Diagnostic(reason=1, diagnostic=11))
            encoded = encoded[:limit]
            truncated = True
            steps.append(Step("§5.1.3", f"ps-encoded address truncated to {limit} characters"))
        chunks = [encoded[i : i + 128] for i in range(0, len(encoded), 128)]
        ddas = tuple(DomainDefinedAttribute(type=t, value=v)
                     for t, v in zip(DDA_RFC822, chunks, strict=False))
        steps.append(Step("§4.3.4 II.1-2", f"RFC-822 domain-defined attribute {encoded!r}"
                          + (f" in {len(ddas)} attributes" if len(ddas) > 1 else "")))
        if rhs is not None and not rhs.failed:
            base = rhs.address
            steps.append(Step("§4.3.4 II.3", "rest of the O/R address from the MCGAM:",
                              rhs.entry, value=base))
        elif rhs is not None:
            base = rhs.address
            steps.append(Step("§4.3.4 II.3", "rest from the MCGAM as far as it went:",
                              rhs.entry, value=base))
        elif role is Role.SMTP_ORIGINATOR:
            base = self.gateway.or_address
            steps.append(Step("§4.3.4 II.3", "SMTP return address: the gateway's own O/R "
                              "address", value=base))
        else:
            gate = self.source.lookup_domain(Table.GATE2, domain) if domain else None
            if gate is not None:
                base = _prefix_address(gate.prefix)
                steps.append(Step("§4.3.4 II.3", f"preferred gateway for {domain!r}:", gate,
                                  value=base))
            else:
                base = self.gateway.or_address
                steps.append(Step("§4.3.4 II.3", f"no preferred gateway for {domain!r}: the "
                                  "local gateway", value=base))
        result = replace(base, ddas=tuple(d for d in base.ddas if d.type.upper()
                                          not in DDA_RFC822) + ddas)
        steps.append(Step("§4.3.4 II", "X.400 address", value=result))
        return X400Result(address=result, steps=tuple(steps), stage=2, truncated=truncated)

    # ================================================================ X.400 -> 822 (§4.3.5)

    def to_rfc822(self, name: ORName | ORAddress) -> RFC822Result:
        """O/R name or address -> RFC 822 address (§4.3.5), memoised per mapper."""
        return self._to_rfc822(name)

    def _to_rfc822(self, name: ORName | ORAddress) -> RFC822Result:
        addr = name.address if isinstance(name, ORName) else name
        comment = dn_comment(name) if isinstance(name, ORName) else None
        steps: list[Step] = []
        inner = decode_x400_88(addr)
        if inner is not None:  # RFC 1328 §3.1 reverse: the 88 address an 84 peer carried
            steps.append(Step("RFC 1328 §3.1", "DDA \"X400-88\": the X.400(1988) address",
                              value=inner))
            addr = inner
        rfc822 = self._mapping_a(addr, steps)
        if rfc822 is not None:
            return RFC822Result(address=rfc822, steps=tuple(steps), mapping="A", comment=comment)
        return RFC822Result(address=self._mapping_b(addr, steps), steps=tuple(steps),
                            mapping="B", comment=comment)

    @staticmethod
    def _mapping_a(addr: ORAddress, steps: list[Step]) -> str | None:
        """Mapping A: exactly one RFC-822 DDA (+ RFC822C1..3); printable or teletex (§4.3.2)."""
        def value(ddas: tuple[DomainDefinedAttribute, ...]) -> tuple[int, str]:
            by_type = {d.type.upper(): d.value for d in ddas}
            count = sum(1 for d in ddas if d.type.upper() == "RFC-822")
            return count, "".join(by_type.get(t, "") for t in DDA_RFC822)

        count, printable = value(addr.ddas)
        tcount, teletex = value(addr.teletex_ddas)
        if count == 0 and tcount == 0:
            return None
        if count > 1 or tcount > 1:
            steps.append(Step("§4.3.5", "more than one RFC-822 DDA: Mapping B"))
            return None
        texts = [t for t in (printable if count else None, teletex if tcount else None)
                 if t is not None]
        decoded = []
        for text in texts:
            if not is_printable(text):
                raise MappingError(f"RFC-822 DDA {text!r} is not printable", address=str(addr),
                                   x400=X400Diagnostic(reason=1, diagnostic=11))
            try:
                decoded.append(ps_decode(text))
            except AddressSyntaxError as exc:
                raise MappingError(f"RFC-822 DDA does not decode: {exc}", address=str(addr),
                                   x400=X400Diagnostic(reason=1, diagnostic=11)) from None
        if len(set(decoded)) > 1:
            raise MappingError("printable and teletex RFC-822 DDAs differ (RFC 2156 §4.3.2)",
                               address=str(addr), x400=X400Diagnostic(reason=1, diagnostic=11))
        result = decoded[0]
        try:
            parse_address(result)
        except AddressSyntaxError as exc:
            raise MappingError(f"RFC-822 DDA holds no valid address: {exc}", address=str(addr),
                               x400=X400Diagnostic(reason=1, diagnostic=11)) from None
        steps.append(Step("§4.3.5 A", f"RFC-822 DDA {texts[0]!r} -> {result}; other attributes "
                          "dropped"))
        return result

    def _mapping_b(self, addr: ORAddress, steps: list[Step]) -> str:
        """Mapping B: longest MCGAM over C, ADMD, PRMD, O, OU; subdomains below it; the rest on
        the left as encoded-pn or std-or (§4.3.5 steps 1–5)."""
        key = lookup_key(addr)
        entry = self.source.lookup_or(Table.TABLE1, key) if key.parts else None
        if entry is not None and len(entry.domain.split(".")) < 2:
            steps.append(Step("§4.3.5 B3", f"MCGAM domain {entry.domain!r} has one label and "
                              "never routes to a gateway: treated as no match", entry))
            entry = None
        if entry is None or not _mnemonic_only(addr):
            if entry is not None:
                steps.append(Step("§4.3.5 B5", "attributes outside the mnemonic form: the "
                                  "whole address goes on the left", entry))
            return self._gateway_form(addr, key, steps, use_gate=entry is None
                                      and _mnemonic_only(addr))
        steps.append(Step("§4.3.5 B3", f"longest MCGAM {entry.prefix} -> {entry.domain!r}",
                          entry))
        labels: list[str] = []
        consumed = len(entry.prefix.parts)
        hierarchy = _hierarchy_values(addr)
        rest_from = consumed
        for level in range(consumed, len(hierarchy)):
            value = hierarchy[level][1]
            if value is None:  # omitted below the prefix: everything else goes on the left
                steps.append(Step("§4.3.5 B4", f"{hierarchy[level][0]} omitted below the "
                                  "prefix: the rest goes on the left"))
                break
            if not is_domain_syntax(value):
                break
            labels.insert(0, value)
            rest_from = level + 1
        remaining = _without_levels(addr, rest_from)
        if _empty(remaining):  # §4.3.5 B4: the local-part cannot be null
            if not labels:
                steps.append(Step("§4.3.5 B4", "the address is the MCGAM prefix itself: "
                                  "nothing would be left for the local-part"))
                return self._gateway_form(addr, key, steps, use_gate=False)
            rest_from -= 1
            labels.pop(0)
            remaining = _without_levels(addr, rest_from)
        domain = ".".join(labels + [entry.domain])
        local = _local_part(remaining, steps)
        result = format_address(local, domain)
        steps.append(Step("§4.3.5 B4-5", f"RFC 822 address {result}"))
        return result

    def _gateway_form(self, addr: ORAddress, key: ORPrefix, steps: list[Step],
                      use_gate: bool) -> str:
        """No usable MCGAM: the preferred-gateway table (gate1), else the local gateway; the
        attributes below the gateway's prefix go on the left in std-or (§4.3.5 B3, B5)."""
        gate = self.source.lookup_or(Table.GATE1, key) if use_gate and key.parts else None
        if gate is not None and len(gate.domain.split(".")) >= 2:
            remaining = _without_levels(addr, len(gate.prefix.parts))
            steps.append(Step("§4.3.5 B3", f"preferred gateway for {gate.prefix}: "
                              f"{gate.domain!r}", gate))
            domain = gate.domain
        else:
            remaining = addr
            domain = self.gateway.domain
            steps.append(Step("§4.3.5 B3", f"no MCGAM: the local gateway domain {domain!r}, "
                              "the whole address on the left"))
        result = format_address(_std_or(remaining), domain)
        steps.append(Step("§4.3.5 B5", f"RFC 822 address {result}"))
        return result

    # ================================================================ §4.4.1

    def recursive(self, addr: ORAddress) -> X400Result | None:
        """§4.4.1: if ``addr`` carries an RFC-822 DDA whose address is itself an X.400 address
        under an MCGAM (Stage I succeeds), the O/R address to use instead — no protocol
        conversion needed.  None when the address really leaves X.400."""
        steps: list[Step] = []
        rfc822 = self._mapping_a(addr, steps)
        if rfc822 is None:
            return None
        try:
            back = self.to_x400(rfc822, Role.SMTP_RECIPIENT)
        except BridgeError:
            return None
        if back.stage != 1:
            return None
        return replace(back, steps=tuple(steps) + back.steps + (
            Step("§4.4.1", "recursive mapping: the message stays in X.400"),))


# -------------------------------------------------------------------- helpers


def ou_order_steps(read: ORText) -> tuple[Step, ...]:
    """The step to show when the OUs of an O/R address text were read most significant first
    (RFC 2156 §4.3.4.1; :mod:`bridge.model.ortext`): an O, PRMD, ADMD or C written to the left
    of an OU means the text runs C-first, as F.401 and ISODE PP write it, so OU1 is the first
    OU written -- ``/C=TC/ADMD=BTT/O=Widget/OU=A/OU=B/S=x/`` is ``/S=x/OU=B/OU=A/O=Widget/...``.
    Empty when the text is in §4.3.3's order (most significant on the right)."""
    if not read.ous_inverted:
        return ()
    ous = ", ".join(f"OU{i}={ou}" for i, ou in enumerate(read.address.org_units, 1))
    return (Step("§4.3.4.1", "O/PRMD/ADMD/C written left of the OUs: the text is most "
                 f"significant first (C-first, as PP and F.401 read it), so {ous}"),)


def _prefix_address(prefix: ORPrefix) -> ORAddress:
    """An ORPrefix (gate table value) as an O/R address; ``~TYPE`` entries become DDAs."""
    text = "/" + "".join(
        f"{'DD.' + k[1:] if k.startswith('~') else k}={'' if v is None else _q(v)}/"
        for k, v in reversed(prefix.parts))
    return parse_or_address(text)


def _q(value: str) -> str:
    return value.replace("$", "$$").replace("/", "$/").replace("=", "$=")


def _hierarchy_values(addr: ORAddress) -> list[tuple[str, str | None]]:
    """C, ADMD, PRMD, O, OU1..n of ``addr`` with None for an absent (omitted) level
    (§4.3.5 B3: "including omitted attributes"): C to O are always there, so an MCGAM such as
    ``O$@.PRMD$GMD.ADMD$DBP.C$DE`` matches an address without an O."""
    return [("C", addr.country), ("ADMD", addr.admd), ("PRMD", addr.prmd),
            ("O", addr.organization)] + [("OU", ou) for ou in addr.org_units]


def lookup_key(addr: ORAddress) -> ORPrefix:
    """§4.3.5 B1: the O/R hierarchy of ``addr`` (C, ADMD, PRMD, O, OU1..n) as a prefix for
    longest-match table lookups; spaces trimmed and collapsed, a zero-length ADMD is " "."""
    parts = []
    for key, value in _hierarchy_values(addr):
        if value is not None:
            value = " ".join(value.split())
            if key == "ADMD" and value == "":
                value = " "
        parts.append((key, value))
    return ORPrefix(tuple(parts))


def _without_levels(addr: ORAddress, n: int) -> ORAddress:
    """``addr`` without its first ``n`` hierarchy levels (C, ADMD, PRMD, O, OUs)."""
    names = ("country", "admd", "prmd", "organization")
    changes: dict[str, object] = {names[i]: None for i in range(min(n, 4))}
    if n > 4:
        changes["org_units"] = addr.org_units[n - 4 :]
    return replace(addr, **changes)  # type: ignore[arg-type]


def _empty(addr: ORAddress) -> bool:
    return addr == ORAddress()


def _local_part(remaining: ORAddress, steps: list[Step]) -> str:
    """§4.3.5 B5: encoded-pn when only a (printable) personal name remains, else std-or."""
    pn = remaining.personal_name
    if pn is not None and pn.generation_qualifier is None and _only_personal_name(remaining):
        encoded = format_encoded_pn(pn.surname, pn.given_name, pn.initials)
        if encoded is not None:
            steps.append(Step("§4.3.5 B5", f"personal name as encoded-pn {encoded!r}"))
            return encoded
    return _std_or(remaining)


_EMPTY = ORAddress()
_FIELDS = tuple(f for f in ORAddress.__dataclass_fields__ if f != "personal_name")


def _only_personal_name(addr: ORAddress) -> bool:
    return all(getattr(addr, f) == getattr(_EMPTY, f) for f in _FIELDS)


def _std_or(addr: ORAddress) -> str:
    return str(addr)


_DN_NAMES = {"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
             "2.5.4.9": "STREET", "2.5.4.10": "O", "2.5.4.11": "OU"}


def dn_comment(name: ORName) -> str | None:
    """§4.5: a directory name as an RFC 1485 string (least significant RDN first)."""
    if name.directory_name is None or not name.directory_name.rdns:
        return None
    rdns = []
    for rdn in reversed(name.directory_name.rdns):
        avas = []
        for ava in rdn:
            key = _DN_NAMES.get(ava.type, ava.type)
            if ava.text is not None:
                text = ava.text
                if any(c in text for c in ',+="\\<>;#()') or text != text.strip():
                    text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
                text = text.replace("(", "\\(").replace(")", "\\)")  # inside an 822 comment
            else:
                text = "#" + ava.value.ber.hex()
            avas.append(f"{key}={text}")
        rdns.append(" + ".join(avas))
    return ", ".join(rdns)
