"""RFC 822/MIME -> X.400: one P1 message per RFC 822 message (RFC 2156 §5.1, RFC 2157).

:func:`mime_to_x400` is the pure entry point: the message octets and the SMTP envelope in,
an :class:`~bridge.convert.result.X400Result` out (MTS-APDU Message: transfer envelope and
the BER of the IPM).  The pieces:

* :mod:`x400_heading` — header fields -> IPM heading (§5.1.3) through a handler registry;
* :mod:`x400_bodies` — MIME -> body parts (RFC 2157);
* :mod:`x400_trace` — Date/Received/X400-Received -> trace, loop control (§5.1.5-§5.1.7);
* here — the MIXER MTS fields (§5.1.7), the EITs and content type (§5.1.3, §5.1.5, App B)
  and the envelope (§4.6.1, §5.1.5, §5.1.6, App A).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message as EmailMessage
from typing import Any

from bridge.codec import encode_content
from bridge.codec.p22ext import ID_ET_FILE_TRANSFER, ID_MIME_BP_DATA
from bridge.convert import mmhs, seclabel
from bridge.convert.context import Context
from bridge.convert.limits import check_limits
from bridge.convert.mdn import MDNError, is_mdn, mdn_to_ipn
from bridge.convert.mimeparse import parse_message
from bridge.convert.mmhs_policy import envelope_priority
from bridge.convert.notary import (
    NEVER,
    RULE_IN,
    SmtpEnvelope,
    defect_sink,
    envid_to_correlator,
    format_notify,
    notify_to_indicators,
    orcpt_to_redirection,
    redirection_extension,
    ret_to_content_return,
)
from bridge.convert.priority import PolicyName, to_precedence, to_x400_priority
from bridge.convert.result import Defect, X400Result
from bridge.convert.vocab import EIT_MIXER, PRIORITY, reverse
from bridge.convert.x400_bodies import ID_CS_EIT_AUTHORITY, PARSE_POLICY, BodyConverter
from bridge.convert.x400_heading import (
    COMMENT,
    UB_CONTENT_CORRELATOR,
    UB_CONTENT_ID,
    BoundsError,
    Handler,
    HeadingBuilder,
    Invalid,
    MtsFields,
    decode_raw,
    ia5_field,
    parse_date,
    printable_content_id,
    unfold,
)
from bridge.convert.x400_trace import (
    LoopError,
    address_gdi,
    build_trace,
    check_loop,
    parse_eits,
)
from bridge.errors import BridgeError, EncodeError, SMTPReply, X400Diagnostic
from bridge.mapping.address import Role
from bridge.mapping.psencode import ps_encode
from bridge.memo import Memo
from bridge.model.apdu import Message
from bridge.model.common import (
    BuiltInEIT,
    Criticality,
    EncodedInformationTypes,
    Extension,
    MTSIdentifier,
    Priority,
    StandardExtension,
)
from bridge.model.envelope import (
    DLExpansion,
    Envelope,
    PerMessageIndicators,
    Recipient,
    internal_trace_extension,
)
from bridge.model.ipm import (
    IPM,
    BilaterallyDefinedBodyPart,
    BodyPart,
    FileTransferBodyPart,
    GeneralTextBodyPart,
    IA5TextBodyPart,
    MessageBodyPart,
    MimeBodyPart,
    TeletexBodyPart,
)
from bridge.model.mmhs import ID_MMHS_CONT_MM88
from bridge.model.oraddress import ORName

__all__ = ["BoundsError", "ConversionError", "LoopError", "mime_to_x400"]

UB_LOCAL_ID = 32  # X.411 ub-local-id-length
P2, P22 = 2, 22  # X.411 built-in content types (§5.1.3, H-2)
_PRIORITY = reverse({int(k): v for k, v in PRIORITY.items()})
_CORRELATOR_FIELDS = ("subject", "message-id", "date", "to")  # §5.1.5, in this order


class _MemoHeaderRegistry(HeaderRegistry):
    """``email.headerregistry``'s registry, memoising the parse of a raw field value.

    ``policy.default`` builds a header class and runs the header grammar on every ``get``
    of a field; a conversion asks for Content-Type & co. many times, and most messages carry
    the same few values.  Parsed headers are immutable (``str`` subclasses with read-only
    attributes), so one object can serve every equal (name, value).  Only plain ``str``
    values (what the parser reads) are memoised, at most ``limit`` of them.
    """

    def __init__(self, limit: int = 4096) -> None:
        super().__init__()
        self._parsed: Memo[tuple[str, str], BaseHeader] = Memo(limit)

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if type(value) is not str:
            header: BaseHeader = super().__call__(name, value)
            return header
        key = (name, value)
        header = self._parsed.get(key)  # type: ignore[assignment]
        if header is None:
            header = self._parsed.keep(key, super().__call__(name, value))
        return header


#: PARSE_POLICY with the memoising header registry (same parse results, computed once)
_POLICY = PARSE_POLICY.clone(header_factory=_MemoHeaderRegistry())


class ConversionError(BridgeError):
    """An RFC 822 message that cannot be converted (no recipients, unreadable octets, a model
    the X.400 encoding rejects)."""

    smtp = SMTPReply(code=554, enhanced="5.6.0", text="Message cannot be converted to X.400")
    x400 = X400Diagnostic(reason=2, diagnostic=None)  # conversion-not-performed


# ------------------------------------------------------------------------------ MTS fields
# §5.1.7 / App J: MIXER fields that map back to the MTS/MTA envelope.

def _priority(b: HeadingBuilder, name: str, value: str) -> None:
    word = COMMENT.sub("", unfold(value)).strip().lower()
    if word not in _PRIORITY:
        raise Invalid("unknown Priority value")  # e.g. the RFC 2076 numeric forms
    b.mts.priority = Priority(_PRIORITY[word])


def _prohibition(attr: str) -> Handler:
    def handle(b: HeadingBuilder, name: str, value: str) -> None:
        word = COMMENT.sub("", unfold(value)).strip().lower()
        if word not in ("prohibited", "allowed"):
            raise Invalid(f"{name} is Prohibited or Allowed")
        setattr(b.mts, attr, word == "prohibited")
    return handle


def _mts_date(attr: str) -> Handler:
    def handle(b: HeadingBuilder, name: str, value: str) -> None:
        setattr(b.mts, attr, parse_date(value))
    return handle


def _content_identifier(b: HeadingBuilder, name: str, value: str) -> None:
    text = unfold(value).strip()
    if not text or len(text) > UB_CONTENT_ID or ps_encode(text) != text:
        raise Invalid("not a PrintableString of at most 16 characters")
    b.mts.content_identifier = text


def _originator_return_address(b: HeadingBuilder, name: str, value: str) -> None:
    members = [d for _, ds in b.addresses(value) for d in ds if d.formal_name is not None]
    if len(members) != 1 or members[0].formal_name is None:
        raise Invalid("not one mailbox")
    b.mts.originator_return_address = members[0].formal_name.address


def _dl_expansion_history(b: HeadingBuilder, name: str, value: str) -> None:
    """§5.3.6 ``DL-Expansion-History: mailbox ; date-time ;``."""
    parts = unfold(decode_raw(value)).split(";")
    if len(parts) < 2 or any(p.strip() for p in parts[2:]):
        raise Invalid("not mailbox ; date-time ;")
    members = [d for _, ds in b.addresses(parts[0]) for d in ds if d.formal_name is not None]
    if len(members) != 1 or members[0].formal_name is None:
        raise Invalid("not one mailbox")
    b.mts.dl_history.append(DLExpansion(name=members[0].formal_name,
                                        time=parse_date(parts[1])))


def _original_eits(b: HeadingBuilder, name: str, value: str) -> None:
    """§5.1.7 (H-11): ``Original-Encoded-Information-Types:`` (§5.3.6, §5.3.3 encoded-info)
    -> original-encoded-information-types, to which §5.1.5 adds the generated body parts'
    EITs (see :func:`original_eits`)."""
    if b.mts.original_eits is not None:
        raise Invalid("second Original-Encoded-Information-Types field")
    b.mts.original_eits = parse_eits(COMMENT.sub("", unfold(value)))


#: field name (lower case) -> handler, added to x400_heading.HEADER_HANDLERS at top level
MTS_HANDLERS: dict[str, Handler] = {
    "priority": _priority,
    "conversion": _prohibition("conversion_prohibited"),
    "conversion-with-loss": _prohibition("conversion_with_loss_prohibited"),
    "deferred-delivery": _mts_date("deferred_delivery"),
    "latest-delivery-time": _mts_date("latest_delivery"),
    "x400-content-identifier": _content_identifier,
    "content-identifier": _content_identifier,  # RFC 1327 [L]
    "originator-return-address": _originator_return_address,
    "dl-expansion-history": _dl_expansion_history,
    "original-encoded-information-types": _original_eits,
    "sio-label": seclabel.sio_label_field,   # RFC 7444 -> message-security-label
}


#: App B (D-1): MIXER fields whose X.400 element is an X.411(88) per-message extension; for
#: an X.400(84) peer they travel in the ``RFC-822-Headers:`` body part instead
MTS_88_ONLY = frozenset({"conversion-with-loss", "latest-delivery-time",
                         "originator-return-address", "dl-expansion-history", "sio-label"})


def _app_b(handler: Handler) -> Handler:
    """App B (D-1): map the field as usual and keep it for the ``RFC-822-Headers:`` body
    part, which "also carries headers that could map to 88-only elements"."""
    def handle(b: HeadingBuilder, name: str, value: str) -> None:
        handler(b, name, value)
        b.mapped_88.append(ia5_field(name, value, b.defects))
    return handle


def mts_handlers(ctx: Context) -> dict[str, Handler]:
    """:data:`MTS_HANDLERS`, the X.411(88)-only ones wrapped by :func:`_app_b` for an
    X.400(84) peer (policy ``x400_1984_peer``).  A field that does not parse is kept in
    rfc-822-field, which the downgrade puts in the same body part."""
    if not ctx.policy.x400_1984_peer:
        return MTS_HANDLERS
    return {k: _app_b(h) if k in MTS_88_ONLY else h for k, h in MTS_HANDLERS.items()}


# ------------------------------------------------------------------------------ EITs, type

def eits(body: tuple[BodyPart, ...]) -> EncodedInformationTypes:
    """RFC 2156 §5.1.5: the EITs of every generated body part, nested ones included, plus
    eit-mixer (H-6); RFC 2157 §3.1.2 / §6.2 EITs for BP15 and GeneralText."""
    builtin: set[int] = set()
    extended: set[str] = {EIT_MIXER}

    def walk(parts: tuple[BodyPart, ...]) -> None:
        for b in parts:
            if isinstance(b, IA5TextBodyPart):
                builtin.add(BuiltInEIT.IA5_TEXT)
            elif isinstance(b, TeletexBodyPart):
                builtin.add(BuiltInEIT.TELETEX)
            elif isinstance(b, BilaterallyDefinedBodyPart):
                builtin.add(BuiltInEIT.UNDEFINED)
            elif isinstance(b, GeneralTextBodyPart):
                extended.update(f"{ID_CS_EIT_AUTHORITY}.{r}" for r in b.charsets)
            elif isinstance(b, FileTransferBodyPart):
                extended.add(ID_ET_FILE_TRANSFER)
            elif isinstance(b, MimeBodyPart):
                extended.add(ID_MIME_BP_DATA)
            elif isinstance(b, MessageBodyPart):
                walk(b.ipm.body)

    walk(body)
    return EncodedInformationTypes(builtin=frozenset(builtin), extended=tuple(sorted(extended)))


def original_eits(converted: EncodedInformationTypes,
                  given: EncodedInformationTypes | None) -> EncodedInformationTypes:
    """§5.1.5: original-encoded-information-types "will include all of the values used in
    the trace" (``converted``); with an ``Original-Encoded-Information-Types:`` field
    (§5.1.7, H-11) its EITs come first and the converted ones are added."""
    if given is None:
        return converted
    return EncodedInformationTypes(
        builtin=given.builtin | converted.builtin,
        extended=tuple(dict.fromkeys(given.extended + converted.extended)))


def uses_1988(ipm: IPM) -> bool:
    """H-2: does the IPM use X.400(88) features (heading extensions, extended body parts)?"""
    if ipm.heading.extensions:
        return True
    for b in ipm.body:
        if isinstance(b, MessageBodyPart):
            if b.extended or uses_1988(b.ipm):
                return True
        elif not isinstance(b, IA5TextBodyPart | TeletexBodyPart | BilaterallyDefinedBodyPart):
            return True
        elif getattr(b, "extended", False):
            return True
    return False


def _parser_defects(msg: EmailMessage) -> list[Defect]:
    """The email parser's defects (RFC 5322 / RFC 2045 violations), as our defects."""
    seen: dict[str, Defect] = {}
    for part in msg.walk():
        for d in part.defects:
            text = f"{type(d).__name__}: {d}" if str(d) else type(d).__name__
            seen.setdefault(text, Defect("mime-defect", text, "RFC 5322 / RFC 2045",
                                         lossy=False))
    return list(seen.values())


