"""RFC 822 trace -> X.411 trace and internal trace (RFC 2156 §5.1.5-§5.1.7; H-7, H-9..H-11,
T-1, T-2).

* ``Date:`` (the most recent ``Resent-Date:`` if any) gives the first trace element, unless
  an ``X400-Received:`` shows the message has been in X.400 before (§5.1.7);
* ``Received:`` and ``X400-Received:`` fields are processed bottom-up (chronological order),
  interleaved as they stand in the header (§5.1.6);
* the gateway adds one element of its own: arrival = conversion time, relayed, the converted
  EITs (§5.1.6);
* loop control: more than five MIXER conversions in one direction is a loop (§5.1.5).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bridge.convert.context import Context
from bridge.convert.result import Defect
from bridge.convert.vocab import EIT_MIXER, EIT_NAMES
from bridge.convert.x400_heading import Invalid, parse_date, unfold
from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.mapping.source import Table
from bridge.model.common import (
    EncodedInformationTypes,
    GlobalDomainIdentifier,
    OtherActions,
    RoutingAction,
    TraceElement,
)
from bridge.model.oraddress import ORAddress

UB_MTA_NAME = 32  # X.411 ub-mta-name-length
MAX_CONVERSIONS = 5  # §5.1.5: "If this count exceeds five in one direction ... a loop"

_MIXER_COMMENT = re.compile(r"\(\s*MIXER\s+Conversion\b", re.I)
_BY = re.compile(r"(?:^|\s)by\s+([^\s;()]+)", re.I)
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
_EIT_BY_NAME = {v.lower().replace("-", ""): int(k) for k, v in EIT_NAMES.items()}
_EIT_BY_NAME.update({"undefined": 0, "ia5": 2, "g3facsimile": 3, "mixedmode": 9})
_OID = re.compile(r"\d+(?:\.\d+)+\Z")
_ACTIONS = {"relayed": (RoutingAction.RELAYED, OtherActions.NONE),
            "rerouted": (RoutingAction.REROUTED, OtherActions.NONE),
            "redirected": (None, OtherActions.REDIRECTED),
            "expanded": (None, OtherActions.DL_OPERATION)}


class LoopError(BridgeError):
    """§5.1.5 / H-7: more than five MIXER conversions: treated as a detected loop
    (X.411 non-delivery: unable-to-transfer, loop-detected)."""

    smtp = SMTPReply(code=554, enhanced="5.4.6", text="Routing loop detected (MIXER)")
    x400 = X400Diagnostic(reason=1, diagnostic=3)  # unable-to-transfer, loop-detected


@dataclass(frozen=True, slots=True)
class Trace:
    trace: tuple[TraceElement, ...]
    internal: tuple[TraceElement, ...]


def count_conversions(fields: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """MIXER conversions already made: (X.400 -> 822, 822 -> X.400).

    An X.400 -> 822 gateway adds ``Received: ... (MIXER Conversion ...)`` (§5.3.7); an
    822 -> X.400 one puts ``eit-mixer`` in the converted EITs of its trace element (§5.1.5),
    visible here as ``X400-Received: ... converted (... 1.3.6.1.7.1.3.5) ...``.
    """
    to_822 = to_x400 = 0
    for name, value in fields:
        key = name.strip().lower()
        if key == "received" and _MIXER_COMMENT.search(value):
            to_822 += 1
        elif key == "x400-received" and EIT_MIXER in value:
            to_x400 += 1
    return to_822, to_x400


def check_loop(fields: Sequence[tuple[str, str]]) -> None:
    """Raise :class:`LoopError` when this conversion would make more than five (H-7)."""
    to_822, to_x400 = count_conversions(fields)
    if to_x400 + 1 > MAX_CONVERSIONS or to_822 > MAX_CONVERSIONS:
        raise LoopError(f"message has been through {to_x400} RFC 822 -> X.400 and {to_822} "
                        "X.400 -> RFC 822 MIXER conversions; more than five in one direction "
                        "is a loop (RFC 2156 §5.1.5)")


def domain_gdi(domain: str, ctx: Context) -> GlobalDomainIdentifier:
    """§5.1.6: the GDI for a domain by the MCGAM (longest match), else local information."""
    try:
        entry = ctx.mapper.source.lookup_domain(Table.TABLE2, domain.rstrip("."))
    except BridgeError:
        entry = None
    if entry is not None:
        parts = dict(entry.prefix.parts)
        country, admd = parts.get("C"), parts.get("ADMD")
        if country and admd is not None:
            return GlobalDomainIdentifier(country=country, admd=admd, prmd=parts.get("PRMD"))
    return ctx.domain_id


def address_gdi(address: ORAddress, ctx: Context) -> GlobalDomainIdentifier:
    """C/ADMD/PRMD of an O/R address as a GDI (§4.6.3, §5.1.6), else the gateway's."""
    if address.country and address.admd is not None:
        return GlobalDomainIdentifier(country=address.country, admd=address.admd,
                                      prmd=address.prmd)
    return ctx.domain_id


