"""Tests of bridge.codec.ber: the schema-less BER reader and length normaliser (X.690 §8.1)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import asn1tools
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder as pyasn1_decoder
from pyasn1.codec.ber import encoder as pyasn1_encoder

from bridge.codec.ber import (
    CLASS_APPLICATION,
    CLASS_CONTEXT,
    CLASS_PRIVATE,
    CLASS_UNIVERSAL,
    TLV,
    _all_definite,
    _rebuild,
    encode_length,
    iter_children,
    normalise,
    pdu_length,
    read_tlv,
)
from bridge.errors import DecodeError

H = bytes.fromhex  # spaces between hex groups are ignored

# --------------------------------------------------------------------------------------------
# A tiny independent BER model used to generate inputs: a tree, encoded with a chosen length form.


@dataclass(frozen=True)
class Prim:
    tag_class: int
    tag: int
    content: bytes


@dataclass(frozen=True)
class Cons:
    tag_class: int
    tag: int
    children: tuple[Prim | Cons, ...]
    indefinite: bool  # length form used by the "mixed" encoding


Node = Prim | Cons


def ident(tag_class: int, constructed: bool, tag: int) -> bytes:
    first = (tag_class << 6) | (0x20 if constructed else 0)
    if tag < 31:
        return bytes((first | tag,))
    groups = []
    while True:
        groups.append(tag & 0x7F)
        tag >>= 7
        if not tag:
            break
    groups.reverse()
    return bytes((first | 0x1F, *(g | 0x80 for g in groups[:-1]), groups[-1]))


def enc(node: Node, mixed: bool) -> bytes:
    """Encode ``node``: all definite (shortest form), or with each node's chosen form."""
    if isinstance(node, Prim):
        return (
            ident(node.tag_class, False, node.tag)
            + encode_length(len(node.content))
            + (node.content)
        )
    body = b"".join(enc(child, mixed) for child in node.children)
    head = ident(node.tag_class, True, node.tag)
    if mixed and node.indefinite:
        return head + b"\x80" + body + b"\x00\x00"
    return head + encode_length(len(body)) + body


def tags() -> st.SearchStrategy[tuple[int, int]]:
    return st.one_of(
        st.tuples(st.just(CLASS_UNIVERSAL), st.integers(1, 30)),
        st.tuples(st.sampled_from([1, 2, 3]), st.integers(0, 40)),
        st.tuples(st.integers(0, 3), st.integers(31, 2**28 - 1)),
    )


prims = st.builds(
    lambda t, c: Prim(t[0], t[1], c),
    tags(),
    st.one_of(st.binary(max_size=8), st.binary(min_size=120, max_size=300)),
)


def cons(children: st.SearchStrategy[list[Node]]) -> st.SearchStrategy[Node]:
    return st.builds(
        lambda t, ch, ind: Cons(t[0], t[1], tuple(ch), ind), tags(), children, st.booleans()
    )


trees = st.recursive(prims, lambda inner: cons(st.lists(inner, max_size=5)), max_leaves=40)


def count_tlvs(data: bytes) -> int:
    total, todo = 0, [read_tlv(data)]
    while todo:
        tlv = todo.pop()
        total += 1
        if tlv.constructed:
            todo.extend(iter_children(data, tlv))
    return total


# --------------------------------------------------------------------------------------------
# encode_length / read_tlv: X.690 §8.1.2 and §8.1.3


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, "00"),
        (38, "26"),  # X.690 §8.1.3.4 example
        (127, "7f"),
        (128, "8180"),
        (201, "81c9"),  # X.690 §8.1.3.5 example: 10000001 11001001
        (255, "81ff"),
        (256, "820100"),
        (65535, "82ffff"),
        (65536, "83010000"),
        (2**32 - 1, "84ffffffff"),
    ],
)
def test_encode_length(n: int, encoded: str) -> None:
    assert encode_length(n) == H(encoded)


def test_encode_length_negative() -> None:
    with pytest.raises(ValueError):
        encode_length(-1)