def _bare(path: str) -> str:
    path = path.strip()
    return path[1:-1].strip() if path.startswith("<") and path.endswith(">") else path


def _mts_identifier(fields: Sequence[tuple[str, str]], builder: HeadingBuilder, ctx: Context,
                    id_base: str) -> MTSIdentifier:
    """§5.1.6 / §4.6.3 (A-30, H-9): from Message-ID when no Resent-* field is present: the
    GDI of the msg-id mapped as an address, the msg-id with "<>" truncated to 32; else one
    generated from the conversion time and the message digest."""
    resent = any(n.strip().lower().startswith("resent-") for n, _ in fields)
    ids = [unfold(v).strip() for n, v in fields if n.strip().lower() == "message-id"]
    if not resent and len(ids) == 1 and ids[0].startswith("<") and ids[0].endswith(">") and (
            ids[0].isascii() and ids[0].isprintable() and "@" in ids[0]):
        msg_id = ids[0]
        try:
            mapped = ctx.to_x400(msg_id[1:-1], Role.HEADER)
            gdi = address_gdi(mapped.address, ctx)
        except BridgeError:
            gdi = ctx.domain_id
        return MTSIdentifier(domain=gdi, local=msg_id[:UB_LOCAL_ID])
    return MTSIdentifier(domain=ctx.domain_id, local=id_base[:UB_LOCAL_ID])


