"""bridge.codec.asn1 patch 7: ``SEQUENCE {type OBJECT IDENTIFIER, value ANY OPTIONAL}`` (X.420
IPMSExtension) read by hand gives what asn1tools' own decoder gives -- the value, or the same
error -- for valid, odd and broken encodings (the hand path declines whatever it does not
read itself).  pyasn1, an independent decoder, agrees on the values."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder as pyasn1_decoder
from pyasn1.type import namedtype, univ

from bridge.codec import asn1
from bridge.errors import DecodeError


@contextmanager
def _asn1tools_only() -> Iterator[None]:
    """The IPMSExtension type with the hand path switched off."""
    seq = asn1._type("IPMSExtension").type
    seq._x400bridge_oid_any = False
    try:
        yield
    finally:
        seq._x400bridge_oid_any = True


def _both(data: bytes) -> tuple[Any, Any]:
    def one() -> Any:
        try:
            return asn1.decode("IPMSExtension", data)
        except DecodeError as exc:
            return ("error", str(exc))
    fast = one()
    with _asn1tools_only():
        slow = one()
    return fast, slow


def _tlv(tag: bytes, contents: bytes) -> bytes:
    n = len(contents)
    length = bytes((n,)) if n < 0x80 else bytes((0x82,)) + n.to_bytes(2, "big")
    return tag + length + contents


OID = bytes.fromhex("06082b1a00a236000205")  # 1.3.26.0.4406.0.2.5 (a P772 heading extension)

CASES = [
    _tlv(b"\x30", OID),                                               # no value
    _tlv(b"\x30", OID + _tlv(b"\x13", b"SACLANT")),                   # PrintableString
    _tlv(b"\x30", OID + _tlv(b"\x30", _tlv(b"\x02", b"\x05"))),       # constructed value
    _tlv(b"\x30", OID + _tlv(b"\x04", b"x" * 300)),                   # long-form length
    _tlv(b"\x30", OID + _tlv(b"\x1f\x81\x01", b"hi")),                # high tag number
    _tlv(b"\x30", OID + _tlv(b"\x13", b"A") + _tlv(b"\x13", b"B")),   # a second value
    _tlv(b"\x30", OID + b"\x13\x05AB"),                               # value length past end
    _tlv(b"\x30", _tlv(b"\x13", b"no OID first")),
    _tlv(b"\x30", b"\x06\x00"),                                       # empty OID
    _tlv(b"\x30", b"\x06\x02\x2b\x80"),                               # unfinished subidentifier
    _tlv(b"\x30", b""),
    _tlv(b"\x30", OID + b"\x13\x80AB\x00\x00"),                       # indefinite value
    b"\x30\x80" + OID + _tlv(b"\x13", b"X") + b"\x00\x00",            # indefinite SEQUENCE
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_hand_path_equals_asn1tools(data: bytes) -> None:
    fast, slow = _both(data)
    assert fast == slow


def test_the_hand_path_is_taken() -> None:
    calls: list[int] = []
    original = asn1._oid_any

    def spy(data: bytearray, start: int, end: int) -> Any:
        calls.append(start)
        return original(data, start, end)
    asn1._oid_any = spy  # type: ignore[assignment]
    try:
        value = asn1.decode("IPMSExtension", CASES[1])
    finally:
        asn1._oid_any = original  # type: ignore[assignment]
    assert calls and value == {"type": "1.3.26.0.4406.0.2.5", "value": b"\x13\x07SACLANT"}


class _Extension(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("type", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("value", univ.Any()))


def test_pyasn1_reads_the_same_values() -> None:
    for data in CASES[:5]:
        ours = asn1.decode("IPMSExtension", data)
        theirs, rest = pyasn1_decoder.decode(data, asn1Spec=_Extension())
        assert rest == b""
        assert ours["type"] == str(theirs["type"])
        assert ours.get("value") == (bytes(theirs["value"]) if theirs["value"].isValue
                                     else None)


_TAGS = st.sampled_from([b"\x02", b"\x04", b"\x13", b"\x30", b"\xa0", b"\x1f\x81\x01", b"\x06"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(0, 2 ** 32), min_size=0, max_size=6),
       st.one_of(st.none(), st.tuples(_TAGS, st.binary(max_size=200))),
       st.binary(max_size=6), st.booleans())
def test_generated_encodings_decode_alike(arcs: list[int], value: tuple[bytes, bytes] | None,
                                          junk: bytes, corrupt: bool) -> None:
    body = bytearray()
    for arc in arcs:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    contents = _tlv(b"\x06", bytes(body))
    if value is not None:
        contents += _tlv(*value)
    if corrupt:
        contents += junk
    fast, slow = _both(_tlv(b"\x30", contents))
    assert fast == slow
