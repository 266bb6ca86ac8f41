"""Text forms of O/R addresses: RFC 2156 §4.1.3 std-or-address (out) and std-or-address-input
(in), with RFC 1685 (``G=Jo; S=Bloggs; O=Org; P=Pm; A= ; C=GB``) accepted on input.

The keyword table (RFC 2156 §4.1.1, including the input-only alternatives) is data below; each
keyword names one attribute of :class:`~bridge.model.oraddress.ORAddress`.  Values use the
``$`` quoting of §4.1.3 and the teletex form of §3.3.4 (``printable*{ddd}...``, octets as
three *decimal* digits).

Order of the OUs on input.  ``OU1``..``OU4`` say their position.  Plain ``OU`` attributes are
read in the direction the text is written in (RFC 2156 §4.3.3, §4.3.4.1):

* std-or as RFC 2156 generates it is least significant first, most significant on the right
  (§4.3.3 1.): ``/S=x/OU=B/OU=A/O=Widget/ADMD=BTT/C=TC/`` has OU1 = A, OU2 = B;
* when an O, PRMD, ADMD or C attribute stands to the *left* of an OU, the text is written the
  other way round, most significant first -- F.401's and RFC 1685's order
  (``G=;S=;O=;OU1=;OU2=;P=;A=;C=``) and the C-first form ISODE PP reads
  (``/C=TC/ADMD=BTT/O=Widget/OU=A/OU=B/S=x/``) -- and the OUs are taken in the written order:
  OU1 = A, OU2 = B, the same O/R address as above.  This is the §4.3.4.1 heuristic ("If there
  is an Organization attribute to the left of any Org Unit attribute, assume that the hierarchy
  is inverted"), widened from O to every attribute above OU.  §4.3.4.1 lets a gateway apply it
  only after X.400 address verification rejects the first reading; a gateway cannot verify an
  address, so we apply it at once, as PP does.  :func:`parse_or_text` says whether it applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bridge.errors import BridgeError
from bridge.model.oraddress import (
    DomainDefinedAttribute,
    ExtendedNetworkAddress,
    ORAddress,
    PersonalName,
    PostalAttribute,
)


class ORAddressSyntaxError(BridgeError):
    """Text that is not a valid std-or-address-input (RFC 2156 §4.1.3)."""


# RFC 2156 §4.1.1 key table: postal keys -> X.411 extension attribute type.
POSTAL_KEYS: dict[str, int] = {
    "PD-SERVICE": 7, "PD-C": 8, "PD-CODE": 9, "PD-OFFICE": 10, "PD-OFFICE-NUM": 11,
    "PD-EXT-ADDRESS": 12, "PD-PN": 13, "PD-O": 14, "PD-EXT-DELIVERY": 15, "PD-ADDRESS": 16,
    "PD-STREET": 17, "PD-BOX": 18, "PD-RESTANTE": 19, "PD-UNIQUE": 20, "PD-LOCAL": 21,
}
POSTAL_KEY_OF_TYPE: dict[int, str] = {v: k for k, v in POSTAL_KEYS.items()}

# RFC 2156 §4.1.1 alternative keywords: recognised on input, never generated.
ALTERNATIVE_KEYS: dict[str, str] = {
    "A": "ADMD", "P": "PRMD", "Q": "GQ", "X.121": "X121", "N-ID": "UA-ID",
    "PD-OFFICE NUMBER": "PD-OFFICE-NUM", "PD-OFN": "PD-OFFICE-NUM", "PD-EA": "PD-EXT-ADDRESS",
    "PD-ED": "PD-EXT-DELIVERY", "PD-OF": "PD-OFFICE", "PD-S": "PD-STREET", "PD-U": "PD-UNIQUE",
    "PD-L": "PD-LOCAL", "PD-R": "PD-RESTANTE", "PD-B": "PD-BOX", "PD-PC": "PD-CODE",
    "PD-SN": "PD-SERVICE", "DDA": "DD", "E.164": "NET-NUM", "PSAP": "NET-PSAP",
    "PD-A": "PD-ADDRESS",
}

# RFC 2156 §4.1.1 T-TY labels (labelled-integer, §3.3.6)
TERMINAL_TYPE_LABELS: dict[int, str] = {
    3: "tlx", 4: "ttx", 5: "g3fax", 6: "g4fax", 7: "ia5", 8: "vtx"}

# RFC 2156 §3.3.3 ps-char: A-Z a-z 0-9 space ' ( ) + , - . / : = ?
_PS_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def is_printable(text: str) -> bool:
    """True iff ``text`` is in the PrintableString alphabet (RFC 2156 §3.3.3, X.680 §41.4)."""
    return all(ch in _PS_CHARS for ch in text)


# ---------------------------------------------------------------------------- output


_QUOTED = re.compile(r"([/=$*])")


def _quote(value: str) -> str:
    """§4.1.3 std-pair: "$" quotes "/", "=" and "$" itself (and "*" so teletex stays apart).
    A non-ASCII character -- only in a value the decoder repaired (codec.repairs: an 8-bit
    octet in a PrintableString), in an attribute without a teletex form -- becomes "?": the
    text stays ASCII; the repair is a defect of the message already."""
    if not value.isascii():
        value = "".join(ch if ch.isascii() else "?" for ch in value)
    if "/" in value or "=" in value or "$" in value or "*" in value:
        return _QUOTED.sub(r"$\1", value)
    return value


def _teletex_form(text: str) -> str:
    """§3.3.4 teletex-string: ps-chars as themselves, other octets as {ddd} (decimal).

    A character T.61 cannot encode (only in a value the decoder repaired: an 8-bit octet in
    a PrintableString read as ISO 8859-1, e.g. a C1 control) is written as the octet it came
    as, ``{ddd}`` of its code -- the text stays ASCII and nothing is lost."""
    from bridge.model.charsets import CharsetError, t61_encode

    try:
        octets = t61_encode(text)
    except CharsetError:
        octets = b"".join(_t61_or_octet(ch) for ch in text)
    out = []
    for octet in octets:
        ch = chr(octet)
        if ch in _PS_CHARS and ch not in "/=":
            out.append(ch)
        else:
            out.append(f"{{{octet}}}")
    return "".join(out)


def _t61_or_octet(ch: str) -> bytes:
    from bridge.model.charsets import CharsetError, t61_encode

    try:
        return t61_encode(ch)
    except CharsetError:
        return bytes((ord(ch),)) if ord(ch) < 256 else b"?"


def _pt_value(printable: str | None, teletex: str | None) -> str:
    """§3.3.4 teletex-and-or-ps, applying the §4.1.1 rule that a teletex value which fits
    PrintableString (or equals the printable one) is written as printable."""
    if teletex is not None:
        if printable is None and is_printable(teletex):
            printable, teletex = teletex, None
        elif teletex == printable:
            teletex = None
    if printable is not None and not printable.isascii() and teletex is None:
        # a repaired PrintableString (8-bit octets read as ISO 8859-1, codec.repairs) is
        # not PrintableString: written in the teletex form, so the address stays ASCII
        printable, teletex = None, printable
    out = _quote(printable) if printable is not None else ""
    if teletex is not None:
        out += "*" + _teletex_form(teletex)
    return out


def format_std_or(addr: ORAddress) -> str:
    """RFC 2156 §4.1.3 std-or-address, least significant attribute on the left (§4.3.3)."""
    pairs: list[tuple[str, str]] = []
    # domain-defined attributes (RFC-822 shorthand for the RFC-822 type)
    tdd = {d.type: d.value for d in addr.teletex_ddas}
    for dda in addr.ddas:
        key = "RFC-822" if dda.type.upper() == "RFC-822" else "DD." + _quote(dda.type)
        pairs.append((key, _pt_value(dda.value, tdd.pop(dda.type, None))))
    for dtype, tvalue in tdd.items():
        pairs.append(("DD." + _quote(dtype), _pt_value(None, tvalue)))
    if addr.common_name is not None or addr.teletex_common_name is not None:
        pairs.append(("CN", _pt_value(addr.common_name, addr.teletex_common_name)))
    pn, tpn = addr.personal_name, addr.teletex_personal_name
    for key, attr in (("G", "given_name"), ("I", "initials"), ("S", "surname"),
                      ("GQ", "generation_qualifier")):
        pv = getattr(pn, attr) if pn is not None else None
        tv = getattr(tpn, attr) if tpn is not None else None
        if pv is not None or tv is not None:
            pairs.append((key, _pt_value(pv, tv)))
    for postal in addr.postal:
        key = POSTAL_KEY_OF_TYPE[postal.type]
        if postal.type == 16:
            printable = "|".join(_quote(line) for line in postal.lines) if postal.lines else ""
            value = printable + ("*" + _teletex_form(postal.teletex) if postal.teletex else "")
        else:
            value = _pt_value(postal.printable, postal.teletex)
        pairs.append((key, value))
    ena = addr.extended_network_address
    if ena is not None:
        if ena.number is not None:
            pairs.append(("NET-NUM", ena.number))
        if ena.sub_address is not None:
            pairs.append(("NET-SUB", ena.sub_address))
        if ena.psap is not None:
            pairs.append(("NET-PSAP", "#" + ena.psap.ber.hex()))
    if addr.terminal_type is not None:
        label = TERMINAL_TYPE_LABELS.get(addr.terminal_type, "")
        pairs.append(("T-TY", f"{label}({addr.terminal_type})"))
    for key, opt in (("UA-ID", addr.ua_id), ("T-ID", addr.terminal_id), ("X121", addr.x121)):
        if opt is not None:
            pairs.append((key, _quote(opt)))
    ous = list(addr.org_units)
    touts = list(addr.teletex_org_units)
    for i in range(max(len(ous), len(touts)) - 1, -1, -1):
        pairs.append(("OU", _pt_value(ous[i] if i < len(ous) else None,
                                      touts[i] if i < len(touts) else None)))
    if addr.organization is not None or addr.teletex_organization is not None:
        pairs.append(("O", _pt_value(addr.organization, addr.teletex_organization)))
    for key, opt in (("PRMD", addr.prmd), ("ADMD", addr.admd), ("C", addr.country)):
        if opt is not None:
            pairs.append((key, _quote(opt)))
    return "/" + "".join(f"{k}={v}/" for k, v in pairs) if pairs else "/"


# ---------------------------------------------------------------------------- input


def _split_pairs(text: str) -> list[str]:
    """Split at unquoted "/" or ";" (§4.1.3 sep), honouring "$" quoting and, inside a value,
    F.401's doubled delimiter ("//" or ";;" is a literal "/" or ";", F.401 §F.3.2.3)."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "$" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch in "/;" and text[i + 1 : i + 2] == ch and "=" in "".join(cur) \
                and i + 2 < len(text):
            cur.append("$" + ch)
            i += 2
            continue
        if ch in "/;":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _split_unquoted(text: str, sep: str) -> tuple[str, str | None]:
    i = 0
    while i < len(text):
        if text[i] == "$":
            i += 2
            continue
        if text[i] == sep:
            return text[:i], text[i + 1 :]
        i += 1
    return text, None