def mta_name(text: str) -> str | None:
    """§5.1.6: an MTA name truncated to ub-mta-name-length; None if not IA5."""
    text = text.strip().strip('"')
    if not text or not text.isascii() or not text.isprintable():
        return None
    return text[:UB_MTA_NAME]


def _gdi_text(text: str) -> GlobalDomainIdentifier:
    """``global-id`` (std-or over C/ADMD/PRMD, §5.3.3) -> GDI."""
    try:
        addr = ORAddress.parse(text.strip())
    except BridgeError as exc:
        raise Invalid(f"bad global-id: {exc}") from None
    if not addr.country:
        raise Invalid("global-id without C")
    return GlobalDomainIdentifier(country=addr.country, admd=addr.admd or " ", prmd=addr.prmd)


def parse_eits(text: str) -> EncodedInformationTypes:
    """§5.3.3 ``encoded-info``: EIT names or OIDs."""
    builtin: set[int] = set()
    extended: list[str] = []
    for item in text.split(","):
        word = item.strip()
        key = word.lower().replace("-", "").replace(" ", "")
        if key in _EIT_BY_NAME:
            builtin.add(_EIT_BY_NAME[key])
        elif _OID.match(word):
            extended.append(word)
        elif word:
            raise Invalid(f"unknown encoded information type {word!r}")
    return EncodedInformationTypes(builtin=frozenset(builtin), extended=tuple(extended))


def parse_x400_received(value: str) -> TraceElement:
    """§5.3.7 ``x400-trace``: ``by md-and-mta ; [deferred until date ;] [converted (eits) ;]
    [attempted md-or-mta ;] action-list ; arrival-time``."""
    parts = [p.strip() for p in unfold(value).split(";")]
    if len(parts) < 3:
        raise Invalid("not an x400-trace")
    arrival = parse_date(parts[-1])
    head = parts[0]
    if not head.lower().startswith("by "):
        raise Invalid("x400-trace does not start with 'by'")
    head = head[3:].strip()
    mta: str | None = None
    m = re.match(r'mta\s+("(?:[^"\\]|\\.)*"|\S+)\s+in\s+(.*)\Z', head, re.I | re.S)
    if m:
        mta = mta_name(m.group(1).replace('\\"', '"'))
        head = m.group(2)
    domain = _gdi_text(head)
    element = TraceElement(domain=domain, arrival_time=arrival, mta_name=mta)
    routing: RoutingAction | None = None
    others = OtherActions.NONE
    for part in parts[1:-1]:
        low = part.lower()
        if low.startswith("deferred until"):
            element = replace(element, deferred_time=parse_date(part[len("deferred until"):]))
        elif low.startswith("converted"):
            inner = part[len("converted"):].strip()
            if not (inner.startswith("(") and inner.endswith(")")):
                raise Invalid("bad converted (...)")
            element = replace(element, converted_eits=parse_eits(inner[1:-1]))
        elif low.startswith("attempted"):
            rest = part[len("attempted"):].strip()
            if rest.lower().startswith("md "):
                element = replace(element, attempted_domain=_gdi_text(rest[3:]))
            elif rest.lower().startswith("mta "):
                element = replace(element, attempted_mta=mta_name(rest[4:]))
            else:
                raise Invalid("attempted is MD or MTA")
        else:
            for word in (w.strip().lower() for w in part.split(",")):
                if word not in _ACTIONS:
                    raise Invalid(f"unknown trace action {word!r}")
                action, other = _ACTIONS[word]
                routing = action if action is not None else routing
                others |= other
    if mta is None and element.attempted_mta is not None:
        element = replace(element, attempted_mta=None)  # MTA names only in internal trace
    return replace(element, routing_action=routing or RoutingAction.RELAYED,
                   other_actions=others)


