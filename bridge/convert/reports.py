"""Delivery reports <-> delivery status notifications (RFC 2156 §5.1.8, §5.3.8, §5.3.9; RFC 3464).

* :func:`report_to_dsn` -- an X.400 report becomes a ``multipart/report;
  report-type=delivery-status`` (§5.3.8, conformance R-1..R-6, R-15): the ``dr-user-info``
  text, the ``message/delivery-status`` part with MIXER's ``X400-*`` fields, and the returned
  content.
* :func:`dsn_to_report` -- a DSN becomes an MTA.Report (§5.1.8, R-7..R-10): failed/delivered
  recipients are reported, delayed/relayed/expanded ones go to an IPM; the DSN's headers and
  fields ride in the ``dsn-header-list`` / ``dsn-field-list`` extensions and the whole DSN is
  the returned content.
* :func:`answer_probe` -- the gateway services a probe itself (§5.3.9, G-3).

Status codes come from :mod:`bridge.convert.dsn_status` (the tables in ``mappings/``).
The message and content conversions of ``to_mime`` / ``to_x400`` are used when present
(imported lazily); without them the returned content and the R-7 IPM fall back to the minimal
forms described at :func:`_returned_part` and :func:`_minimal_ipm`, recorded as defects.
"""

from __future__ import annotations

import base64
import copy
import email
import hashlib
import re
from collections.abc import Callable, Sequence
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
    format_x400_diagnostic,
    parse_x400_diagnostic,
    status_tables,
)
from bridge.convert.mime_headers import (
    content_type,
    date,
    eits,
    extension_name,
    fold,
    labelled,
    merge_trace,
    trace_value,
    word,
)
from bridge.convert.result import Defect, MimeResult, X400Result
from bridge.convert.vocab import (
    EIT_MIXER,
    ID_DSN_FIELD_LIST,
    ID_DSN_HEADER_LIST,
    REDIRECTION_REASONS,
)
from bridge.convert.x400_trace import Trace, build_trace
from bridge.errors import BridgeError, SMTPReply
from bridge.mapping.address import Role, dn_comment
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
    Probe,
    Recipient,
    Report,
    ReportedRecipient,
    StandardExtension,
    TraceElement,
)
from bridge.model.common import utc
from bridge.model.envelope import (
    DLExpansion,
    Redirection,
    ReportingMTAName,
    internal_trace_extension,
)
from bridge.model.ipm import IPMIdentifier
from bridge.model.report import TypeOfMTSUser

__all__ = ["NotADSNError", "answer_probe", "dsn_to_report", "report_to_dsn"]

_RULE_DR = "RFC 2156 §5.3.8"
_RULE_DSN = "RFC 2156 §5.1.8"
#: §5.3.8.1: security extensions a DR should not carry; discarded (not the report) and listed
_SECURITY_DR_EXTENSIONS = {StandardExtension.MESSAGE_SECURITY_LABEL,
                           StandardExtension.REPORTING_MTA_CERTIFICATE,
                           StandardExtension.REPORT_ORIGIN_AUTHENTICATION_CHECK}
_UB_LOCAL_ID = 32  # X.411 ub-local-id
_UB_SUPPLEMENTARY_INFO = 256  # X.411 ub-supplementary-info-length
_UB_SUBJECT = 128  # X.420 ub-subject-field
_ENVID_PREFIX = "SMTP/NOTARY ENVID: "  # App A §3.1
_MTSID_PREFIX = "X400-MTS-Identifier: "  # App A §3.2
_REDIRECTION_REASONS = {int(k): v for k, v in REDIRECTION_REASONS.items()}
_PRINTABLE = re.compile(r"[^A-Za-z0-9 '()+,\-./:=?]")  # X.680 PrintableString complement


class NotADSNError(BridgeError):
    """The input is not a DSN (no ``message/delivery-status`` part, RFC 3464 §2)."""

    smtp = SMTPReply(code=554, enhanced="5.6.0", text="Not a delivery status notification")


# ============================================================== shared text forms (§5.3.3)


