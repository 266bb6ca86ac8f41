"""STANAG 4406 Ed. 2 Annex A (P772) values beyond the A1 heading extensions: codec <-> model.

* A2.1 ACP 127 notification request (``Acp127NotificationType``, a RecipientSpecifier
  extension) and A3.1 ACP 127 notification response (``Acp127NotificationResponse``, an IPN
  extension): registered with the other military extensions in
  :data:`bridge.codec.p22ext.MMHS_HEADING_EXTENSIONS` (:data:`NOTIFICATION_EXTENSIONS`);
* hand-written BER for the simple shapes of the A1 heading extensions (:data:`FAST`; for
  encoding also the A1.6 exempted addresses, :data:`FAST_TO`), which
  :mod:`bridge.codec.p22ext` tries before asn1tools;
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


# --------------------------------------------- hand-written BER for the simple A1 shapes
#
# A P772 heading carries a dozen A1 heading extensions, each a separate small BER value, and
# asn1tools costs 5-30 µs a value where these loops cost 1-3 µs (bench/mmhs.py, issue 14).
# The shapes: one primitive element (X.690 §8.3 INTEGER, §8.23 PrintableString, UTCTime as
# octets), SEQUENCE OF PrintableString (§8.10; A1.4, A1.5), MMHSDistributionCodes with the
# SICs only, MessageType and OtherRecipientDesignator (§8.12 SET, members in tag order as
# asn1tools writes them; [n] IMPLICIT, §8.14.3).  Encoding gives the octets asn1tools gives
# (definite lengths in the shortest form, §8.1.3).  Decoding takes only the exact shape: one
# identifier octet, short-form lengths (§8.1.3.4), minimal INTEGERs, ASCII strings, the SET
# members once and in tag order, nothing after the value; anything else returns None and
# asn1tools judges (tests/test_codec_p772_fast.py compares both on generated and mutated
# octets).  The values are asn1tools' plain values (bridge.codec.asn1).

_INTEGER, _PRINTABLE, _UTCTIME, _SEQUENCE, _SET = 0x02, 0x13, 0x17, 0x30, 0x31
_CTX0, _CTX1, _CTX0_CONSTRUCTED = 0x80, 0x81, 0xA0  # [0] / [1] IMPLICIT, primitive or not


def _end(raw: bytes, i: int, end: int, tag: int) -> int:
    """The end of the element with identifier ``tag`` and a short-form length at ``raw[i]``,
    when it lies within ``end``; else -1."""
    if i + 2 > end or raw[i] != tag:
        return -1
    length = raw[i + 1]
    j = i + 2 + length
    return j if length < 0x80 and j <= end else -1


def _int(contents: bytes) -> int | None:
    """INTEGER contents (§8.3.2: at least one octet, no redundant leading 9 bits)."""
    if not contents or (len(contents) > 1 and (contents[0], contents[1] & 0x80)
                        in ((0, 0), (0xFF, 0x80))):
        return None
    return int.from_bytes(contents, "big", signed=True)


def _text(contents: bytes) -> str | None:
    # asn1tools reads ASCII as it is (alphabet not checked); other octets are repaired there
    return contents.decode("ascii") if contents.isascii() else None


def _strings(raw: bytes, i: int, end: int) -> list[str] | None:
    """The PrintableStrings from ``raw[i]`` to ``end``."""
    out = []
    while i < end:
        j = _end(raw, i, end, _PRINTABLE)
        text = None if j < 0 else _text(raw[i + 2:j])
        if text is None:
            return None
        out.append(text)
        i = j
    return out


def _whole(raw: bytes, tag: int) -> bool:
    return _end(raw, 0, len(raw), tag) == len(raw)


def _integer_from(raw: bytes) -> int | None:
    return _int(raw[2:]) if _whole(raw, _INTEGER) else None


def _printable_from(raw: bytes) -> str | None:
    return _text(raw[2:]) if _whole(raw, _PRINTABLE) else None


def _utctime_from(raw: bytes) -> bytes | None:
    return raw[2:] if _whole(raw, _UTCTIME) else None


def _strings_from(raw: bytes) -> list[str] | None:
    """A1.4 / A1.5 SEQUENCE OF MilitaryString."""
    return _strings(raw, 2, len(raw)) if _whole(raw, _SEQUENCE) else None


def _distribution_from(raw: bytes) -> dict[str, Any] | None:
    """A1.3 MMHSDistributionCodes without distribution extensions: ``SET {sics [0] SEQUENCE
    OF Sic}`` (or the empty SET)."""
    end = len(raw)
    if not _whole(raw, _SET):
        return None
    if end == 2:
        return {}
    if _end(raw, 2, end, _CTX0_CONSTRUCTED) != end:
        return None
    sics = _strings(raw, 4, end)
    return None if sics is None else {"sics": sics}


def _typed(raw: bytes, i: int, end: int, name: str) -> dict[str, Any] | None:
    """``SET {type [0] INTEGER, <name> [1] MilitaryString}`` at ``raw[i]`` ending at ``end``;
    without ``[1]`` the value has no ``name`` (A1.10 identifier is OPTIONAL)."""
    if _end(raw, i, end, _SET) != end:
        return None
    i += 2
    j = _end(raw, i, end, _CTX0)
    number = None if j < 0 else _int(raw[i + 2:j])
    if number is None:
        return None
    if j == end:
        return {"type": number}
    k = _end(raw, j, end, _CTX1)
    text = None if k != end else _text(raw[j + 2:k])
    return None if text is None else {"type": number, name: text}


def _message_type_from(raw: bytes) -> dict[str, Any] | None:
    """A1.10 ``MessageType ::= SET {type [0] TypeMessage, identifier [1] ... OPTIONAL}``."""
    return _typed(raw, 0, len(raw), "identifier")


def _other_recipients_from(raw: bytes) -> list[dict[str, Any]] | None:
    """A1.12 ``SEQUENCE OF SET {type [0] INTEGER, designator [1] MilitaryString}``."""
    end = len(raw)
    if not _whole(raw, _SEQUENCE):
        return None
    out = []
    i = 2
    while i < end:
        j = _end(raw, i, end, _SET)
        value = None if j < 0 else _typed(raw, i, j, "designator")
        if value is None or len(value) != 2:
            return None
        out.append(value)
        i = j
    return out


def _tlv(tag: int, contents: bytes) -> bytes:
    """Identifier, definite length in the shortest form (§8.1.3.4, §8.1.3.5), contents."""
    n = len(contents)
    if n < 0x80:
        return bytes((tag, n)) + contents
    size = (n.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + n.to_bytes(size, "big") + contents


#: the contents octets of the INTEGERs 0..127 (one octet, §8.3.2): precedences, message types,
#: designator types and most codress numbers are among them
_SMALL_INT = tuple(bytes((n,)) for n in range(0x80))


def _int_contents(value: object) -> bytes | None:
    if type(value) is not int:
        return None
    if 0 <= value < 0x80:
        return _SMALL_INT[value]
    return value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "big", signed=True)


def _ascii(value: object) -> bytes | None:
    return value.encode("ascii") if type(value) is str and value.isascii() else None


def _integer_to(value: object) -> bytes | None:
    contents = _int_contents(value)
    return None if contents is None else _tlv(_INTEGER, contents)


def _printable_to(value: object) -> bytes | None:
    contents = _ascii(value)
    return None if contents is None else _tlv(_PRINTABLE, contents)


def _utctime_to(value: object) -> bytes | None:
    return _tlv(_UTCTIME, value) if type(value) is bytes else None


def _sequence_of(value: object, item_to: Callable[[Any], bytes | None],
                 tag: int = _SEQUENCE) -> bytes | None:
    """SEQUENCE OF (§8.10), or ``[0] IMPLICIT`` with ``tag``: the items encoded in order."""
    contents = _joined(value, item_to)
    return None if contents is None else _tlv(tag, contents)


def _joined(value: object, item_to: Callable[[Any], bytes | None]) -> bytes | None:
    """The contents octets of a SEQUENCE OF ``value`` (§8.10.2): the items in order."""
    if type(value) is not list:
        return None
    parts = []
    for item in value:
        part = item_to(item)
        if part is None:
            return None
        parts.append(part)
    return b"".join(parts)


def _printables(value: object) -> bytes | None:
    """The contents octets of a SEQUENCE OF PrintableString (§8.10.2): the strings in order,
    each with a short-form length (a military string has at most 69 characters) or, when
    longer, through :func:`_tlv`."""
    if type(value) is not list:
        return None
    parts = []
    for item in value:
        if type(item) is not str or not item.isascii():
            return None
        text = item.encode("ascii")
        n = len(text)
        parts.append(bytes((_PRINTABLE, n)) + text if n < 0x80 else _tlv(_PRINTABLE, text))
    return b"".join(parts)


def _strings_to(value: object) -> bytes | None:
    contents = _printables(value)
    return None if contents is None else _tlv(_SEQUENCE, contents)


def _distribution_to(value: object) -> bytes | None:
    if type(value) is not dict or value.keys() - {"sics"}:
        return None
    if "sics" not in value:
        return _tlv(_SET, b"")
    sics = _printables(value["sics"])
    return None if sics is None else _tlv(_SET, _tlv(_CTX0_CONSTRUCTED, sics))


def _typed_to(value: object, name: str, optional: bool) -> bytes | None:
    if type(value) is not dict:
        return None
    number = _int_contents(value.get("type"))
    if number is None:
        return None
    if name not in value:
        return _tlv(_SET, _tlv(_CTX0, number)) if optional and len(value) == 1 else None
    text = _ascii(value[name])
    if text is None or len(value) != 2:
        return None
    return _tlv(_SET, _tlv(_CTX0, number) + _tlv(_CTX1, text))


def _message_type_to(value: object) -> bytes | None:
    return _typed_to(value, "identifier", True)


def _designator_to(value: object) -> bytes | None:
    return _typed_to(value, "designator", False)


def _other_recipients_to(value: object) -> bytes | None:
    return _sequence_of(value, _designator_to)


# A1.6 exempted addresses (``SEQUENCE OF ExemptedAddress``, ExemptedAddress ::= X.420
# §7.1.4 ORDescriptor): the common shape only -- an ORName that is an X.411 §12.2.1.1 ORAddress
# of built-in standard attributes (no domain-defined or extension attributes, no directory
# name), a free-form name, a telephone number.  The SET members in tag order (X.690 §8.11 as
# asn1tools writes them: formal-name [APPLICATION 0] before [0], [1]); a tagged CHOICE takes
# an explicit tag (X.680 §31.2.7), the other tags are IMPLICIT (§8.14.3).  Encoding only
# (FAST_TO): decoding stays asn1tools'.

_NUMERIC_OR_PRINTABLE = {"numeric": 0x12, "printable": 0x13}
#: BuiltInStandardAttributes in SEQUENCE order: name, identifier, CHOICE alternatives -> tag
#: (dict), or None for an IMPLICIT string, or the name of the constructed shape
_STANDARD_ATTRIBUTES: tuple[tuple[str, int, Any], ...] = (
    ("country-name", 0x61, {"x121-dcc-code": 0x12, "iso-3166-alpha2-code": 0x13}),
    ("administration-domain-name", 0x62, _NUMERIC_OR_PRINTABLE),
    ("network-address", 0x80, None),
    ("terminal-identifier", 0x81, None),
    ("private-domain-name", 0xA2, _NUMERIC_OR_PRINTABLE),
    ("organization-name", 0x83, None),
    ("numeric-user-identifier", 0x84, None),
    ("personal-name", 0xA5, "personal"),
    ("organizational-unit-names", 0xA6, "units"),
)
_STANDARD_NAMES = frozenset(name for name, _, _ in _STANDARD_ATTRIBUTES)
#: PersonalName ::= SET, members [0]..[3] IMPLICIT PrintableString in tag order
_PERSONAL = (("surname", 0x80), ("given-name", 0x81), ("initials", 0x82),
             ("generation-qualifier", 0x83))
_PERSONAL_NAMES = frozenset(name for name, _ in _PERSONAL)
_DESCRIPTOR_NAMES = frozenset({"formal-name", "free-form-name", "telephone-number"})


def _personal_to(value: object) -> bytes | None:
    if type(value) is not dict or value.keys() - _PERSONAL_NAMES or "surname" not in value:
        return None
    parts = []
    for name, tag in _PERSONAL:
        if name in value:
            text = _ascii(value[name])
            if text is None:
                return None
            parts.append(_tlv(tag, text))
    return b"".join(parts)


def _choice_to(tags: dict[str, int]) -> Callable[[Any], bytes | None]:
    """A CHOICE of strings as asn1tools gives it, ``(alternative, text)``: its TLV."""
    def encode(item: Any) -> bytes | None:
        if type(item) is not tuple or len(item) != 2 or item[0] not in tags:
            return None
        text = _ascii(item[1])
        return None if text is None else _tlv(tags[item[0]], text)
    return encode


#: BuiltInStandardAttributes in SEQUENCE order: name, identifier, encoder of the contents
#: (organizational-unit-names: [6] IMPLICIT SEQUENCE OF, the strings' TLVs)
_STANDARD_ENCODERS: tuple[tuple[str, int, Callable[[Any], bytes | None]], ...] = tuple(
    (name, tag, _ascii if shape is None else _personal_to if shape == "personal"
     else _printables if shape == "units" else _choice_to(shape))
    for name, tag, shape in _STANDARD_ATTRIBUTES)


def _standard_attributes_to(value: object) -> bytes | None:
    if type(value) is not dict or value.keys() - _STANDARD_NAMES:
        return None
    parts = []
    for name, tag, encode in _STANDARD_ENCODERS:
        if name in value:
            contents = encode(value[name])
            if contents is None:
                return None
            parts.append(_tlv(tag, contents))
    return _tlv(_SEQUENCE, b"".join(parts))


def _descriptor_to(value: object) -> bytes | None:
    """X.420 §7.1.4 ORDescriptor (formal-name an ORName of built-in standard attributes)."""
    if type(value) is not dict or value.keys() - _DESCRIPTOR_NAMES:
        return None
    parts = []
    if "formal-name" in value:
        name = value["formal-name"]
        if type(name) is not dict or name.keys() != {"built-in-standard-attributes"}:
            return None
        attributes = _standard_attributes_to(name["built-in-standard-attributes"])
        if attributes is None:
            return None
        parts.append(_tlv(0x60, attributes))  # [APPLICATION 0] IMPLICIT SEQUENCE
    if "free-form-name" in value:
        ffn = value["free-form-name"]
        if type(ffn) is not bytes:
            return None
        parts.append(_tlv(_CTX0, ffn))  # [0] IMPLICIT TeletexString (octets)
    if "telephone-number" in value:
        phone = _ascii(value["telephone-number"])
        if phone is None:
            return None
        parts.append(_tlv(_CTX1, phone))  # [1] IMPLICIT PrintableString
    return _tlv(_SET, b"".join(parts))


def _exempted_to(value: object) -> bytes | None:
    """A1.6 ``SEQUENCE OF ExemptedAddress``."""
    return _sequence_of(value, _descriptor_to)


#: A1 heading-extension OID -> (decode octets, encode plain value) for the simple shapes; each
#: returns None when the value is not exactly that shape, and asn1tools takes it.
FAST: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes | None]]] = {
    mmhs.ID_MM_PRIMARY_PRECEDENCE: (_integer_from, _integer_to),
    mmhs.ID_MM_COPY_PRECEDENCE: (_integer_from, _integer_to),
    mmhs.ID_MM_MESSAGE_TYPE: (_message_type_from, _message_type_to),
    mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO: (_utctime_from, _utctime_to),
    mmhs.ID_MM_DISTRIBUTION_CODES: (_distribution_from, _distribution_to),
    mmhs.ID_MM_HANDLING_INSTRUCTIONS: (_strings_from, _strings_to),
    mmhs.ID_MM_MESSAGE_INSTRUCTIONS: (_strings_from, _strings_to),
    mmhs.ID_MM_CODRESS_MESSAGE: (_integer_from, _integer_to),
    mmhs.ID_MM_ORIGINATOR_REFERENCE: (_printable_from, _printable_to),
    mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR: (_other_recipients_from, _other_recipients_to),
    mmhs.ID_MM_ACP127_MESSAGE_IDENTIFIER: (_printable_from, _printable_to),
    mmhs.ID_MM_ORIGINATOR_PLAD: (_printable_from, _printable_to),
}

#: A1 heading-extension OID -> encoder of the plain value for the simple shapes (None: not
#: that shape, asn1tools takes it): the encoders of :data:`FAST` and the exempted addresses.
FAST_TO: dict[str, Callable[[Any], bytes | None]] = {
    oid: row[1] for oid, row in FAST.items()} | {mmhs.ID_MM_EXEMPTED_ADDRESS: _exempted_to}