@pytest.mark.parametrize(
    ("hexdata", "expected"),
    [
        ("0500", TLV(CLASS_UNIVERSAL, False, 5, 0, 2, 0)),  # NULL
        ("3000", TLV(CLASS_UNIVERSAL, True, 16, 0, 2, 0)),  # SEQUENCE {}
        ("0201" + "05", TLV(CLASS_UNIVERSAL, False, 2, 0, 2, 1)),
        ("6100", TLV(CLASS_APPLICATION, True, 1, 0, 2, 0)),
        ("8a00", TLV(CLASS_CONTEXT, False, 10, 0, 2, 0)),
        ("c000", TLV(CLASS_PRIVATE, False, 0, 0, 2, 0)),
        ("3080" + "0000", TLV(CLASS_UNIVERSAL, True, 16, 0, 2, -1)),  # indefinite
        ("0481c9" + "00" * 201, TLV(CLASS_UNIVERSAL, False, 4, 0, 3, 201)),  # long form
        ("048200c9" + "00" * 201, TLV(CLASS_UNIVERSAL, False, 4, 0, 4, 201)),  # non-minimal: BER
        ("5f1f00", TLV(CLASS_APPLICATION, False, 31, 0, 3, 0)),  # smallest high tag number
        ("bf817f00", TLV(CLASS_CONTEXT, True, 255, 0, 4, 0)),  # [255]: 0x81 0x7f
        ("9f814900", TLV(CLASS_CONTEXT, False, 201, 0, 4, 0)),
        ("dfffffff7f00", TLV(CLASS_PRIVATE, False, 2**28 - 1, 0, 6, 0)),  # 4 subsequent octets
    ],
)
def test_read_tlv(hexdata: str, expected: TLV) -> None:
    assert read_tlv(H(hexdata)) == expected


def test_read_tlv_offset_and_properties() -> None:
    data = H("3006 020105 040141")
    seq = read_tlv(data)
    assert (seq.content_offset, seq.end) == (2, 8)
    first = read_tlv(data, 2)
    assert first == TLV(CLASS_UNIVERSAL, False, 2, 2, 2, 1)
    assert list(iter_children(data, seq)) == [first, TLV(CLASS_UNIVERSAL, False, 4, 5, 2, 1)]
    with pytest.raises(ValueError):
        _ = read_tlv(H("3080 0000")).end
    with pytest.raises(ValueError):
        list(iter_children(data, first))


def test_iter_children_indefinite() -> None:
    # SEQUENCE(indef) { SET(indef) { OCTET STRING "ab" }, INTEGER 5 }
    data = H("3080 3180 04026162 0000 020105 0000")
    outer = read_tlv(data)
    children = list(iter_children(data, outer))
    assert children == [
        TLV(CLASS_UNIVERSAL, True, 17, 2, 2, -1),
        TLV(CLASS_UNIVERSAL, False, 2, 10, 2, 1),
    ]
    assert list(iter_children(data, children[0])) == [TLV(CLASS_UNIVERSAL, False, 4, 4, 2, 2)]
    with pytest.raises(DecodeError) as err:
        list(iter_children(H("3080 020105"), read_tlv(H("3080 020105"))))
    assert err.value.offset == 5


# --------------------------------------------------------------------------------------------
# normalise(): behaviour


def test_definite_input_is_returned_unchanged() -> None:
    data = H("3006 020105 040141")
    assert normalise(data) is data
    # Non-minimal definite lengths are valid BER and are left alone when nothing else changes.
    data = H("308200 06 020105 040141")
    assert normalise(data) is data


def test_primitive_outer() -> None:
    data = H("0403616263")
    assert normalise(data) is data


def test_nested_indefinite_matches_pyasn1() -> None:
    # SEQUENCE { INTEGER 5, SET { OCTET STRING "ab", NULL }, SEQUENCE { INTEGER 7 } },
    # every constructed encoding in the indefinite form.
    data = H("3080 020105 3180 04026162 0500 0000 3080 020107 0000 0000")
    out = normalise(data)
    assert out == H("3010 020105 3106 04026162 0500 3003 020107")
    value, rest = pyasn1_decoder.decode(data)
    assert rest == b""
    assert pyasn1_encoder.encode(value, defMode=True) == out
    assert pyasn1_decoder.decode(out)[0] == value