def _correlator(fields: Sequence[tuple[str, str]]) -> str | None:
    """§5.1.5 (H-8): Subject:, Message-ID:, Date:, To: (those present, in this order), one
    per line, IA5, truncated to 512."""
    lines = []
    for wanted in _CORRELATOR_FIELDS:
        for name, value in fields:
            if name.strip().lower() == wanted:
                text = unfold(value).strip()
                if not text.isascii():
                    text = "".join(c if c.isascii() else "?" for c in text)
                lines.append(f"{name.strip()}: {text}")
                break
    if not lines:
        return None
    return "\r\n".join(lines)[:UB_CONTENT_CORRELATOR]


def _mts_extensions(mts: MtsFields, correlator: str | None, ctx: Context,
                    defects: list[Defect], internal: tuple[object, ...]) -> tuple[Extension, ...]:
    """X.411 per-message extensions: content-correlator (§5.1.5), internal trace (§5.1.6),
    and the MIXER MTS fields mapped back (§5.1.7)."""
    exts: list[Extension] = []
    if correlator is not None:
        exts.append(Extension(type=StandardExtension.CONTENT_CORRELATOR, value=correlator))
    if mts.conversion_with_loss_prohibited:
        exts.append(Extension(type=StandardExtension.CONVERSION_WITH_LOSS_PROHIBITED,
                              value=True, criticality=Criticality.FOR_DELIVERY))
    if mts.latest_delivery is not None:
        exts.append(Extension(type=StandardExtension.LATEST_DELIVERY_TIME,
                              value=mts.latest_delivery, criticality=Criticality.FOR_DELIVERY))
    if mts.originator_return_address is not None:
        exts.append(Extension(type=StandardExtension.ORIGINATOR_RETURN_ADDRESS,
                              value=mts.originator_return_address))
    if mts.dl_history:  # 822 lists the most recent first; X.411 is chronological
        exts.append(Extension(type=StandardExtension.DL_EXPANSION_HISTORY,
                              value=tuple(reversed(mts.dl_history))))
    if mts.security_label is not None:
        exts.append(seclabel.label_extension(mts.security_label))
    if ctx.policy.x400_1984_peer:
        if exts:  # the MIXER fields behind them are in the RFC-822-Headers: part (D-1)
            names = ", ".join(StandardExtension(int(e.type)).name.lower().replace("_", "-")
                              for e in exts)
            defects.append(Defect("downgrade", f"MTS extensions not sent to an X.400(84) "
                                  f"peer: {names} (their header fields are in the "
                                  "RFC-822-Headers: body part)", "RFC 2156 App B",
                                  lossy=False))
        return ()
    return tuple(exts) + (internal_trace_extension(internal),)  # type: ignore[arg-type]


