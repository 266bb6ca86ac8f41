"""Military notifications (STANAG 4406 Annex A, P772 ``mn``) <-> IPN text and MDN fields.

A P772 notification is an X.420 IPN (RN, NRN or another notification type) in P772
content; its military extension is the A3.1 **ACP 127 notification response**
(``id-nato-mmhs-mm-acp127-notification-response``): the ACP 127 gateway's positive,
negative or transfer notification for a recipient reached over ACP 127, asked for by the
A2.1 **ACP 127 notification request** of that recipient in the IPM.  The response rides in
the IPN's notification-extensions (or its receipt / non-receipt extensions), or as the whole
of an ``other-notification-type-fields`` IPN (X.420 (1996) §8.6).

Neither RFC 2156 nor RFC 8098 nor RFC 6477 has a field for them; they are mapped the way
:mod:`bridge.convert.mdn` maps the X.400 elements an MDN has no field for (RFC 8098 §3.3
extension fields, N-4) and :mod:`bridge.convert.ipn_text` writes the §5.3.5 text:

===========================  ================================================
ACP 127 notification (A3.1)  MDN field (and a line of the IPN text)
===========================  ================================================
acp127-notification-type     ``X400-ACP127-Notification: pn, tn`` (nn/pn/tn)
receipt-time                 ``X400-ACP127-Receipt-Time: <date-time>``
acp127-recipient             ``X400-ACP127-Recipient: <PrintableString>``
acp127-supp-info             ``X400-ACP127-Supplementary-Info: <text>``
addressListIndicator         none: dropped with a defect
===========================  ================================================

An ``other-notification-type-fields`` IPN also has ``X400-Notification-Type: other``
(:mod:`bridge.convert.mdn`); the way back (:func:`other_fields`, :func:`with_response`)
rebuilds the response in the same place, and the IPN then goes as P772 (:func:`is_military`).
The request (A2.1) is a recipient specifier extension of the IPM: decoded
(:class:`~bridge.model.mmhs.Acp127NotificationRequest`) and, having no MIME form, dropped
with a defect naming it like any recipient extension (RFC 2156 §4.7.2).
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message as EmailMessage

from bridge.codec.p772 import other_notification_from, other_notification_to
from bridge.convert.mime_run import Run
from bridge.convert.mime_text import Header, date
from bridge.convert.result import Defect
from bridge.convert.x400_fields import Invalid, parse_date, unfold
from bridge.model import mmhs
from bridge.model.ipm import (
    IPN,
    IPMSExtension,
    NonReceiptFields,
    OtherNotificationFields,
    ReceiptFields,
)

RULE = "STANAG 4406 Annex A3.1; RFC 8098 §3.3"
NOTIFICATION = "X400-ACP127-Notification"
RECEIPT_TIME = "X400-ACP127-Receipt-Time"
RECIPIENT = "X400-ACP127-Recipient"
SUPP_INFO = "X400-ACP127-Supplementary-Info"
UB_MILITARY_BIGSTRING = 128  # MMSUpperBounds ub-military-bigstring
#: PrintableString(bound, what) as the MDN reader makes it (bridge.convert.mdn._printable)
Printable = Callable[[str, int, str, list[Defect]], str]


def _extensions(ipn: IPN) -> tuple[IPMSExtension, ...]:
    exts = tuple(ipn.extensions or ())
    f = ipn.fields
    if isinstance(f, ReceiptFields | NonReceiptFields):
        exts += tuple(f.extensions or ())
    elif isinstance(f, OtherNotificationFields):
        try:
            exts += other_notification_from(f.value.ber)
        except Exception:  # noqa: BLE001 -- a national type we cannot read: not ours
            pass
    return exts


def responses(ipn: IPN) -> list[mmhs.Acp127NotificationResponse]:
    """The ACP 127 notification responses an IPN carries (A3.1), in order."""
    return [e.value for e in _extensions(ipn)
            if isinstance(e.value, mmhs.Acp127NotificationResponse)]


def is_shown(ext: IPMSExtension) -> bool:
    """An IPN extension this module writes (not listed as discarded by ipn_text)."""
    return isinstance(ext.value, mmhs.Acp127NotificationResponse)


def is_military(ipn: IPN) -> bool:
    """Does the IPN carry a military extension (and so go as P772, ``mn``)?"""
    return bool(responses(ipn))


# ------------------------------------------------------------------------- X.400 -> 822


def text_lines(run: Run, ipn: IPN) -> list[str]:
    """Lines of the §5.3.5 notification text for the ACP 127 responses."""
    lines = []
    for r in responses(ipn):
        who = f" for {r.recipient}" if r.recipient is not None else ""
        lines.append(f"ACP 127 notification ({mmhs.acp127_names(r.kinds)}){who} at "
                     f"{date(r.receipt_time)}")
        if r.supplementary_info:
            lines.append(f"   {r.supplementary_info}")
    return lines


def mdn_fields(run: Run, ipn: IPN) -> list[Header]:
    """The MDN extension fields of the (first) ACP 127 response; the rest with a defect."""
    found = responses(ipn)
    if not found:
        return []
    r = found[0]
    out: list[Header] = [(NOTIFICATION, mmhs.acp127_names(r.kinds) or "none"),
                         (RECEIPT_TIME, date(r.receipt_time))]
    if r.recipient is not None:
        out.append((RECIPIENT, r.recipient))
    if r.supplementary_info is not None:
        out.append((SUPP_INFO, r.supplementary_info))
    if r.address_list is not None:
        run.defect("extension-discarded", "ACP 127 notification response: address list "
                   "indicator (no MDN field)", RULE)
    for extra in found[1:]:
        run.defect("extension-discarded", f"ACP 127 notification response {extra} (one per "
                   "MDN)", RULE)
    return out


# ------------------------------------------------------------------------- 822 -> X.400


def _response(fields: EmailMessage, printable: Printable, defects: list[Defect]
              ) -> mmhs.Acp127NotificationResponse | None:
    kinds_text = fields.get(NOTIFICATION)
    if kinds_text is None:
        return None
    kinds = mmhs.Acp127Notification(0)
    for word in unfold(str(kinds_text)).split(","):
        member = mmhs.Acp127Notification.__members__.get(word.strip().upper())
        if member is None:
            defects.append(Defect("mdn-field", f"{NOTIFICATION}: {word.strip()!r} unknown",
                                  RULE))
        else:
            kinds |= member
    when_text = fields.get(RECEIPT_TIME)
    try:
        when = parse_date(str(when_text)) if when_text is not None else None
    except Invalid:
        when = None
    if when is None:
        defects.append(Defect("mdn-field", f"{NOTIFICATION} without a usable {RECEIPT_TIME}:"
                              " no ACP 127 notification response", RULE))
        return None
    recipient, info = fields.get(RECIPIENT), fields.get(SUPP_INFO)
    return mmhs.Acp127NotificationResponse(
        kinds=kinds, receipt_time=when.replace(microsecond=0),
        recipient=None if recipient is None else printable(
            unfold(str(recipient)), UB_MILITARY_BIGSTRING, "ACP 127 recipient", defects),
        supplementary_info=None if info is None else printable(
            unfold(str(info)), UB_MILITARY_BIGSTRING, "ACP 127 supplementary information",
            defects))


def other_fields(fields: EmailMessage, printable: Printable, defects: list[Defect]
                 ) -> OtherNotificationFields | None:
    """An MDN written for an ``other-notification-type-fields`` ACP 127 notification back
    to those fields (None for any other MDN)."""
    if unfold(str(fields.get("X400-Notification-Type", ""))).lower() != "other":
        return None
    r = _response(fields, printable, defects)
    if r is None:
        return None
    ext = IPMSExtension(type=mmhs.ID_MM_ACP127_NOTIFICATION_RESPONSE, value=r)
    return OtherNotificationFields(value=other_notification_to((ext,)))


def with_response(ipn: IPN, fields: EmailMessage, printable: Printable,
                  defects: list[Defect]) -> IPN:
    """An RN / NRN with the ACP 127 response of the MDN's fields as a notification
    extension (an ``other`` IPN has it already, :func:`other_fields`)."""
    from dataclasses import replace

    if isinstance(ipn.fields, OtherNotificationFields):
        return ipn
    r = _response(fields, printable, defects)
    if r is None:
        return ipn
    ext = IPMSExtension(type=mmhs.ID_MM_ACP127_NOTIFICATION_RESPONSE, value=r)
    return replace(ipn, extensions=(*(ipn.extensions or ()), ext))
