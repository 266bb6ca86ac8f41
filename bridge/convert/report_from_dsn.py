"""Delivery status notification -> X.400 delivery report (RFC 2156 §5.1.8; RFC 3464).

:func:`dsn_to_report` -- a DSN becomes an MTA.Report (§5.1.8, R-7..R-10): failed/delivered
recipients are reported, delayed/relayed/expanded ones go to an IPM; the DSN's headers and
fields ride in the ``dsn-header-list`` / ``dsn-field-list`` extensions and the whole DSN is
the returned content.  Status codes come from :mod:`bridge.convert.dsn_status` (the tables in
``mappings/``).  The message conversion of ``to_x400`` is used when present (imported
lazily); without it the returned content and the R-7 IPM fall back to the minimal form
described at :func:`_minimal_ipm`, recorded as defects.

An ``SIO-Label`` in the DSN's header whose machine label is an X.411 or ESS label (RFC 7444
§3) becomes the report's message-security-label, in the report transfer envelope (X.411
§12.2.1.2, ReportTransferEnvelopeExtensions), its octets unchanged -- the rules and the
gateway's label policy are a message's (MIL-5, :func:`bridge.convert.seclabel.header_label`).
"""

from __future__ import annotations

import base64
import copy
import email
import re
from collections.abc import Sequence
from datetime import datetime
from email import policy as email_policy
from email.message import Message as EmailMessage
from email.mime.text import MIMEText
from email.utils import parseaddr, parsedate_to_datetime

from bridge.codec import asn1, encode_content
from bridge.convert.context import Context
from bridge.convert.dsn_status import (
    Status,
    StatusTables,
    X400Code,
    parse_x400_diagnostic,
    status_tables,
)
from bridge.convert.limits import check_limits
from bridge.convert.report_common import (
    NOT_PRINTABLE,
    UB_SUPPLEMENTARY_INFO,
    ascii_only,
    digest,
    local_id,
)
from bridge.convert.result import Defect, X400Result
from bridge.convert.seclabel import SecurityLabelError, header_label
from bridge.convert.vocab import EIT_MIXER, ID_DSN_FIELD_LIST, ID_DSN_HEADER_LIST
from bridge.convert.x400_trace import Trace, build_trace
from bridge.errors import BridgeError, SMTPReply
from bridge.mapping.address import Role
from bridge.model import (
    IPM,
    DeliveryOutcome,
    EncodedInformationTypes,
    Envelope,
    Extension,
    GlobalDomainIdentifier,
    Heading,
    IA5TextBodyPart,
    Message,
    MTSIdentifier,
    NonDeliveryOutcome,
    Opaque,
    ORAddress,
    ORName,
    PerRecipientIndicators,
    Recipient,
    Report,
    ReportedRecipient,
    TraceElement,
)
from bridge.model.common import utc
from bridge.model.envelope import internal_trace_extension
from bridge.model.ipm import IPMIdentifier
from bridge.model.report import TypeOfMTSUser

__all__ = ["NotADSNError", "dsn_to_report"]

_RULE_DSN = "RFC 2156 §5.1.8"
_UB_SUBJECT = 128  # X.420 ub-subject-field
_MTSID_PREFIX = "X400-MTS-Identifier: "  # App A §3.2


class NotADSNError(BridgeError):
    """The input is not a DSN (no ``message/delivery-status`` part, RFC 3464 §2)."""

    smtp = SMTPReply(code=554, enhanced="5.6.0", text="Not a delivery status notification")


# ============================================================== DSN -> X.400 report (§5.1.8)


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", str(value)).strip()


def _field_list(fields: Sequence[tuple[str, str]], defects: list[Defect]) -> Opaque:
    """R-8: RFC822FieldList (App D): one IA5String ``Name: value`` per field."""
    values = [ascii_only(f"{n}: {_unfold(v)}", defects, n, "RFC 2156 App D IA5String")
              for n, v in fields]
    return Opaque(ber=asn1.encode("RFC822FieldList", values))


