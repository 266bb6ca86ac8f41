"""X.400 IP notifications -> the MIXER text message (RFC 2156 §5.3.5; N-1, N-2).

The header: From = ipn-originator, To = the recipients the notification is delivered to (the
originally intended address when redirected), Subject "X.400 Inter-Personal Notification"
(receipt) or "... (failure)" (non-receipt), ``Message-Type: InterPersonal Notification``,
References = subject-ipm, ``Discarded-X400-IPMS-Extensions:`` for the IPN's extensions.  The
body follows EBNF.ipn-body-format; a returned IPM follows as message/rfc822 in a
multipart/mixed.  (With policy ``ipn_as_mdn`` an RFC 8098 MDN is produced instead:
:mod:`bridge.convert.mdn`.)
"""

from __future__ import annotations

from collections.abc import Iterable

from bridge.convert import mmhs_ipn
from bridge.convert.mime_bodies import Entity, ipm_entity, serialize, text_part
from bridge.convert.mime_headers import (
    Header,
    Run,
    date,
    eits,
    heading_extension_headers,
    redirected_from,
)
from bridge.mapping.msgid import ipm_id_to_msgid
from bridge.model.envelope import Recipient
from bridge.model.ipm import (
    IPN,
    AcknowledgmentMode,
    NonReceiptFields,
    NonReceiptReason,
    ReceiptFields,
)

RULE = "RFC 2156 §5.3.5"
SUBJECT_RN = "X.400 Inter-Personal Notification"
SUBJECT_NRN = "X.400 Inter-Personal Notification (failure)"

#: EBNF.discard-reason by X.420 DiscardReason
DISCARD_REASONS = {0: "Expired", 1: "Obsoleted", 2: "User Subscription Terminated",
                   3: "IPM Deleted"}
#: EBNF.acknowledgement-mode
ACK_MODES = {AcknowledgmentMode.MANUAL: "Manually", AcknowledgmentMode.AUTOMATIC: "Automatically"}


def ipn_headers(run: Run, ipn: IPN, recipients: Iterable[Recipient]) -> list[Header]:
    """The §5.3.5 header fields (N-1)."""
    out: list[Header] = []
    sender = (run.descriptor(ipn.ipn_originator, "IPN originator")
              if ipn.ipn_originator is not None else None)
    out.append(("From", sender or run.smtp_originator))
    to = [run.mailbox(redirected_from(r) or r.name, "IPN recipient") for r in recipients]
    out.append(("To", ", ".join(t for t in to if t) or "list:;"))
    failure = isinstance(ipn.fields, NonReceiptFields)
    out.append(("Subject", SUBJECT_NRN if failure else SUBJECT_RN))
    out.append(("Message-Type", "InterPersonal Notification"))
    out.append(("References", ipm_id_to_msgid(ipn.subject_ipm, phrase_allowed=True)))
    exts = list(ipn.extensions or ())
    if isinstance(ipn.fields, ReceiptFields | NonReceiptFields):
        exts += list(ipn.fields.extensions or ())
    out.extend(heading_extension_headers(run, [e for e in exts if not mmhs_ipn.is_shown(e)],
                                         "IPN"))
    return out


def ipn_body_text(run: Run, ipn: IPN) -> str:
    """EBNF.ipn-body-format (N-2), without the returned message itself."""
    who = ipn.ipm_intended_recipient or ipn.ipn_originator
    preferred = (run.descriptor(who, "IPN preferred recipient") if who is not None
                 else None) or "(unknown)"
    lines = [f"Your message to: {preferred}"]
    f = ipn.fields
    if isinstance(f, ReceiptFields):
        lines += [f"was received at {date(f.receipt_time)}", "",
                  f"This notification was generated {ACK_MODES[f.acknowledgment_mode]}",
                  "The following extra information was given:",
                  f"   {f.supplementary_info or ''}".rstrip()]
    elif isinstance(f, NonReceiptFields):
        if f.reason == NonReceiptReason.IPM_AUTO_FORWARDED:
            lines.append("was automatically forwarded.")
            if f.auto_forward_comment:
                lines += ["The following comment was made:", f"   {f.auto_forward_comment}"]
        else:
            reason = DISCARD_REASONS.get(f.discard_reason if f.discard_reason is not None
                                         else 3, f"({f.discard_reason})")
            lines.append(f"was discarded for the following reason: {reason}")
    elif not mmhs_ipn.responses(ipn):
        run.defect("ipn", "other-notification-type-fields cannot be shown", RULE)
        lines.append("was the subject of a notification of a type this gateway does not know.")
    lines += mmhs_ipn.text_lines(run, ipn)  # P772: ACP 127 notification responses
    lines.append("")
    if ipn.conversion_eits is not None:
        lines += ["The following information types were converted: "
                  + eits(ipn.conversion_eits), ""]
    if isinstance(f, NonReceiptFields):
        lines.append("The Original Message follows:" if f.returned_ipm is not None
                     else "The Original Message is not available")
    return "\r\n".join(lines) + "\r\n"


def ipn_entity(run: Run, ipn: IPN, leading: list[Header], recipients: Iterable[Recipient]
               ) -> Entity:
    """The whole 822 message for an IPN (§5.3.5)."""
    headers = leading + ipn_headers(run, ipn, recipients) + [("MIME-Version", "1.0")]
    text = ipn_body_text(run, ipn)
    body = text_part(text, "us-ascii" if text.isascii() else "utf-8")
    returned = ipn.fields.returned_ipm if isinstance(ipn.fields, NonReceiptFields) else None
    if returned is None:
        return Entity(headers=headers + body.headers, body=body.body)
    saved = run.smtp_originator
    run.smtp_originator = ""
    try:
        inner = serialize(ipm_entity(run, returned, []))
    finally:
        run.smtp_originator = saved
    message = Entity(headers=[("Content-Type", "message/rfc822")], body=inner)
    return Entity(headers=headers, parts=[body, message], subtype="mixed")
