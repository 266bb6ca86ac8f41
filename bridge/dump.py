"""``x400bridge dump``: a readable (or JSON) view of BER MTS-APDUs and P22 content.

Shows the envelope (O/R names in RFC 2156 §4.1.3 std-or text), trace, the IPM heading and a
summary of each body part, recursing into forwarded messages and P22 content carried in a
message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bridge.codec import decode_any, decode_content, repairs
from bridge.errors import DecodeError
from bridge.jsonform import enum_name, to_json
from bridge.model import (
    IPM,
    IPN,
    EncodedInformationTypes,
    Envelope,
    Extension,
    Heading,
    Message,
    ORDescriptor,
    ORName,
    Probe,
    Report,
    TraceElement,
    mmhs,
)
from bridge.model.common import BuiltInEIT, Opaque, StandardExtension
from bridge.model.ipm import (
    BilaterallyDefinedBodyPart,
    BodyPart,
    ExtendedBodyPart,
    FileTransferBodyPart,
    G3FacsimileBodyPart,
    GeneralTextBodyPart,
    IA5TextBodyPart,
    IPMIdentifier,
    MessageBodyPart,
    MimeBodyPart,
    OpaqueBodyPart,
    RecipientSpecifier,
    TeletexBodyPart,
    VideotexBodyPart,
)
from bridge.model.report import DeliveryOutcome

#: content types whose content is an X.420 InformationObject: P2, P22 and P772 (STANAG 4406
#: id-mmhs-cont-mm88, military heading extensions in the same IPM structure)
P22_CONTENT_TYPES = (2, 22, mmhs.ID_MMHS_CONT_MM88)
_OPAQUE_NAMES = {2: "voice", 4: "g4-class1", 7: "nationally-defined", 8: "encrypted",
                 11: "mixed-mode"}


def _t(dt: datetime | None) -> str:
    return dt.isoformat() if dt is not None else "-"


def _name(n: ORName | None) -> str:
    if n is None:
        return "-"
    text = str(n)
    if n.directory_name is not None:
        dn = ", ".join("+".join(f"{a.type}={a.text if a.text is not None else '#'}"
                                for a in rdn) for rdn in n.directory_name.rdns)
        text += f" (DN: {dn})"
    return text


def _desc(d: ORDescriptor | None) -> str:
    if d is None:
        return "-"
    parts = []
    if d.free_form_name is not None:
        parts.append(f'"{d.free_form_name}"')
    if d.formal_name is not None:
        parts.append(_name(d.formal_name))
    if d.telephone is not None:
        parts.append(f"(tel {d.telephone})")
    return " ".join(parts) or "(empty)"


def _eits(e: EncodedInformationTypes | None) -> str:
    if e is None:
        return "-"
    names = []
    for n in sorted(e.builtin):
        try:
            names.append(enum_name(BuiltInEIT(n)))
        except ValueError:
            names.append(str(n))
    return ", ".join(names + list(e.extended)) or "(none)"


def _flags(f: Any) -> str:
    names = to_json(f)
    return ", ".join(names) if names else "(none)"


def _ext(e: Extension) -> str:
    kind = enum_name(e.standard) if e.standard else str(e.type)
    crit = f" critical[{_flags(e.criticality)}]" if e.criticality else ""
    value = e.value
    if isinstance(value, Opaque):
        shown = f"<{len(value.ber)} bytes BER>"
    elif isinstance(value, tuple) and e.standard == StandardExtension.INTERNAL_TRACE_INFORMATION:
        shown = f"{len(value)} element(s)"
    else:
        shown = json.dumps(to_json(value), ensure_ascii=False)
    return f"{kind}{crit}: {shown}"


def _trace(t: TraceElement) -> str:
    who = f'mta "{t.mta_name}" in ' if t.mta_name else ""
    extra = []
    if t.attempted_mta:
        extra.append(f'attempted MTA "{t.attempted_mta}"')
    if t.attempted_domain:
        extra.append(f"attempted MD {t.attempted_domain}")
    if t.deferred_time:
        extra.append(f"deferred until {_t(t.deferred_time)}")
    if t.converted_eits:
        extra.append(f"converted ({_eits(t.converted_eits)})")
    if t.other_actions:
        extra.append(_flags(t.other_actions))
    tail = "; ".join(extra)
    return (f"{who}{t.domain} {enum_name(t.routing_action)} at {_t(t.arrival_time)}"
            + (f"; {tail}" if tail else ""))


def _envelope(env: Envelope, probe: bool) -> Iterator[str]:
    yield f"  {'probe' if probe else 'message'}-identifier: {env.identifier}"
    yield f"  originator: {_name(env.originator)}"
    yield f"  content-type: {env.content_type}"
    if env.content_identifier is not None:
        yield f"  content-identifier: {env.content_identifier}"
    if env.original_eits is not None:
        yield f"  original-EITs: {_eits(env.original_eits)}"
    yield f"  priority: {enum_name(env.priority)}"
    yield f"  per-message-indicators: {_flags(env.indicators)}"
    if env.deferred_delivery_time is not None:
        yield f"  deferred-delivery-time: {_t(env.deferred_delivery_time)}"
    if env.content_length is not None:
        yield f"  content-length: {env.content_length}"
    for e in env.extensions:
        if e.standard != StandardExtension.INTERNAL_TRACE_INFORMATION:
            yield f"  extension {_ext(e)}"
    yield f"  recipients ({len(env.recipients)}):"
    for r in env.recipients:
        yield f"    {r.number}. {_name(r.name)}  [{_flags(r.indicators)}]"
        for e in r.extensions:
            yield f"       extension {_ext(e)}"
    yield "  trace:"
    for t in env.trace:
        yield f"    {_trace(t)}"
    for t in env.internal_trace:
        yield f"    internal: {_trace(t)}"


def _ipm_id(i: IPMIdentifier | None) -> str:
    if i is None:
        return "-"
    return f"{i.local}" + (f" * {_name(i.user)}" if i.user is not None else "")


def _heading(h: Heading, indent: str) -> Iterator[str]:
    yield f"{indent}this-IPM: {_ipm_id(h.this_ipm)}"
    if h.originator is not None:
        yield f"{indent}originator: {_desc(h.originator)}"
    for label, seq in (("authorizing-users", h.authorizing_users),
                       ("reply-recipients", h.reply_recipients)):
        if seq is not None:
            yield f"{indent}{label}: " + ("; ".join(_desc(d) for d in seq) or "(empty)")
    for label, specs in (("primary", h.primary), ("copy", h.copy), ("blind-copy", h.blind_copy)):
        if specs is not None:
            yield f"{indent}{label}: " + ("; ".join(_spec(s) for s in specs) or "(empty)")
    if h.replied_to is not None:
        yield f"{indent}replied-to-IPM: {_ipm_id(h.replied_to)}"
    for label, ids in (("obsoleted-IPMs", h.obsoleted), ("related-IPMs", h.related)):
        if ids is not None:
            yield f"{indent}{label}: " + "; ".join(_ipm_id(i) for i in ids)
    if h.subject is not None:
        yield f"{indent}subject: {h.subject}"
    if h.expiry_time is not None:
        yield f"{indent}expiry-time: {_t(h.expiry_time)}"
    if h.reply_time is not None:
        yield f"{indent}reply-time: {_t(h.reply_time)}"
    yield f"{indent}importance: {enum_name(h.importance)}"
    if h.sensitivity is not None:
        yield f"{indent}sensitivity: {enum_name(h.sensitivity)}"
    if h.auto_forwarded:
        yield f"{indent}auto-forwarded: TRUE"
    for e in h.extensions or ():
        value = e.value
        shown = (f"<{len(value.ber)} bytes BER>" if isinstance(value, Opaque)
                 else json.dumps(to_json(value), ensure_ascii=False))
        if e.type in mmhs.NAMES:  # STANAG 4406 A1: name, then the value as RFC 6477 shows it
            if not isinstance(value, Opaque | None):
                shown = str(value)
            yield f"{indent}extension {mmhs.NAMES[e.type]} ({e.type}): {shown}"
            continue
        yield f"{indent}extension {e.type}: {shown}"


def _spec(s: RecipientSpecifier) -> str:
    extra = []
    if s.notification_requests:
        extra.append(_flags(s.notification_requests))
    if s.reply_requested:
        extra.append("reply requested")
    return _desc(s.recipient) + (f" [{', '.join(extra)}]" if extra else "")


def _preview(text: str, limit: int = 60) -> str:
    one = text.replace("\r", "").replace("\n", "⏎")
    return one[:limit] + ("…" if len(one) > limit else "")


def _body_part(i: int, b: BodyPart, indent: str) -> Iterator[str]:
    ext = " (extended)" if getattr(b, "extended", False) else ""
    if isinstance(b, IA5TextBodyPart):
        yield f"{indent}{i}. ia5-text{ext}: {len(b.text)} chars \"{_preview(b.text)}\""
    elif isinstance(b, TeletexBodyPart):
        first = _preview(b.pages[0] if b.pages else "")
        yield f"{indent}{i}. teletex{ext}: {len(b.pages)} page(s) \"{first}\""
    elif isinstance(b, G3FacsimileBodyPart):
        yield f"{indent}{i}. g3-facsimile{ext}: {len(b.pages)} page(s)"
    elif isinstance(b, VideotexBodyPart):
        yield f"{indent}{i}. videotex: {len(b.data)} bytes"
    elif isinstance(b, BilaterallyDefinedBodyPart):
        yield f"{indent}{i}. bilaterally-defined{ext}: {len(b.data)} bytes"
    elif isinstance(b, OpaqueBodyPart):
        yield f"{indent}{i}. {_OPAQUE_NAMES.get(b.tag, b.tag)}: {len(b.value.ber)} bytes BER"
    elif isinstance(b, GeneralTextBodyPart):
        yield (f"{indent}{i}. general-text {list(b.charsets)}: {len(b.text)} chars "
               f"\"{_preview(b.text)}\"")
    elif isinstance(b, FileTransferBodyPart):
        yield (f"{indent}{i}. file-transfer: {b.filename or '(no name)'}, {len(b.data)} bytes"
               + (f", modified {_t(b.modified)}" if b.modified else ""))
    elif isinstance(b, MimeBodyPart):
        yield f"{indent}{i}. mime {b.content_type}: {len(b.data)} bytes"
    elif isinstance(b, ExtendedBodyPart):
        yield f"{indent}{i}. extended {b.data_type}: {len(b.data.ber)} bytes BER"
    elif isinstance(b, MessageBodyPart):
        yield f"{indent}{i}. message{ext} (forwarded IPM, delivered {_t(b.delivery_time)}):"
        yield from _ipm(b.ipm, indent + "     ")


def _ipm(m: IPM, indent: str) -> Iterator[str]:
    yield from _heading(m.heading, indent)
    yield f"{indent}body ({len(m.body)} part(s)):"
    for i, b in enumerate(m.body, 1):
        yield from _body_part(i, b, indent + "  ")


def _ipn(n: IPN, indent: str) -> Iterator[str]:
    yield f"{indent}subject-IPM: {_ipm_id(n.subject_ipm)}"
    yield f"{indent}ipn-originator: {_desc(n.ipn_originator)}"
    if n.ipm_intended_recipient is not None:
        yield f"{indent}ipm-intended-recipient: {_desc(n.ipm_intended_recipient)}"
    yield f"{indent}{type(n.fields).__name__}: " + json.dumps(
        {k: v for k, v in to_json(n.fields).items() if k not in ("type", "returned-ipm")},
        ensure_ascii=False)


def _content(obj: IPM | IPN, indent: str) -> Iterator[str]:
    if isinstance(obj, IPM):
        yield f"{indent[:-2]}IPM"
        yield from _ipm(obj, indent)
    else:
        yield f"{indent[:-2]}IPN"
        yield from _ipn(obj, indent)


def _report(r: Report) -> Iterator[str]:
    yield f"  report-identifier: {r.identifier}"
    yield f"  report-destination: {_name(r.destination)}"
    yield f"  subject-identifier: {r.subject_identifier}"
    for e in r.envelope_extensions + r.extensions:
        if e.standard != StandardExtension.INTERNAL_TRACE_INFORMATION:
            yield f"  extension {_ext(e)}"
    yield f"  recipients ({len(r.recipients)}):"
    for rr in r.recipients:
        if isinstance(rr.outcome, DeliveryOutcome):
            what = f"delivered at {_t(rr.outcome.delivery_time)}"
        else:
            what = f"NOT delivered: reason {rr.outcome.reason}, diagnostic {rr.outcome.diagnostic}"
        yield f"    {rr.number}. {_name(rr.actual_recipient)}: {what}"
        if rr.supplementary_information:
            yield f"       supplementary: {rr.supplementary_information}"
    yield "  trace:"
    for t in r.trace:
        yield f"    {_trace(t)}"
    if r.returned_content is not None:
        yield f"  returned content: {len(r.returned_content)} bytes"


def render(obj: Message | Probe | Report | IPM | IPN) -> str:
    """Readable multi-line view of a decoded object."""
    lines: list[str] = []
    if isinstance(obj, Message):
        lines.append("MTS-APDU message")
        lines.extend(_envelope(obj.envelope, probe=False))
        if obj.envelope.content_type in P22_CONTENT_TYPES:
            try:
                lines.extend(_content(decode_content(obj.content), "    "))
            except DecodeError as exc:
                lines.append(f"  content: {len(obj.content)} bytes, undecodable P22: {exc}")
        else:
            lines.append(f"  content: {len(obj.content)} bytes (not P2/P22)")
    elif isinstance(obj, Probe):
        lines.append("MTS-APDU probe")
        lines.extend(_envelope(obj.envelope, probe=True))
    elif isinstance(obj, Report):
        lines.append("MTS-APDU report")
        lines.extend(_report(obj))
    else:
        lines.append("P22 content")
        lines.extend(_content(obj, "    "))
    return "\n".join(lines)


def as_json(obj: Message | Probe | Report | IPM | IPN) -> dict[str, Any]:
    """JSON view; a message's P22 content is decoded under ``"ipm"``/``"ipn"`` when possible."""
    out: dict[str, Any] = to_json(obj)
    if isinstance(obj, Message) and obj.envelope.content_type in P22_CONTENT_TYPES:
        try:
            content = decode_content(obj.content)
            out["content-decoded"] = to_json(content)
        except DecodeError as exc:
            out["content-error"] = str(exc)
    return out


def dump_file(data: bytes, *, as_json_output: bool = False) -> str:
    """Decode ``data`` (MTS-APDU or P22) and return its text or JSON view."""
    with repairs.collecting() as notes:
        obj = decode_any(data)
        if as_json_output:
            out = as_json(obj)
        else:
            text = render(obj)
    if as_json_output:
        if notes:
            out["repairs"] = notes
        return json.dumps(out, ensure_ascii=False, indent=2)
    return text + "".join(f"\n  repaired: {n}" for n in notes)