def _ascii(text: str, defects: list[Defect], what: str, rule: str = "RFC 3464 §2.1.2") -> str:
    """DSN fields (RFC 3464 §2.1.2) and IA5 text are US-ASCII; anything else becomes ``?``
    (a defect)."""
    out = "".join(c if " " <= c < "\x7f" or c in "\t\r\n" else "?" for c in text)
    if out != text:
        defects.append(Defect("charset", f"{what}: non-ASCII characters replaced", rule))
    return out


def _report_point(domain: GlobalDomainIdentifier, mta: str | None) -> str:
    """§5.3.8.1 report-point = [ "mta" mta-name "in" ] global-id."""
    return (f"mta {word(mta)} in " if mta else "") + str(domain)


def _x400_form(name: ORName) -> str:
    """NOTARY address type ``x400``: std-or with the directory name as a comment (§5.3.8.1)."""
    comment = dn_comment(name)
    return f"x400; {name}" + (f" ({comment})" if comment else "")


def _digest(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


def _block(fields: list[tuple[str, str]]) -> str:
    return "".join(fold(n, v) for n, v in fields)


# ============================================================== X.400 report -> DSN (§5.3.8)


def report_to_dsn(report: Report, ctx: Context) -> MimeResult:
    """RFC 2156 §5.3.8: an X.400 delivery report as an RFC 3464 DSN.

    MAIL FROM is the null reverse-path (RFC 3461 §6.1, the R-1 conflict resolution); the
    From: field names the gateway administrator (§5.3.8.1); the single RCPT and To: are the
    report-destination-name mapped by Chapter 4 (§5.3.8.3).
    """
    defects: list[Defect] = []
    tables = status_tables()
    dest = ctx.mapper.to_rfc822(report.destination).address
    exts = report.envelope_extensions + report.extensions
    ext = {e.type: e for e in exts}
    internal = ext.get(StandardExtension.INTERNAL_TRACE_INFORMATION)
    internal_trace: tuple[TraceElement, ...] = (
        internal.value if internal is not None and isinstance(internal.value, tuple) else ())

    # --- per-message fields (§5.3.8.1: Reporting-MTA and DSN-Gateway)
    mta = ext.get(StandardExtension.REPORTING_MTA_NAME)
    first = report.trace[0]
    if mta is not None and isinstance(mta.value, ReportingMTAName):
        reporting = _report_point(mta.value.domain, mta.value.mta_name)
    else:
        name = next((t.mta_name for t in internal_trace if t.domain == first.domain), None)
        reporting = _report_point(first.domain, name)
    mta_word = word(mta.value.mta_name if mta is not None and isinstance(
        mta.value, ReportingMTAName) else name or str(first.domain))
    correlator = ext.get(StandardExtension.CONTENT_CORRELATOR)
    correlator_text = correlator.value if correlator and isinstance(correlator.value, str) else None
    per_msg: list[tuple[str, str]] = [
        ("Reporting-MTA", f"x400; {reporting}"),
        ("DSN-Gateway", f"dns; {ctx.gateway_domain}"),
        ("Arrival-Date", date(report.recipients[0].arrival_time)),
    ]
    if correlator_text is not None and correlator_text.startswith(_ENVID_PREFIX):
        per_msg.append(("Original-Envelope-Id", correlator_text[len(_ENVID_PREFIX):]))
        per_msg.append(("X400-Subject-Submission-Identifier", str(report.subject_identifier)))
    else:
        per_msg.append(("Original-Envelope-Id", str(report.subject_identifier)))
        if correlator_text is not None:
            per_msg.append(("X400-Content-Correlator", correlator_text))
    per_msg.append(("X400-Conversion-Date", date(ctx.now)))
    if report.content_identifier is not None:
        per_msg.append(("X400-Content-Identifier", report.content_identifier))
    if report.content_type is not None:
        ct = report.content_type
        per_msg.append(("X400-Content-Type", content_type(ct)))
    if report.original_eits is not None:
        per_msg.append(("X400-Original-Encoded-Information-Types", eits(report.original_eits)))
    history = ext.get(StandardExtension.ORIGINATOR_AND_DL_EXPANSION_HISTORY)
    if history is not None and isinstance(history.value, tuple):
        for h in sorted(history.value, key=lambda e: e.time, reverse=True):  # most recent first
            assert isinstance(h, DLExpansion)
            mbox = ctx.mapper.to_rfc822(h.name).address
            per_msg.append(("X400-Originator-and-DL-Expansion-History",
                            f"{mbox}; {date(h.time)};"))
    dl_name = ext.get(StandardExtension.REPORTING_DL_NAME)
    if dl_name is not None and isinstance(dl_name.value, ORName):
        per_msg.append(("X400-Reporting-DL-Name", ctx.mapper.to_rfc822(dl_name.value).address))
    for t in reversed(report.subject_intermediate_trace or ()):  # most recent first
        per_msg.append(("X400-Subject-Intermediate-Trace-Information", trace_value(t)))
    handled = {StandardExtension.INTERNAL_TRACE_INFORMATION, StandardExtension.REPORTING_MTA_NAME,
               StandardExtension.CONTENT_CORRELATOR, StandardExtension.REPORTING_DL_NAME,
               StandardExtension.ORIGINATOR_AND_DL_EXPANSION_HISTORY}
    discarded = [e for e in exts if e.type not in handled]
    if discarded:
        per_msg.append(("X400-Discarded-DR-Extensions", ", ".join(map(extension_name, discarded))))
        defects.append(Defect("extension", "discarded report extensions: "
                              + ", ".join(map(extension_name, discarded)), _RULE_DR + ".1"))

    # --- per-recipient fields (§5.3.8.1; R-4) and the dr-user-info paragraphs
    blocks, paragraphs, mailboxes = [], [], []
    delivered = failed = 0
    for r in report.recipients:
        fields, text, mailbox = _recipient_fields(r, ctx, tables, defects)
        blocks.append(fields)
        paragraphs.append(text)
        mailboxes.append(mailbox)
        delivered += isinstance(r.outcome, DeliveryOutcome)
        failed += isinstance(r.outcome, NonDeliveryOutcome)

    # --- the returned content: whole message for negative reports, headers otherwise
    part3 = _returned_part(report, ctx, headers_only=failed == 0, defects=defects)
    # dr-summary date-time "from the trace" (§5.3.8.1): as in §5.3.8.4 example 1, the most
    # recent subject-intermediate trace element; else the first recipient's arrival
    sit = report.subject_intermediate_trace
    origin = sit[-1].arrival_time if sit else report.recipients[0].arrival_time
    about = correlator_text or report.content_identifier or str(report.subject_identifier)
    user_info = ("This report relates to your message:\r\n"
                 f"        {about}\r\n\r\n        of {date(origin)}\r\n\r\n"
                 + "".join(p + "\r\n\r\n" for p in paragraphs)
                 + ("The Original Message follows:" if part3 else
                    "The Original Message is not available") + "\r\n")

    # --- outer header (§5.3.8.1 / §5.3.8.3)
    status = ("success and failures" if delivered and failed else
              "failure" if failed else "success")
    subject = f"Delivery-Report ({status})"
    subject += (f" for {mailboxes[0]}" if len(mailboxes) == 1
                else f" for MTA {mta_word}")
    boundary = "=_x400bridge_" + _digest(report.identifier, ctx.now)[:20]
    msg_id = (f"<x400-report.{_digest(report.identifier)[:16]}@{ctx.gateway_domain}>")
    # §5.3.8.3 -> §5.3.7: trace and internal trace merged, at the beginning of the header,
    # most recent first by position
    outer: list[tuple[str, str]] = [
        ("X400-Received", trace_value(t))
        for t in reversed(merge_trace(report.trace, internal_trace))]
    outer += [
        ("From", ctx.postmaster), ("To", dest), ("Subject", subject),
        ("Message-Type", "Delivery Report"), ("Date", date(first.arrival_time)),
        ("Message-ID", msg_id), ("X400-MTS-Identifier", str(report.identifier)),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/report; report-type=delivery-status;'
                         f' boundary="{boundary}"')]
    dsn_body = _block(per_msg) + "".join("\r\n" + _block(b) for b in blocks)
    parts = [
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + user_info,
        "Content-Type: message/delivery-status\r\n\r\n" + dsn_body,
    ]
    if part3:
        parts.append(part3)
    text = (_block(outer) + "\r\nThis is a MIME-encapsulated delivery report (RFC 3464).\r\n"
            + "".join(f"\r\n--{boundary}\r\n{p}" for p in parts) + f"\r\n--{boundary}--\r\n")
    from bridge.convert.notary import notification_envelope

    return MimeResult(message=_ascii(text, defects, "report").encode("ascii"), mail_from="",
                      rcpt_to=(dest,), defects=tuple(defects),
                      smtp=notification_envelope((dest,)))  # <>, NOTIFY=NEVER, no RET