def mime_to_x400(data: bytes, mail_from: str, rcpt_to: Sequence[str],
                 ctx: Context, *, smtp: SmtpEnvelope | None = None) -> X400Result:
    """Convert an RFC 5322/MIME message with its SMTP envelope to an X.400 P1 message
    (RFC 2156 §5.1, RFC 2157).

    ``smtp`` carries the RFC 3461 parameters received with the envelope (``mail_from`` and
    ``rcpt_to`` still name the originator and recipients); when given, RFC 2156 App A §3.1
    applies (R-11): NOTIFY -> per-recipient-indicators, ORCPT -> redirection history, ENVID
    -> content-correlator (see :mod:`bridge.convert.notary`).

    Raises :class:`LoopError` (H-7), :class:`~bridge.errors.MappingError` for an SMTP
    address without an X.400 form, :class:`BoundsError` under a no-truncation policy, and
    :class:`ConversionError` for anything else that cannot be converted.
    """
    if not rcpt_to:
        raise ConversionError("no SMTP recipients")
    check_limits(data, ctx.limits)        # before any parser: MessageTooComplex
    mdn_note: Defect | None = None
    if ctx.policy.ipn_as_mdn and is_mdn(data):  # N-5: an MDN becomes an IPN
        try:
            return mdn_to_ipn(data, mail_from, rcpt_to, ctx)
        except MDNError as exc:  # N-3: then it is converted as an ordinary message
            mdn_note = Defect("mdn", f"MDN converted as a message: {exc}",
                              "RFC 2156 §4.7.2 (N-3)", lossy=False)
    try:
        msg = parse_message(data, _POLICY)
    except MemoryError:  # never degrade into a partial result: fail the conversion
        raise
    except Exception as exc:  # the parser records defects; anything raised is a bug there
        raise ConversionError("message cannot be parsed (damaged MIME structure)") from exc
    defects = _parser_defects(msg) + ([mdn_note] if mdn_note else [])
    fields = [(str(k), str(v)) for k, v in msg.raw_items()]
    check_loop(fields)
    id_base = f"{ctx.now:%Y%m%d%H%M%S}.{hashlib.sha256(data).hexdigest()[:12]}"
    converter = BodyConverter(ctx=ctx, defects=defects, id_base=id_base,
                              mts_handlers=mts_handlers(ctx))
    try:
        ipm, builder = converter.ipm(msg, data, nested=False)
    except RecursionError as exc:
        raise ConversionError("message structure nested too deeply") from exc
    military = bool(builder.mmhs)  # RFC 6477 §6: any MMHS-* field -> P772, rules a-d
    mt_priority = smtp.mt_priority if smtp is not None else None   # RFC 6710 §4.5
    if military:
        ipm = mmhs.p772_ipm(ipm, fields, ctx, defects, precedence=to_precedence(mt_priority)
                            if mt_priority is not None and smtp is not None
                            and smtp.priority_policy == "STANAG4406" else None)

    # §4.6.1 / A-24: originator from MAIL FROM; the null reverse-path (a notification) has no
    # X.400 equivalent: the gateway's postmaster stands in, and asks for no reports (App A
    # NOTIFY=NEVER semantics) so that no report can loop back to it.
    null_path = _bare(mail_from) == ""
    if null_path:
        defects.append(Defect("originator", "null reverse-path: originator is the gateway "
                              "postmaster", "RFC 2156 §4.6.1", lossy=False))
    originator_822 = ctx.postmaster if null_path else _bare(mail_from)
    originator = ctx.to_x400(originator_822, Role.SMTP_ORIGINATOR).address
    recipients = _recipients(rcpt_to, ctx, smtp, null_path, defects)

    sink = defect_sink(defects)
    converted = eits(ipm.body)
    domain = originator_822.rpartition("@")[2] or None
    trace = build_trace(fields, ctx, defects, originator=originator, originator_domain=domain,
                        converted=converted)
    mts = builder.mts
    content_id = mts.content_identifier or (
        printable_content_id(builder.subject) if builder.subject else None)
    per_message = PerMessageIndicators.ALTERNATE_RECIPIENT_ALLOWED  # §5.1.5, H-5
    if smtp is None or ret_to_content_return(smtp.ret, sink):  # §5.2, H-12 (R-13 e)
        per_message |= PerMessageIndicators.CONTENT_RETURN_REQUEST
    if mts.conversion_prohibited:
        per_message |= PerMessageIndicators.IMPLICIT_CONVERSION_PROHIBITED
    envelope = Envelope(
        identifier=_mts_identifier(fields, builder, ctx, id_base),
        originator=ORName(address=originator),
        content_type=ID_MMHS_CONT_MM88 if military else P22 if uses_1988(ipm) else P2,
        recipients=recipients,
        trace=trace.trace,
        original_eits=original_eits(converted, mts.original_eits),
        content_identifier=content_id,
        priority=(to_x400_priority(mt_priority, _policy(smtp)) if mt_priority is not None
                  else envelope_priority(builder.mmhs, mts.priority, defects) if military
                  else mts.priority or Priority.NORMAL),
        indicators=per_message,
        deferred_delivery_time=mts.deferred_delivery,
        extensions=_mts_extensions(mts, _envid_correlator(smtp, defects) or _correlator(fields),
                                   ctx, defects, trace.internal),
    )
    seclabel.check_policy(envelope.extensions, ctx.policy.security_labels, "the gateway",
                          unreadable=mts.security_label_error)
    return X400Result(apdu=Message(envelope=envelope, content=_encode(ipm)),
                      defects=tuple(defects))