def _mts_id(text: str) -> MTSIdentifier | None:
    """§5.3.6 mts-msg-id = "[" global-id ";" *text "]" (an ``X400-MTS-Identifier: `` prefix,
    App A §3.2, is accepted)."""
    text = _unfold(text)
    if text.startswith(_MTSID_PREFIX):
        text = text[len(_MTSID_PREFIX):].strip()
    m = re.fullmatch(r"\[([^;]*);(.*)\]", text, re.S)
    if m is None:
        return None
    try:
        a = ORAddress.parse(m[1])
    except BridgeError:
        return None
    if a.country is None or a.admd is None or not m[2]:
        return None
    return MTSIdentifier(domain=GlobalDomainIdentifier(country=a.country, admd=a.admd,
                                                       prmd=a.prmd), local=m[2])

def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return utc(parsedate_to_datetime(_unfold(text)))
    except (TypeError, ValueError):
        return None


def _address(value: str, ctx: Context) -> ORName:
    """A DSN address field ``type; address`` (RFC 3464 §2.3.1) as an O/R name."""
    kind, _, addr = _unfold(value).partition(";")
    addr = re.sub(r"\s*\([^()]*\)\s*\Z", "", addr.strip())  # the DN comment of §5.3.8.1
    if kind.strip().lower() == "x400":
        return ORName(address=ORAddress.parse(addr))
    return ORName(address=ctx.to_x400(addr, Role.SMTP_RECIPIENT).address)


_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")  # RFC 6533 §6


def _dsn_part(msg: EmailMessage) -> EmailMessage | None:
    for part in msg.walk():
        if part.get_content_type() in _DSN_TYPES:
            return part
    return None


def dsn_to_report(data: bytes, mail_from: str, rcpt_to: Sequence[str],
                  ctx: Context) -> X400Result:
    """RFC 2156 §5.1.8: an RFC 3464 DSN as an X.400 MTA.Report (R-7..R-10).

    Recipients whose Action is ``failed`` become non-delivery, ``delivered`` delivery; the
    others (``delayed``, ``relayed``, ``expanded``) make the whole DSN an IPM (§5.1.8.3),
    returned in ``extra`` -- or as the result itself when no recipient is reported.
    """
    check_limits(data, ctx.limits)        # before any parser: MessageTooComplex
    defects: list[Defect] = []
    tables = status_tables()
    msg = email.message_from_bytes(data, policy=email_policy.compat32)
    part = _dsn_part(msg)
    payload = part.get_payload() if part is not None else None
    if not isinstance(payload, list) or not payload:
        raise NotADSNError("no message/delivery-status part (RFC 3464 §2)")
    blocks = [b for b in payload if isinstance(b, EmailMessage)]
    per_msg = blocks[0]
    trace = _trace(msg, ctx, defects)
    header = [(n, _unfold(v)) for n, v in msg.items()  # all but trace
              if n.strip().lower() not in ("received", "x400-received")]
    if len(rcpt_to) != 1:
        if not rcpt_to:
            raise NotADSNError("a DSN has a single SMTP recipient (§5.1.8.3); none given")
        defects.append(Defect("recipient", f"{len(rcpt_to)} SMTP recipients; the report "
                              "goes to the first", _RULE_DSN + ".3"))
    destination = ORName(address=ctx.to_x400(rcpt_to[0], Role.SMTP_RECIPIENT).address)

    # identifiers (§5.1.8.3; R-10: our own X400-MTS-Identifier comes back exactly)
    identifier = _mts_id(msg.get("X400-MTS-Identifier", "")) or MTSIdentifier(
        domain=ctx.domain_id, local=local_id(str(msg.get("Message-ID", "")).strip("<> \t")
                                              or "dsn-" + digest(data)[:16]))
    subject_id = (_mts_id(per_msg.get("Original-Envelope-Id", ""))
                  or _mts_id(per_msg.get("X400-Subject-Submission-Identifier", "")))
    if subject_id is None:
        subject_id = MTSIdentifier(domain=ctx.domain_id, local="dsn-" + digest(data)[:16])
        defects.append(Defect("identifier", "no X.400 Original-Envelope-Id: subject-identifier "
                              f"generated {subject_id}", _RULE_DSN + ".3", lossy=False))
    arrival = (_when(per_msg.get("Arrival-Date")) or _when(msg.get("Date")) or ctx.now)

    reported, informational = [], []
    for n, block in enumerate(blocks[1:], 1):
        action = _unfold(block.get("Action", "")).split(" ")[0].lower()
        if action in ("failed", "delivered"):
            reported.append(_reported(block, n, action, arrival, ctx, tables, defects))
        else:  # delayed, relayed, expanded (and anything unknown): an IPM
            informational.append(action or "missing")

    # MIL-5: the report's label and the gateway's label policy, before anything is converted
    # (the returned content and the R-7 IPM carry the same SIO-Label: they pass alike; an IPM
    # alone is a message, labelled and checked by mime_to_x400)
    label = header_label(msg.items(), ctx, defects, what="report",
                         kept_in="dsn-header-list") if reported else ()
    ipm = _ipm(data, mail_from, rcpt_to, destination, identifier, ctx, defects) if (
        informational) else None
    if not reported:
        if ipm is None:  # no per-recipient block at all: not a report of anything
            defects.append(Defect("dsn", "a DSN without per-recipient fields: converted as "
                                  "a message", _RULE_DSN, lossy=False))
            ipm = _ipm(data, mail_from, rcpt_to, destination, identifier, ctx, defects)
        return X400Result(apdu=ipm, defects=tuple(defects))
    returned, content_type = _dsn_as_content(msg, mail_from, rcpt_to, identifier, ctx, defects)
    report = Report(
        identifier=identifier, destination=destination, trace=trace.trace,
        envelope_extensions=(internal_trace_extension(trace.internal), *label),
        subject_identifier=subject_id, recipients=tuple(reported),
        content_type=content_type, returned_content=returned,
        content_identifier=per_msg.get("X400-Content-Identifier"),
        extensions=(Extension(type=ID_DSN_HEADER_LIST, value=_field_list(header, defects)),
                    Extension(type=ID_DSN_FIELD_LIST,
                              value=_field_list(list(per_msg.items()), defects))))
    return X400Result(apdu=report, defects=tuple(defects), extra=(ipm,) if ipm else ())