def _recipient_fields(r: ReportedRecipient, ctx: Context, tables: StatusTables,
                      defects: list[Defect]) -> tuple[list[tuple[str, str]], str, str]:
    """§5.3.8.1 per-recipient fields for one reported recipient, its dr-recipient paragraph
    and the mailbox the paragraph names (R-4)."""
    actual = ctx.mapper.to_rfc822(r.actual_recipient).address
    fields: list[tuple[str, str]] = []
    intended = r.originally_intended_recipient
    if intended is None:
        fields += [("Original-Recipient", f"rfc822; {actual}"),
                   ("Final-Recipient", _x400_form(r.actual_recipient))]
        mailbox = actual
    else:  # redirected: the RFC puts the intended recipient in Final-Recipient
        mailbox = ctx.mapper.to_rfc822(intended).address
        fields += [("Final-Recipient", f"rfc822; {mailbox}"),
                   ("Original-Recipient", _x400_form(intended)),
                   ("X400-Mapped-Redirect-Recipient", f"rfc822; {actual}"),
                   ("X400-Redirect-Recipient", _x400_form(r.actual_recipient))]
    if isinstance(r.outcome, DeliveryOutcome):
        user = r.outcome.type_of_user
        label = (TypeOfMTSUser(user).name.lower().replace("_", "-")
                 if user in TypeOfMTSUser._value2member_map_ else "type")
        fields += [("Action", "delivered"), ("Status", "2.0.0"),
                   ("X400-Delivery-Time", date(r.outcome.delivery_time)),
                   ("X400-Type-of-MTS-User", labelled(label, int(user)))]
        text = ("Your message was successfully delivered to:\r\n"
                f"        {mailbox} at {date(r.outcome.delivery_time)}")
    else:
        code = X400Code(reason=r.outcome.reason, diagnostic=r.outcome.diagnostic)
        fields += [("Action", "failed"),
                   ("Status", str(tables.to_status(code.reason, code.diagnostic))),
                   ("Diagnostic-Code", "x400; " + format_x400_diagnostic(code, tables))]
        labels = [tables.reason_label(code.reason) or f"reason {code.reason}"]
        if code.diagnostic is not None:
            labels.append(tables.diagnostic_label(code.diagnostic)
                          or f"diagnostic {code.diagnostic}")
        why = ", ".join(x.replace("-", " ") for x in labels)
        text = ("Your message was not delivered to:\r\n"
                f"        {mailbox}\r\n        for the following reason:\r\n        {why}")
        if r.supplementary_information:
            text += f"\r\n        {r.supplementary_information}"
    fields.append(("X400-Last-Trace", (f"{eits(r.converted_eits)} " if r.converted_eits
                                       else "") + date(r.arrival_time)))
    if r.converted_eits is not None:
        fields.append(("X400-Converted-EITs", eits(r.converted_eits) + ";"))
    if r.supplementary_information is not None:
        fields.append(("X400-Supplementary-Info", f'"{r.supplementary_information}";'))
    fields.append(("X400-Originally-Specified-Recipient-Number", str(r.number)))
    discarded = []
    for ext in r.extensions:
        if ext.type == StandardExtension.REDIRECTION_HISTORY and isinstance(ext.value, tuple):
            for h in sorted(ext.value, key=lambda x: x.time):  # earliest first
                assert isinstance(h, Redirection)
                fields.append(("X400-Redirection-History", "intended recipient "
                               f"{ctx.mapper.to_rfc822(h.intended_recipient).address} "
                               f"redirected to {_REDIRECTION_REASONS.get(h.reason, 'Alias')}"
                               f" on {date(h.time)}"))
        elif (ext.type == StandardExtension.PHYSICAL_FORWARDING_ADDRESS
              and isinstance(ext.value, ORName)):
            fields.append(("X400-Physical-Forwarding-Address",
                           str(ctx.mapper.to_rfc822(ext.value))))
        else:  # recipient-certificate, proof-of-delivery and unknown ones (§5.3.8.1)
            discarded.append(extension_name(ext))
    if discarded:
        fields.append(("X400-Discarded-DR-Extensions", ", ".join(discarded)))
        defects.append(Defect("extension", f"{actual}: discarded report extensions "
                              + ", ".join(discarded), _RULE_DR + ".1"))
    return fields, text, mailbox


