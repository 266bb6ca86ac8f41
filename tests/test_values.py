"""Times and BIT STRINGs: our own conversions (ASN1-NOTES bug 5: asn1tools drops seconds,
writes naive times without Z and misreads offsets without seconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bridge.codec.values import (
    bits_to_int,
    decode_generalizedtime,
    decode_utctime,
    encode_generalizedtime,
    encode_utctime,
    int_to_bits,
)
from bridge.errors import DecodeError, EncodeError

UTC = UTC


@pytest.mark.parametrize(("raw", "expected"), [
    (b"240430174500Z", datetime(2024, 4, 30, 17, 45, 0, tzinfo=UTC)),
    (b"2404301745Z", datetime(2024, 4, 30, 17, 45, tzinfo=UTC)),  # seconds are optional
    # offset without seconds: asn1tools reads 17:04:05 here (ASN1-NOTES bug 5)
    (b"2404301745+0200", datetime(2024, 4, 30, 17, 45, tzinfo=timezone(timedelta(hours=2)))),
    (b"910530172027-0500", datetime(1991, 5, 30, 17, 20, 27,
                                    tzinfo=timezone(timedelta(hours=-5)))),
    (b"791231235959Z", datetime(2079, 12, 31, 23, 59, 59, tzinfo=UTC)),  # RFC 2156 §3.3.5
    (b"800101000000Z", datetime(1980, 1, 1, tzinfo=UTC)),
])
def test_utctime_decode(raw: bytes, expected: datetime) -> None:
    value = decode_utctime(raw)
    assert value == expected and value.utcoffset() == expected.utcoffset()


def test_utctime_encode_keeps_seconds_and_zone() -> None:  # B-7
    """Always seconds; Z for UTC; the offset preserved otherwise (RFC 2156 §3.3.5)."""
    assert encode_utctime(datetime(2024, 4, 30, 17, 45, tzinfo=UTC)) == b"240430174500Z"
    tz = timezone(timedelta(hours=-5))
    assert encode_utctime(datetime(1991, 5, 30, 17, 20, 27, tzinfo=tz)) == b"910530172027-0500"
    with pytest.raises(EncodeError):
        encode_utctime(datetime(2024, 4, 30, 17, 45))  # naive: refuse to guess
    with pytest.raises(EncodeError):
        encode_utctime(datetime(2100, 1, 1, tzinfo=UTC))  # outside the two-digit window


def test_generalizedtime() -> None:
    assert decode_generalizedtime(b"20240430174500Z") == datetime(2024, 4, 30, 17, 45, tzinfo=UTC)
    assert decode_generalizedtime(b"20240430174500.25Z").microsecond == 250000
    assert encode_generalizedtime(datetime(2024, 4, 30, 17, 45, tzinfo=UTC)) == b"20240430174500Z"


@pytest.mark.parametrize("raw", [b"", b"2404", b"240431174500Z", b"24043017450Z", b"xx0430174500Z",
                                 b"240430174500+2500"])
def test_bad_times_are_decode_errors(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_utctime(raw)


def test_bit_strings() -> None:
    """X.680 §22: named bit n is the n-th bit from the most significant of the first octet."""
    assert bits_to_int((b"\x98", 8)) == 0b11001  # bits 0, 3, 4
    assert int_to_bits(0b11001) == (b"\x98", 5)
    assert int_to_bits(0b1, min_bits=8) == (b"\x80", 8)  # PerRecipientIndicators >= 8 bits
    assert int_to_bits(0) == (b"", 0)


def test_numeric_string_iff_all_digits() -> None:
    """RFC 2156 §4.1.1: C, ADMD, PRMD are NumericString exactly when all digits."""
    from bridge.codec import asn1
    from bridge.codec.orname import oraddress_to
    from bridge.model import ORAddress

    numeric = asn1.encode("ORAddress", oraddress_to(ORAddress(country="234", admd="0", prmd="7")))
    assert b"\x12\x03234" in numeric  # [APPLICATION 1] { NumericString "234" }
    assert b"\x12\x010" in numeric and b"\x12\x017" in numeric
    printable = asn1.encode("ORAddress", oraddress_to(ORAddress(country="GB", admd=" ")))
    assert b"\x13\x02GB" in printable and b"\x13\x01 " in printable