def _unquote(value: str) -> str:
    return re.sub(r"\$(.)", r"\1", value)


def _teletex_value(text: str) -> str:
    from bridge.model.charsets import t61_decode

    octets = bytearray()
    for m in re.finditer(r"\{(\d{1,3})\}|(\$.)|(.)", text, re.S):
        if m.group(1) is not None:
            code = int(m.group(1))
            if code > 255:
                raise ORAddressSyntaxError(f"teletex octet {{{code}}} out of range")
            octets.append(code)
        else:
            ch = (m.group(2) or "")[1:] or m.group(3)
            octets.extend(ch.encode("latin-1", "replace"))
    return t61_decode(bytes(octets), errors="replace")


def _pt_parse(value: str) -> tuple[str | None, str | None]:
    printable, teletex = _split_unquoted(value, "*")
    return _unquote(printable) if (printable or teletex is None) else None, (
        _teletex_value(teletex) if teletex is not None else None)


def _complete_names(pn: dict[str, str], tpn: dict[str, str]) -> tuple[dict[str, str],
                                                                        dict[str, str]]:
    """X.411 personal-name and teletex-personal-name each need a surname.  §4.1.1 lets a
    value be given in one form only (``S=*...`` is teletex only): the printable parts then
    also serve the teletex name (printable is a subset of teletex); a name with no surname
    in either form is a syntax error, not an exception."""
    if pn and "surname" not in pn:
        if "surname" not in tpn:
            raise ORAddressSyntaxError("a personal name needs a surname (S=)")
        tpn = {**pn, **tpn}
        pn = {}
    if tpn and "surname" not in tpn:
        if "surname" not in pn:
            raise ORAddressSyntaxError("a personal name needs a surname (S=)")
        tpn = {**pn, **tpn}
    return pn, tpn