def _trace(msg: EmailMessage, ctx: Context, defects: list[Defect]) -> Trace:
    """§5.1.8.3: "Trace is mapped in the same manner as for a message" (§5.1.6, H-9/H-10),
    the DSN's From: standing for the originator (the gateway's O/R when it has none)."""
    _, sender = parseaddr(str(msg.get("From", "")))
    originator, domain = ctx.mapper.gateway.or_address, None
    if "@" in sender:
        try:
            originator = ctx.to_x400(sender, Role.SMTP_ORIGINATOR).address
            domain = sender.rsplit("@", 1)[1]
        except BridgeError:
            pass
    return build_trace([(n, str(v)) for n, v in msg.items()], ctx, defects,
                       originator=originator, originator_domain=domain,
                       converted=EncodedInformationTypes(extended=(EIT_MIXER,)))


def _reported(block: EmailMessage, n: int, action: str, arrival: datetime, ctx: Context,
              tables: StatusTables, defects: list[Defect]) -> ReportedRecipient:
    """§5.1.8.3 PerRecipientReportTransferFields from one per-recipient block."""
    final = block.get("Final-Recipient")
    if final is None:
        raise NotADSNError(f"per-recipient block {n} has no Final-Recipient (RFC 3464 §2.3)")
    redirect = block.get("X400-Redirect-Recipient")  # a DSN that came from X.400
    actual = _address(redirect if redirect else final, ctx)
    original = block.get("Original-Recipient")
    intended = _address(original, ctx) if original else None
    kind, _, addr = _unfold(original or "").partition(";")
    if intended == actual or (kind.strip().lower() == "rfc822" and addr.strip().lower()
                              == ctx.mapper.to_rfc822(actual).address.lower()):
        intended = None  # the same recipient: not a redirection
    number = _unfold(block.get("X400-Originally-Specified-Recipient-Number", ""))
    last = _when(block.get("X400-Last-Trace", "").rsplit(";", 1)[-1]) or arrival
    outcome: DeliveryOutcome | NonDeliveryOutcome
    if action == "delivered":
        user = re.search(r"\((\d+)\)", block.get("X400-Type-of-MTS-User", ""))
        outcome = DeliveryOutcome(
            delivery_time=_when(block.get("X400-Delivery-Time")) or last,
            type_of_user=int(user[1]) if user else TypeOfMTSUser.PUBLIC)
        indicators = PerRecipientIndicators.ORIGINATING_MTA_REPORT  # "bit one" (§5.1.8.3)
    else:
        kind, _, diag = _unfold(block.get("Diagnostic-Code", "")).partition(";")
        code = parse_x400_diagnostic(diag) if kind.strip().lower() == "x400" else None
        if code is None:
            try:
                code = tables.to_x400(Status.parse(_unfold(block.get("Status", ""))))
            except ValueError:
                code = X400Code(reason=1)  # unable-to-transfer
                defects.append(Defect("status", f"recipient {n}: no valid Status",
                                      _RULE_DSN + ".4"))
        outcome = NonDeliveryOutcome(reason=code.reason, diagnostic=code.diagnostic)
        indicators = PerRecipientIndicators.ORIGINATING_MTA_NON_DELIVERY_REPORT  # "bit two"
    supplementary = _supplementary(block)
    fields = [(k, v) for k, v in block.items()
              if k.lower() not in ("original-recipient", "final-recipient", "action")]
    return ReportedRecipient(
        actual_recipient=actual, number=int(number) if number.isdigit() else n,
        indicators=indicators, arrival_time=last, outcome=outcome,
        originally_intended_recipient=intended, supplementary_information=supplementary,
        extensions=(Extension(type=ID_DSN_FIELD_LIST, value=_field_list(fields, defects)),))