def _returned_part(report: Report, ctx: Context, *, headers_only: bool,
                   defects: list[Defect]) -> str | None:
    """R-2: the returned content as a MIME body part (with its header), or None.

    The P22 content goes through ``to_mime.x400_to_mime`` as a message addressed like the
    subject message; a positive report keeps only its header (``text/rfc822-headers``,
    RFC 6522 §4).  Without ``to_mime``, or when it fails, §5.3.8.1's recommended fallback
    applies: the ASN.1 (BER) as ``application/octet-stream``.
    """
    if report.returned_content is None:
        return None
    mime: bytes | None = None
    if report.content_type in (None, 2, 22):
        try:
            from bridge.convert import to_mime  # type: ignore[attr-defined,unused-ignore]

            subject = Message(envelope=Envelope(
                identifier=report.subject_identifier, originator=report.destination,
                content_type=report.content_type or 22,
                recipients=tuple(Recipient(name=r.originally_intended_recipient
                                           or r.actual_recipient, number=r.number,
                                           indicators=PerRecipientIndicators.RESPONSIBILITY)
                                 for r in report.recipients),
                trace=report.subject_intermediate_trace or (TraceElement(
                    domain=report.subject_identifier.domain,
                    arrival_time=report.recipients[0].arrival_time),),
                original_eits=report.original_eits,
                content_identifier=report.content_identifier),
                content=report.returned_content)
            result = to_mime.x400_to_mime(subject, ctx)
            mime = result.message
            defects.extend(result.defects)
        except Exception as exc:  # any failure of the optional converter -> the fallback
            defects.append(Defect("encapsulated", "returned content kept as BER "
                                  f"(application/octet-stream): {exc!r}", _RULE_DR + ".1"))
    if mime is None:
        b64 = base64.encodebytes(report.returned_content).decode("ascii").replace("\n", "\r\n")
        return ("Content-Type: application/octet-stream\r\n"
                "Content-Description: X.400 returned content (BER)\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" + b64)
    text = mime.decode("ascii", errors="replace").replace("\r\n", "\n").replace("\n", "\r\n")
    if headers_only:
        head = text.split("\r\n\r\n", 1)[0]
        return "Content-Type: text/rfc822-headers\r\n\r\n" + head + "\r\n"
    return "Content-Type: message/rfc822\r\n\r\n" + text