def parse_received(value: str) -> tuple[str | None, datetime]:
    """RFC 5321 §4.4 Received: the "by" domain and the date after the last ";"."""
    text = unfold(value)
    head, sep, date = text.rpartition(";")
    if not sep:
        raise Invalid("no ';' before a date-time")
    m = _BY.search(_COMMENT.sub(" ", head))
    return (m.group(1) if m else None), parse_date(date)


class _TraceBuilder:
    def __init__(self) -> None:
        self.trace: list[TraceElement] = []
        self.internal: list[TraceElement] = []

    def external(self, element: TraceElement, *, force: bool = False) -> None:
        """A new TraceInformationElement when the GDI changes (§5.1.6)."""
        if force or not self.trace or self.trace[-1].domain != element.domain:
            self.trace.append(replace(element, mta_name=None, attempted_mta=None))

    def add(self, element: TraceElement) -> None:
        if element.mta_name is not None:
            self.external(element)
            self.internal.append(element)
        else:
            self.external(element, force=True)


def build_trace(fields: Sequence[tuple[str, str]], ctx: Context, defects: list[Defect], *,
                originator: ORAddress, originator_domain: str | None,
                converted: EncodedInformationTypes) -> Trace:
    """The trace and internal trace of the generated message (§5.1.6, §5.1.7)."""
    b = _TraceBuilder()
    names = [name.strip().lower() for name, _ in fields]
    if "x400-received" not in names:
        dates = [v for n, v in fields if n.strip().lower() == "resent-date"]
        dates += [v for n, v in fields if n.strip().lower() == "date"]
        for value in dates[:1]:  # the most recent Resent-Date (the topmost), else Date
            try:
                when = parse_date(value)
            except Invalid:
                defects.append(Defect("trace", "Date: unparseable; no first trace element "
                                      "from it", "RFC 2156 §5.1.6", lossy=False))
                break
            gdi = address_gdi(originator, ctx)
            b.external(TraceElement(domain=gdi, arrival_time=when))
            mta = mta_name(originator_domain) if originator_domain else None
            if mta is not None:
                b.internal.append(TraceElement(domain=gdi, arrival_time=when, mta_name=mta))
    for name, value in reversed(fields):  # bottom-up: chronological (§5.1.6)
        key = name.strip().lower()
        if key not in ("received", "x400-received"):
            continue
        try:
            if key == "x400-received":
                b.add(parse_x400_received(value))
                continue
            by, when = parse_received(value)
        except Invalid as exc:
            defects.append(Defect("trace", f"{name.strip()}: {exc}; not mapped to trace",
                                  "RFC 2156 §5.1.6"))
            continue
        gdi = domain_gdi(by, ctx) if by else ctx.domain_id
        b.external(TraceElement(domain=gdi, arrival_time=when))
        mta = mta_name(by) if by else None
        if mta is not None:
            b.internal.append(TraceElement(domain=gdi, arrival_time=when, mta_name=mta))
    own = TraceElement(domain=ctx.domain_id, arrival_time=ctx.now, converted_eits=converted)
    if b.trace and b.trace[-1].domain == ctx.domain_id:
        b.trace[-1] = own  # one element per MD: this MD's element records the conversion
    else:
        b.trace.append(own)
    own_mta = mta_name(ctx.mta_name) or mta_name(ctx.gateway_domain) or "gateway"
    b.internal.append(replace(own, mta_name=own_mta))
    return Trace(trace=tuple(b.trace), internal=tuple(b.internal))
