"""Compare a value decoded by *our* ASN.1 layer with the JSON of the independent decoder
(@wildboar/x400, see tests/oracles/decode.js for its conventions), walking our compiled ASN.1
type alongside so that enumerations, times, bit strings and open types compare by value.

Returns the list of differences (empty = agreement).  Component names are matched with "-"
written "_" (wildboar's convention); DEFAULT values that wildboar fills in are accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bridge.codec import asn1
from bridge.codec.values import decode_generalizedtime, decode_utctime

_TIME = re.compile(rb"\d{10,14}(?:[.,]\d+)?(?:Z|[+-]\d{4})?\Z")


def _bits(value: tuple[bytes, int]) -> str:
    data, n = value
    return "".join("1" if data[i >> 3] & (0x80 >> (i & 7)) else "0" for i in range(n))


def _their_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _our_time(raw: bytes) -> datetime:
    digits = len(raw.split(b"Z")[0].split(b"+")[0].split(b"-")[0].split(b".")[0])
    return (decode_generalizedtime(raw) if digits >= 14 and raw[:2] in (b"19", b"20")
            and len(raw) != 13 else decode_utctime(raw))


def _explicit_content(tlv: bytes) -> bytes:
    """The contents of a constructed context-tagged TLV (wildboar keeps `[n] EXPLICIT`
    wrappers of open types in its raw element)."""
    from bridge.codec.ber import read_tlv

    head = read_tlv(tlv)
    if head.tag_class != 2 or not head.constructed:
        return b""
    return tlv[head.offset + head.header_length :]


def _key(name: str) -> str:
    return name.replace("-", "_")


def _resolve(t: Any) -> Any:
    """Look through asn1tools' wrappers (explicit tags, recursive references)."""
    while type(t).__name__ in ("Recursive", "ExplicitTag"):
        t = t.inner if hasattr(t, "inner") else t.type
    return t


def compare(type_name: str, ours: Any, theirs: Any) -> list[str]:
    """Differences between our decoded value of ``type_name`` and wildboar's JSON."""
    out: list[str] = []
    _cmp(asn1._type(type_name).type, ours, theirs, type_name, out)
    return out