#: Attributes above the OUs in the O/R hierarchy (X.402 §18.3); one of them written to the
#: left of an OU marks a most-significant-first text (RFC 2156 §4.3.4.1, module docstring).
_ABOVE_OU = frozenset({"O", "PRMD", "ADMD", "C"})


@dataclass(frozen=True, slots=True)
class ORText:
    """An O/R address read from text, and how it was read."""

    address: ORAddress
    #: RFC 2156 §4.3.4.1: two or more plain OUs written most significant first (an O, PRMD,
    #: ADMD or C to the left of an OU), read in the written order (OU1 = the first written).
    ous_inverted: bool = False


def parse_or_address(text: str) -> ORAddress:
    """Parse RFC 2156 §4.1.3 std-or-address-input (also RFC 1685 ``K=V; K=V`` text); plain
    OUs in either order (RFC 2156 §4.3.4.1, see the module docstring)."""
    return parse_or_text(text).address


def parse_or_text(text: str) -> ORText:
    """:func:`parse_or_address`, also telling whether the OUs were read most significant first
    (RFC 2156 §4.3.4.1).  In RFC 1685 (F.401) text an ADMD with no value is a single space
    (RFC 1685 §F.3.2.1: "omits the value for the ADMD attribute, the ADMD value to be used is
    a single space"); in std-or text it is RFC 2156 §4.1.3's "ADMD= "."""
    source = text.strip()
    if source[:5].upper() == "X.400" and source[5:6] in (":", " "):  # F.401 optional prefix
        source = source[6:].strip()
    rfc1685 = not source.startswith("/") and ";" in source and "/" not in source
    fields: dict[str, object] = {}
    pn: dict[str, str] = {}
    tpn: dict[str, str] = {}
    ous: dict[int, tuple[str | None, str | None]] = {}
    plain_ous: list[tuple[str | None, str | None]] = []
    ddas: list[DomainDefinedAttribute] = []
    tddas: list[DomainDefinedAttribute] = []
    postal: list[PostalAttribute] = []
    upa_lines: dict[int, str] = {}
    ena: dict[str, str] = {}
    cn: tuple[str | None, str | None] | None = None
    org: tuple[str | None, str | None] | None = None
    above_seen = inverted = False
    for raw in _split_pairs(source):
        item = raw.strip() if rfc1685 else raw
        if item == "":
            continue
        if item[:2].upper() == "DD" and "==" in item:  # F.401: "=" in a DDA type is "=="
            item = item.replace("==", "$=")
        key_text, value = _split_unquoted(item, "=")
        if value is None:
            raise ORAddressSyntaxError(f"missing '=' in {item!r}")
        key_text = key_text.strip() if rfc1685 else key_text
        ukey = ALTERNATIVE_KEYS.get(key_text.upper(), key_text.upper())
        above_seen = above_seen or ukey in _ABOVE_OU
        inverted = inverted or (ukey == "OU" and above_seen)
        dd_match = re.fullmatch(r"(DD[1-4]?|DDA)[.:](.*)", key_text, re.I | re.S)
        if dd_match is not None or ukey == "RFC-822":
            dtype = "RFC-822" if ukey == "RFC-822" else _unquote(dd_match.group(2))  # type: ignore[union-attr]
            pv, tv = _pt_parse(value)
            if pv is not None:
                ddas.append(DomainDefinedAttribute(type=dtype, value=pv))
            if tv is not None:
                tddas.append(DomainDefinedAttribute(type=dtype, value=tv))
            continue
        if ukey in ("C", "ADMD", "PRMD", "X121", "T-ID", "UA-ID"):
            name = {"C": "country", "ADMD": "admd", "PRMD": "prmd", "X121": "x121",
                    "T-ID": "terminal_id", "UA-ID": "ua_id"}[ukey]
            fields[name] = _unquote(value)
            if rfc1685 and ukey == "ADMD" and fields[name] == "":
                fields[name] = " "
        elif ukey in ("G", "I", "S", "GQ"):
            attr = {"G": "given_name", "I": "initials", "S": "surname",
                    "GQ": "generation_qualifier"}[ukey]
            pv, tv = _pt_parse(value)
            if pv is not None:
                pn[attr] = pv
            if tv is not None:
                tpn[attr] = tv
        elif ukey == "PN":
            from bridge.model.pn import EncodedPNError, parse_encoded_pn

            try:
                pn.update(parse_encoded_pn(_unquote(value)))
            except EncodedPNError as exc:
                raise ORAddressSyntaxError(str(exc)) from None
        elif ukey == "O":
            org = _pt_parse(value)
        elif ukey == "CN":
            cn = _pt_parse(value)
        elif ukey == "OU":
            plain_ous.append(_pt_parse(value))
        elif re.fullmatch(r"OU[1-4]", ukey):
            ous[int(ukey[2])] = _pt_parse(value)
        elif re.fullmatch(r"PD-A[1-6]", ukey):
            upa_lines[int(ukey[4])] = _unquote(value)
        elif ukey in POSTAL_KEYS:
            ptype = POSTAL_KEYS[ukey]
            if ptype == 16:
                printable, teletex = _split_unquoted(value, "*")
                lines = (tuple(_unquote(x) for x in _split_unquoted_all(printable, "|"))
                         if printable else ())
                postal.append(PostalAttribute(type=16, lines=lines,
                                              teletex=_teletex_value(teletex) if teletex else None))
            else:
                pv, tv = _pt_parse(value)
                postal.append(PostalAttribute(type=ptype, printable=pv, teletex=tv))
        elif ukey in ("NET-NUM", "NET-SUB"):
            ena[ukey] = _unquote(value)
        elif ukey == "NET-PSAP":
            raise ORAddressSyntaxError("NET-PSAP (RFC 1278 presentation address) is not supported")
        elif ukey == "T-TY":
            m = re.fullmatch(r"\s*([A-Za-z0-9]*)\s*(?:\((\d+)\))?\s*", value)
            labels = {v: k for k, v in TERMINAL_TYPE_LABELS.items()}
            if m is None:
                raise ORAddressSyntaxError(f"bad T-TY value {value!r}")
            if m.group(2) is not None:
                fields["terminal_type"] = int(m.group(2))
            elif m.group(1).lower() in labels:
                fields["terminal_type"] = labels[m.group(1).lower()]
            elif m.group(1).isdigit():
                fields["terminal_type"] = int(m.group(1))
            else:
                raise ORAddressSyntaxError(f"bad T-TY value {value!r}")
        else:
            raise ORAddressSyntaxError(f"unknown O/R address keyword {key_text!r}")
    if ous and plain_ous:
        raise ORAddressSyntaxError("OU and OU1..OU4 must not be mixed (RFC 2156 §4.1.1)")
    # §4.3.3 1.: most significant OU on the right; §4.3.4.1: on the left when inverted
    ordered = [ous[i] for i in sorted(ous)] if ous else (
        list(plain_ous) if inverted else list(reversed(plain_ous)))
    if upa_lines:
        joined = "\n".join(upa_lines[i] for i in sorted(upa_lines))
        postal.append(PostalAttribute(type=16, lines=(joined,)))
    # §4.1.3: C present and ADMD absent reads as ADMD=" "
    if "country" in fields and "admd" not in fields:
        fields["admd"] = " "
    pn, tpn = _complete_names(pn, tpn)
    addr = ORAddress(**fields)  # type: ignore[arg-type]
    addr = replace(
        addr,
        personal_name=PersonalName(**pn) if pn else None,
        teletex_personal_name=PersonalName(**tpn) if tpn else None,
        org_units=tuple(p for p, _ in ordered if p is not None),
        # OUs are positional: once any OU has a teletex form, the teletex sequence holds one
        # value per OU (§4.1.1 wrote an equal teletex value once, as printable)
        teletex_org_units=tuple(t if t is not None else (p or "") for p, t in ordered)
        if any(t is not None for _, t in ordered) else (),
        organization=org[0] if org else None,
        teletex_organization=org[1] if org else None,
        common_name=cn[0] if cn else None,
        teletex_common_name=cn[1] if cn else None,
        ddas=tuple(ddas),
        teletex_ddas=tuple(tddas),
        postal=tuple(postal),
        extended_network_address=ExtendedNetworkAddress(
            number=ena.get("NET-NUM"), sub_address=ena.get("NET-SUB")) if ena else None,
    )
    return ORText(address=addr, ous_inverted=inverted and len(plain_ous) > 1)


def _split_unquoted_all(text: str, sep: str) -> list[str]:
    out = []
    rest: str | None = text
    while rest is not None:
        head, rest = _split_unquoted(rest, sep)
        out.append(head)
    return out