def test_indefinite_inside_explicit_wrapper() -> None:
    # [0] EXPLICIT (definite) around an indefinite SEQUENCE, inside an indefinite [APPLICATION 3].
    data = H("6380 a00a 3080 020105 040141 0000 0000")
    assert normalise(data) == H("630a a008 3006 020105 040141")


def test_constructed_octet_string_stays_constructed() -> None:
    data = H("2480 04026162 2480 040163 0000 0000")
    out = normalise(data)
    assert out == H("2409 04026162 2403 040163")
    assert pyasn1_decoder.decode(out)[0] == pyasn1_decoder.decode(data)[0]
    assert bytes(pyasn1_decoder.decode(out)[0]) == b"abc"


def test_indefinite_empty_and_long() -> None:
    assert normalise(H("3080 0000")) == H("3000")
    content = b"\x04\x81\xc8" + bytes(200)
    assert normalise(H("3080") + content + H("0000")) == H("3081cb") + content


def test_non_minimal_lengths_become_minimal_when_rebuilding() -> None:
    data = H("3080 04820002 6162 a08103 020105 0000")
    assert normalise(data) == H("3009 04026162 a003 020105")


def test_asn1tools_accepts_normalised_open_type() -> None:
    spec = asn1tools.compile_string(
        "M DEFINITIONS ::= BEGIN T ::= SEQUENCE { a [0] EXPLICIT ANY } END", "ber"
    )
    for data in (
        H("3009 a007 3080 020105 0000"),  # definite outside, indefinite in the ANY
        H("3080 a080 3080 020105 0000 0000 0000"),  # indefinite everywhere
    ):
        with pytest.raises(asn1tools.DecodeError, match="definite"):
            spec.decode("T", data)
        out = normalise(data)
        assert out == H("3007 a005 3003 020105")
        assert spec.decode("T", out) == {"a": H("3003 020105")}


# --------------------------------------------------------------------------------------------
# normalise(): every error, with the offset of the offending octet


