"""X.225 SPDU codec: structure, length forms, concatenation, and hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import ProtocolError
from bridge.x400 import spdu as sp
from bridge.x400.spdu import PI, SI, SPDU, Token, TokenSide
from tests.test_x400_session import SAMPLE_TSDUS, real_ac, real_cn


def test_real_cn_structure() -> None:
    [cn] = sp.decode_tsdu(real_cn())
    assert cn.si == SI.CN and cn.category == 1
    assert [c for c, _ in cn.params] == [1, 5, 20, 193]  # PGI 1, PGI 5, PI 20, PI 193
    assert cn.get_group(PI.CONNECT_ACCEPT_ITEM) == {19: b"\x00", 22: b"\x02", 26: b"\x00"}
    assert sp.encode(cn) == real_cn()  # parse then generate gives the input back


def test_real_ac_structure() -> None:
    [ac] = sp.decode_tsdu(real_ac())
    assert ac.si == SI.AC
    assert ac.get(PI.CALLED_SSAP) == b""  # Isode sends an empty Responding SSAP
    assert sp.encode(ac) == real_ac()


@pytest.mark.parametrize("n, li", [(0, b"\x00"), (254, b"\xfe"), (255, b"\xff\x00\xff"),
                                   (65535, b"\xff\xff\xff")])
def test_length_forms(n: int, li: bytes) -> None:
    assert sp.encode_length(n) == li
    size = min(n, 65000)  # the whole parameter field must fit one LI too
    spdu = SPDU(si=SI.FN, params=((PI.USER_DATA, bytes(size)),))
    data = sp.encode(spdu)
    assert sp.decode_tsdu(data) == [spdu]
    assert data[1] == (0xFF if size + 2 > 254 else size + 2)


def test_length_over_65535_is_refused() -> None:
    with pytest.raises(ProtocolError, match="local"):
        sp.encode_length(65536)


def test_gt_dt_concatenation_and_positions() -> None:
    gt, dt = sp.decode_tsdu(b"\x01\x00\x01\x00hello")
    assert (gt.si, gt.category) == (1, 0) and (dt.si, dt.category) == (1, 2)
    assert dt.user_info == b"hello"
    [ab] = sp.decode_tsdu(b"\x19\x03\x11\x01\x03")
    assert ab.category == 1  # AB, not AI
    _, ai = sp.decode_tsdu(b"\x01\x00\x19\x03\x32\x01\x00")
    assert ai.category == 2  # AI after GT


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"\x01", "truncated"),
    (b"\x0d\xff\x00", "truncated"),
    (b"\x0d\x05\x14\x02\x02", "runs past"),
    (b"\x0d\x04\x14\x05\x02\x49", "runs past"),
    (b"\x0d\x06\x14\x01\x02\x14\x01\x02", "repeated"),
    (b"\x0d\x05\x01\x03\x05\x01\x00", "inside a parameter group"),
    (b"\x31\x00", "cannot start"),
    (b"\x0d\x00\x0d\x00", "cannot be concatenated"),
    (b"\x01\x00" + b"\x31\x03\x2a\x01\x31" * 20, "too many"),
])
def test_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason) as info:
        sp.decode_tsdu(data)
    assert info.value.layer == "session"


def test_serial_numbers() -> None:
    assert sp.encode_serial(0) == b"0" and sp.encode_serial(999999) == b"999999"
    assert sp.decode_serial(b"42") == 42
    for bad in (b"", b"1234567", b"4x", b"-1", b" 1"):
        with pytest.raises(ProtocolError):
            sp.decode_serial(bad)
    with pytest.raises(ProtocolError, match="local"):
        sp.encode_serial(1_000_000)


def test_token_codecs() -> None:
    assert sp.encode_tokens(Token.DATA | Token.RELEASE) == b"\x41"
    assert sp.decode_tokens(b"\x15") == Token.DATA | Token.MINOR_SYNC | Token.MAJOR_ACTIVITY
    setting = {Token.DATA: TokenSide.RESPONDER, Token.RELEASE: TokenSide.CALLED_CHOICE}
    wire = sp.encode_token_setting(setting)
    assert wire == b"\x81"
    assert sp.decode_token_setting(wire, Token.DATA | Token.RELEASE) == setting
    with pytest.raises(ProtocolError, match="reserved"):
        sp.decode_token_setting(b"\x03", Token.DATA)


_PIS = st.tuples(st.sampled_from([16, 17, 20, 41, 42, 50, 193]), st.binary(max_size=300))
_PGI = st.tuples(st.sampled_from([1, 5, 33]),
                 st.lists(st.tuples(st.sampled_from([9, 10, 11, 12, 19, 22]),
                                    st.binary(max_size=20)),
                          max_size=4, unique_by=lambda t: t[0]).map(tuple))


@given(si=st.sampled_from(sorted(sp.CATEGORY_1 - {SI.TD, SI.EX})),
       params=st.lists(st.one_of(_PIS, _PGI), max_size=6, unique_by=lambda t: t[0]))
def test_roundtrip(si: int, params: list[sp.Param]) -> None:
    spdu = SPDU(si=si, params=tuple(params))
    assert sp.decode_tsdu(sp.encode(spdu)) == [spdu]


@given(st.binary(max_size=400))
@settings(max_examples=500)
def test_random_bytes_only_protocol_errors(data: bytes) -> None:
    try:
        sp.decode_tsdu(data)
    except ProtocolError:
        pass


def test_every_truncation_of_every_recorded_tsdu() -> None:
    """Each prefix decodes (DT data may be shorter) or raises ProtocolError, never another."""
    count = 0
    for tsdu in SAMPLE_TSDUS:
        for cut in range(min(len(tsdu), 600)):
            try:
                sp.decode_tsdu(tsdu[:cut])
            except ProtocolError:
                count += 1
    assert count > 500