def _cmp(t: Any, ours: Any, theirs: Any, path: str, out: list[str]) -> None:  # noqa: C901
    t = _resolve(t)
    kind = type(t).__name__
    if kind == "Choice":
        name, value = ours
        if not isinstance(theirs, dict) or list(theirs) != [_key(name)]:
            out.append(f"{path}: CHOICE {name} vs {str(theirs)[:80]}")
            return
        _cmp(t.name_to_member[name], value, theirs[_key(name)], f"{path}.{name}", out)
    elif kind in ("Sequence", "Set"):
        if isinstance(theirs, dict) and "external" in theirs and len(theirs) == 1:
            _cmp_external(ours, theirs["external"], path, out)
            return
        if not isinstance(theirs, dict):
            out.append(f"{path}: {kind} vs {str(theirs)[:80]}")
            return
        seen = set()
        for member in t.root_members:
            key = _key(member.name)
            seen.add(key)
            if key not in theirs and key + "_" in theirs:
                key += "_"  # wildboar appends "_" to names that are JS reserved words
                seen.add(key)
            if member.name in ours:
                if key not in theirs:
                    out.append(f"{path}.{member.name}: missing in independent decode")
                    continue
                _cmp(member, ours[member.name], theirs[key], f"{path}.{member.name}", out)
            elif theirs.get(key) not in (None, [], {}, "", 0, False) and not member.has_default():
                # (wildboar fills in DEFAULTs; ours were rewritten to OPTIONAL, docs/asn1.md,
                # so an empty / zero / FALSE value there is the standard's default)
                out.append(f"{path}.{member.name}: only in independent decode")
        extra = set(theirs) - seen - {"_unrecognized"}
        if extra:
            out.append(f"{path}: independent decode has extra components {sorted(extra)}")
    elif kind in ("SequenceOf", "SetOf"):
        if not isinstance(theirs, list) or len(theirs) != len(ours):
            out.append(f"{path}: {len(ours)} elements vs {str(theirs)[:80]}")
            return
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _cmp(t.element_type, a, b, f"{path}[{i}]", out)
    elif kind == "Enumerated":
        if isinstance(theirs, int):
            if t.value_to_data.get(theirs) != ours:
                out.append(f"{path}: {ours} vs enumeration value {theirs}")
        elif theirs != ours:
            out.append(f"{path}: {ours} vs {theirs}")
    elif kind == "BitString":
        if _bits(ours) != theirs:
            out.append(f"{path}: bits {_bits(ours)} vs {theirs}")
    elif kind == "Any" or kind == "AnyDefinedBy":
        their_hex = theirs.get("ber") if isinstance(theirs, dict) else None
        if their_hex is None or bytes(ours) not in (bytes.fromhex(their_hex),
                                                    _explicit_content(bytes.fromhex(their_hex))):
            out.append(f"{path}: ANY {bytes(ours).hex()[:60]} vs {str(theirs)[:80]}")
    elif isinstance(ours, bytes | bytearray):
        ours = bytes(ours)
        if isinstance(theirs, dict) and ("hex" in theirs or "ber" in theirs):
            their_bytes = bytes.fromhex(theirs["hex"] if "hex" in theirs else theirs["ber"])
            if their_bytes != ours:
                out.append(f"{path}: octets {ours.hex()[:60]} vs {their_bytes.hex()[:60]}")
        elif isinstance(theirs, str) and _TIME.match(ours):
            if _our_time(ours) != _their_time(theirs):
                out.append(f"{path}: time {ours!r} vs {theirs}")
        elif isinstance(theirs, str):
            tag = bytes(getattr(t, "tag", b"") or b"")[:1]
            codec = {b"\x1e": "utf-16-be", b"\x1c": "utf-32-be"}.get(tag, "latin-1")
            text = ours.decode(codec)
            if codec == "utf-32-be" and text != theirs:
                # wildboar bug: its UniversalString decoder keeps only the low 16 bits of
                # code points above U+FFFF (String.fromCharCode); compare what it can show
                text = "".join(chr(ord(c) & 0xFFFF) for c in text)
            if text != theirs:
                out.append(f"{path}: string {ours!r} vs {theirs!r}")
        else:
            out.append(f"{path}: octets {ours.hex()[:60]} vs {str(theirs)[:80]}")
    elif kind == "Null":
        if theirs not in (None, {}):
            out.append(f"{path}: NULL vs {theirs}")
    elif ours != theirs:
        out.append(f"{path}: {ours!r} vs {theirs!r}")


def _cmp_external(ours: dict[str, Any], theirs: dict[str, Any], path: str,
                  out: list[str]) -> None:
    """Our hand-written EXTERNAL / INSTANCE OF shapes vs wildboar's External."""
    if "type-id" in ours:  # INSTANCE OF {type-id, value}
        ref, value = ours["type-id"], ("single-ASN1-type", ours["value"])
    else:
        ref, value = ours.get("direct-reference"), ours["encoding"]
    if theirs.get("direct_reference") != ref:
        out.append(f"{path}: EXTERNAL reference {ref} vs {theirs.get('direct_reference')}")
    enc = theirs.get("encoding", {})
    alt = _key(value[0])
    if alt not in enc:
        out.append(f"{path}: EXTERNAL encoding {value[0]} vs {list(enc)}")
        return
    got = enc[alt]
    mine = value[1]
    if alt == "single_ASN1_type":
        their_hex = got.get("ber") if isinstance(got, dict) else None
        if their_hex is None:
            out.append(f"{path}: EXTERNAL value {str(got)[:80]}")
        elif bytes(mine) not in (bytes.fromhex(their_hex),
                                 _explicit_content(bytes.fromhex(their_hex))):
            out.append(f"{path}: EXTERNAL value {bytes(mine).hex()[:60]} vs {their_hex[:60]}")
    elif alt == "octet_aligned":
        their = bytes.fromhex(got["hex"]) if isinstance(got, dict) else None
        if their != bytes(mine):
            out.append(f"{path}: EXTERNAL octets differ")
    elif _bits(mine) != got:
        out.append(f"{path}: EXTERNAL bits differ")