@pytest.mark.parametrize(
    ("hexdata", "kwargs", "offset", "reason"),
    [
        ("", {}, 0, "truncated"),
        ("30", {}, 1, "truncated"),
        ("9f", {}, 1, "truncated"),  # high tag number, no subsequent octet
        ("9f81", {}, 2, "truncated"),
        ("0482", {}, 2, "truncated"),  # long form, length octets missing
        ("048200", {}, 3, "truncated"),
        ("0405616263", {}, 1, "beyond the end of the data"),
        ("3003 0405616263", {}, 3, "exceeds the enclosing"),
        ("3001 0400", {}, 3, "crosses the end of the enclosing"),
        ("0480", {}, 1, "indefinite length on a primitive"),
        ("3080 0480 0000", {}, 3, "indefinite length on a primitive"),
        ("3080 0400", {}, 4, "missing end-of-contents"),
        ("3080 3080 0000", {}, 6, "missing end-of-contents"),
        ("3004 3080 0400 0000", {}, 6, "missing end-of-contents"),  # bounded by parent
        ("3080 0400 00", {}, 5, "truncated end-of-contents"),
        ("3080 0001 00", {}, 3, "non-zero length"),
        ("0000", {}, 0, "UNIVERSAL 0"),
        ("3002 0000", {}, 2, "UNIVERSAL 0"),  # end-of-contents in a definite-length SEQUENCE
        ("3080 2000 0000", {}, 2, "UNIVERSAL 0"),  # constructed [UNIVERSAL 0]
        ("3080 0400 0000 0000", {}, 6, "trailing"),  # EOC after the outermost TLV
        ("3085 0000000001 00", {}, 1, "5 length octets"),
        ("04ff", {}, 1, "reserved length octet 0xFF"),
        ("0484 05000001", {}, 1, "exceeds the limit"),  # 83,886,081 > 64 MiB
        ("0403616263", {"max_length": 2}, 1, "exceeds the limit"),
        ("3080 0403616263 0000", {"max_length": 4}, 1, "indefinite-length contents exceed"),
        ("9f8181818101 00", {}, 5, "longer than 4 octets"),
        ("9f8001 00", {}, 1, "leading 0x80"),
        ("9f1e 00", {}, 1, "high-tag-number form"),
        ("0400 00", {}, 2, "trailing"),
        ("3000 3000", {}, 2, "trailing"),
        ("3080" * 3 + "0000" * 3, {"max_depth": 2}, 4, "nesting deeper than 2"),
        ("3006 3004 3002 3000", {"max_depth": 3}, 6, "nesting deeper than 3"),
        ("3000", {"max_depth": 0}, 0, "nesting deeper than 0"),
    ],
)
def test_errors(hexdata: str, kwargs: dict[str, int], offset: int, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        normalise(H(hexdata), **kwargs)
    assert err.value.offset == offset, err.value
    assert reason in err.value.reason


def test_primitive_at_depth_limit_is_fine() -> None:
    assert normalise(H("3080 3080 0400 0000 0000"), max_depth=2) == H("3004 3002 0400")
    assert normalise(H("0400"), max_depth=0) == H("0400")


def test_deep_nesting_10000_levels() -> None:
    indefinite = H("3080") * 10_000 + H("0000") * 10_000
    with pytest.raises(DecodeError) as err:
        normalise(indefinite)
    assert err.value.offset == 2 * 64
    with pytest.raises(DecodeError):
        pdu_length(indefinite)
    definite = b""
    for _ in range(10_000):
        definite = b"\x30" + encode_length(len(definite)) + definite
    with pytest.raises(DecodeError) as err:
        normalise(definite)
    assert "nesting deeper than 64" in err.value.reason
    # No recursion anywhere: far deeper than Python's recursion limit works when allowed.
    assert normalise(definite, max_depth=10_000) is definite
    assert normalise(indefinite, max_depth=10_000) == definite
    assert pdu_length(indefinite, max_depth=10_000) == len(indefinite)


def test_ten_megabytes_of_garbage_is_rejected() -> None:
    garbage = random.Random(1).randbytes(10 * 1024 * 1024)
    nested = H("3080") * (5 * 1024 * 1024)
    huge = H("3084") + (len(garbage) - 6).to_bytes(4, "big") + garbage[6:]
    for data in (garbage, nested, huge, b"\x04\x00" + garbage):
        with pytest.raises(DecodeError):
            normalise(data)
        with pytest.raises(DecodeError):
            normalise(data, max_length=1024 * 1024)


# --------------------------------------------------------------------------------------------
# pdu_length(): stream framing


def test_pdu_length() -> None:
    definite = H("3006 020105 040141")
    assert pdu_length(definite) == 8
    assert pdu_length(definite + b"\x30\x00") == 8  # only the first TLV counts
    assert pdu_length(bytearray(definite)) == 8
    assert pdu_length(memoryview(definite)) == 8
    indefinite = H("3080 3080 0400 0000 3006 020105 040141 0000")
    assert pdu_length(indefinite + b"\xff\xff") == len(indefinite)
    for data in (definite, indefinite):
        for cut in range(len(data)):
            assert pdu_length(data[:cut]) is None
    with pytest.raises(DecodeError) as err:
        pdu_length(H("0480"))
    assert err.value.offset == 1
    with pytest.raises(DecodeError):
        pdu_length(H("04ff"))
    with pytest.raises(DecodeError) as err:
        pdu_length(H("3080 0001"))
    assert err.value.offset == 3
    with pytest.raises(DecodeError):
        pdu_length(H("0000"))
    with pytest.raises(DecodeError):
        pdu_length(H("0484ffffffff"))  # never waits for 4 GiB
    with pytest.raises(DecodeError):  # indefinite contents already beyond max_length
        pdu_length(H("3080") + H("0400") * 100, max_length=100)
    assert pdu_length(H("3080") + H("0400") * 10, max_length=100) is None


# --------------------------------------------------------------------------------------------
# Speed: the all-definite fast path walks headers only


def sample_ipm(indefinite: bool) -> bytes:
    """A 9 KB IPM-like PDU: 10 heading fields holding O/R names, two 4 KiB body parts."""

    def t(tag: int, content: bytes, constructed: bool = True) -> bytes:
        if constructed and indefinite:
            return bytes((tag,)) + b"\x80" + content + b"\x00\x00"
        return bytes((tag,)) + encode_length(len(content)) + content

    def ps(text: str) -> bytes:
        return t(0x13, text.encode(), False)

    def orname(k: int) -> bytes:
        attrs = b"".join(
            t(0x31, t(0x30, t(0x06, b"\x55\x04\x03", False) + ps(f"value{k}-{j}")))
            for j in range(4)
        )
        return t(0x60, t(0x30, t(0x61, ps("DE")) + t(0x62, ps(" ")) + attrs))

    heading = b"".join(t(0xA0 | k, orname(k)) for k in range(10))
    heading = t(0x31, heading + t(0x18, b"20240430174500Z", False))
    body = b"".join(
        t(0xA0, t(0x30, t(0x02, b"\x01", False) + t(0x04, bytes(4096), False))) for _ in range(2)
    )
    return t(0x30, heading + t(0x30, body))


def test_sample_ipm_round_trip() -> None:
    definite, indefinite = sample_ipm(False), sample_ipm(True)
    assert 9000 < len(definite) < 9500
    assert normalise(definite) is definite
    assert normalise(indefinite) == definite
    assert pdu_length(indefinite) == len(indefinite)
    assert pyasn1_decoder.decode(indefinite)[0] == pyasn1_decoder.decode(definite)[0]


def test_definite_input_takes_the_header_only_fast_path() -> None:
    """All-definite input is recognised by the header walk and returned without a rebuild
    (speed itself is measured by bench/codec.py, never asserted here)."""
    data = sample_ipm(False)
    assert _all_definite(data, 64, 64 * 1024 * 1024)
    assert not _all_definite(sample_ipm(True), 64, 64 * 1024 * 1024)
    assert normalise(data) is data


# --------------------------------------------------------------------------------------------
# Hypothesis


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_mixed_lengths_normalise_to_all_definite(tree: Node) -> None:
    definite = enc(tree, mixed=False)
    mixed = enc(tree, mixed=True)
    assert normalise(definite) is definite
    assert _all_definite(definite, 64, 64 * 1024 * 1024)
    assert normalise(mixed) == definite
    assert pdu_length(mixed + b"\x00\x01\x02") == len(mixed)
    assert pdu_length(mixed[:-1]) is None
    assert count_tlvs(definite) == count_tlvs(mixed)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=64))