# ============================================================== DSN -> X.400 report (§5.1.8)


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", str(value)).strip()


def _field_list(fields: Sequence[tuple[str, str]], defects: list[Defect]) -> Opaque:
    """R-8: RFC822FieldList (App D): one IA5String ``Name: value`` per field."""
    values = [_ascii(f"{n}: {_unfold(v)}", defects, n, "RFC 2156 App D IA5String")
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


def _local_id(text: str) -> str:
    """A local identifier (X.411 IA5String, at most 32) derived from ``text``."""
    text = "".join(c for c in text if " " < c < "\x7f") or "dsn"
    return text if len(text) <= _UB_LOCAL_ID else text[:23] + "." + _digest(text)[:8]


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
        domain=ctx.domain_id, local=_local_id(str(msg.get("Message-ID", "")).strip("<> \t")
                                              or "dsn-" + _digest(data)[:16]))
    subject_id = (_mts_id(per_msg.get("Original-Envelope-Id", ""))
                  or _mts_id(per_msg.get("X400-Subject-Submission-Identifier", "")))
    if subject_id is None:
        subject_id = MTSIdentifier(domain=ctx.domain_id, local="dsn-" + _digest(data)[:16])
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

    ipm = _ipm(data, mail_from, rcpt_to, destination, identifier, ctx, defects) if (
        informational) else None
    if not reported:
        assert ipm is not None
        return X400Result(apdu=ipm, defects=tuple(defects))
    returned, content_type = _dsn_as_content(msg, mail_from, rcpt_to, identifier, ctx, defects)
    report = Report(
        identifier=identifier, destination=destination, trace=trace.trace,
        envelope_extensions=(internal_trace_extension(trace.internal),),
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
    text = _PRINTABLE.sub("?", " ".join(text.split()))[:_UB_SUPPLEMENTARY_INFO]
    return text or None


def _text_of(part: EmailMessage) -> str:
    """A body part as text for the minimal IPM: DSN blocks, embedded messages, text; any
    other type as its header and base64 (nothing is lost)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n".join(p.as_string() for p in payload if isinstance(p, EmailMessage))
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
    bodies = tuple(IA5TextBodyPart(text=_ascii(_text_of(p), defects, "body part", "X.420 IA5"))
                   for p in parts if isinstance(p, EmailMessage))
    subject = _ascii(_unfold(msg.get("Subject", "")), defects, "Subject", "X.420")[:_UB_SUBJECT]
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
                    payload[i] = MIMEText(_text_of(child), "plain", "us-ascii")
    try:
        from bridge.convert import to_x400  # type: ignore[attr-defined,unused-ignore]

        result = to_x400.mime_to_x400(relabelled.as_bytes(), mail_from, rcpt_to, ctx)
        if isinstance(result.apdu, Message):
            defects.extend(result.defects)
            return result.apdu.content, result.apdu.envelope.content_type
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
    except Exception:  # the optional converter is missing or failed: the minimal IPM
        pass
    msg = email.message_from_bytes(data, policy=email_policy.compat32)
    content = _minimal_ipm(msg, identifier, defects, "IPM for delayed/relayed/expanded")
    env = Envelope(
        identifier=MTSIdentifier(domain=ctx.domain_id, local=_local_id("ipm." + identifier.local)),
        originator=ORName(address=ctx.mapper.gateway.or_address), content_type=22,
        recipients=(Recipient(name=destination, number=1,
                              indicators=PerRecipientIndicators.RESPONSIBILITY),),
        trace=(TraceElement(domain=ctx.domain_id, arrival_time=ctx.now),),
        original_eits=EncodedInformationTypes(builtin=frozenset({2})))  # IA5-Text
    return Message(envelope=env, content=content)


# ============================================================== probes (§5.3.9, G-3)


def answer_probe(probe: Probe, ctx: Context, deliverable: Callable[[ORName], bool]) -> Report:
    """RFC 2156 §5.3.9: the gateway services a probe itself.

    Each recipient the probe hands to the gateway (responsibility bit set; all of them if
    none is marked) gets a delivery report when ``deliverable`` says a message would be
    delivered, else unable-to-transfer / unrecognised-OR-name.  The supplementary
    information names the gateway, as §5.3.9 requires.
    """
    env = probe.envelope
    note = _PRINTABLE.sub("?", f"Probe serviced by MIXER gateway {ctx.gateway_domain}")
    targets = [r for r in env.recipients if r.responsible] or list(env.recipients)
    recipients = []
    for r in targets:
        outcome: DeliveryOutcome | NonDeliveryOutcome = (
            DeliveryOutcome(delivery_time=ctx.now) if deliverable(r.name)
            else NonDeliveryOutcome(reason=1, diagnostic=0))
        recipients.append(ReportedRecipient(
            actual_recipient=r.name, number=r.number, indicators=r.indicators,
            arrival_time=ctx.now, outcome=outcome,
            supplementary_information=note[:_UB_SUPPLEMENTARY_INFO]))
    return Report(
        identifier=MTSIdentifier(domain=ctx.domain_id,
                                 local=_local_id("probe." + _digest(env.identifier)[:20])),
        destination=env.originator,
        trace=(TraceElement(domain=ctx.domain_id, arrival_time=ctx.now),),
        subject_identifier=env.identifier, subject_intermediate_trace=env.trace or None,
        original_eits=env.original_eits, content_type=env.content_type,
        content_identifier=env.content_identifier, recipients=tuple(recipients))
