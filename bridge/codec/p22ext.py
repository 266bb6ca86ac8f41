"""Registries for the open types of P22, by OBJECT IDENTIFIER (X.420 §7.2.17, §7.3.14).

* :data:`HEADING_EXTENSIONS` — IPMS heading / recipient / notification extensions
  (X.420 §7.2.17 and Annex? id-hex-*, id-rex-*; RFC 2156 App L rfc-822-field; RFC 2157 §7.2
  multipart-message) -> (ASN.1 type, decode, encode).
  STANAG 4406 Annex A1 military heading extensions (P772, :data:`MMHS_HEADING_EXTENSIONS`)
  are rows of the same table.
* :data:`EXTENDED_BODY_PARTS` — extended body parts by data OID (X.420 §7.4 id-et-*,
  RFC 2157 App B id-mime-bp-data) -> (decode, encode).

OIDs come from asn1/ (x420-*.asn, mixer.asn).  Anything not listed survives as
:class:`~bridge.model.common.Opaque` / :class:`~bridge.model.ipm.ExtendedBodyPart`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.codec import asn1, p772, repairs
from bridge.codec.values import (
    decode_generalizedtime,
    decode_utctime,
    encode_generalizedtime,
    encode_utctime,
    to_universal_or_bmp,
    universal_or_bmp,
)
from bridge.errors import DecodeError, EncodeError
from bridge.memo import Memo
from bridge.model import charsets, mmhs
from bridge.model.common import Opaque
from bridge.model.ipm import (
    BilaterallyDefinedBodyPart,
    BodyPart,
    ExtendedBodyPart,
    FileTransferBodyPart,
    G3FacsimileBodyPart,
    GeneralTextBodyPart,
    IA5TextBodyPart,
    IPMIdentifier,
    IPMSExtension,
    MessageBodyPart,
    MimeBodyPart,
    MultipartType,
    TeletexBodyPart,
)
from bridge.model.oraddress import UniversalText

# X.420 object identifiers (IPMSObjectIdentifiers): id-et = {id-ipms 4}, id-ep = {id-ipms 11},
# id-hex = {id-ipms 5}, id-rex = {id-ipms 20}; RFC 2156/2157 mixer OIDs under 1.3.6.1.7.1.
ID_ET = "2.6.1.4"
ID_EP = "2.6.1.11"
ID_HEX = "2.6.1.5"
ID_REX = "2.6.1.20"
ID_ET_IA5_TEXT, ID_EP_IA5_TEXT = ID_ET + ".0", ID_EP + ".0"
ID_ET_G3_FACSIMILE, ID_EP_G3_FACSIMILE = ID_ET + ".2", ID_EP + ".2"
ID_ET_TELETEX, ID_EP_TELETEX = ID_ET + ".4", ID_EP + ".4"
ID_ET_MESSAGE, ID_EP_MESSAGE = ID_ET + ".7", ID_EP + ".7"
ID_ET_BILATERALLY_DEFINED = ID_ET + ".9"
ID_ET_GENERAL_TEXT, ID_EP_GENERAL_TEXT = ID_ET + ".11", ID_EP + ".11"
ID_ET_FILE_TRANSFER, ID_EP_FILE_TRANSFER = ID_ET + ".12", ID_EP + ".12"
ID_MIME_BP_DATA = "1.3.6.1.7.1.2.1.1"
ID_MIME_BP_PARAMETERS = "1.3.6.1.7.1.2.2.1"
ID_RFC_822_FIELD_LIST = "1.3.6.1.7.1.3.2"
ID_HEX_MULTIPART_MESSAGE_V2 = "1.3.6.1.7.1.1.3"


def _utext(v: Any) -> UniversalText:
    text, lang = universal_or_bmp(v)
    return UniversalText(text=text, language=lang)


def _utext_to(u: UniversalText) -> Any:
    return to_universal_or_bmp(u.text, u.language)


_AUTO_SUBMITTED = ("not-auto-submitted", "auto-generated", "auto-replied")

#: heading-extension OID -> (ASN.1 type, decode, encode)
HEADING_EXTENSIONS: dict[str, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    ID_HEX + ".0": ("IncompleteCopy", lambda v: None, lambda v: None),
    ID_HEX + ".1": ("Languages", tuple, list),
    ID_HEX + ".2": ("AutoSubmitted", _AUTO_SUBMITTED.index, lambda v: _AUTO_SUBMITTED[v]),
    ID_HEX + ".5": ("AuthorizationTime", decode_generalizedtime, encode_generalizedtime),
    ID_HEX + ".8": ("ExtendedSubject", _utext, _utext_to),
    ID_HEX + ".11": ("OriginatorsReference", _utext, _utext_to),
    ID_HEX + ".12": ("PrecedencePolicyIdentifier", str, str),
    ID_REX + ".0": ("CirculationListIndicator", lambda v: None, lambda v: None),
    ID_REX + ".1": ("Precedence", int, int),
    ID_RFC_822_FIELD_LIST: ("RFC822FieldList", tuple, list),
    ID_HEX_MULTIPART_MESSAGE_V2: (
        "MultipartType",
        lambda v: MultipartType(subtype=v["subtype"], is_message=v.get("isAMessage", True)),
        lambda m: {"subtype": m.subtype} if m.is_message else
        {"subtype": m.subtype, "isAMessage": False}),
}


# ------------------------------------------------ STANAG 4406 Annex A1 (P772) extensions


def _descriptors(v: list[dict[str, Any]]) -> mmhs.ExemptedAddresses:
    from bridge.codec import p22

    return mmhs.ExemptedAddresses(addresses=tuple(p22.descriptor_from(d) for d in v))


def _descriptors_to(m: mmhs.ExemptedAddresses) -> list[dict[str, Any]]:
    from bridge.codec import p22

    return [p22.descriptor_to(d) for d in m.addresses]


def _distribution(v: dict[str, Any]) -> mmhs.DistributionCodes:
    sics = v.get("sics")
    exts = v.get("dist-Extensions")
    return mmhs.DistributionCodes(
        sics=None if sics is None else tuple(sics),
        extensions=None if exts is None else tuple(_dist_extension(e) for e in exts))


def _dist_extension(v: tuple[str, dict[str, Any]]) -> mmhs.DistributionExtension:
    kind, e = v
    if kind == "instance-of":
        return mmhs.DistributionExtension(type=e["type-id"], value=Opaque(ber=e["value"]))
    return mmhs.DistributionExtension(type=e["dist-type"], value=Opaque(ber=e["dist-value"]),
                                      instance_of=False)


def _dist_extension_to(m: mmhs.DistributionExtension) -> tuple[str, dict[str, Any]]:
    if m.instance_of:
        return ("instance-of", {"type-id": m.type, "value": m.value.ber})
    return ("sequence", {"dist-type": m.type, "dist-value": m.value.ber})


def _distribution_to(m: mmhs.DistributionCodes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m.sics is not None:
        out["sics"] = list(m.sics)
    if m.extensions is not None:
        out["dist-Extensions"] = [_dist_extension_to(e) for e in m.extensions]
    return out


def _message_type(v: dict[str, Any]) -> mmhs.MessageType:
    return mmhs.MessageType(type=v["type"], identifier=v.get("identifier"))


def _message_type_to(m: mmhs.MessageType) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.type}
    if m.identifier is not None:
        out["identifier"] = m.identifier
    return out


_OTHER_RECIPIENT_TYPES = (0, 1)  # OtherRecipientDesignator type primary(0), copy(1)


def _other_recipients(v: list[dict[str, Any]]) -> mmhs.OtherRecipientsIndicator:
    if any(d["type"] not in _OTHER_RECIPIENT_TYPES for d in v):
        raise ValueError("other-recipients-indicator type is neither primary nor copy")
    return mmhs.OtherRecipientsIndicator(recipients=tuple(
        mmhs.OtherRecipient(designator=d["designator"], copy=d["type"] == 1) for d in v))


def _other_recipients_to(m: mmhs.OtherRecipientsIndicator) -> list[dict[str, Any]]:
    return [{"type": int(r.copy), "designator": r.designator} for r in m.recipients]


#: STANAG 4406 Ed. 2 Annex A1 heading-extension OID -> (ASN.1 type, decode, encode); the
#: types are in asn1/stanag4406-mms.asn.  Address list indicator, pilot forwarding info and
#: information labels are not listed: Opaque.  The ACP 127 notification extensions are added
#: from bridge.codec.p772.
MMHS_HEADING_EXTENSIONS: dict[str, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    mmhs.ID_MM_PRIMARY_PRECEDENCE: (
        "PrimaryPrecedence", lambda v: mmhs.PrimaryPrecedence(level=v), lambda m: m.level),
    mmhs.ID_MM_COPY_PRECEDENCE: (
        "CopyPrecedence", lambda v: mmhs.CopyPrecedence(level=v), lambda m: m.level),
    mmhs.ID_MM_MESSAGE_TYPE: ("MessageType", _message_type, _message_type_to),
    mmhs.ID_MM_EXEMPTED_ADDRESS: ("ExemptedAddressSeq", _descriptors, _descriptors_to),
    mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO: (
        "ExtendedAuthorisationInfo",
        lambda v: mmhs.ExtendedAuthorisationInfo(time=decode_utctime(v)),
        lambda m: encode_utctime(m.time)),
    mmhs.ID_MM_DISTRIBUTION_CODES: ("MMHSDistributionCodes", _distribution, _distribution_to),
    mmhs.ID_MM_HANDLING_INSTRUCTIONS: (
        "HandlingInstructions", lambda v: mmhs.HandlingInstructions(instructions=tuple(v)),
        lambda m: list(m.instructions)),
    mmhs.ID_MM_MESSAGE_INSTRUCTIONS: (
        "MessageInstructions", lambda v: mmhs.MessageInstructions(instructions=tuple(v)),
        lambda m: list(m.instructions)),
    mmhs.ID_MM_CODRESS_MESSAGE: (
        "CodressMessage", lambda v: mmhs.CodressMessage(number=v), lambda m: m.number),
    mmhs.ID_MM_ORIGINATOR_REFERENCE: (
        "OriginatorReference", lambda v: mmhs.OriginatorReference(text=v), lambda m: m.text),
    mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR: (
        "OtherRecipientDesignatorSeq", _other_recipients, _other_recipients_to),
    mmhs.ID_MM_ACP127_MESSAGE_IDENTIFIER: (
        "Acp127MessageIdentifier", lambda v: mmhs.Acp127MessageIdentifier(text=v),
        lambda m: m.text),
    mmhs.ID_MM_ORIGINATOR_PLAD: (
        "OriginatorPlad", lambda v: mmhs.OriginatorPlad(text=v), lambda m: m.text),
}
MMHS_HEADING_EXTENSIONS.update(p772.NOTIFICATION_EXTENSIONS)  # A2.1, A3.1
HEADING_EXTENSIONS.update(MMHS_HEADING_EXTENSIONS)

#: the most military heading extensions :func:`heading_extension_from` keeps decoded
MMHS_DECODED_KEPT = 1024
#: (OID, BER) -> the decoded extension (frozen model values)
_MMHS_DECODED: Memo[tuple[str, bytes], IPMSExtension] = Memo(MMHS_DECODED_KEPT)


def heading_extension_from(oid: str, raw: bytes | None) -> IPMSExtension:
    """One IPMSExtension -> model; unknown OIDs keep their value as Opaque.  A military
    (STANAG 4406) value that does not decode is kept as Opaque too, so that one bad
    extension from a national system does not make the whole P772 content unreadable.

    Military values are kept decoded per exact BER (up to :data:`MMHS_DECODED_KEPT`, then
    forgotten all at once): a unit's precedences, SICs, instructions, PLAD and exempted
    addresses repeat from message to message (issue 14: P772 within 1.2x the cost of P22)."""
    row = HEADING_EXTENSIONS.get(oid)
    if raw is None:
        return IPMSExtension(type=oid, value=None)
    if row is None:
        return IPMSExtension(type=oid, value=Opaque(ber=raw))
    if oid in MMHS_HEADING_EXTENSIONS:
        key = (oid, raw)
        found = _MMHS_DECODED.get(key)
        if found is None:
            before = repairs.noted()
            found = _mmhs_extension_from(oid, raw, row)
            if repairs.noted() == before:   # a repaired value is noted again each time read
                _MMHS_DECODED.keep(key, found)
        return found
    return IPMSExtension(type=oid, value=row[1](asn1.decode(row[0], raw)))


def _mmhs_extension_from(oid: str, raw: bytes,
                         row: tuple[str, Callable[[Any], Any], Callable[[Any], Any]]
                         ) -> IPMSExtension:
    try:
        fast = p772.FAST.get(oid)  # hand-written BER of the simple shapes, else asn1tools
        plain = None if fast is None else fast[0](raw)
        if plain is None:
            plain = asn1.decode(row[0], raw)
        return IPMSExtension(type=oid, value=row[1](plain))
    except (DecodeError, ValueError, KeyError):
        return IPMSExtension(type=oid, value=Opaque(ber=raw))


#: (OID, id of the value) -> (the value, its BER): see :func:`heading_extension_to`
_MMHS_ENCODED: Memo[tuple[str, int], tuple[object, bytes | None]] = Memo(MMHS_DECODED_KEPT)


def heading_extension_to(ext: IPMSExtension) -> bytes | None:
    """One IPMSExtension's value as BER (None: no value).

    A military value object is encoded once while it is kept (up to
    :data:`MMHS_DECODED_KEPT` of them): the RFC 6477 field readers hand the same frozen
    value to every message with the same field text (bridge.convert.mmhs), and decoding
    gives the same object for the same octets (:func:`heading_extension_from`).  The table
    holds the value itself, so its identity cannot be taken by another object meanwhile."""
    if ext.value is None:
        return None
    if isinstance(ext.value, Opaque):
        return ext.value.ber
    if ext.type not in MMHS_HEADING_EXTENSIONS:
        return _extension_to(ext)
    key = (ext.type, id(ext.value))
    hit = _MMHS_ENCODED.get(key)
    if hit is not None and hit[0] is ext.value:
        return hit[1]
    raw = _extension_to(ext)
    _MMHS_ENCODED.keep(key, (ext.value, raw))
    return raw


def _extension_to(ext: IPMSExtension) -> bytes | None:
    row = HEADING_EXTENSIONS[ext.type]
    plain = row[2](ext.value)
    fast = p772.FAST_TO.get(ext.type)  # hand-written BER of the simple shapes, else asn1tools
    raw = None if fast is None else fast(plain)
    return raw if raw is not None else asn1.encode(row[0], plain)


# ---------------------------------------------------------------------------- body parts


def _general_text(params: list[int] | None, data: bytes) -> GeneralTextBodyPart:
    regs = tuple(params or ())
    return GeneralTextBodyPart(text=charsets.iso2022_decode(data, initial=regs or (6,)),
                               charsets=regs)


def _general_text_to(b: GeneralTextBodyPart) -> tuple[Any, Any]:
    # the registrations go on the wire in the model's order (a SET OF has no required order),
    # which is also the order the decoder designates them in (iso2022_decode ``initial``)
    regs = b.charsets or charsets.general_text_charsets(b.text)
    return list(regs), charsets.iso2022_encode(b.text, regs)


_FT_ATTR_TYPED = ("pathname", "date-and-time-of-creation", "date-and-time-of-last-modification",
                  "date-and-time-of-last-read-access", "object-size")
#: RFC 2157 §2.3.2 related-stored-file descriptive-relationship marking a Content-ID
FTBP_CONTENT_ID_MARKER = b"Internet MIME Body Part"


def _date_attr(attrs: dict[str, Any], key: str) -> Any:
    v = attrs.get(key)
    if v is None or v[0] != "actual-values":
        return None
    return decode_generalizedtime(v[1])


def _is_content_id(item: dict[str, Any]) -> bool:
    """A related-stored-file element in the RFC 2157 §2.3.2 Content-ID form."""
    kind, xref = item["file-identifier"]
    return (kind == "cross-reference"
            and item.get("relationship") == ("descriptive-relationship",
                                             FTBP_CONTENT_ID_MARKER)
            and xref.get("application-cross-reference") == b""
            and "message-reference" in xref and "body-part-reference" not in xref)


def _take_related(params: dict[str, Any]) -> IPMIdentifier | None:
    """Pop the first Content-ID related-stored-file element (§2.3.2) from ``params``."""
    from bridge.codec import p22

    items = list(params.get("related-stored-file", ()))
    for i, item in enumerate(items):
        if _is_content_id(item):
            rest = items[:i] + items[i + 1:]
            if rest:
                params["related-stored-file"] = rest
            else:
                del params["related-stored-file"]
            return p22.ipm_id_from(item["file-identifier"][1]["message-reference"])
    return None


def _take_environment(params: dict[str, Any]) -> tuple[str | None, str | None]:
    """Pop the registered application-reference and the first user-visible-string (§2.3.3)."""
    env = dict(params.get("environment", {}))
    app_ref = None
    ref = env.get("application-reference")
    if ref is not None and ref[0] == "registered-identifier":
        app_ref = str(ref[1])
        del env["application-reference"]
    description = None
    strings = list(env.get("user-visible-string", ()))
    if strings:
        # GraphicString; Latin-1 keeps every octet (as for the pathname)
        description = strings[0].decode("latin-1")
        if strings[1:]:
            env["user-visible-string"] = strings[1:]
        else:
            del env["user-visible-string"]
    if env:
        params["environment"] = env
    else:
        params.pop("environment", None)
    return app_ref, description


def _take_headers(params: dict[str, Any]) -> tuple[str, ...]:
    """Pop the first non-empty rfc-822-field extension (RFC 2157 §2.3.2 other headers)."""
    exts = list(params.get("extensions", ()))
    for i, ext in enumerate(exts):
        if ext["type"] != ID_RFC_822_FIELD_LIST or ext.get("value") is None:
            continue
        try:
            fields = tuple(asn1.decode("RFC822FieldList", ext["value"]))
        except DecodeError:
            continue
        if not fields:
            continue
        rest = exts[:i] + exts[i + 1:]
        if rest:
            params["extensions"] = rest
        else:
            del params["extensions"]
        return fields
    return ()


def _file_transfer(params: dict[str, Any] | None, data: list[dict[str, Any]]) -> BodyPart | None:
    """RFC 2157 §2.3 FTBP -> model, or None when the data is not plain octet-aligned."""
    refs = {e.get("direct-reference") for e in data}
    if any(e["encoding"][0] != "octet-aligned" for e in data) or len(refs) > 1:
        return None
    params = dict(params or {})
    attrs = dict(params.get("file-attributes", {}))
    filename = None
    if "pathname" in attrs:
        parts = attrs["pathname"][1]
        # GraphicString pathname components; Latin-1 keeps every octet (RFC 2157 §2.3.2 puts
        # any encoded-word handling in the MIME mapping, not here)
        filename = "/".join(p.decode("latin-1") for p in parts)
    ctype = None
    if "contents-type" in params and params["contents-type"][0] == "document-type" and (
            "parameter" not in params["contents-type"][1]):
        ctype = str(params["contents-type"][1]["document-type-name"])
        del params["contents-type"]
    size = attrs.get("object-size")
    created = _date_attr(attrs, "date-and-time-of-creation")
    modified = _date_attr(attrs, "date-and-time-of-last-modification")
    read = _date_attr(attrs, "date-and-time-of-last-read-access")
    for key in _FT_ATTR_TYPED:
        if key == "pathname" or (key in attrs and attrs[key][0] == "actual-values"):
            attrs.pop(key, None)
    if attrs:
        params["file-attributes"] = attrs
    else:
        params.pop("file-attributes", None)
    related = _take_related(params)
    app_ref, description = _take_environment(params)
    headers = _take_headers(params)
    return FileTransferBodyPart(
        data=b"".join(e["encoding"][1] for e in data),
        data_reference=next(iter(refs)) if refs else None,
        filename=filename, contents_type=ctype, created=created, modified=modified, read=read,
        size=size[1] if size is not None and size[0] == "actual-values" else None,
        application_reference=app_ref, description=description, related_message=related,
        headers=headers,
        other_parameters=(Opaque(ber=asn1.encode("FileTransferParameters", params))
                          if params else None))


def _graphic_octets(text: str, what: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise EncodeError(f"FTBP {what} {text!r} is not Latin-1") from None


def _file_transfer_to(b: FileTransferBodyPart) -> tuple[Any, Any]:
    """Model -> FileTransferParameters: ``other_parameters`` with the typed fields merged in
    (each typed element goes first in its SET OF / SEQUENCE OF, where decoding takes it)."""
    from bridge.codec import p22

    params: dict[str, Any] = (asn1.decode("FileTransferParameters", b.other_parameters.ber)
                              if b.other_parameters is not None else {})
    if b.related_message is not None:
        params["related-stored-file"] = [
            {"file-identifier": ("cross-reference", {
                "application-cross-reference": b"",
                "message-reference": p22.ipm_id_to(b.related_message)}),
             "relationship": ("descriptive-relationship", FTBP_CONTENT_ID_MARKER)},
            *params.get("related-stored-file", ())]
    env: dict[str, Any] = dict(params.get("environment", {}))
    if b.application_reference is not None:
        env["application-reference"] = ("registered-identifier", b.application_reference)
    if b.description is not None:
        env["user-visible-string"] = [_graphic_octets(b.description, "description"),
                                      *env.get("user-visible-string", ())]
    if env:
        params["environment"] = env
    attrs: dict[str, Any] = dict(params.get("file-attributes", {}))
    if b.filename is not None:
        name = _graphic_octets(b.filename, "file name")
        attrs["pathname"] = ("incomplete-pathname", name.split(b"/"))
    for key, value in (("date-and-time-of-creation", b.created),
                       ("date-and-time-of-last-modification", b.modified),
                       ("date-and-time-of-last-read-access", b.read)):
        if value is not None:
            attrs[key] = ("actual-values", encode_generalizedtime(value))
    if b.size is not None:
        attrs["object-size"] = ("actual-values", b.size)
    if attrs:
        params["file-attributes"] = attrs
    if b.contents_type is not None:
        params["contents-type"] = ("document-type", {"document-type-name": b.contents_type})
    if b.headers:
        params["extensions"] = [
            {"type": ID_RFC_822_FIELD_LIST,
             "value": asn1.encode("RFC822FieldList", list(b.headers))},
            *params.get("extensions", ())]
    ext: dict[str, Any] = {"encoding": ("octet-aligned", b.data)}
    if b.data_reference is not None:
        ext = {"direct-reference": b.data_reference, **ext}
    return params, [ext]


def _mime(params: dict[str, Any] | None, data: bytes) -> MimeBodyPart:
    p = params or {"content-type": "application/octet-stream", "content-parameters": [],
                   "other-header-fields": []}
    return MimeBodyPart(
        content_type=p["content-type"],
        parameters=tuple((x["parameter"], x["parameter-value"]) for x in p["content-parameters"]),
        headers=tuple(p["other-header-fields"]), data=data)


def _mime_to(b: MimeBodyPart) -> tuple[Any, Any]:
    return ({"content-type": b.content_type,
             "content-parameters": [{"parameter": k, "parameter-value": v}
                                    for k, v in b.parameters],
             "other-header-fields": list(b.headers)}, b.data)


def _basic(kind: str) -> Callable[[Any, Any], BodyPart]:
    from bridge.codec import p22

    def dec(params: Any, data: Any) -> BodyPart:
        params = params or {}
        if kind == "ia5":
            return p22.ia5_from({"parameters": params, "data": data}, extended=True)
        if kind == "teletex":
            return p22.teletex_from(params, data, extended=True)
        if kind == "g3":
            return p22.g3_from(params, data, extended=True)
        return p22.message_from(params, data, extended=True)

    return dec


def _basic_to(b: BodyPart) -> tuple[Any, Any]:
    from bridge.codec import p22

    if isinstance(b, IA5TextBodyPart):
        return p22.ia5_params_to(b), b.text
    if isinstance(b, TeletexBodyPart):
        return p22.teletex_params_to(b), [charsets.t61_encode(p) for p in b.pages]
    if isinstance(b, G3FacsimileBodyPart):
        return p22.g3_params_to(b), list(b.pages)
    assert isinstance(b, MessageBodyPart)
    return p22.message_params_to(b), p22.ipm_to(b.ipm)


#: data OID -> (parameters OID, parameters type, data type, decode(params, data), encode)
EXTENDED_BODY_PARTS: dict[str, tuple[str | None, str | None, str,
                                     Callable[[Any, Any], BodyPart | None],
                                     Callable[[Any], tuple[Any, Any]]]] = {
    ID_ET_IA5_TEXT: (ID_EP_IA5_TEXT, "IA5TextParameters", "IA5TextData", _basic("ia5"),
                     _basic_to),
    ID_ET_TELETEX: (ID_EP_TELETEX, "TeletexParameters", "TeletexData", _basic("teletex"),
                    _basic_to),
    ID_ET_G3_FACSIMILE: (ID_EP_G3_FACSIMILE, "G3FacsimileParameters", "G3FacsimileData",
                         _basic("g3"), _basic_to),
    ID_ET_MESSAGE: (ID_EP_MESSAGE, "MessageParameters", "MessageData", _basic("message"),
                    _basic_to),
    ID_ET_BILATERALLY_DEFINED: (None, None, "BilaterallyDefinedData",
                                lambda p, d: BilaterallyDefinedBodyPart(data=d, extended=True),
                                lambda b: (None, b.data)),
    ID_ET_GENERAL_TEXT: (ID_EP_GENERAL_TEXT, "GeneralTextParameters", "GeneralTextData",
                         _general_text, _general_text_to),
    ID_ET_FILE_TRANSFER: (ID_EP_FILE_TRANSFER, "FileTransferParameters", "FileTransferData",
                          _file_transfer, _file_transfer_to),
    ID_MIME_BP_DATA: (ID_MIME_BP_PARAMETERS, "MimeParameters", "MimeData", _mime, _mime_to),
    mmhs.ID_ET_MM_MESSAGE: p772.MM_MESSAGE_ROW,  # STANAG 4406 Annex A MM-Message
}

_MODEL_OID: dict[type, str] = {
    IA5TextBodyPart: ID_ET_IA5_TEXT, TeletexBodyPart: ID_ET_TELETEX,
    G3FacsimileBodyPart: ID_ET_G3_FACSIMILE, MessageBodyPart: ID_ET_MESSAGE,
    BilaterallyDefinedBodyPart: ID_ET_BILATERALLY_DEFINED,
    GeneralTextBodyPart: ID_ET_GENERAL_TEXT, FileTransferBodyPart: ID_ET_FILE_TRANSFER,
    MimeBodyPart: ID_MIME_BP_DATA,
}


def extended_body_part_from(v: dict[str, Any]) -> BodyPart:
    """X.420 §7.3.14 ExtendedBodyPart -> the model type registered for its data OID."""
    data_oid = v["data"]["type-id"]
    params = v.get("parameters")
    generic = ExtendedBodyPart(
        data_type=data_oid, data=Opaque(ber=v["data"]["value"]),
        parameters_type=params["type-id"] if params else None,
        parameters=Opaque(ber=params["value"]) if params else None)
    row = EXTENDED_BODY_PARTS.get(data_oid)
    if row is None or (params is not None and params["type-id"] != row[0]):
        return generic
    try:
        pval = asn1.decode(row[1], params["value"]) if params is not None and row[1] else None
        dval = asn1.decode(row[2], v["data"]["value"])
    except DecodeError:
        return generic
    return row[3](pval, dval) or generic


def extended_body_part_to(b: BodyPart) -> dict[str, Any]:
    if isinstance(b, ExtendedBodyPart):
        out: dict[str, Any] = {"data": {"type-id": b.data_type, "value": b.data.ber}}
        if b.parameters is not None:
            out["parameters"] = {"type-id": b.parameters_type, "value": b.parameters.ber}
        return out
    data_oid = mmhs.ID_ET_MM_MESSAGE if getattr(b, "mm_message", False) else _MODEL_OID[type(b)]
    params_oid, params_type, data_type, _dec, enc = EXTENDED_BODY_PARTS[data_oid]
    pval, dval = enc(b)
    out = {"data": {"type-id": data_oid, "value": asn1.encode(data_type, dval)}}
    if pval is not None and params_type is not None:
        out["parameters"] = {"type-id": params_oid, "value": asn1.encode(params_type, pval)}
    return out

