"""P22 InformationObject (X.420 §7–§8 IPMSInformationObjects) codec values <-> model.

Heading fields, the basic body parts, IPNs.  Extended body parts and heading extensions are
dispatched by OID through the registries in :mod:`bridge.codec.p22ext`.
"""

from __future__ import annotations

from typing import Any

from bridge.codec import asn1
from bridge.codec.extensions import extensions_from, extensions_to
from bridge.codec.orname import orname_from, orname_to
from bridge.codec.p1 import content_type_from, content_type_to, eits_from, eits_to
from bridge.codec.values import (
    bits_to_int,
    decode_utctime,
    encode_utctime,
    int_to_bits,
    teletex,
    to_teletex,
)
from bridge.model.common import Opaque, Priority
from bridge.model.envelope import DeliveryEnvelope, DeliveryFlags
from bridge.model.ipm import (
    IPM,
    IPN,
    AcknowledgmentMode,
    BilaterallyDefinedBodyPart,
    BodyPart,
    G3FacsimileBodyPart,
    Heading,
    IA5TextBodyPart,
    Importance,
    IPMIdentifier,
    IPMSExtension,
    MessageBodyPart,
    NonReceiptFields,
    NotificationRequests,
    OpaqueBodyPart,
    ORDescriptor,
    OtherNotificationFields,
    ReceiptFields,
    RecipientSpecifier,
    Sensitivity,
    TeletexBodyPart,
    VideotexBodyPart,
)

_IMPORTANCE = ("low", "normal", "high")
_SENSITIVITY = {1: "personal", 2: "private", 3: "company-confidential"}
_SENSITIVITY_OF = {v: k for k, v in _SENSITIVITY.items()}
_REPERTOIRE = {2: "ita2", 5: "ia5"}
_REPERTOIRE_OF = {v: k for k, v in _REPERTOIRE.items()}
_NRN_REASON = ("ipm-discarded", "ipm-auto-forwarded")
_DISCARD = ("ipm-expired", "ipm-obsoleted", "user-subscription-terminated", "not-used")
_ACK = ("manual", "automatic")
_PRIORITIES = ("normal", "non-urgent", "urgent")

#: X.420 §7.3 BodyPart basic alternatives the model keeps as BER, with their context tags.
_OPAQUE_BASIC = {"voice": 2, "g4-class1": 4, "nationally-defined": 7, "encrypted": 8,
                 "mixed-mode": 11}
_OPAQUE_TYPE = {"voice": "VoiceBodyPart", "g4-class1": "G4Class1BodyPart",
                "encrypted": "EncryptedBodyPart", "mixed-mode": "MixedModeBodyPart"}
_OPAQUE_NAME = {v: k for k, v in _OPAQUE_BASIC.items()}


# ---------------------------------------------------------------------------- identifiers


def ipm_id_from(v: dict[str, Any]) -> IPMIdentifier:
    """X.420 §7.1.3 IPMIdentifier."""
    user = v.get("user")
    return IPMIdentifier(user=orname_from(user) if user is not None else None,
                         local=v["user-relative-identifier"])


def ipm_id_to(i: IPMIdentifier) -> dict[str, Any]:
    out: dict[str, Any] = {"user-relative-identifier": i.local}
    if i.user is not None:
        out["user"] = orname_to(i.user)
    return out


def descriptor_from(v: dict[str, Any]) -> ORDescriptor:
    """X.420 §7.1.4 ORDescriptor."""
    fn = v.get("formal-name")
    ffn = v.get("free-form-name")
    return ORDescriptor(formal_name=orname_from(fn) if fn is not None else None,
                        free_form_name=teletex(ffn) if ffn is not None else None,
                        telephone=v.get("telephone-number"))


