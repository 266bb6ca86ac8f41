"""ORName / ORAddress: codec values <-> :mod:`bridge.model.oraddress` (X.411 §18.4–18.5).

Extension attributes are open types (``[1] EXPLICIT ANY`` in asn1/); the table
:data:`EXTENSION_ATTRIBUTE_TYPES` names the ASN.1 type of each value, and attributes of
unknown types are kept as :class:`~bridge.model.common.Opaque` BER.
"""

from __future__ import annotations

import functools
from typing import Any

from bridge.codec import asn1
from bridge.codec.values import (
    choose_numeric,
    numeric_or_printable,
    teletex,
    to_teletex,
    to_universal_or_bmp,
    universal_or_bmp,
)
from bridge.errors import DecodeError
from bridge.model.common import GlobalDomainIdentifier, Opaque
from bridge.model.oraddress import (
    PDS_PARAMETER_TYPES,
    UNIVERSAL_SIMPLE_TYPES,
    AttributeValueAssertion,
    DirectoryName,
    DomainDefinedAttribute,
    ExtendedNetworkAddress,
    ORAddress,
    ORName,
    PersonalName,
    PostalAttribute,
    UniversalAttribute,
    UniversalText,
)
from bridge.model.oraddress import ExtensionAttributeType as EAT

#: X.411 §18.5 extension attribute type -> the ASN.1 type of its value (asn1/ names).
EXTENSION_ATTRIBUTE_TYPES: dict[int, str] = {
    1: "CommonName", 2: "TeletexCommonName", 3: "TeletexOrganizationName",
    4: "TeletexPersonalName", 5: "TeletexOrganizationalUnitNames",
    6: "TeletexDomainDefinedAttributes", 7: "PDSName", 8: "PhysicalDeliveryCountryName",
    9: "PostalCode", 10: "PDSParameter", 11: "PDSParameter", 12: "PDSParameter",
    13: "PDSParameter", 14: "PDSParameter", 15: "PDSParameter", 16: "UnformattedPostalAddress",
    17: "PDSParameter", 18: "PDSParameter", 19: "PDSParameter", 20: "PDSParameter",
    21: "PDSParameter", 22: "ExtendedNetworkAddress", 23: "TerminalType",
    24: "UniversalOrBMPString", 25: "UniversalOrBMPString", 26: "UniversalPersonalName",
    27: "UniversalOrganizationalUnitNames", 28: "UniversalDomainDefinedAttributes",
    **{t: "UniversalOrBMPString" for t in range(29, 41)},
}

_PN_KEYS = (("surname", "surname"), ("given-name", "given_name"), ("initials", "initials"),
            ("generation-qualifier", "generation_qualifier"))


# ---------------------------------------------------------------------------- decode


def _personal_name(value: dict[str, Any], conv: Any = None) -> PersonalName:
    kw = {attr: (conv(value[key]) if conv else value[key])
          for key, attr in _PN_KEYS if key in value}
    return PersonalName(**kw)


def gdi_from(value: dict[str, Any]) -> GlobalDomainIdentifier:
    """X.411 §18.3.1 GlobalDomainIdentifier."""
    prmd = value.get("private-domain-identifier")
    return GlobalDomainIdentifier(
        country=numeric_or_printable(value["country-name"]),
        admd=numeric_or_printable(value["administration-domain-name"]),
        prmd=numeric_or_printable(prmd) if prmd is not None else None,
    )


def gdi_to(gdi: GlobalDomainIdentifier) -> dict[str, Any]:
    out: dict[str, Any] = {
        "country-name": choose_numeric(gdi.country, "x121-dcc-code", "iso-3166-alpha2-code"),
        "administration-domain-name": choose_numeric(gdi.admd, "numeric", "printable"),
    }
    if gdi.prmd is not None:
        out["private-domain-identifier"] = choose_numeric(gdi.prmd, "numeric", "printable")
    return out


def _directory_name(value: tuple[str, Any]) -> DirectoryName:
    rdns = []
    for rdn in value[1]:
        avas = []
        for ava in rdn:
            avas.append(AttributeValueAssertion(type=ava["type"], value=Opaque(ber=ava["value"]),
                                                text=_directory_string(ava["value"])))
        rdns.append(tuple(avas))
    return DirectoryName(rdns=tuple(rdns))


