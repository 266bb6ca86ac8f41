"""Conversions between ASN.1 codec values and model values that every codec module needs:
times, BIT STRINGs, numeric-or-printable names and the non-ASCII string types.

Time and character-string types are declared as OCTET STRINGs with their universal tags in
``asn1/`` (see docs/asn1.md), so the conversion is ours: X.680 §43/§42 (UTCTime /
GeneralizedTime) and the charset module for T.61, BMP and UCS-4.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from bridge.codec import repairs
from bridge.errors import DecodeError, EncodeError
from bridge.model import charsets

_UTC_RE = re.compile(rb"(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})?\Z")
#: the year-minus-1900 bug: "1" + two digits, for 2000-2099 (then the usual UTCTime tail)
_UTC_Y1900_RE = re.compile(rb"1(\d{2})\d{8}(?:\d{2})?(?:Z|[+-]\d{4})?\Z")
#: GeneralizedTime digits in a UTCTime: a four-digit year 19YY or 20YY
_UTC_Y4_RE = re.compile(rb"(?:19|20)\d{2}\d{8}(?:\d{2})?(?:Z|[+-]\d{4})?\Z")
_GEN_RE = re.compile(
    rb"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{4})?\Z")


def _zone(text: bytes | None, what: str) -> timezone:
    if text is None or text == b"Z":
        # X.680 §43.3: a local time without offset; X.400 practice treats it as UTC.
        return UTC
    sign = 1 if text[:1] == b"+" else -1
    hours, minutes = int(text[1:3]), int(text[3:5])
    if hours > 23 or minutes > 59:
        raise DecodeError(f"bad time zone offset in {what}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def decode_utctime(raw: bytes) -> datetime:
    """UTCTime (X.680 §43) -> aware datetime, keeping the offset given (RFC 2156 §3.3.5:
    the zone is preserved).  Two-digit years use the 1980–2079 window (RFC 2156 §3.3.5).

    A three-digit year 1YY is the year-minus-1900 of a ``tm_year`` printed with ``%d`` (PP
    6.0 sends ``1261207170142Z`` for 2026, x400-samples/pp): accepted as 2000 + YY, and the
    repair noted (:mod:`bridge.codec.repairs`).
    """
    m = _UTC_RE.match(raw)
    if m is None:
        return _repaired_utctime(raw)
    yy, mo, dd, hh, mi = (int(x) for x in m.groups()[:5])
    ss = int(m.group(6)) if m.group(6) else 0
    year = 2000 + yy if yy < 80 else 1900 + yy
    try:
        return datetime(year, mo, dd, hh, mi, ss, tzinfo=_zone(m.group(7), "UTCTime"))
    except ValueError as exc:
        if _UTC_Y1900_RE.match(raw):    # "1261207164Z": 3-digit year, minutes, no seconds
            return _repaired_utctime(raw)
        raise DecodeError(f"bad UTCTime {raw!r}: {exc}") from None


def _repaired_utctime(raw: bytes) -> datetime:
    """The UTCTime forms real MTAs send that X.680 §43 does not allow (PP 6.0, x400-samples/
    pp): a three-digit year 1YY (``tm_year`` printed with ``%d``: 2000 + YY) and a four-digit
    year (GeneralizedTime digits, ``20251207170000Z``).  Each repair is noted."""
    m = _UTC_Y1900_RE.match(raw)
    if m is not None:
        year = 2000 + int(m.group(1))
        what = "a three-digit year (years since 1900)"
        rest = raw[3:]
    elif _UTC_Y4_RE.match(raw):
        year = int(raw[:4])
        what = "a four-digit year"
        rest = raw[4:]
    else:
        raise DecodeError(f"bad UTCTime {raw!r}")
    m = _UTC_RE.match(b"00" + rest)
    assert m is not None
    mo, dd, hh, mi = (int(x) for x in m.groups()[1:5])
    ss = int(m.group(6)) if m.group(6) else 0
    try:
        when = datetime(year, mo, dd, hh, mi, ss, tzinfo=_zone(m.group(7), "UTCTime"))
    except ValueError as exc:
        raise DecodeError(f"bad UTCTime {raw!r}: {exc}") from None
    repairs.note(f"UTCTime {raw.decode('ascii')} has {what}; read as {when.isoformat()}")
    return when


def decode_generalizedtime(raw: bytes) -> datetime:
    """GeneralizedTime (X.680 §42) -> aware datetime (offset kept; none given = UTC)."""
    m = _GEN_RE.match(raw)
    if m is None:
        raise DecodeError(f"bad GeneralizedTime {raw!r}")
    year, mo, dd, hh = (int(x) for x in m.groups()[:4])
    mi = int(m.group(5) or 0)
    ss = int(m.group(6) or 0)
    frac = m.group(7)
    micro = int((frac + b"000000")[:6]) if frac else 0
    try:
        return datetime(year, mo, dd, hh, mi, ss, micro,
                        tzinfo=_zone(m.group(8), "GeneralizedTime"))
    except ValueError as exc:
        raise DecodeError(f"bad GeneralizedTime {raw!r}: {exc}") from None


def _offset(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise EncodeError(f"naive datetime {dt!r}: the model holds aware datetimes only")
    off = dt.utcoffset()
    assert off is not None
    if off == timedelta(0):
        return "Z"
    total = int(off.total_seconds()) // 60
    sign = "+" if total >= 0 else "-"
    return f"{sign}{abs(total) // 60:02d}{abs(total) % 60:02d}"


def encode_utctime(dt: datetime) -> bytes:
    """Aware datetime -> UTCTime, always with seconds, ``Z`` for UTC else ``±hhmm``."""
    if not 1980 <= dt.year <= 2079:
        raise EncodeError(f"year {dt.year} outside the UTCTime window 1980–2079")
    return (dt.strftime("%y%m%d%H%M%S") + _offset(dt)).encode("ascii")


def encode_generalizedtime(dt: datetime) -> bytes:
    """Aware datetime -> GeneralizedTime in UTC with seconds and ``Z`` (X.680 §42.3)."""
    if dt.tzinfo is None:
        raise EncodeError(f"naive datetime {dt!r}")
    u = dt.astimezone(UTC)
    text = u.strftime("%Y%m%d%H%M%S")
    if u.microsecond:
        text += "." + f"{u.microsecond:06d}".rstrip("0")
    return (text + "Z").encode("ascii")


# ---------------------------------------------------------------------------- BIT STRING


def bits_to_int(value: tuple[bytes, int]) -> int:
    """asn1tools BIT STRING ``(octets, nbits)`` -> int whose bit n is named bit n (X.680 §22)."""
    data, nbits = value
    result = 0
    for n in range(nbits):
        if data[n >> 3] & (0x80 >> (n & 7)):
            result |= 1 << n
    return result


def int_to_bits(flags: int, *, min_bits: int = 0) -> tuple[bytes, int]:
    """int of named bits -> ``(octets, nbits)``; trailing zero bits dropped (X.690 §11.2.2)
    except up to ``min_bits`` (e.g. 8 for PerRecipientIndicators, X.411 §12.2.1.1.1.16)."""
    nbits = max(int(flags).bit_length(), min_bits)
    data = bytearray((nbits + 7) // 8)
    for n in range(nbits):
        if flags >> n & 1:
            data[n >> 3] |= 0x80 >> (n & 7)
    return bytes(data), nbits


# ---------------------------------------------------------------------------- strings


def numeric_or_printable(value: tuple[str, Any] | str) -> str:
    """A CHOICE {numeric NumericString, printable PrintableString} -> its text."""
    if isinstance(value, tuple):
        return str(value[1])
    return value


def choose_numeric(text: str, numeric: str, printable: str) -> tuple[str, str]:
    """RFC 2156 §4.1.1: NumericString iff the value is digits only (and not empty)."""
    if text.replace(" ", "").isascii() and text.replace(" ", "").isdigit():
        return (numeric, text)
    return (printable, text)


def teletex(raw: bytes) -> str:
    """TeletexString octets -> text (T.61, our charset module)."""
    return charsets.t61_decode(raw, errors="replace")


def to_teletex(text: str) -> bytes:
    """Text -> TeletexString octets; characters outside T.61 are an EncodeError (the mapping
    layer decides what to do with them before encoding)."""
    try:
        return charsets.t61_encode(text)
    except charsets.CharsetError as exc:
        raise EncodeError(f"not encodable as TeletexString: {exc}") from None


def universal_or_bmp(value: Any) -> tuple[str, str | None]:
    """X.411 (1996) UniversalOrBMPString -> (text, ISO 639 language code or None)."""
    kind, raw = value["character-encoding"]
    text = charsets.bmp_decode(raw) if kind == "two-octets" else charsets.universal_decode(raw)
    return text, value.get("iso-639-language-code")


def to_universal_or_bmp(text: str, language: str | None) -> dict[str, Any]:
    enc: tuple[str, bytes]
    if all(ord(c) <= 0xFFFF for c in text):
        enc = ("two-octets", charsets.bmp_encode(text))
    else:
        enc = ("four-octets", charsets.universal_encode(text))
    out: dict[str, Any] = {"character-encoding": enc}
    if language is not None:
        out["iso-639-language-code"] = language
    return out
