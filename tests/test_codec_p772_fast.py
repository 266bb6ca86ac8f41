"""The hand-written BER of the simple STANAG 4406 A1 heading extensions (bridge.codec.p772.FAST)
against asn1tools: the same octets when encoding, the same value when decoding, and no value
at all (asn1tools decides) for octets that are not exactly the simple shape."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.codec import asn1, p772, repairs
from bridge.codec.p22ext import MMHS_HEADING_EXTENSIONS, heading_extension_from
from bridge.errors import DecodeError
from bridge.model import mmhs
from bridge.model.common import Opaque

INTEGERS = st.integers(-2**70, 2**70)
# up to 150 characters: long-form lengths too; any ASCII (asn1tools does not check the
# PrintableString alphabet) and now and then a Latin-1 octet (repaired by asn1tools)
TEXT = st.text(st.characters(max_codepoint=127), max_size=150) | st.text(
    st.characters(max_codepoint=255), max_size=4)
TEXTS = st.lists(TEXT, max_size=6)


def _typed(name: str, optional: bool) -> st.SearchStrategy[dict[str, Any]]:
    full = st.fixed_dictionaries({"type": INTEGERS, name: TEXT})
    return full | st.fixed_dictionaries({"type": INTEGERS}) if optional else full


#: OID -> asn1tools plain values of its ASN.1 type
PLAIN: dict[str, st.SearchStrategy[Any]] = {
    mmhs.ID_MM_PRIMARY_PRECEDENCE: INTEGERS,
    mmhs.ID_MM_COPY_PRECEDENCE: INTEGERS,
    mmhs.ID_MM_CODRESS_MESSAGE: INTEGERS,
    mmhs.ID_MM_MESSAGE_TYPE: _typed("identifier", True),
    mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO: st.binary(max_size=150),
    mmhs.ID_MM_DISTRIBUTION_CODES: st.just({}) | st.fixed_dictionaries({"sics": TEXTS}),
    mmhs.ID_MM_HANDLING_INSTRUCTIONS: TEXTS,
    mmhs.ID_MM_MESSAGE_INSTRUCTIONS: TEXTS,
    mmhs.ID_MM_ORIGINATOR_REFERENCE: TEXT,
    mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR: st.lists(_typed("designator", False), max_size=4),
    mmhs.ID_MM_ACP127_MESSAGE_IDENTIFIER: TEXT,
    mmhs.ID_MM_ORIGINATOR_PLAD: TEXT,
}
OIDS = sorted(PLAIN)


def _type(oid: str) -> str:
    return MMHS_HEADING_EXTENSIONS[oid][0]


def _asn1tools(oid: str, raw: bytes) -> tuple[Any, tuple[str, ...]] | None:
    """asn1tools' value of ``raw`` and the repairs it noted, or None if it rejects it."""
    with repairs.collecting() as notes:
        try:
            value = asn1.decode(_type(oid), raw)
        except DecodeError:
            return None
    return value, tuple(notes)


def test_every_fast_row_is_a_military_extension() -> None:
    assert set(p772.FAST) == set(PLAIN)
    assert set(p772.FAST) <= set(MMHS_HEADING_EXTENSIONS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), oid=st.sampled_from(OIDS))
def test_fast_path_gives_the_octets_and_values_of_asn1tools(data: st.DataObject,
                                                              oid: str) -> None:
    value = data.draw(PLAIN[oid])
    decode, encode = p772.FAST[oid]
    try:
        expected = asn1.encode(_type(oid), value)
    except Exception:  # noqa: BLE001 - a Latin-1 character: asn1tools cannot encode it
        assert encode(value) is None
        return
    assert encode(value) == expected
    decoded = _asn1tools(oid, expected)
    assert decoded is not None and decoded[1] == ()
    fast = decode(expected)
    if len(expected) < 0x80:  # one short-form length everywhere: the fast path takes it
        assert fast is not None
    assert fast is None or fast == decoded[0]