def _supplementary(block: EmailMessage) -> str | None:
    """supplementary-information: X400-Supplementary-Info (R-10), else the text of a
    non-X.400 Diagnostic-Code -- PrintableString (other characters become ``?``), ≤ 256."""
    raw = _unfold(block.get("X400-Supplementary-Info", ""))
    m = re.fullmatch(r'"(.*)"\s*;?', raw, re.S)
    if m:
        text = m[1]
    else:
        kind, _, text = _unfold(block.get("Diagnostic-Code", "")).partition(";")
        if kind.strip().lower() == "x400":
            return None
    text = NOT_PRINTABLE.sub("?", " ".join(text.split()))[:UB_SUPPLEMENTARY_INFO]
    return text or None


def _as_text(part: EmailMessage) -> str:
    """A part as text, also when its 8-bit content or charset keeps the generator from
    writing it as a str (found by bench/fuzz.py)."""
    try:
        return part.as_string()
    except (UnicodeError, LookupError, ValueError):
        return part.as_bytes().decode("utf-8", "replace")


def _text_of(part: EmailMessage) -> str:
    """A body part as text for the minimal IPM: DSN blocks, embedded messages, text; any
    other type as its header and base64 (nothing is lost)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n".join(_as_text(p) for p in payload if isinstance(p, EmailMessage))
    raw = part.get_payload(decode=True)
    if part.get_content_maintype() not in ("text", "message") and isinstance(raw, bytes):
        return (f"Content-Type: {part.get_content_type()}\nContent-Transfer-Encoding: base64"
                "\n\n" + base64.encodebytes(raw).decode("ascii"))
    charset = part.get_content_charset() or "us-ascii"
    return raw.decode(charset, errors="replace") if isinstance(raw, bytes) else str(payload)


def _minimal_ipm(msg: EmailMessage, identifier: MTSIdentifier, defects: list[Defect],
                 what: str) -> bytes:
    """P22 content without ``to_x400``: one IA5 text body part per top-level part of the DSN
    (the DSN part and the returned message as text, §5.1.8.3 "as if IA5 text/plain")."""
    parts = msg.get_payload() if msg.is_multipart() else [msg]
    assert isinstance(parts, list)
    bodies = tuple(IA5TextBodyPart(text=ascii_only(_text_of(p), defects, "body part", "X.420 IA5"))
                   for p in parts if isinstance(p, EmailMessage))
    subject = ascii_only(_unfold(msg.get("Subject", "")), defects, "Subject", "X.420")[:_UB_SUBJECT]
    heading = Heading(this_ipm=IPMIdentifier(local=identifier.local), subject=subject or None)
    defects.append(Defect("encapsulated", f"{what}: bridge.convert.to_x400 unavailable or "
                          "failed; the DSN is carried as IA5 text body parts", _RULE_DSN + ".3"))
    return encode_content(IPM(heading=heading, body=bodies))


def _dsn_as_content(msg: EmailMessage, mail_from: str, rcpt_to: Sequence[str],
                    identifier: MTSIdentifier, ctx: Context,
                    defects: list[Defect]) -> tuple[bytes, int | str]:
    """R-8: the whole DSN, its delivery-status part relabelled text/plain, as the IPM that
    becomes the returned content (mandatory when there is non-delivery information)."""
    relabelled = copy.deepcopy(msg)
    for part in relabelled.walk():
        payload = part.get_payload()
        if isinstance(payload, list):
            for i, child in enumerate(payload):
                if child.get_content_type() in _DSN_TYPES:
                    # a delivery-status part is ASCII (RFC 3464 §2.1.1) -- but a broken DSN
                    # may hold anything: carried as UTF-8 then (surrogates replaced)
                    text = _text_of(child).encode("utf-8", "surrogateescape").decode(
                        "utf-8", "replace")
                    payload[i] = MIMEText(text, "plain",
                                          "us-ascii" if text.isascii() else "utf-8")
    try:
        from bridge.convert import to_x400  # type: ignore[attr-defined,unused-ignore]

        result = to_x400.mime_to_x400(relabelled.as_bytes(), mail_from, rcpt_to, ctx)
        if isinstance(result.apdu, Message):
            defects.extend(result.defects)
            return result.apdu.content, result.apdu.envelope.content_type
    except (MemoryError, SecurityLabelError):  # never degrade into a partial result, nor
        raise                                  # around the label policy: fail the conversion
    except Exception:  # the optional converter is missing or failed: the minimal IPM
        pass
    return _minimal_ipm(relabelled, identifier, defects, "returned content"), 22


def _ipm(data: bytes, mail_from: str, rcpt_to: Sequence[str], destination: ORName,
         identifier: MTSIdentifier, ctx: Context, defects: list[Defect]) -> Message:
    """R-7: the DSN as an IPM for delayed/relayed/expanded recipients ("exactly as for a
    normal IPM mapping"); the minimal IPM from the gateway without ``to_x400``."""
    try:
        from bridge.convert import to_x400  # type: ignore[attr-defined,unused-ignore]

        result = to_x400.mime_to_x400(data, mail_from, rcpt_to, ctx)
        if isinstance(result.apdu, Message):
            defects.extend(result.defects)
            return result.apdu
    except (MemoryError, SecurityLabelError):  # never degrade into a partial result, nor
        raise                                  # around the label policy: fail the conversion
    except Exception:  # the optional converter is missing or failed: the minimal IPM
        pass
    msg = email.message_from_bytes(data, policy=email_policy.compat32)
    content = _minimal_ipm(msg, identifier, defects, "IPM for delayed/relayed/expanded")
    env = Envelope(
        identifier=MTSIdentifier(domain=ctx.domain_id, local=local_id("ipm." + identifier.local)),
        originator=ORName(address=ctx.mapper.gateway.or_address), content_type=22,
        recipients=(Recipient(name=destination, number=1,
                              indicators=PerRecipientIndicators.RESPONSIBILITY),),
        trace=(TraceElement(domain=ctx.domain_id, arrival_time=ctx.now),),
        original_eits=EncodedInformationTypes(builtin=frozenset({2})))  # IA5-Text
    return Message(envelope=env, content=content)