def descriptor_to(d: ORDescriptor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.formal_name is not None:
        out["formal-name"] = orname_to(d.formal_name)
    if d.free_form_name is not None:
        out["free-form-name"] = to_teletex(d.free_form_name)
    if d.telephone is not None:
        out["telephone-number"] = d.telephone
    return out


def ipms_extensions_from(v: list[dict[str, Any]] | None) -> tuple[IPMSExtension, ...] | None:
    from bridge.codec.p22ext import heading_extension_from

    if v is None:
        return None
    return tuple(heading_extension_from(x["type"], x.get("value")) for x in v)


def ipms_extensions_to(exts: tuple[IPMSExtension, ...]) -> list[dict[str, Any]]:
    from bridge.codec.p22ext import heading_extension_to

    out = []
    for ext in exts:
        raw = heading_extension_to(ext)
        out.append({"type": ext.type} if raw is None else {"type": ext.type, "value": raw})
    return out


_SEQUENCE = 0x30  # X.690 §8.9 SEQUENCE, constructed


def ipms_extensions_encoded(exts: tuple[IPMSExtension, ...]) -> asn1.Encoded:
    """X.420 §7.2.17 ``SET OF IPMSExtension`` (heading, recipient and notification
    extensions), hand-written: the contents octets of the SET OF (X.690 §8.12.2, the
    components in the model's order, as asn1tools writes a SET OF), each component
    ``SEQUENCE {type OBJECT IDENTIFIER, value ANY OPTIONAL}`` (§8.9) with the value's own
    complete encoding, no value for an absent one.  Byte for byte what asn1tools writes for
    :func:`ipms_extensions_to` (tests/test_codec_heading_fast.py) at a fraction of the cost:
    a P772 heading carries a dozen of them."""
    from bridge.codec.p22ext import heading_extension_to

    oid, tlv = asn1.object_identifier, asn1.tlv
    out = bytearray()
    for ext in exts:
        raw = heading_extension_to(ext)
        component = oid(ext.type) if raw is None else oid(ext.type) + raw
        n = len(component)
        if n < 0x80:  # the short form (X.690 §8.1.3.4), inline: the usual case
            out += bytes((_SEQUENCE, n))
            out += component
        else:
            out += tlv(_SEQUENCE, component)
    return asn1.Encoded(out)


def _specifier_from(v: dict[str, Any]) -> RecipientSpecifier:
    nr = v.get("notification-requests")
    return RecipientSpecifier(
        recipient=descriptor_from(v["recipient"]),
        notification_requests=NotificationRequests(bits_to_int(nr)) if nr is not None
        else NotificationRequests.NONE,
        reply_requested=v.get("reply-requested", False),
        extensions=ipms_extensions_from(v.get("recipient-extensions")),
    )


def _specifier_to(r: RecipientSpecifier) -> dict[str, Any]:
    out: dict[str, Any] = {"recipient": descriptor_to(r.recipient)}
    if r.notification_requests:
        out["notification-requests"] = int_to_bits(int(r.notification_requests))
    if r.reply_requested:
        out["reply-requested"] = True
    if r.extensions is not None:
        out["recipient-extensions"] = ipms_extensions_encoded(r.extensions)
    return out


# ---------------------------------------------------------------------------- heading


def _seq(v: dict[str, Any], key: str, conv: Any) -> Any:
    return tuple(conv(x) for x in v[key]) if key in v else None


def heading_from(v: dict[str, Any]) -> Heading:
    """X.420 §7.2 Heading -> model (every field)."""
    return Heading(
        this_ipm=ipm_id_from(v["this-IPM"]),
        originator=descriptor_from(v["originator"]) if "originator" in v else None,
        authorizing_users=_seq(v, "authorizing-users", descriptor_from),
        primary=_seq(v, "primary-recipients", _specifier_from),
        copy=_seq(v, "copy-recipients", _specifier_from),
        blind_copy=_seq(v, "blind-copy-recipients", _specifier_from),
        replied_to=ipm_id_from(v["replied-to-IPM"]) if "replied-to-IPM" in v else None,
        obsoleted=_seq(v, "obsoleted-IPMs", ipm_id_from),
        related=_seq(v, "related-IPMs", ipm_id_from),
        subject=teletex(v["subject"]) if "subject" in v else None,
        expiry_time=decode_utctime(v["expiry-time"]) if "expiry-time" in v else None,
        reply_time=decode_utctime(v["reply-time"]) if "reply-time" in v else None,
        reply_recipients=_seq(v, "reply-recipients", descriptor_from),
        importance=Importance(_IMPORTANCE.index(v.get("importance", "normal"))),
        sensitivity=Sensitivity(_SENSITIVITY_OF[v["sensitivity"]])
        if "sensitivity" in v else None,
        auto_forwarded=v.get("auto-forwarded", False),
        extensions=ipms_extensions_from(v.get("extensions")),
    )


def heading_to(h: Heading) -> dict[str, Any]:
    out: dict[str, Any] = {"this-IPM": ipm_id_to(h.this_ipm)}
    if h.originator is not None:
        out["originator"] = descriptor_to(h.originator)
    fields: tuple[tuple[str, tuple[Any, ...] | None, Any], ...] = (
        ("authorizing-users", h.authorizing_users, descriptor_to),
        ("primary-recipients", h.primary, _specifier_to),
        ("copy-recipients", h.copy, _specifier_to),
        ("blind-copy-recipients", h.blind_copy, _specifier_to),
        ("obsoleted-IPMs", h.obsoleted, ipm_id_to),
        ("related-IPMs", h.related, ipm_id_to),
        ("reply-recipients", h.reply_recipients, descriptor_to),
    )
    for key, seq, conv in fields:
        if seq is not None:
            out[key] = [conv(x) for x in seq]
    if h.replied_to is not None:
        out["replied-to-IPM"] = ipm_id_to(h.replied_to)
    if h.subject is not None:
        out["subject"] = to_teletex(h.subject)
    if h.expiry_time is not None:
        out["expiry-time"] = encode_utctime(h.expiry_time)
    if h.reply_time is not None:
        out["reply-time"] = encode_utctime(h.reply_time)
    if h.importance != Importance.NORMAL:
        out["importance"] = _IMPORTANCE[h.importance]
    if h.sensitivity is not None:
        out["sensitivity"] = _SENSITIVITY[h.sensitivity]
    if h.auto_forwarded:
        out["auto-forwarded"] = True
    if h.extensions is not None:
        out["extensions"] = ipms_extensions_encoded(h.extensions)
    return out


# ---------------------------------------------------------------------------- body parts


def delivery_envelope_from(v: dict[str, Any]) -> DeliveryEnvelope:
    """X.411 OtherMessageDeliveryFields (X.420 §7.3.9 delivery-envelope)."""
    ct = v["content-type"]
    oir = v.get("originally-intended-recipient-name")
    return DeliveryEnvelope(
        content_type=content_type_from(ct),
        originator=orname_from(v["originator-name"]),
        this_recipient=orname_from(v["this-recipient-name"]),
        submission_time=decode_utctime(v["message-submission-time"]),
        original_eits=eits_from(v["original-encoded-information-types"])
        if "original-encoded-information-types" in v else None,
        priority=Priority(_PRIORITIES.index(v.get("priority", "normal"))),
        delivery_flags=DeliveryFlags(bits_to_int(v["delivery-flags"]))
        if "delivery-flags" in v else None,
        other_recipients=tuple(orname_from(x) for x in v.get("other-recipient-names", ())),
        originally_intended_recipient=orname_from(oir) if oir is not None else None,
        converted_eits=eits_from(v["converted-encoded-information-types"])
        if "converted-encoded-information-types" in v else None,
        content_identifier=v.get("content-identifier"),
        extensions=extensions_from(v.get("extensions")),
    )


def delivery_envelope_to(d: DeliveryEnvelope) -> dict[str, Any]:
    out: dict[str, Any] = {
        "content-type": content_type_to(d.content_type),
        "originator-name": orname_to(d.originator),
        "this-recipient-name": orname_to(d.this_recipient),
        "message-submission-time": encode_utctime(d.submission_time),
    }
    if d.original_eits is not None:
        out["original-encoded-information-types"] = eits_to(d.original_eits)
    if d.priority != Priority.NORMAL:
        out["priority"] = _PRIORITIES[d.priority]
    if d.delivery_flags is not None:
        out["delivery-flags"] = int_to_bits(int(d.delivery_flags))
    if d.other_recipients:
        out["other-recipient-names"] = [orname_to(x) for x in d.other_recipients]
    if d.originally_intended_recipient is not None:
        out["originally-intended-recipient-name"] = orname_to(d.originally_intended_recipient)
    if d.converted_eits is not None:
        out["converted-encoded-information-types"] = eits_to(d.converted_eits)
    if d.content_identifier is not None:
        out["content-identifier"] = d.content_identifier
    if d.extensions:
        out["extensions"] = extensions_to(d.extensions)
    return out


def ia5_from(v: dict[str, Any], extended: bool = False) -> IA5TextBodyPart:
    rep = v["parameters"].get("repertoire", "ia5")
    return IA5TextBodyPart(text=v["data"], repertoire=_REPERTOIRE_OF[rep], extended=extended)


def ia5_params_to(b: IA5TextBodyPart) -> dict[str, Any]:
    return {"repertoire": _REPERTOIRE[b.repertoire]} if b.repertoire != 5 else {}


def teletex_from(params: dict[str, Any], data: list[bytes],
                 extended: bool = False) -> TeletexBodyPart:
    nbp = params.get("non-basic-parameters")
    return TeletexBodyPart(
        pages=tuple(teletex(p) for p in data), number_of_pages=params.get("number-of-pages"),
        telex_compatible=params.get("telex-compatible", False),
        non_basic_parameters=Opaque(ber=asn1.encode("TeletexNonBasicParameters", nbp))
        if nbp is not None else None, extended=extended)


def teletex_params_to(b: TeletexBodyPart) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if b.number_of_pages is not None:
        params["number-of-pages"] = b.number_of_pages
    if b.telex_compatible:
        params["telex-compatible"] = True
    if b.non_basic_parameters is not None:
        params["non-basic-parameters"] = asn1.decode("TeletexNonBasicParameters",
                                                     b.non_basic_parameters.ber)
    return params


def g3_from(params: dict[str, Any], data: list[tuple[bytes, int]],
            extended: bool = False) -> G3FacsimileBodyPart:
    nbp = params.get("non-basic-parameters")
    return G3FacsimileBodyPart(
        pages=tuple((bytes(d), n) for d, n in data), number_of_pages=params.get("number-of-pages"),
        non_basic_parameters=Opaque(ber=asn1.encode("G3FacsimileNonBasicParameters", nbp))
        if nbp is not None else None, extended=extended)


def g3_params_to(b: G3FacsimileBodyPart) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if b.number_of_pages is not None:
        params["number-of-pages"] = b.number_of_pages
    if b.non_basic_parameters is not None:
        params["non-basic-parameters"] = asn1.decode("G3FacsimileNonBasicParameters",
                                                     b.non_basic_parameters.ber)
    return params


def message_from(params: dict[str, Any], data: dict[str, Any],
                 extended: bool = False) -> MessageBodyPart:
    return MessageBodyPart(
        ipm=ipm_from(data),
        delivery_time=decode_utctime(params["delivery-time"]) if "delivery-time" in params
        else None,
        delivery_envelope=delivery_envelope_from(params["delivery-envelope"])
        if "delivery-envelope" in params else None, extended=extended)


def message_params_to(b: MessageBodyPart) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if b.delivery_time is not None:
        params["delivery-time"] = encode_utctime(b.delivery_time)
    if b.delivery_envelope is not None:
        params["delivery-envelope"] = delivery_envelope_to(b.delivery_envelope)
    return params


def body_part_from(v: tuple[str, Any]) -> BodyPart:
    """X.420 §7.3 BodyPart -> model."""
    from bridge.codec.p22ext import extended_body_part_from

    alt, value = v
    if alt == "extended":
        return extended_body_part_from(value)
    kind, bp = value
    if kind == "ia5-text":
        return ia5_from(bp)
    if kind == "teletex":
        return teletex_from(bp["parameters"], bp["data"])
    if kind == "g3-facsimile":
        return g3_from(bp["parameters"], bp["data"])
    if kind == "videotex":
        return VideotexBodyPart(data=bp["data"], syntax=bp["parameters"].get("syntax"))
    if kind == "message":
        return message_from(bp["parameters"], bp["data"])
    if kind == "bilaterally-defined":
        return BilaterallyDefinedBodyPart(data=bp)
    if kind == "nationally-defined":
        return OpaqueBodyPart(tag=7, value=Opaque(ber=bp))
    return OpaqueBodyPart(tag=_OPAQUE_BASIC[kind],
                          value=Opaque(ber=asn1.encode(_OPAQUE_TYPE[kind], bp)))


def body_part_to(b: BodyPart) -> tuple[str, Any]:
    from bridge.codec.p22ext import extended_body_part_to

    if getattr(b, "extended", False) or not isinstance(
            b, IA5TextBodyPart | TeletexBodyPart | G3FacsimileBodyPart | VideotexBodyPart
            | MessageBodyPart | BilaterallyDefinedBodyPart | OpaqueBodyPart):
        return ("extended", extended_body_part_to(b))
    basic: tuple[str, Any]
    if isinstance(b, IA5TextBodyPart):
        basic = ("ia5-text", {"parameters": ia5_params_to(b), "data": b.text})
    elif isinstance(b, TeletexBodyPart):
        basic = ("teletex", {"parameters": teletex_params_to(b),
                             "data": [to_teletex(p) for p in b.pages]})
    elif isinstance(b, G3FacsimileBodyPart):
        basic = ("g3-facsimile", {"parameters": g3_params_to(b), "data": list(b.pages)})
    elif isinstance(b, VideotexBodyPart):
        basic = ("videotex", {"parameters": {} if b.syntax is None else {"syntax": b.syntax},
                              "data": b.data})
    elif isinstance(b, MessageBodyPart):
        basic = ("message", {"parameters": message_params_to(b), "data": ipm_to(b.ipm)})
    elif isinstance(b, BilaterallyDefinedBodyPart):
        basic = ("bilaterally-defined", b.data)
    else:
        name = _OPAQUE_NAME[b.tag]
        basic = (name, b.value.ber if name == "nationally-defined"
                 else asn1.decode(_OPAQUE_TYPE[name], b.value.ber))
    return ("basic", basic)


# ---------------------------------------------------------------------------- IPM / IPN


def ipm_from(v: dict[str, Any]) -> IPM:
    return IPM(heading=heading_from(v["heading"]),
               body=tuple(body_part_from(b) for b in v["body"]))


def ipm_to(m: IPM) -> dict[str, Any]:
    return {"heading": heading_to(m.heading), "body": [body_part_to(b) for b in m.body]}


def ipn_from(v: dict[str, Any]) -> IPN:
    """X.420 §8 IPN -> model."""
    alt, f = v["choice"]
    fields: ReceiptFields | NonReceiptFields | OtherNotificationFields
    if alt == "receipt-fields":
        fields = ReceiptFields(
            receipt_time=decode_utctime(f["receipt-time"]),
            acknowledgment_mode=AcknowledgmentMode(_ACK.index(f.get("acknowledgment-mode",
                                                                    "manual"))),
            supplementary_info=f.get("suppl-receipt-info"),
            extensions=ipms_extensions_from(f.get("rn-extensions")))
    elif alt == "non-receipt-fields":
        fields = NonReceiptFields(
            reason=_NRN_REASON.index(f["non-receipt-reason"]),
            discard_reason=_DISCARD.index(f["discard-reason"]) if "discard-reason" in f else None,
            auto_forward_comment=f.get("auto-forward-comment"),
            returned_ipm=ipm_from(f["returned-ipm"]) if "returned-ipm" in f else None,
            extensions=ipms_extensions_from(f.get("nrn-extensions")))
    else:
        fields = OtherNotificationFields(
            value=Opaque(ber=asn1.encode("OtherNotificationTypeFields", f)))
    ipo = v.get("ipn-originator")
    iir = v.get("ipm-intended-recipient")
    return IPN(
        subject_ipm=ipm_id_from(v["subject-ipm"]), fields=fields,
        ipn_originator=descriptor_from(ipo) if ipo is not None else None,
        ipm_intended_recipient=descriptor_from(iir) if iir is not None else None,
        conversion_eits=eits_from(v["conversion-eits"]) if "conversion-eits" in v else None,
        extensions=ipms_extensions_from(v.get("notification-extensions")))


def ipn_to(n: IPN) -> dict[str, Any]:
    f = n.fields
    choice: tuple[str, Any]
    if isinstance(f, ReceiptFields):
        rf: dict[str, Any] = {"receipt-time": encode_utctime(f.receipt_time)}
        if f.acknowledgment_mode != AcknowledgmentMode.MANUAL:
            rf["acknowledgment-mode"] = _ACK[f.acknowledgment_mode]
        if f.supplementary_info is not None:
            rf["suppl-receipt-info"] = f.supplementary_info
        if f.extensions is not None:
            rf["rn-extensions"] = ipms_extensions_encoded(f.extensions)
        choice = ("receipt-fields", rf)
    elif isinstance(f, NonReceiptFields):
        nf: dict[str, Any] = {"non-receipt-reason": _NRN_REASON[f.reason]}
        if f.discard_reason is not None:
            nf["discard-reason"] = _DISCARD[f.discard_reason]
        if f.auto_forward_comment is not None:
            nf["auto-forward-comment"] = f.auto_forward_comment
        if f.returned_ipm is not None:
            nf["returned-ipm"] = ipm_to(f.returned_ipm)
        if f.extensions is not None:
            nf["nrn-extensions"] = ipms_extensions_encoded(f.extensions)
        choice = ("non-receipt-fields", nf)
    else:
        choice = ("other-notification-type-fields",
                  asn1.decode("OtherNotificationTypeFields", f.value.ber))
    out: dict[str, Any] = {"subject-ipm": ipm_id_to(n.subject_ipm), "choice": choice}
    if n.ipn_originator is not None:
        out["ipn-originator"] = descriptor_to(n.ipn_originator)
    if n.ipm_intended_recipient is not None:
        out["ipm-intended-recipient"] = descriptor_to(n.ipm_intended_recipient)
    if n.conversion_eits is not None:
        out["conversion-eits"] = eits_to(n.conversion_eits)
    if n.extensions is not None:
        out["notification-extensions"] = ipms_extensions_encoded(n.extensions)
    return out


def information_object_from(v: tuple[str, Any]) -> IPM | IPN:
    alt, body = v
    return ipm_from(body) if alt == "ipm" else ipn_from(body)


def information_object_to(obj: IPM | IPN) -> tuple[str, Any]:
    return ("ipm", ipm_to(obj)) if isinstance(obj, IPM) else ("ipn", ipn_to(obj))