def _directory_string(ber: bytes) -> str | None:
    """Text of an X.520 DirectoryString value when it is a primitive string (else None)."""
    from bridge.codec.ber import read_tlv
    from bridge.model import charsets

    try:
        tlv = read_tlv(ber)
    except DecodeError:
        return None
    if tlv.tag_class != 0 or tlv.constructed:
        return None
    body = ber[tlv.offset + tlv.header_length : tlv.offset + tlv.header_length + tlv.length]
    try:
        if tlv.tag in (12,):
            return body.decode("utf-8")
        if tlv.tag in (19, 22, 18, 26):
            return body.decode("ascii")
        if tlv.tag == 20:
            return charsets.t61_decode(body)
        if tlv.tag == 30:
            return charsets.bmp_decode(body)
        if tlv.tag == 28:
            return charsets.universal_decode(body)
    except (UnicodeDecodeError, ValueError, charsets.CharsetError):
        return None
    return None


def _extension_attribute(ftype: int, raw: bytes, fields: dict[str, Any]) -> None:
    """Decode one extension attribute into the keyword arguments of ORAddress."""
    type_name = EXTENSION_ATTRIBUTE_TYPES.get(ftype)
    if type_name is None:
        fields["unknown"].append((ftype, Opaque(ber=raw)))
        return
    v = asn1.decode(type_name, raw)
    if ftype == EAT.COMMON_NAME:
        fields["common_name"] = v
    elif ftype == EAT.TELETEX_COMMON_NAME:
        fields["teletex_common_name"] = teletex(v)
    elif ftype == EAT.TELETEX_ORGANIZATION_NAME:
        fields["teletex_organization"] = teletex(v)
    elif ftype == EAT.TELETEX_PERSONAL_NAME:
        fields["teletex_personal_name"] = _personal_name(v, teletex)
    elif ftype == EAT.TELETEX_ORGANIZATIONAL_UNIT_NAMES:
        fields["teletex_org_units"] = tuple(teletex(x) for x in v)
    elif ftype == EAT.TELETEX_DOMAIN_DEFINED_ATTRIBUTES:
        fields["teletex_ddas"] = tuple(
            DomainDefinedAttribute(type=teletex(d["type"]), value=teletex(d["value"])) for d in v)
    elif ftype in (EAT.PDS_NAME, EAT.PHYSICAL_DELIVERY_COUNTRY_NAME, EAT.POSTAL_CODE):
        fields["postal"].append(PostalAttribute(type=ftype, printable=numeric_or_printable(v)))
    elif ftype in PDS_PARAMETER_TYPES:
        fields["postal"].append(PostalAttribute(
            type=ftype, printable=v.get("printable-string"),
            teletex=teletex(v["teletex-string"]) if "teletex-string" in v else None))
    elif ftype == EAT.UNFORMATTED_POSTAL_ADDRESS:
        fields["postal"].append(PostalAttribute(
            type=ftype, lines=tuple(v.get("printable-address", ())),
            teletex=teletex(v["teletex-string"]) if "teletex-string" in v else None))
    elif ftype == EAT.EXTENDED_NETWORK_ADDRESS:
        alt, inner = v
        if alt == "e163-4-address":
            fields["extended_network_address"] = ExtendedNetworkAddress(
                number=inner["number"], sub_address=inner.get("sub-address"))
        else:
            fields["extended_network_address"] = ExtendedNetworkAddress(
                psap=Opaque(ber=asn1.encode("PresentationAddress", inner)))
    elif ftype == EAT.TERMINAL_TYPE:
        fields["terminal_type"] = v
    elif ftype in UNIVERSAL_SIMPLE_TYPES:
        fields["universal"].append(UniversalAttribute(type=ftype, values=(_utext(v),)))
    elif ftype == EAT.UNIVERSAL_PERSONAL_NAME:
        fields["universal"].append(UniversalAttribute(
            type=ftype, personal_name=tuple(
                _utext(v[key]) if key in v else None for key, _ in _PN_KEYS)))
    elif ftype == EAT.UNIVERSAL_ORGANIZATIONAL_UNIT_NAMES:
        fields["universal"].append(UniversalAttribute(
            type=ftype, values=tuple(_utext(x) for x in v)))
    elif ftype == EAT.UNIVERSAL_DOMAIN_DEFINED_ATTRIBUTES:
        fields["universal"].append(UniversalAttribute(
            type=ftype, ddas=tuple((_utext(d["type"]), _utext(d["value"])) for d in v)))


