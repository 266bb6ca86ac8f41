"""X.400 -> RFC 822 header fields (RFC 2156 §4.6.2, §4.7.2, §5.3.2–§5.3.7).

Each header field is made by one function in a registry, in the order the fields appear in the
generated header (STYLE §7: registries, not ``if`` chains):

* :data:`HEADING_FIELDS` — IPMS.Heading -> 822 (§5.3.4, X-4);
* :data:`IPMS_EXTENSIONS` — heading extensions by OID (§5.3.4, X-5); the others are listed in
  ``Discarded-X400-IPMS-Extensions:``;
* :data:`ENVELOPE_FIELDS` / :data:`DELIVERY_FIELDS` — the transfer envelope and a forwarded
  message's delivery envelope (§5.3.6, X-6; RFC 2157 §6.5);
* :data:`MTS_EXTENSIONS` / :data:`RECIPIENT_COMMENTS` — MTS extensions (§5.3.6, §4.6.2.2, X-7,
  A-28); unmapped ones are discarded (listed in ``Discarded-X400-MTS-Extensions:``) or, when
  critical for transfer or delivery, make the conversion fail (X-11).

Values are built as unfolded ASCII strings (``\\r\\n `` marks a forced fold point) and folded by
:func:`~bridge.convert.mime_text.fold`.  Text that is not ASCII becomes RFC 2047 encoded-words
(RFC 2156 §3.5, B-4) or, when the policy says so, an ASCII down-mapping with a defect.

The lexical forms (encoded-words, basic types, folding) are in :mod:`bridge.convert.mime_text`,
the conversion state :class:`Run` in :mod:`bridge.convert.mime_run`, the trace fields in
:mod:`bridge.convert.mime_trace`; their names are importable from here as well.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from datetime import datetime

from bridge.codec.p22ext import ID_HEX, ID_HEX_MULTIPART_MESSAGE_V2, ID_RFC_822_FIELD_LIST
from bridge.convert import mmhs, mmhs_auth, seclabel
from bridge.convert.mime_run import Run
from bridge.convert.mime_text import (
    MAX_LINE,
    Header,
    content_type,
    date,
    dot_atom,
    eits,
    encoded_words,
    extension_name,
    fold,
    labelled,
    render,
    word,
)
from bridge.convert.mime_trace import merge_trace, merged_trace, trace_headers, trace_value
from bridge.convert.vocab import (
    AUTOSUBMITTED,
    IMPORTANCE,
    PRIORITY,
    REDIRECTION_REASONS,
    SENSITIVITY,
)
from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.mapping.msgid import ipm_id_to_msgid
from bridge.model.common import (
    Criticality,
    Extension,
    Opaque,
    Priority,
    StandardExtension,
)
from bridge.model.envelope import (
    DeliveryEnvelope,
    DeliveryFlags,
    DLExpansion,
    Envelope,
    PerMessageIndicators,
    Recipient,
    Redirection,
    RedirectionReason,
)
from bridge.model.ipm import Heading, Importance, IPMSExtension
from bridge.model.oraddress import ORAddress, ORName

__all__ = [
    "CRITICAL",
    "DELIVERY_FIELDS",
    "DeliveryRule",
    "ENVELOPE_FIELDS",
    "EnvelopeRule",
    "ExtensionRule",
    "HEADING_FIELDS",
    "Header",
    "HeadingRule",
    "IPMS_EXTENSIONS",
    "MAX_LINE",
    "MTSRule",
    "MTS_EXTENSIONS",
    "RECIPIENT_COMMENTS",
    "Run",
    "UnsupportedCriticalFunction",
    "content_type",
    "date",
    "delivery_headers",
    "dot_atom",
    "eits",
    "encoded_words",
    "envelope_headers",
    "extension_name",
    "fold",
    "heading_extension_headers",
    "heading_headers",
    "labelled",
    "merge_trace",
    "merged_trace",
    "mts_extension_headers",
    "recipient_entry",
    "redirect_comment",
    "redirected_from",
    "render",
    "trace_headers",
    "trace_value",
    "unmapped",
    "word",
]

CRITICAL = Criticality.FOR_TRANSFER | Criticality.FOR_DELIVERY  # §5.3.6: reject if either


class UnsupportedCriticalFunction(BridgeError):
    """§5.3.6 / X-7, X-11: an element marked critical for transfer or delivery that the gateway
    cannot map.  X.411 unable-to-transfer (1) / unsupported-critical-function (18)."""

    smtp = SMTPReply(code=554, enhanced="5.3.3", text="Critical X.400 function not supported")
    x400 = X400Diagnostic(reason=1, diagnostic=18)


# ------------------------------------------------------------------ heading (§5.3.4, X-4)

HeadingRule = Callable[[Run, Heading], "str | None"]


def _from(run: Run, h: Heading) -> str | None:
    if h.authorizing_users and not mmhs_auth.applies(h):  # RFC 7912 §5: From = originator
        return run.descriptors(h.authorizing_users, "authorizing user")
    if h.originator is not None:
        return run.descriptor(h.originator, "originator")
    return run.smtp_originator or None  # §5.3.2: From = the SMTP originator


def _sender(run: Run, h: Heading) -> str | None:
    if h.authorizing_users and h.originator is not None and not mmhs_auth.applies(h):
        return run.descriptor(h.originator, "originator")
    return None


def _msgids(ids: Iterable[object], phrase: bool) -> str | None:
    """In-Reply-To / References / Supersedes.  §4.7.3.5 allows phrases; two phrases in one
    field would run together, so then every identifier is written as a msg-id."""
    items = list(ids)
    out = [ipm_id_to_msgid(i, phrase_allowed=phrase) for i in items]  # type: ignore[arg-type]
    if sum(1 for x in out if not x.startswith("<")) > 1:
        out = [ipm_id_to_msgid(i) for i in items]  # type: ignore[arg-type]
    return " ".join(out) if out else None


def _message_id(run: Run, h: Heading) -> str:
    """§4.7.3.4; for a military heading, RFC 6477 §6 d reversed (padding, O/R part)."""
    if mmhs.is_military(h):
        return mmhs.acp123_msgid(run, h.this_ipm)
    return ipm_id_to_msgid(h.this_ipm)


HEADING_FIELDS: dict[str, HeadingRule] = {
    "From": _from,
    "Sender": _sender,
    mmhs_auth.FIELD: mmhs_auth.authorizing_field,  # RFC 7912 §5
    "Message-ID": _message_id,
    "To": lambda run, h: run.specifiers(h.primary or (), "primary recipient"),
    "Cc": lambda run, h: run.specifiers(h.copy or (), "copy recipient"),
    # §5.3.4: empty address fields are dropped except Bcc, which may be empty
    "Bcc": lambda run, h: None if h.blind_copy is None else (
        run.specifiers(h.blind_copy, "blind copy recipient") or ""),
    "Reply-To": lambda run, h: run.descriptors(h.reply_recipients or (), "reply recipient"),
    "In-Reply-To": lambda run, h: None if h.replied_to is None else _msgids(
        [h.replied_to], True),
    "References": lambda run, h: _msgids(h.related or (), True),
    "Supersedes": lambda run, h: _msgids(h.obsoleted or (), False),
    "Subject": lambda run, h: None if h.subject is None else run.unstructured(
        "Subject", h.subject),
    "Expires": lambda run, h: None if h.expiry_time is None else date(h.expiry_time),
    "Reply-By": lambda run, h: None if h.reply_time is None else date(h.reply_time),
    "Importance": lambda run, h: None if h.importance == Importance.NORMAL else IMPORTANCE[
        h.importance],
    "Sensitivity": lambda run, h: None if h.sensitivity is None else SENSITIVITY[
        h.sensitivity],
    "Autoforwarded": lambda run, h: "TRUE" if h.auto_forwarded else None,
}


def heading_headers(run: Run, heading: Heading) -> list[Header]:
    """The §5.3.4 fields of ``heading`` then its extensions (X-4, X-5); `To: list:;` when
    no recipient field results (§5.3.2, X-2)."""
    out: list[Header] = []
    for name, rule in HEADING_FIELDS.items():
        value = rule(run, heading)
        if value is not None:
            out.append((name, value))
        if name == "Bcc" and not any(n in ("To", "Cc", "Bcc") for n, _ in out):
            out.append(("To", "list:;"))
    out.extend(heading_extension_headers(run, heading.extensions or (), "IPMS"))
    return out


# ------------------------------------------------------- heading extensions (§5.3.4, X-5)

ExtensionRule = Callable[[Run, IPMSExtension], list[Header]]


def _restore_fields(run: Run, ext: IPMSExtension) -> list[Header]:
    """§5.1.2 rfc-822-field: each RFC822Field is a header, restored verbatim."""
    out = []
    for text in ext.value if isinstance(ext.value, tuple) else ():
        m = _FIELD.fullmatch(str(text))
        if m is None:
            run.defect("header-discarded", f"rfc-822-field {text!r} is not an 822 field",
                       "RFC 2156 §5.1.2")
            continue
        out.append((m.group(1), m.group(2).strip()))
    return out


_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+):[ \t]*([\x20-\x7e\t]*)")

IPMS_EXTENSIONS: dict[str, ExtensionRule] = {
    ID_HEX + ".0": lambda run, e: [("Incomplete-Copy", "")],
    ID_HEX + ".1": lambda run, e: [("Content-Language", ", ".join(
        str(v) for v in e.value))] if isinstance(e.value, tuple) and e.value else [],
    ID_HEX + ".2": lambda run, e: [("Autosubmitted", AUTOSUBMITTED[e.value])]
    if isinstance(e.value, int) and e.value in AUTOSUBMITTED else [],
    ID_RFC_822_FIELD_LIST: _restore_fields,
    ID_HEX_MULTIPART_MESSAGE_V2: lambda run, e: [],  # RFC 2157 §6.6: chooses the multipart
    # RFC 6477 §3, §6: STANAG 4406 A1 military heading extensions -> MMHS-* fields
    **{oid: mmhs.to_mime_rule(rule) for oid, rule in mmhs.TO_MIME.items()},
}


def heading_extension_headers(run: Run, exts: Iterable[IPMSExtension], what: str
                              ) -> list[Header]:
    """Known extensions through :data:`IPMS_EXTENSIONS`; the rest are discarded and listed
    in ``Discarded-X400-IPMS-Extensions:`` (§5.3.4, §5.3.5)."""
    out: list[Header] = []
    discarded: list[str] = []
    for ext in exts:
        rule = IPMS_EXTENSIONS.get(ext.type)
        if rule is None:
            discarded.append(ext.type)
            if run.ctx.policy.keep_unmapped:
                keep_unmapped(run, what, ext.type, ext.value, False)
            else:
                run.defect("extension-discarded", f"{what} extension {ext.type}",
                           "RFC 2156 §5.3.4")
        else:
            out.extend(rule(run, ext))
    if discarded:
        out.append(("Discarded-X400-IPMS-Extensions", ", ".join(discarded)))
    out += run.unmapped
    run.unmapped = []
    return out


# ----------------------------------------------------- MTS extensions (§5.3.6, X-7, A-28)

MTSRule = Callable[[Run, Extension], list[Header]]


def _dl_history(run: Run, ext: Extension) -> list[Header]:
    """One DL-Expansion-History: per element, most recent first (§5.3.6)."""
    items = ext.value if isinstance(ext.value, tuple) else ()
    out = []
    for item in reversed(items):
        if isinstance(item, DLExpansion):
            box = run.mailbox(item.name, "DL")
            if box is not None:
                out.append(("DL-Expansion-History", f"{box}; {date(item.time)};"))
    return out


def _return_address(run: Run, ext: Extension) -> list[Header]:
    box = run.mailbox(ext.value, "originator return address") if isinstance(
        ext.value, ORAddress | ORName) else None
    return [("Originator-Return-Address", box)] if box else []


MTS_EXTENSIONS: dict[int, MTSRule] = {
    StandardExtension.CONVERSION_WITH_LOSS_PROHIBITED: lambda run, e: [
        ("Conversion-With-Loss", "Prohibited")] if e.value is True else [],
    StandardExtension.LATEST_DELIVERY_TIME: lambda run, e: [
        ("Latest-Delivery-Time", date(e.value))] if isinstance(e.value, datetime) else [],
    StandardExtension.ORIGINATOR_RETURN_ADDRESS: _return_address,
    StandardExtension.DL_EXPANSION_HISTORY: _dl_history,
    StandardExtension.MESSAGE_SECURITY_LABEL: seclabel.label_headers,  # RFC 7444 SIO-Label
    StandardExtension.INTERNAL_TRACE_INFORMATION: lambda run, e: [],  # in X400-Received
}

#: §4.6.2.2 (A-28): per-recipient services shown as comments; None = default, no comment
RECIPIENT_COMMENTS: dict[int, Callable[[object], str | None]] = {
    StandardExtension.REQUESTED_DELIVERY_METHOD: lambda v: None if not isinstance(v, tuple)
    or v in ((), (0,)) else "Requested Delivery Method: " + " ".join(str(x) for x in v),
    StandardExtension.PHYSICAL_FORWARDING_PROHIBITED: lambda v: (
        "Physical Forwarding Prohibited" if v is True else None),
    StandardExtension.PHYSICAL_FORWARDING_ADDRESS_REQUEST: lambda v: (
        "Physical Forwarding Address Requested" if v is True else None),
    StandardExtension.PHYSICAL_DELIVERY_MODES: lambda v: (
        f"Physical Delivery Modes: {v}" if v else None),
    StandardExtension.REGISTERED_MAIL_TYPE: lambda v: (
        f"Registered Mail Type: {v}" if v else None),
    StandardExtension.RECIPIENT_NUMBER_FOR_ADVICE: lambda v: (
        f"Recipient Number for Advice: {v}" if v else None),
    StandardExtension.PHYSICAL_RENDITION_ATTRIBUTES: lambda v: (
        f"Physical Rendition Attributes: {v}" if v and v != "2.6.5.8.0" else None),
    StandardExtension.PHYSICAL_DELIVERY_REPORT_REQUEST: lambda v: (
        "Physical Delivery Report Requested" if v else None),
    StandardExtension.PROOF_OF_DELIVERY_REQUEST: lambda v: (
        "Proof of Delivery Requested" if v is True else None),
    StandardExtension.REDIRECTION_HISTORY: lambda v: None,  # redirect-comment, see below
}


def unmapped(run: Run, ext: Extension, where: str, discarded: list[str]) -> None:
    """§5.3.6 (X-7, X-11): an extension nothing maps — non-delivery if it is critical for
    transfer or delivery (policy ``reject_critical``), else discarded and listed."""
    name = extension_name(ext)
    critical = bool(ext.criticality & CRITICAL)
    if critical and run.ctx.policy.reject_critical:
        raise UnsupportedCriticalFunction(
            f"{where} extension {name} is critical and cannot be mapped (RFC 2156 §5.3.6)")
    if run.ctx.policy.keep_unmapped:
        keep_unmapped(run, where, name, ext.value, critical)
    elif critical:
        run.defect("extension-discarded", f"critical {where} extension {name} discarded "
                   "(policy)", "RFC 2156 §5.3.6 (X-11)")
    else:
        run.defect("extension-discarded", f"{where} extension {name}", "RFC 2156 §5.3.6")
    if name not in discarded:
        discarded.append(name)


def keep_unmapped(run: Run, where: str, name: str, value: object, critical: bool) -> None:
    """Policy ``keep_unmapped`` (archives): ``X400-Unmapped-Extension: MTS message-security-
    label (20); critical; ber=<base64>`` -- what no field maps, kept where a person sees it."""
    parts = [f"{where} {name}"] + (["critical"] if critical else [])
    if isinstance(value, Opaque):
        parts.append("ber=" + base64.b64encode(value.ber).decode("ascii"))
    elif isinstance(value, bytes):
        parts.append("octets=" + base64.b64encode(value).decode("ascii"))
    elif value is not None:   # ASCII, one line: non-ASCII as \\x.. escapes, controls as spaces
        text = str(value)[:2000].encode("ascii", "backslashreplace").decode("ascii")
        parts.append("value=" + "".join(" " if c < " " or c == "\x7f" else c for c in text))
    run.unmapped.append(("X400-Unmapped-Extension", "; ".join(parts)))
    # nothing is lost of a non-critical one (its value is there to read); a critical one's
    # function is not performed -- that is a loss
    run.defect("extension-kept", f"{'critical ' if critical else ''}{where} extension {name} "
               "kept as X400-Unmapped-Extension (policy)", "RFC 2156 §5.3.6", lossy=critical)


def mts_extension_headers(run: Run, exts: Iterable[Extension], discarded: list[str]
                          ) -> list[Header]:
    out: list[Header] = []
    for ext in exts:
        rule = MTS_EXTENSIONS.get(ext.type) if isinstance(ext.type, int) else None
        if rule is None:
            unmapped(run, ext, "MTS", discarded)
        else:
            out.extend(rule(run, ext))
    return out


def redirect_comment(run: Run, history: Iterable[Redirection]) -> str | None:
    """§4.6.2.2 redirect-comment (A-28), earliest redirection first."""
    parts: list[str] = []
    for i, r in enumerate(history):
        box = run.addr_spec(r.intended_recipient, "redirected recipient") or str(
            r.intended_recipient)
        try:
            reason = REDIRECTION_REASONS[RedirectionReason(r.reason)]
        except ValueError:
            reason = str(r.reason)
        if i == 0:
            parts.append(f"Originally To: {box} Redirected on {date(r.time)} To: {reason}")
        else:
            parts.append(f"{box} Redirected Again on {date(r.time)} To: {reason}")
    return "(" + " ".join(parts).replace("(", "").replace(")", "") + ")" if parts else None


def redirected_from(rcpt: Recipient) -> ORName | None:
    """The originally intended recipient of a redirected recipient (§5.3.5 To:)."""
    for ext in rcpt.extensions:
        if ext.type == StandardExtension.REDIRECTION_HISTORY and isinstance(ext.value, tuple):
            first = ext.value[0] if ext.value else None
            if isinstance(first, Redirection):
                return first.intended_recipient
    return None


def recipient_entry(run: Run, rcpt: Recipient, discarded: list[str], *, check: bool
                    ) -> str | None:
    """One X400-Recipients mailbox with its §4.6.2.2 comments."""
    box = run.mailbox(rcpt.name, "recipient")
    if box is None:
        return None
    comments = []
    for ext in rcpt.extensions:
        if ext.type == StandardExtension.REDIRECTION_HISTORY and isinstance(ext.value, tuple):
            comment = redirect_comment(run, ext.value)
            if comment:
                comments.append(comment)
            continue
        rule = RECIPIENT_COMMENTS.get(ext.type) if isinstance(ext.type, int) else None
        if rule is None:
            if check:
                unmapped(run, ext, "per-recipient", discarded)
            continue
        text = rule(ext.value)
        if text:
            comments.append(run.comment(text))
    return " ".join([box, *comments])


# --------------------------------------------------------- envelope (§5.3.6, §5.3.7, X-6)

EnvelopeRule = Callable[[Run, Envelope, list[str]], "str | None"]


def _recipients(run: Run, env: Envelope, discarded: list[str]) -> str | None:
    """§4.6.2.2 (A-27): X400-Recipients; with several SMTP recipients and disclosure of
    recipients prohibited, the per-recipient information is discarded."""
    responsible = [r for r in env.recipients if r.responsible]
    disclose = bool(env.indicators & PerMessageIndicators.DISCLOSURE_OF_OTHER_RECIPIENTS)
    for r in responsible:  # criticality of what we deliver is checked in any case
        for ext in r.extensions:
            if isinstance(ext.type, str) or (ext.type not in RECIPIENT_COMMENTS):
                unmapped(run, ext, "per-recipient", discarded)
    if not disclose and len(responsible) > 1:
        run.defect("header-discarded", "X400-Recipients: several recipients and disclosure "
                   "prohibited", "RFC 2156 §4.6.2.2 (A-27)")
        return None
    shown = env.recipients if disclose else responsible
    entries = [recipient_entry(run, r, discarded, check=False) for r in shown]
    values = [e for e in entries if e]
    return ", ".join(values) if values else None


ENVELOPE_FIELDS: dict[str, EnvelopeRule] = {
    "X400-Originator": lambda run, env, d: run.mailbox(env.originator, "originator"),
    "X400-Recipients": _recipients,
    "X400-MTS-Identifier": lambda run, env, d: str(env.identifier),
    "Original-Encoded-Information-Types": lambda run, env, d: None if (
        env.original_eits is None) else eits(env.original_eits),
    "X400-Content-Type": lambda run, env, d: content_type(env.content_type),
    "X400-Content-Identifier": lambda run, env, d: None if env.content_identifier is None
    else run.unstructured("X400-Content-Identifier", env.content_identifier),
    "Priority": lambda run, env, d: None if env.priority == Priority.NORMAL else PRIORITY[
        env.priority],
    "Conversion": lambda run, env, d: "Prohibited" if (
        env.indicators & PerMessageIndicators.IMPLICIT_CONVERSION_PROHIBITED) else None,
    "Deferred-Delivery": lambda run, env, d: None if env.deferred_delivery_time is None
    else date(env.deferred_delivery_time),
}


def envelope_headers(run: Run, env: Envelope) -> list[Header]:
    """§5.3.6/§5.3.7 fields of the transfer envelope, extensions, then the discard list."""
    discarded: list[str] = []
    out: list[Header] = []
    for name, rule in ENVELOPE_FIELDS.items():
        value = rule(run, env, discarded)
        if value is not None:
            out.append((name, value))
    out.extend(mts_extension_headers(run, env.extensions, discarded))
    if discarded:
        out.append(("Discarded-X400-MTS-Extensions", ", ".join(discarded)))
    out += run.unmapped
    run.unmapped = []
    return out


DeliveryRule = Callable[[Run, DeliveryEnvelope], "str | None"]


def _delivery_recipients(run: Run, d: DeliveryEnvelope) -> str | None:
    boxes = []
    first = run.mailbox(d.this_recipient, "this recipient")
    if first is not None and d.originally_intended_recipient is not None:
        orig = run.addr_spec(d.originally_intended_recipient, "originally intended recipient")
        first += f" (Originally To: {orig})" if orig else ""
    boxes.append(first)
    boxes.extend(run.mailbox(n, "other recipient") for n in d.other_recipients)
    values = [b for b in boxes if b]
    return ", ".join(values) if values else None


DELIVERY_FIELDS: dict[str, DeliveryRule] = {
    "Date": lambda run, d: date(d.submission_time),
    "X400-Originator": lambda run, d: run.mailbox(d.originator, "originator"),
    "X400-Recipients": _delivery_recipients,
    "Original-Encoded-Information-Types": lambda run, d: None if d.original_eits is None
    else eits(d.original_eits),
    "X400-Content-Type": lambda run, d: content_type(d.content_type),
    "X400-Content-Identifier": lambda run, d: None if d.content_identifier is None
    else run.unstructured("X400-Content-Identifier", d.content_identifier),
    "Priority": lambda run, d: None if d.priority == Priority.NORMAL else PRIORITY[d.priority],
    "Conversion": lambda run, d: "Prohibited" if d.delivery_flags is not None and (
        d.delivery_flags & DeliveryFlags.IMPLICIT_CONVERSION_PROHIBITED) else None,
}


def delivery_headers(run: Run, d: DeliveryEnvelope, delivery_time: datetime | None
                     ) -> list[Header]:
    """RFC 2157 §6.5: a forwarded message's delivery envelope through the §5.3.6 mappings
    and its delivery time as ``Delivery-Date:``.  Its extensions are historical (delivery
    has happened): unmapped ones are discarded and listed whatever their criticality."""
    out: list[Header] = []
    for name, rule in DELIVERY_FIELDS.items():
        value = rule(run, d)
        if value is not None:
            out.append((name, value))
    if delivery_time is not None:
        out.append(("Delivery-Date", date(delivery_time)))
    discarded: list[str] = []
    for ext in d.extensions:
        mts_rule = MTS_EXTENSIONS.get(ext.type) if isinstance(ext.type, int) else None
        if mts_rule is None:
            run.defect("extension-discarded", f"forwarded MTS extension {extension_name(ext)}",
                       "RFC 2157 §6.5")
            discarded.append(extension_name(ext))
        else:
            out.extend(mts_rule(run, ext))
    if discarded:
        out.append(("Discarded-X400-MTS-Extensions", ", ".join(discarded)))
    out += run.unmapped
    run.unmapped = []
    return out