@st.composite
def _mutated(draw: st.DrawFn, oid: str) -> bytes:
    """The encoding of a value of ``oid``'s type with one to four edits: a changed octet, a
    lying length octet, an insertion, a deletion or a truncation."""
    raw = bytearray(asn1.encode(_type(oid), draw(PLAIN[oid].filter(_encodable(oid)))))
    for _ in range(draw(st.integers(1, 4))):
        if not raw:
            raw += draw(st.binary(min_size=1, max_size=4))
            continue
        i = draw(st.integers(0, len(raw) - 1))
        kind = draw(st.integers(0, 5))
        if kind == 0:
            raw[i] = draw(st.integers(0, 255))
        elif kind == 1:
            raw[i] = draw(st.sampled_from((0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0xFF)))
        elif kind == 2:
            raw[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == 3:
            del raw[i:i + draw(st.integers(1, 8))]
        elif kind == 4:
            del raw[i:]
        else:  # an identifier octet of the shapes: a member in the wrong place
            raw[i] = draw(st.sampled_from((0x02, 0x13, 0x17, 0x30, 0x31, 0x80, 0x81, 0xA0,
                                           0xA1, 0x33)))
    return bytes(raw)


def _encodable(oid: str) -> Any:
    def ok(value: Any) -> bool:
        try:
            asn1.encode(_type(oid), value)
        except Exception:  # noqa: BLE001
            return False
        return True
    return ok


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), oid=st.sampled_from(OIDS))
def test_fast_path_accepts_only_what_asn1tools_reads_the_same(data: st.DataObject,
                                                              oid: str) -> None:
    raw = data.draw(_mutated(oid))
    fast = p772.FAST[oid][0](raw)
    if fast is None:
        return
    decoded = _asn1tools(oid, raw)
    assert decoded is not None, f"asn1tools rejects {raw.hex()}"
    assert decoded == (fast, ()), raw.hex()
    # and the model value is the one the asn1tools path gives
    row = MMHS_HEADING_EXTENSIONS[oid]
    try:
        model: object = row[1](decoded[0])
    except (ValueError, KeyError, DecodeError):
        model = Opaque(ber=raw)
    assert heading_extension_from(oid, raw).value == model


@pytest.mark.parametrize(("oid", "raw"), [
    # a long-form length octet 0x81 that equals the remaining length (2 + 0x81 octets)
    (mmhs.ID_MM_PRIMARY_PRECEDENCE, b"\x02\x81\x80" + b"\x01" * 128),
    (mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO, b"\x17\x81\x80" + b"1" * 128),
    (mmhs.ID_MM_HANDLING_INSTRUCTIONS, b"\x30\x81\x80" + b"\x13\x7e" + b"A" * 126),
    # non-minimal INTEGER, empty INTEGER, SET members out of order, a member twice
    (mmhs.ID_MM_CODRESS_MESSAGE, b"\x02\x02\x00\x04"),
    (mmhs.ID_MM_CODRESS_MESSAGE, b"\x02\x00"),
    (mmhs.ID_MM_MESSAGE_TYPE, b"\x31\x06\x81\x01A\x80\x01\x00"),
    (mmhs.ID_MM_MESSAGE_TYPE, b"\x31\x06\x80\x01\x00\x80\x01\x01"),
    # other-recipient designator without its designator; a distribution extension
    (mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR, b"\x30\x05\x31\x03\x80\x01\x00"),
    (mmhs.ID_MM_DISTRIBUTION_CODES, b"\x31\x09\xa1\x07\x06\x02\x2a\x03\x02\x01\x07"),
    # constructed PrintableString, an octet outside ASCII
    (mmhs.ID_MM_ORIGINATOR_PLAD, b"\x33\x05\x13\x03ABC"),
    (mmhs.ID_MM_ORIGINATOR_PLAD, b"\x13\x03AB\xe9"),
])
def test_odd_encodings_are_left_to_asn1tools(oid: str, raw: bytes) -> None:
    assert p772.FAST[oid][0](raw) is None
    decoded = _asn1tools(oid, raw)
    ext = heading_extension_from(oid, raw)
    if decoded is None:
        assert ext.value == Opaque(ber=raw)
    else:
        try:
            expected: object = MMHS_HEADING_EXTENSIONS[oid][1](decoded[0])
        except (ValueError, KeyError, DecodeError):
            expected = Opaque(ber=raw)
        assert ext.value == expected