def _utext(value: dict[str, Any]) -> UniversalText:
    text, language = universal_or_bmp(value)
    return UniversalText(text=text, language=language)


def oraddress_from(value: dict[str, Any]) -> ORAddress:
    """X.411 ORAddress (or the address part of an ORName) -> model."""
    bisa = value["built-in-standard-attributes"]
    fields: dict[str, Any] = {"postal": [], "universal": [], "unknown": []}
    if "country-name" in bisa:
        fields["country"] = numeric_or_printable(bisa["country-name"])
    if "administration-domain-name" in bisa:
        fields["admd"] = numeric_or_printable(bisa["administration-domain-name"])
    if "private-domain-name" in bisa:
        fields["prmd"] = numeric_or_printable(bisa["private-domain-name"])
    for key, attr in (("network-address", "x121"), ("terminal-identifier", "terminal_id"),
                      ("organization-name", "organization"),
                      ("numeric-user-identifier", "ua_id")):
        if key in bisa:
            fields[attr] = bisa[key]
    if "personal-name" in bisa:
        fields["personal_name"] = _personal_name(bisa["personal-name"])
    if "organizational-unit-names" in bisa:
        fields["org_units"] = tuple(bisa["organizational-unit-names"])
    if "built-in-domain-defined-attributes" in value:
        fields["ddas"] = tuple(DomainDefinedAttribute(type=d["type"], value=d["value"])
                               for d in value["built-in-domain-defined-attributes"])
    for attr in value.get("extension-attributes", ()):
        _extension_attribute(attr["extension-attribute-type"],
                             attr["extension-attribute-value"], fields)
    for key in ("postal", "universal", "unknown"):
        fields[key] = tuple(fields[key])
    return ORAddress(**fields)


def orname_from(value: dict[str, Any]) -> ORName:
    """X.411 §18.4 ORName -> model."""
    dn = value.get("directory-name")
    return ORName(address=oraddress_from(value),
                  directory_name=_directory_name(dn) if dn is not None else None)


# ---------------------------------------------------------------------------- encode


def _pn_to(pn: PersonalName, conv: Any = None) -> dict[str, Any]:
    out = {}
    for key, attr in _PN_KEYS:
        v = getattr(pn, attr)
        if v is not None:
            out[key] = conv(v) if conv else v
    return out


def _ext(ftype: int, value: Any) -> dict[str, Any]:
    return {"extension-attribute-type": ftype,
            "extension-attribute-value": asn1.encode(EXTENSION_ATTRIBUTE_TYPES[ftype], value)}


def _postal_to(p: PostalAttribute) -> dict[str, Any]:
    if p.type == EAT.PDS_NAME:
        return _ext(p.type, p.printable)
    if p.type == EAT.PHYSICAL_DELIVERY_COUNTRY_NAME:
        return _ext(p.type, choose_numeric(p.printable or "", "x121-dcc-code",
                                           "iso-3166-alpha2-code"))
    if p.type == EAT.POSTAL_CODE:
        return _ext(p.type, choose_numeric(p.printable or "", "numeric-code", "printable-code"))
    out: dict[str, Any] = {}
    if p.type == EAT.UNFORMATTED_POSTAL_ADDRESS:
        if p.lines:
            out["printable-address"] = list(p.lines)
    elif p.printable is not None:
        out["printable-string"] = p.printable
    if p.teletex is not None:
        out["teletex-string"] = to_teletex(p.teletex)
    return _ext(p.type, out)


def _utext_to(u: UniversalText) -> dict[str, Any]:
    return to_universal_or_bmp(u.text, u.language)


def _universal_to(u: UniversalAttribute) -> dict[str, Any]:
    if u.type == EAT.UNIVERSAL_PERSONAL_NAME:
        assert u.personal_name is not None
        return _ext(u.type, {key: _utext_to(part)
                             for (key, _), part in zip(_PN_KEYS, u.personal_name, strict=False)
                             if part is not None})
    if u.type == EAT.UNIVERSAL_ORGANIZATIONAL_UNIT_NAMES:
        return _ext(u.type, [_utext_to(x) for x in u.values])
    if u.type == EAT.UNIVERSAL_DOMAIN_DEFINED_ATTRIBUTES:
        return _ext(u.type, [{"type": _utext_to(t), "value": _utext_to(v)} for t, v in u.ddas])
    return _ext(u.type, _utext_to(u.values[0]))