@example(H("3080 0000 00"))
@example(H("9f808080"))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        out = normalise(data)
    except DecodeError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
    else:
        assert isinstance(out, bytes)
        assert normalise(out) is out  # idempotent
        assert pdu_length(data) == len(data)
    try:
        n = pdu_length(data)
    except DecodeError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
    else:
        assert n is None or 0 < n <= len(data)


def headerish() -> st.SearchStrategy[bytes]:
    """Byte soup biased towards BER-looking structure, to reach deep paths."""
    atoms = st.sampled_from(
        [
            H(x)
            for x in (
                "3080",
                "0000",
                "0400",
                "3000",
                "a080",
                "2480",
                "0401",
                "3003",
                "9f1f",
                "bf8100",
                "0481",
                "3081",
                "00",
                "80",
                "ff",
                "30",
                "04",
                "02",
            )
        ]
    )
    return st.lists(st.one_of(atoms, st.binary(max_size=3)), max_size=20).map(b"".join)


@settings(max_examples=1500, deadline=None)
@given(headerish(), st.integers(0, 6), st.sampled_from([0, 1, 5, 100, 0xFFFF, 2**26]))
def test_structured_garbage(data: bytes, max_depth: int, max_length: int) -> None:
    try:
        out = normalise(data, max_depth=max_depth, max_length=max_length)
    except DecodeError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
        assert not _all_definite(data, max_depth, 2**26) or max_length < 2**26
    else:
        assert normalise(out, max_depth=max_depth, max_length=max_length) == out
    # The fast path never accepts what the full walk would reject or change.
    if _all_definite(data, max_depth, 2**26):
        assert _rebuild(data, max_depth, 2**26) is data
    try:
        n = pdu_length(data, max_depth=max_depth, max_length=max_length)
    except DecodeError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
    else:
        assert n is None or 0 < n <= len(data)
