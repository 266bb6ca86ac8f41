"""Every hand-written BER path of the OSI stack takes every form X.690 allows (issue 11 item 1).

Real MTAs send indefinite lengths and constructed strings anywhere (PP 6.0's transferred APDU
is ``28 80 02 01 05 a0 80 ...``, x400-samples/pp).  For each PDU type the stack decodes by hand
or through the codec -- presentation CP/CPA/CPR/ARU/ARP and P-DATA user data, ACSE AARQ/AARE/
RLRQ/RLRE/ABRT, RTSE RTORQ/RTOAC/RTORJ/RTAB/RTTP, the EXTERNAL around the transferred APDU, the
RTTR OCTET STRING segments, the MTA-bind argument/result/error -- the samples (the Isode
M-Switch and PP association starts, and our own encodings of the rest) are re-encoded with
indefinite lengths on every constructed value and/or OCTET STRING and IA5String values split
into segments (X.690 §8.1.3.6, §8.7.3, §8.23.6), and must decode to the same value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.codec import acpdu, ppdu, rtpdu
from bridge.codec.ber import encode_length, normalise
from bridge.errors import DecodeError
from bridge.x400.spdu import PI, decode_tsdu
from tests.bertools import join_strings, rewrite
from tests.capture import connections, pp_sample
from tests.osi_wire import isode_frames

FORMS = [pytest.param({"indefinite": True}, id="indefinite"),
         pytest.param({"split_strings": True}, id="constructed-strings"),
         pytest.param({"indefinite": True, "split_strings": True}, id="both")]


def semantic(obj: Any) -> Any:
    """A decoded value with every embedded BER value in one canonical form (definite lengths,
    primitive strings), so two encodings of the same value compare equal."""
    if isinstance(obj, bytes | bytearray):
        try:
            return ("ber", join_strings(normalise(bytes(obj))))
        except (DecodeError, ValueError, IndexError):
            return bytes(obj)
    if isinstance(obj, tuple | list):
        return tuple(semantic(x) for x in obj)
    if isinstance(obj, frozenset):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__,
                tuple((f.name, semantic(getattr(obj, f.name))) for f in dataclasses.fields(obj)))
    return obj


def _user_data(tsdu: bytes) -> bytes:
    for spdu in decode_tsdu(tsdu):
        for pi, value in spdu.params:
            if pi in (PI.USER_DATA, PI.EXTENDED_USER_DATA):
                return bytes(value)  # type: ignore[arg-type]
    raise AssertionError("no user data")


def _real_ppdus() -> dict[str, bytes]:
    """CP and CPA of the Isode M-Switch sample and of PP 6.0 (x400-samples)."""
    frames = isode_frames()
    out = {"isode-cp": _user_data(frames["I"][7:]), "isode-cpa": _user_data(frames["O"][7:])}
    conn = connections(pp_sample("pp-to-responder-ndr.pcap"))[1]
    cn = next(p for d, p in conn.segments if d == "I" and p[7:8] == b"\x0d")
    out["pp-cp"] = _user_data(cn[7:])
    return out


def _layers(cp: ppdu.CP | ppdu.CPA) -> list[Any]:
    """The PPDU and everything inside it, decoded: ACSE APDU, RTSE APDU, MTA-bind."""
    out: list[Any] = [cp]
    apdu = acpdu.decode_apdu(cp.user_data[0].value)
    out.append(apdu)
    for ext in apdu.user_information:
        rt = rtpdu.decode_rtpdu(ext.value)
        out.append(rt)
        if isinstance(rt, rtpdu.RTORQ | rtpdu.RTOAC) and rt.open is not None:
            out.append(rtpdu.decode_bind(rt.open, result=isinstance(rt, rtpdu.RTOAC),
                                         x410=False))
    return out


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", ["isode-cp", "isode-cpa", "pp-cp"])
def test_real_association_start_in_every_form(name: str, form: dict[str, bool]) -> None:
    data = _real_ppdus()[name]
    decode: Callable[[bytes], ppdu.CP | ppdu.CPA] = \
        ppdu.decode_cpa if name.endswith("cpa") else ppdu.decode_cp
    other = rewrite(normalise(data), **form)      # (the Isode CP has indefinite lengths)
    assert other != data
    original, again = _layers(decode(data)), _layers(decode(other))
    assert len(original) == 4                  # PPDU, ACSE, RTSE, MTA-bind
    assert semantic(again) == semantic(original)


#: our encodings of the PDU types no sample holds
_ACSE = [acpdu.RLRQ(reason=0), acpdu.RLRE(reason=0), acpdu.ABRT(source=0, diagnostic=1),
         acpdu.AARE(application_context="2.6.0.1.6", result=1, source=0, diagnostic=2)]
_RTSE = [rtpdu.RTOAC(checkpoint_size=1, window_size=3, open=rtpdu.encode_bind(
             rtpdu.MTABind(name="PPMTA", password="pppass"), result=True, x410=False)),
         rtpdu.RTORJ(refuse_reason=2, user_data=rtpdu.encode_bind_error(2)),
         rtpdu.RTAB(abort_reason=4), rtpdu.RTTP(priority=1)]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("apdu", _ACSE, ids=lambda a: type(a).__name__)
def test_acse_apdus_in_every_form(apdu: Any, form: dict[str, bool]) -> None:
    data = acpdu.encode_apdu(apdu)
    assert semantic(acpdu.decode_apdu(rewrite(data, **form))) == semantic(apdu)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("pdu", _RTSE, ids=lambda p: type(p).__name__)
def test_rtse_apdus_in_every_form(pdu: Any, form: dict[str, bool]) -> None:
    data = rtpdu.encode_rtpdu(pdu)
    other = rewrite(data, **form)
    assert semantic(rtpdu.decode_rtpdu(other)) == semantic(pdu)


@pytest.mark.parametrize("form", FORMS)
def test_presentation_refuse_abort_and_data_in_every_form(form: dict[str, bool]) -> None:
    pdv = ppdu.PDV(context_id=3, value=rtpdu.encode_rttr(b"segment of an APDU"))
    cpr = ppdu.CPR(reason=1)
    aru = ppdu.ARU(user_data=(pdv,))
    for decode, encode, value in (
            (ppdu.decode_cpr, ppdu.encode_cpr, cpr),
            (ppdu.decode_abort, ppdu.encode_abort, aru),
            (ppdu.decode_user_data, ppdu.encode_user_data, (pdv,))):
        data = encode(value)  # type: ignore[operator]
        assert semantic(decode(rewrite(data, **form))) == semantic(value)  # type: ignore[operator]


@pytest.mark.parametrize("form", FORMS)
def test_bind_argument_result_and_error_in_every_form(form: dict[str, bool]) -> None:
    bind = rtpdu.MTABind(name="PPMTA", password="pppass")
    for result in (False, True):
        for x410 in (False, True):
            data = rtpdu.encode_bind(bind, result=result, x410=x410)
            assert rtpdu.decode_bind(rewrite(data, **form), result=result, x410=x410) == bind
    assert rtpdu.decode_bind_error(rewrite(rtpdu.encode_bind_error(2), **form)) == 2


def test_bind_error_as_pp_sends_it() -> None:
    """X.410 style: the MTABindError bare, without the ROS [18] wrapper (PP 6.0)."""
    assert rtpdu.decode_bind_error(b"\x02\x01\x02") == 2
    assert rtpdu.decode_bind_error(b"\xb2\x80\x02\x01\x00\x00\x00") == 0
    for bad in (b"\x04\x01\x02", b"\x02\x01\x02\x00", b"\xb2\x06\x02\x01\x00\x02\x01\x00"):
        with pytest.raises(DecodeError):
            rtpdu.decode_bind_error(bad)


def _indefinite_external(value: bytes, pcid: int) -> bytes:
    return b"\x28\x80\x02\x01" + bytes((pcid,)) + b"\xa0\x80" + value + b"\x00\x00\x00\x00"


@given(st.integers(0, 127), st.sampled_from(FORMS))
def test_external_in_every_form(pcid: int, form: Any) -> None:
    apdu = normalise(pp_sample("pp-ndr.p1.ber").read_bytes())
    data = rtpdu.encode_external(pcid, apdu)
    direct, indirect, value = rtpdu.decode_external(rewrite(data, **form.values[0]))
    assert (direct, indirect) == (None, pcid)
    assert join_strings(normalise(value)) == join_strings(normalise(apdu))
    # PP's exact shape, and octet-aligned as a constructed OCTET STRING
    assert rtpdu.decode_external(_indefinite_external(apdu, pcid))[2] == normalise(apdu)
    half = len(apdu) // 2
    octets = b"\xa1\x80" + b"".join(b"\x04" + encode_length(len(p)) + p
                                    for p in (apdu[:half], apdu[half:])) + b"\x00\x00"
    oa = b"\x28" + encode_length(3 + len(octets)) + b"\x02\x01" + bytes((pcid,)) + octets
    assert rtpdu.decode_external(oa) == (None, pcid, apdu)


@given(st.binary(max_size=3000), st.integers(1, 5), st.booleans())
def test_rttr_segments_in_every_form(data: bytes, pieces: int, indefinite: bool) -> None:
    """X.228 §9.1 RTTRapdu ::= OCTET STRING in any BER form, nested segments included."""
    size = max(1, len(data) // pieces)
    segs = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
    inner = b"".join(b"\x04" + encode_length(len(s)) + s for s in segs)
    nested = b"\x24\x80" + inner + b"\x00\x00" if indefinite else \
        b"\x24" + encode_length(len(inner)) + inner
    outer = b"\x24\x80" + nested + b"\x00\x00" if indefinite else \
        b"\x24" + encode_length(len(nested)) + nested
    assert rtpdu.decode_rttr(outer) == data
    with pytest.raises(DecodeError):
        rtpdu.decode_rttr(outer + b"\x00")
