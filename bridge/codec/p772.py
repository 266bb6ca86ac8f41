"""STANAG 4406 Ed. 2 Annex A (P772) values beyond the A1 heading extensions: codec <-> model.

* A2.1 ACP 127 notification request (``Acp127NotificationType``, a RecipientSpecifier
  extension) and A3.1 ACP 127 notification response (``Acp127NotificationResponse``, an IPN
  extension): registered with the other military extensions in
  :data:`bridge.codec.p22ext.MMHS_HEADING_EXTENSIONS` (:data:`NOTIFICATION_EXTENSIONS`);
* the MM-Message extended body part (``MMMessageParameters`` / ``MMMessageData``, a
  forwarded military message): a row of :data:`bridge.codec.p22ext.EXTENDED_BODY_PARTS`
  (:data:`MM_MESSAGE_ROW`), decoded as a :class:`~bridge.model.ipm.MessageBodyPart` with
  ``mm_message``.  ``delivery-envelope`` is mandatory in MMMessageParameters: a forwarded
  message without one is sent without parameters (X.420 ExtendedBodyPart ``parameters`` is
  OPTIONAL); a delivery time without an envelope cannot be encoded (the converter keeps it
  as ``Delivery-Date:`` in the forwarded heading instead).

The types are in ``asn1/stanag4406-mms.asn``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.codec.values import bits_to_int, decode_utctime, encode_utctime, int_to_bits
from bridge.errors import EncodeError
from bridge.model import mmhs
from bridge.model.common import Opaque
from bridge.model.ipm import BodyPart, IPMSExtension, MessageBodyPart


def _request(v: tuple[bytes, int]) -> mmhs.Acp127NotificationRequest:
    return mmhs.Acp127NotificationRequest(kinds=mmhs.Acp127Notification(bits_to_int(v) & 7))


def _response(v: dict[str, Any]) -> mmhs.Acp127NotificationResponse:
    from bridge.codec import asn1

    lists = v.get("addressListIndicator")
    return mmhs.Acp127NotificationResponse(
        kinds=mmhs.Acp127Notification(bits_to_int(v["acp127-notification-type"]) & 7),
        receipt_time=decode_utctime(v["receipt-time"]),
        recipient=v.get("acp127-recipient"), supplementary_info=v.get("acp127-supp-info"),
        address_list=None if lists is None else Opaque(
            ber=asn1.encode("AddressListDesignatorSeq", lists)))


def _response_to(m: mmhs.Acp127NotificationResponse) -> dict[str, Any]:
    from bridge.codec import asn1

    out: dict[str, Any] = {"acp127-notification-type": int_to_bits(int(m.kinds)),
                           "receipt-time": encode_utctime(m.receipt_time)}
    if m.address_list is not None:
        out["addressListIndicator"] = asn1.decode("AddressListDesignatorSeq",
                                                  m.address_list.ber)
    if m.recipient is not None:
        out["acp127-recipient"] = m.recipient
    if m.supplementary_info is not None:
        out["acp127-supp-info"] = m.supplementary_info
    return out


#: A2.1 / A3.1 extension OID -> (ASN.1 type, decode, encode)
NOTIFICATION_EXTENSIONS: dict[str, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    mmhs.ID_MM_ACP127_NOTIFICATION_REQUEST: (
        "Acp127NotificationType", _request, lambda m: int_to_bits(int(m.kinds))),
    mmhs.ID_MM_ACP127_NOTIFICATION_RESPONSE: (
        "Acp127NotificationResponse", _response, _response_to),
}


def _mm_message(params: dict[str, Any] | None, data: dict[str, Any]) -> MessageBodyPart:
    from bridge.codec import p22

    part = p22.message_from(params or {}, data, extended=True)
    return MessageBodyPart(ipm=part.ipm, delivery_time=part.delivery_time,
                           delivery_envelope=part.delivery_envelope, extended=True,
                           mm_message=True)


def _mm_message_to(b: BodyPart) -> tuple[Any, Any]:
    from bridge.codec import p22

    assert isinstance(b, MessageBodyPart)
    if b.delivery_envelope is None:
        if b.delivery_time is not None:
            raise EncodeError("MM-Message: a delivery time needs the delivery envelope "
                              "(MMMessageParameters, STANAG 4406 Annex A)")
        return None, p22.ipm_to(b.ipm)
    return p22.message_params_to(b), p22.ipm_to(b.ipm)


#: the EXTENDED_BODY_PARTS row (parameters OID, parameters type, data type, decode, encode)
MM_MESSAGE_ROW = (mmhs.ID_EP_MM_MESSAGE, "MMMessageParameters", "MMMessageData", _mm_message,
                  _mm_message_to)


def other_notification_from(ber: bytes) -> tuple[IPMSExtension, ...]:
    """X.420 (1996) OtherNotificationTypeFields (a SET OF IPMSExtension, as the model keeps it
    in :class:`~bridge.model.ipm.OtherNotificationFields`) -> its extensions."""
    from bridge.codec import asn1, p22

    return p22.ipms_extensions_from(asn1.decode("OtherNotificationTypeFields", ber)) or ()


def other_notification_to(exts: tuple[IPMSExtension, ...]) -> Opaque:
    """The reverse of :func:`other_notification_from`."""
    from bridge.codec import asn1, p22

    return Opaque(ber=asn1.encode("OtherNotificationTypeFields", p22.ipms_extensions_to(exts)))
