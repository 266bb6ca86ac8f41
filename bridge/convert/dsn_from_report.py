"""X.400 delivery report -> delivery status notification (RFC 2156 §5.3.8; RFC 3464).

:func:`report_to_dsn` -- an X.400 report becomes a ``multipart/report;
report-type=delivery-status`` (§5.3.8, conformance R-1..R-6, R-15): the ``dr-user-info``
text, the ``message/delivery-status`` part with MIXER's ``X400-*`` fields, and the returned
content.  Status codes come from :mod:`bridge.convert.dsn_status` (the tables in
``mappings/``).  The message conversion of ``to_mime`` is used when present (imported
lazily); without it the returned content falls back to the form described at
:func:`_returned_part`, recorded as a defect.

A report's message-security-label (X.411 §12.2.1.2: a ReportTransferEnvelopeExtensions
member; one in the content extensions is read too) is not discarded as §5.3.8.1 says for a
DR's security parameters: it becomes the DSN's ``SIO-Label`` and ``SIO-Label-History``, as a
message's does (RFC 7444; MIL-5, :func:`bridge.convert.seclabel.label_headers`), after the
gateway's label policy has let the report pass.
"""

from __future__ import annotations

import base64

from bridge.convert.context import Context
from bridge.convert.dsn_status import (
    StatusTables,
    X400Code,
    format_x400_diagnostic,
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
from bridge.convert.mime_run import Run
from bridge.convert.report_common import ascii_only, digest
from bridge.convert.result import Defect, MimeResult, repaired
from bridge.convert.seclabel import check_policy, find_label, label_headers
from bridge.convert.vocab import REDIRECTION_REASONS
from bridge.mapping.address import dn_comment
from bridge.model import (
    DeliveryOutcome,
    Envelope,
    Extension,
    GlobalDomainIdentifier,
    Message,
    NonDeliveryOutcome,
    ORName,
    PerRecipientIndicators,
    Recipient,
    Report,
    ReportedRecipient,
    StandardExtension,
    TraceElement,
)
from bridge.model.envelope import DLExpansion, Redirection, ReportingMTAName
from bridge.model.report import TypeOfMTSUser

__all__ = ["report_to_dsn"]

_RULE_DR = "RFC 2156 §5.3.8"
_ENVID_PREFIX = "SMTP/NOTARY ENVID: "  # App A §3.1
_REDIRECTION_REASONS = {int(k): v for k, v in REDIRECTION_REASONS.items()}


def _report_point(domain: GlobalDomainIdentifier, mta: str | None) -> str:
    """§5.3.8.1 report-point = [ "mta" mta-name "in" ] global-id."""
    return (f"mta {word(mta)} in " if mta else "") + str(domain)


def _x400_form(name: ORName) -> str:
    """NOTARY address type ``x400``: std-or with the directory name as a comment (§5.3.8.1)."""
    comment = dn_comment(name)
    return f"x400; {name}" + (f" ({comment})" if comment else "")



def _block(fields: list[tuple[str, str]]) -> str:
    return "".join(fold(n, v) for n, v in fields)


# ============================================================== X.400 report -> DSN (§5.3.8)


def report_to_dsn(report: Report, ctx: Context) -> MimeResult:
    """RFC 2156 §5.3.8: an X.400 delivery report as an RFC 3464 DSN.

    MAIL FROM is the null reverse-path (RFC 3461 §6.1, the R-1 conflict resolution); the
    From: field names the gateway administrator (§5.3.8.1); the single RCPT and To: are the
    report-destination-name mapped by Chapter 4 (§5.3.8.3).
    """
    defects: list[Defect] = [repaired(note) for note in report.repairs]
    tables = status_tables()
    exts = report.envelope_extensions + report.extensions
    check_policy(exts, ctx.policy.security_labels, "the gateway", what="report")  # MIL-5
    label = find_label(exts)             # the envelope's first (X.411 §12.2.1.2)
    dest = ctx.mapper.to_rfc822(report.destination).address
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
    discarded = [e for e in exts if e.type not in handled and e is not label]
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

    # --- MIL-5: the label (SIO-Label), also on the returned message when it can be read
    label_fields = _label_fields(label, ctx, defects)
    readable = label if any(n == "SIO-Label" for n, _ in label_fields) else None
    # --- the returned content: whole message for negative reports, headers otherwise
    part3 = _returned_part(report, ctx, headers_only=failed == 0, defects=defects,
                           label=readable)
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
    boundary = "=_x400bridge_" + digest(report.identifier, ctx.now)[:20]
    msg_id = (f"<x400-report.{digest(report.identifier)[:16]}@{ctx.gateway_domain}>")
    # §5.3.8.3 -> §5.3.7: trace and internal trace merged, at the beginning of the header,
    # most recent first by position
    outer: list[tuple[str, str]] = [
        ("X400-Received", trace_value(t))
        for t in reversed(merge_trace(report.trace, internal_trace))]
    outer += [
        ("From", ctx.postmaster), ("To", dest), ("Subject", subject),
        ("Message-Type", "Delivery Report"), ("Date", date(first.arrival_time)),
        ("Message-ID", msg_id), ("X400-MTS-Identifier", str(report.identifier)),
        *label_fields,
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

    return MimeResult(message=ascii_only(text, defects, "report").encode("ascii"), mail_from="",
                      rcpt_to=(dest,), defects=tuple(defects),
                      smtp=notification_envelope((dest,)))  # <>, NOTIFY=NEVER, no RET


def _label_fields(label: Extension | None, ctx: Context,
                  defects: list[Defect]) -> list[tuple[str, str]]:
    """MIL-5: the report's message-security-label as ``SIO-Label`` + ``SIO-Label-History``
    (or, unreadable, ``X400-Unmapped-Extension`` with a defect: never dropped unseen)."""
    if label is None:
        return []
    run = Run(ctx)
    fields = label_headers(run, label, report=True)
    defects.extend(run.defects)
    return fields + run.unmapped


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
                   defects: list[Defect], label: Extension | None) -> str | None:
    """R-2: the returned content as a MIME body part (with its header), or None.

    The P22 content goes through ``to_mime.x400_to_mime`` as a message addressed like the
    subject message, with the report's ``label`` (X.400 labels a message "and any reports on
    the message": the report's is the subject's); a positive report keeps only its header
    (``text/rfc822-headers``, RFC 6522 §4).  Without ``to_mime``, or when it fails,
    §5.3.8.1's recommended fallback applies: the ASN.1 (BER) as ``application/octet-stream``.
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
                content_identifier=report.content_identifier,
                extensions=(label,) if label is not None else ()),
                content=report.returned_content)
            result = to_mime.x400_to_mime(subject, ctx)
            mime = result.message
            defects.extend(result.defects)
        except MemoryError:  # never degrade into a partial result: fail the conversion
            raise
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