def _policy(smtp: SmtpEnvelope | None) -> PolicyName:
    """The RFC 6710 policy the MT-PRIORITY was given under (MIXER unless STANAG4406)."""
    return "STANAG4406" if smtp is not None and smtp.priority_policy == "STANAG4406" \
        else "MIXER"


def _recipients(rcpt_to: Sequence[str], ctx: Context, smtp: SmtpEnvelope | None,
                null_path: bool, defects: list[Defect]) -> tuple[Recipient, ...]:
    """§4.6.1 (A-24, A-25) per-recipient fields: responsibility, report requests from NOTIFY
    (App A §3.1, R-11; no NOTIFY = non-delivery reports, the RFC 3461 §4.1 default; a null
    reverse-path asks for none, so that no report can loop back), the ORCPT as redirection
    history (App A §3.1); explicit-conversion omitted."""
    sink = defect_sink(defects)
    out = []
    for i, r in enumerate(rcpt_to, start=1):
        name = ORName(address=ctx.to_x400(_bare(r), Role.SMTP_RECIPIENT).address)
        given = smtp.recipient(r) if smtp is not None else None
        notify = given.notify if given is not None else None
        if null_path and notify is not None and NEVER not in notify:
            sink("notary", f"NOTIFY={format_notify(notify)} for {_bare(r)} not mapped: null "
                 "reverse-path, no reports requested", "RFC 5321 §4.5.5; " + RULE_IN)
        extensions: tuple[Extension, ...] = ()
        if given is not None and given.orcpt is not None:
            redirection = orcpt_to_redirection(given.orcpt, name, ctx.mapper, ctx.now, sink)
            if redirection is not None and ctx.policy.x400_1984_peer:
                sink("downgrade", f"redirection history (ORCPT) of {_bare(r)} not sent to "
                     "an X.400(84) peer", "RFC 2156 App B")
            elif redirection is not None:
                extensions = (redirection_extension((redirection,)),)
        out.append(Recipient(name=name, number=i, rfc822=_bare(r), extensions=extensions,
                             indicators=notify_to_indicators(notify, null_path=null_path)))
    return tuple(out)


def _envid_correlator(smtp: SmtpEnvelope | None, defects: list[Defect]) -> str | None:
    """App A §3.1 ENVID (R-11): the content-correlator instead of the §5.1.5 one (H-8), so
    that a report brings the ENVID back (§5.3.8 Original-Envelope-Id)."""
    if smtp is None or smtp.envid is None:
        return None
    defects.append(Defect("notary", "content-correlator carries the ENVID, not the §5.1.5 "
                          "heading summary", RULE_IN, lossy=False))
    return envid_to_correlator(smtp.envid)


def _encode(ipm: IPM) -> bytes:
    try:
        return encode_content(ipm)
    except EncodeError as exc:
        raise ConversionError(f"the converted IPM cannot be encoded: {exc}") from exc
