"""RFC 6477 §6: a message/rfc822 body part of a P772 message becomes an MM-Message.

§6: "a message/rfc822 body part SHOULD be converted to an MM-Message" (STANAG 4406 Annex A
``id-nato-mmhs-et-mm-message``, the forwarded military message), not to X.420's message
body part.  RFC 2157 §6.5 has already made the forwarded message a
:class:`~bridge.model.ipm.MessageBodyPart`; :func:`mm_messages` marks every forwarded message
of a P772 IPM (at any depth) as an MM-Message.  The other way needs nothing here: an
MM-Message decodes to a ``MessageBodyPart`` and is written as message/rfc822 like any
forwarded IPM (RFC 2157 §6.5).

MMMessageParameters has a mandatory delivery envelope, which a message/rfc822 does not give.
The MM-Message then goes without parameters, and a ``Delivery-Date:`` that RFC 2157 §6.5
turned into the delivery time goes back, as it was, into the forwarded heading's
rfc-822-field extension (RFC 2156 §5.1.3), so nothing is lost and the field comes back.

A nested multipart (RFC 2157 §6.6: a generated heading marked ``isAMessage FALSE``) is not a
forwarded message and stays an X.420 message body part; its parts are walked.
"""

from __future__ import annotations

from dataclasses import replace

from bridge.codec.p22ext import ID_HEX_MULTIPART_MESSAGE_V2, ID_RFC_822_FIELD_LIST
from bridge.convert.mime_text import date
from bridge.convert.result import Defect
from bridge.model.ipm import IPM, BodyPart, IPMSExtension, MessageBodyPart, MultipartType

RULE = "RFC 6477 §6"


def mm_messages(ipm: IPM, defects: list[Defect]) -> IPM:
    """``ipm`` with its forwarded messages as MM-Messages (§6)."""
    body = tuple(_part(b, defects) for b in ipm.body)
    return ipm if body == ipm.body else replace(ipm, body=body)


def _part(b: BodyPart, defects: list[Defect]) -> BodyPart:
    if not isinstance(b, MessageBodyPart):
        return b
    inner = mm_messages(b.ipm, defects)
    if _nested_multipart(inner) or b.mm_message:
        return replace(b, ipm=inner)
    if b.delivery_envelope is None and b.delivery_time is not None:
        field = f"Delivery-Date: {date(b.delivery_time)}"
        inner = _with_field(inner, field)
        defects.append(Defect("mmhs", "MM-Message without parameters (no delivery envelope):"
                              " Delivery-Date kept in the forwarded heading", RULE,
                              lossy=False))
        b = replace(b, delivery_time=None)
    return replace(b, ipm=inner, extended=True, mm_message=True)


def _nested_multipart(ipm: IPM) -> bool:
    return any(e.type == ID_HEX_MULTIPART_MESSAGE_V2 and isinstance(e.value, MultipartType)
               and not e.value.is_message for e in ipm.heading.extensions or ())


def _with_field(ipm: IPM, field: str) -> IPM:
    exts = list(ipm.heading.extensions or ())
    for i, e in enumerate(exts):
        if e.type == ID_RFC_822_FIELD_LIST and isinstance(e.value, tuple):
            exts[i] = IPMSExtension(type=e.type, value=(field, *e.value))
            break
    else:
        exts.append(IPMSExtension(type=ID_RFC_822_FIELD_LIST, value=(field,)))
    return replace(ipm, heading=replace(ipm.heading, extensions=tuple(exts)))