def oraddress_to(addr: ORAddress) -> dict[str, Any]:
    """Model -> X.411 ORAddress value (extension attributes in type order)."""
    bisa: dict[str, Any] = {}
    if addr.country is not None:
        bisa["country-name"] = choose_numeric(addr.country, "x121-dcc-code",
                                              "iso-3166-alpha2-code")
    if addr.admd is not None:
        bisa["administration-domain-name"] = choose_numeric(addr.admd, "numeric", "printable")
    if addr.x121 is not None:
        bisa["network-address"] = addr.x121
    if addr.terminal_id is not None:
        bisa["terminal-identifier"] = addr.terminal_id
    if addr.prmd is not None:
        bisa["private-domain-name"] = choose_numeric(addr.prmd, "numeric", "printable")
    if addr.organization is not None:
        bisa["organization-name"] = addr.organization
    if addr.ua_id is not None:
        bisa["numeric-user-identifier"] = addr.ua_id
    if addr.personal_name is not None:
        bisa["personal-name"] = _pn_to(addr.personal_name)
    if addr.org_units:
        bisa["organizational-unit-names"] = list(addr.org_units)
    out: dict[str, Any] = {"built-in-standard-attributes": bisa}
    if addr.ddas:
        out["built-in-domain-defined-attributes"] = [
            {"type": d.type, "value": d.value} for d in addr.ddas]
    ext: list[dict[str, Any]] = []
    if addr.common_name is not None:
        ext.append(_ext(EAT.COMMON_NAME, addr.common_name))
    if addr.teletex_common_name is not None:
        ext.append(_ext(EAT.TELETEX_COMMON_NAME, to_teletex(addr.teletex_common_name)))
    if addr.teletex_organization is not None:
        ext.append(_ext(EAT.TELETEX_ORGANIZATION_NAME, to_teletex(addr.teletex_organization)))
    if addr.teletex_personal_name is not None:
        ext.append(_ext(EAT.TELETEX_PERSONAL_NAME, _pn_to(addr.teletex_personal_name, to_teletex)))
    if addr.teletex_org_units:
        ext.append(_ext(EAT.TELETEX_ORGANIZATIONAL_UNIT_NAMES,
                        [to_teletex(x) for x in addr.teletex_org_units]))
    if addr.teletex_ddas:
        ext.append(_ext(EAT.TELETEX_DOMAIN_DEFINED_ATTRIBUTES,
                        [{"type": to_teletex(d.type), "value": to_teletex(d.value)}
                         for d in addr.teletex_ddas]))
    ext.extend(_postal_to(p) for p in addr.postal)
    ena = addr.extended_network_address
    if ena is not None:
        if ena.psap is not None:
            ext.append(_ext(EAT.EXTENDED_NETWORK_ADDRESS, (
                "psap-address", asn1.decode("PresentationAddress", ena.psap.ber))))
        else:
            e164: dict[str, Any] = {"number": ena.number}
            if ena.sub_address is not None:
                e164["sub-address"] = ena.sub_address
            ext.append(_ext(EAT.EXTENDED_NETWORK_ADDRESS, ("e163-4-address", e164)))
    if addr.terminal_type is not None:
        ext.append(_ext(EAT.TERMINAL_TYPE, addr.terminal_type))
    ext.extend(_universal_to(u) for u in addr.universal)
    ext.extend({"extension-attribute-type": t, "extension-attribute-value": o.ber}
               for t, o in addr.unknown)
    if ext:
        out["extension-attributes"] = ext
    return out


@functools.lru_cache(maxsize=4096)
def orname_to(name: ORName) -> dict[str, Any]:
    """Model -> X.411 ORName value.

    Cached: a gateway meets the same names again and again (originator, this-IPM user, reply
    recipients, across messages).  The returned value is shared and must not be modified;
    nothing does (it is only handed to the encoder).
    """
    out = oraddress_to(name.address)
    if name.directory_name is not None:
        out["directory-name"] = ("rdnSequence", [
            [{"type": a.type, "value": a.value.ber} for a in rdn]
            for rdn in name.directory_name.rdns])
    return out
