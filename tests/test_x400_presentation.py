"""X.226 presentation kernel: the PPDU codec (bridge.codec.ppdu) and the PresentationEngine.

Real third-party bytes: the CP and CPA PPDUs of an Isode M-Switch association start
(/work/shared/x400-samples, see its README) decode to the expected values, survive a re-encode,
and drive a responder engine.  Engine pairs talk through two real SessionEngines (bytes in
between).  Hypothesis: PDV lists round-trip through P-DATA, the hand-written TD codec agrees with
the asn1tools path, and random bytes as CP / TD user data give ProtocolError and nothing else.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.codec import ppdu
from bridge.codec.ber import encode_length
from bridge.codec.ppdu import BER, CP, CPA, PDV, ContextDefinition, ContextResult
from bridge.errors import DecodeError, EncodeError, ProtocolError
from bridge.x400.presentation import (
    ACSE_AS,
    TRANSITIONS,
    PConnect,
    PConnectAccept,
    PConnectRefuse,
    PData,
    PPAbort,
    PRelease,
    PReleaseAccept,
    PresentationEngine,
    PUAbort,
    State,
)
from bridge.x400.session import (
    FunctionalUnit,
    SConnect,
    SConnectAccept,
    SData,
    SessionEngine,
    SPAbort,
    STokenPlease,
    SUAbort,
    Token,
)
from tests.osi_wire import isode_frames

MTA_RTSE = "2.6.0.2.12"  # id-as-mta-rtse (X.419)
MTSE = "2.6.0.2.7"  # id-as-mtse (X.419)
AC_MTS_TRANSFER = "2.6.0.1.6"
SUPPORTED = frozenset({ACSE_AS, MTA_RTSE, MTSE})
USER_DATA_PI = 193  # X.225 §8.3.1.x User Data PI (0xc1)
FU = FunctionalUnit.DUPLEX | FunctionalUnit.NEGOTIATED_RELEASE


# ---------------------------------------------------------------------------------------------
# Real bytes: a tiny hexdump reader and SPDU parameter walker (test helpers)
# ---------------------------------------------------------------------------------------------


def frames() -> dict[str, bytes]:
    """The two TPKT frames of the Isode sample: "I" (initiator -> responder) and "O"."""
    return isode_frames()


def tsdu(frame: bytes) -> bytes:
    """The TSDU: after the TPKT header (RFC 1006 §6, 4 octets) and COTP DT (X.224, 02 f0 80)."""
    assert frame[:2] == b"\x03\x00" and frame[4:7] == b"\x02\xf0\x80"
    return frame[7:]


def _li(data: bytes, i: int) -> tuple[int, int]:
    """X.225 §8.2.5 length indicator: one octet, or 0xff and two octets."""
    if data[i] == 0xFF:
        return int.from_bytes(data[i + 1:i + 3], "big"), i + 3
    return data[i], i + 1


def spdu_user_data(spdu: bytes) -> bytes:
    """The User Data parameter (PI 193) of a CN / AC SPDU, walking its parameters."""
    length, i = _li(spdu, 1)
    end = i + length
    while i < end:
        pi = spdu[i]
        plen, i = _li(spdu, i + 1)
        if pi == USER_DATA_PI:
            return spdu[i:i + plen]
        i += plen
    raise AssertionError("no User Data parameter")


def real_cp() -> bytes:
    return spdu_user_data(tsdu(frames()["I"]))


def real_cpa() -> bytes:
    return spdu_user_data(tsdu(frames()["O"]))


# ---------------------------------------------------------------------------------------------
# Codec on the real PPDUs
# ---------------------------------------------------------------------------------------------


def test_real_cp_ppdu_decodes() -> None:
    data = real_cp()
    assert data[:11] == bytes.fromhex("3180a003800101a280a433")  # indefinite lengths
    cp = ppdu.decode_cp(data)
    assert cp.contexts == (
        ContextDefinition(context_id=1, abstract_syntax=ACSE_AS, transfer_syntaxes=(BER,)),
        ContextDefinition(context_id=3, abstract_syntax=MTA_RTSE, transfer_syntaxes=(BER,)),
        ContextDefinition(context_id=5, abstract_syntax=MTSE, transfer_syntaxes=(BER,)),
    )
    assert cp.calling_selector == cp.called_selector == b""
    assert cp.versions == frozenset({0}) and cp.session_requirements is None
    assert len(cp.user_data) == 1 and cp.user_data[0].context_id == 1
    aarq = cp.user_data[0].value
    assert aarq[:2] == b"\x60\x47" and len(aarq) == 0x47 + 2  # [APPLICATION 0] AARQ


def test_real_cpa_ppdu_decodes() -> None:
    cpa = ppdu.decode_cpa(real_cpa())
    assert cpa.results == (ContextResult(result=0, transfer_syntax=BER),) * 3
    assert cpa.responding_selector == b""
    assert len(cpa.user_data) == 1 and cpa.user_data[0].context_id == 1
    assert cpa.user_data[0].value[:2] == b"\x61\x4e"  # [APPLICATION 1] AARE


def test_real_ppdus_reencode_to_equal_values() -> None:
    cp = ppdu.decode_cp(real_cp())
    assert ppdu.decode_cp(ppdu.encode_cp(cp)) == cp
    cpa = ppdu.decode_cpa(real_cpa())
    again = ppdu.encode_cpa(cpa)
    assert ppdu.decode_cpa(again) == cpa
    assert again == real_cpa()  # the CPA used definite lengths: byte-identical too


def test_real_cp_drives_responder_through_session_engine() -> None:
    """The real CN TSDU -> real SessionEngine -> PresentationEngine -> P-CONNECT indication."""
    session = SessionEngine("responder")
    session.receive(tsdu(frames()["I"]))
    sconnect = session.next_event()
    assert isinstance(sconnect, SConnect) and sconnect.user_data == real_cp()
    pres = PresentationEngine("responder", abstract_syntaxes=SUPPORTED)
    pres.receive(sconnect)
    event = pres.next_event()
    assert isinstance(event, PConnect)
    assert [c.abstract_syntax for c in event.contexts] == [ACSE_AS, MTA_RTSE, MTSE]
    assert event.session.user_data == b"" and event.session.requirements == sconnect.requirements
    assert event.user_data[0].value[:2] == b"\x60\x47"
    assert pres.state is State.STAI2
    [accept] = pres.send(PConnectAccept(session=SConnectAccept(requirements=FU)))
    assert isinstance(accept, SConnectAccept)
    assert ppdu.decode_cpa(accept.user_data).results == (ContextResult(result=0),) * 3
    assert pres.contexts == {1: ACSE_AS, 3: MTA_RTSE, 5: MTSE}
    assert pres.state.name == "STAt0"  # (a str: mypy narrowed .state above)


def test_provider_rejects_unknown_abstract_syntax_and_transfer_syntax() -> None:
    cp = CP(contexts=(ContextDefinition(context_id=1, abstract_syntax=ACSE_AS),
                      ContextDefinition(context_id=3, abstract_syntax="1.2.3.4"),
                      ContextDefinition(context_id=5, abstract_syntax=MTSE,
                                        transfer_syntaxes=("2.1.2.1",))))
    pres = PresentationEngine("responder", abstract_syntaxes=SUPPORTED)
    pres.receive(SConnect(requirements=FU, user_data=ppdu.encode_cp(cp)))
    assert isinstance(pres.next_event(), PConnect)
    [accept] = pres.send(PConnectAccept(session=SConnectAccept(requirements=FU)))
    assert isinstance(accept, SConnectAccept)
    assert ppdu.decode_cpa(accept.user_data).results == (
        ContextResult(result=0, transfer_syntax=BER),
        ContextResult(result=2, transfer_syntax=None, reason=1),  # abstract-syntax-not-supp.
        ContextResult(result=2, transfer_syntax=None, reason=2),  # transfer-syntaxes-not-supp.
    )
    assert pres.contexts == {1: ACSE_AS}


# ---------------------------------------------------------------------------------------------
# TD user data: fast path vs asn1tools, indefinite lengths, errors
# ---------------------------------------------------------------------------------------------

# A small random BER TLV: a primitive OCTET STRING or a constructed SEQUENCE of them.
tlvs = st.one_of(
    st.binary(max_size=300).map(lambda b: b"\x04" + encode_length(len(b)) + b),
    st.lists(st.binary(max_size=40), max_size=4).map(
        lambda items: (lambda c: b"\x30" + encode_length(len(c)) + c)(
            b"".join(b"\x04" + encode_length(len(x)) + x for x in items))),
)
pdv_lists = st.lists(st.builds(PDV, context_id=st.sampled_from([1, 3, 5, 127, 128, 70000]),
                               value=tlvs), min_size=1, max_size=6).map(tuple)


@settings(max_examples=150, deadline=None)
@given(pdv_lists)
def test_fast_user_data_codec_agrees_with_asn1tools(pdvs: tuple[PDV, ...]) -> None:
    fast = ppdu.encode_user_data(pdvs)
    assert fast == ppdu.encode_user_data_schema(pdvs)
    assert ppdu.decode_user_data(fast) == ppdu.decode_user_data_schema(fast) == pdvs


def test_user_data_with_indefinite_lengths_and_octet_aligned() -> None:
    value = b"\x04\x02hi"
    indefinite = (b"\x61\x80" + b"\x30\x80\x02\x01\x03\xa0\x80" + value + b"\x00\x00\x00\x00"
                  + b"\x30\x0d\x06\x02\x51\x01\x02\x01\x05\x81\x04" + value  # ts BER, octet-al.
                  + b"\x00\x00")
    expected = (PDV(context_id=3, value=value), PDV(context_id=5, value=value))
    assert ppdu.decode_user_data(indefinite) == expected
    assert ppdu.decode_user_data_schema(indefinite) == expected


@pytest.mark.parametrize("data", [
    b"\x40\x02hi",  # simply-encoded-data
    b"\x61\x00",  # no PDV-list
    b"\x61\x05\x30\x03\x02\x01\x00",  # no presentation-data-values; pcid 0
    b"\x61\x08\x30\x06\x02\x01\x00\xa0\x01\x05",  # pcid 0
    b"\x61\x0c\x30\x0a\x06\x02\x51\x02\x02\x01\x01\xa0\x01\x05",  # transfer syntax not BER
    b"\x61\x0b\x30\x09\x02\x01\x01\xa0\x04\x05\x00\x05\x00",  # two values in single-ASN1-type
    b"\x61\x08\x30\x06\x02\x01\x01\x82\x01\x00",  # arbitrary
    b"\x61\x09\x30\x07\x02\x01\x01\xa0\x02\x05\x00\x00",  # trailing byte
])
def test_bad_user_data_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        ppdu.decode_user_data(data)


def test_encoder_refuses_bad_pdvs() -> None:
    with pytest.raises(EncodeError):
        ppdu.encode_user_data([PDV(context_id=0, value=b"\x05\x00")])
    with pytest.raises(EncodeError):
        ppdu.encode_user_data([PDV(context_id=1, value=b"\x05\x00\x05\x00")])
    with pytest.raises(EncodeError):
        ppdu.encode_user_data([])


def test_other_ppdus_round_trip() -> None:
    cpr = ppdu.CPR(responding_selector=b"P", reason=ppdu.RefuseReason.TEMPORARY_CONGESTION,
                   results=(ContextResult(result=1, transfer_syntax=None),),
                   default_context_result=0, user_data=(PDV(context_id=1, value=b"\x05\x00"),))
    assert ppdu.decode_cpr(ppdu.encode_cpr(cpr)) == cpr
    for abort in (ppdu.ARP(reason=2, event=7), ppdu.ARP(),
                  ppdu.ARU(context_ids=((1, BER),),
                           user_data=(PDV(context_id=1, value=b"\x05\x00"),)), ppdu.ARU()):
        assert ppdu.decode_abort(ppdu.encode_abort(abort)) == abort
    cp = CP(calling_selector=b"\x00\x01", called_selector=b"ab", versions=frozenset({0, 1}),
            presentation_requirements=frozenset({0}), session_requirements=frozenset({1, 7}),
            default_context=(ACSE_AS, BER),
            contexts=(ContextDefinition(context_id=1, abstract_syntax=ACSE_AS,
                                        transfer_syntaxes=(BER, "2.1.2.1")),))
    assert ppdu.decode_cp(ppdu.encode_cp(cp)) == cp
    cpa = CPA(responding_selector=b"x", session_requirements=frozenset({1}))
    assert ppdu.decode_cpa(ppdu.encode_cpa(cpa)) == cpa


# ---------------------------------------------------------------------------------------------
# Engine pairs through two real SessionEngines
# ---------------------------------------------------------------------------------------------


class Pair:
    """An initiator and a responder, each session + presentation, bytes in between."""

    def __init__(self, supported: frozenset[str] = SUPPORTED) -> None:
        self.session = {"i": SessionEngine("initiator"), "r": SessionEngine("responder")}
        self.pres = {"i": PresentationEngine("initiator"),
                     "r": PresentationEngine("responder", abstract_syntaxes=supported)}

    def send(self, side: str, primitive: object) -> list[object]:
        """``side`` sends ``primitive``; return the presentation events at the other side."""
        other = "r" if side == "i" else "i"
        for s in self.pres[side].send(primitive):  # type: ignore[arg-type]
            self.session[other].receive(self.session[side].send(s))  # type: ignore[arg-type]
        events: list[object] = []
        while (sev := self.session[other].next_event()) is not None:
            self.pres[other].receive(sev)
            while (pev := self.pres[other].next_event()) is not None:
                events.append(pev)
        return events

    def connect(self, user_data: tuple[PDV, ...] = ()) -> PConnectAccept:
        contexts = (ContextDefinition(context_id=1, abstract_syntax=ACSE_AS),
                    ContextDefinition(context_id=3, abstract_syntax=MTA_RTSE),
                    ContextDefinition(context_id=5, abstract_syntax=MTSE))
        [ind] = self.send("i", PConnect(contexts=contexts, called_psel=b"\x00\x01",
                                        session=SConnect(requirements=FU), user_data=user_data))
        assert isinstance(ind, PConnect) and ind.called_psel == b"\x00\x01"
        assert ind.user_data == user_data
        [cnf] = self.send("r", PConnectAccept(responding_psel=b"R",
                                              session=SConnectAccept(requirements=FU)))
        assert isinstance(cnf, PConnectAccept)
        return cnf


def test_pair_connect_data_release() -> None:
    pair = Pair()
    cnf = pair.connect(user_data=(PDV(context_id=1, value=b"\x60\x00"),))
    assert cnf.responding_psel == b"R" and len(cnf.results) == 3
    assert pair.pres["i"].contexts == pair.pres["r"].contexts == {1: ACSE_AS, 3: MTA_RTSE,
                                                                  5: MTSE}
    data = (PDV(context_id=3, value=b"\x04\x01a"), PDV(context_id=5, value=b"\x30\x00"))
    assert pair.send("i", PData(user_data=data)) == [PData(user_data=data)]
    assert pair.send("r", PData(user_data=data[::-1])) == [PData(user_data=data[::-1])]
    rlrq = (PDV(context_id=1, value=b"\x62\x00"),)
    assert pair.send("i", PRelease(user_data=rlrq)) == [PRelease(user_data=rlrq)]
    assert pair.send("r", PReleaseAccept()) == [PReleaseAccept()]
    assert pair.pres["i"].state is pair.pres["r"].state is State.CLOSED


def test_pair_refuse() -> None:
    pair = Pair()
    contexts = (ContextDefinition(context_id=1, abstract_syntax=ACSE_AS),)
    pair.send("i", PConnect(contexts=contexts, session=SConnect(requirements=FU)))
    aare = (PDV(context_id=1, value=b"\x61\x00"),)
    [cnf] = pair.send("r", PConnectRefuse(reason=1, user_data=aare))
    assert cnf == PConnectRefuse(reason=1, results=(ContextResult(result=0),), user_data=aare)
    assert pair.pres["i"].state is State.CLOSED


def test_pair_unknown_abstract_syntax_rejected() -> None:
    pair = Pair(supported=frozenset({ACSE_AS}))
    cnf = pair.connect()
    assert [r.result for r in cnf.results] == [0, 2, 2]
    assert pair.pres["i"].contexts == {1: ACSE_AS}
    with pytest.raises(ProtocolError, match="local: presentation context 3"):
        pair.send("i", PData(user_data=(PDV(context_id=3, value=b"\x05\x00"),)))


def test_pair_user_abort_and_provider_abort() -> None:
    pair = Pair()
    pair.connect()
    abrt = (PDV(context_id=1, value=b"\x64\x03\x80\x01\x00"),)
    assert pair.send("i", PUAbort(user_data=abrt)) == [PUAbort(user_data=abrt)]
    assert pair.pres["r"].state is State.CLOSED

    pair = Pair()
    pair.connect()
    [ind] = pair.send("r", PPAbort(reason=ppdu.AbortReason.UNEXPECTED_PPDU))
    assert isinstance(ind, PPAbort) and ind.reason == 2
    pres = PresentationEngine("initiator")
    pres.send(PConnect(contexts=(ContextDefinition(context_id=1, abstract_syntax=ACSE_AS),),
                       session=SConnect(requirements=FU)))
    pres.receive(SPAbort(reason=0, detail="transport lost"))
    assert pres.next_event() == PPAbort(detail="session provider abort: transport lost")


def test_pass_through_and_context_checks() -> None:
    pair = Pair()
    pair.connect()
    please = STokenPlease(tokens=Token.DATA)
    assert pair.pres["i"].send(please) == [please]
    pair.pres["r"].receive(please)
    assert pair.pres["r"].next_event() == please
    # a peer's TD in a context outside the defined context set
    with pytest.raises(ProtocolError) as err:
        pair.pres["r"].receive(SData(user_data=ppdu.encode_user_data(
            [PDV(context_id=7, value=b"\x05\x00")])))
    assert err.value.layer == "presentation"
    assert pair.pres["r"].state is State.CLOSED
    with pytest.raises(ProtocolError):
        pair.pres["r"].receive(SData(user_data=b""))


def test_transition_table_covers_every_state_and_rejects_the_rest() -> None:
    events = {e for _, e in TRANSITIONS}
    for state in State:
        for event in events:
            if state is State.CLOSED:
                assert (state, event) not in TRANSITIONS
    pres = PresentationEngine("responder", abstract_syntaxes=SUPPORTED)
    with pytest.raises(ProtocolError, match="TD not allowed in state STAI0"):
        pres.receive(SData(user_data=b""))
    pres = PresentationEngine("initiator")
    with pytest.raises(ProtocolError, match="local: P-DTreq"):
        pres.send(PData(user_data=()))
    assert pres.state is State.STAI0  # local misuse changes nothing


# ---------------------------------------------------------------------------------------------
# Hypothesis: PDV lists round-trip; hostile user data gives ProtocolError only
# ---------------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(PDV, context_id=st.sampled_from([1, 3, 5]), value=tlvs),
                min_size=1, max_size=5).map(tuple))
def test_pdv_lists_round_trip_through_pdata(pdvs: tuple[PDV, ...]) -> None:
    pair = Pair()
    pair.connect()
    assert pair.send("i", PData(user_data=pdvs)) == [PData(user_data=pdvs)]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.binary(max_size=60).map(lambda b: b"\x31\x80" + b))
def test_random_cp_user_data_is_a_protocol_error(data: bytes) -> None:
    pres = PresentationEngine("responder", abstract_syntaxes=SUPPORTED)
    try:
        pres.receive(SConnect(requirements=FU, user_data=data))
    except ProtocolError as exc:
        assert exc.layer == "presentation"
        assert pres.state is State.CLOSED
    else:
        assert isinstance(pres.next_event(), PConnect)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.binary(max_size=60).map(lambda b: b"\x61" + b))
def test_random_td_user_data_is_a_protocol_error(data: bytes) -> None:
    pres = PresentationEngine("responder", abstract_syntaxes=SUPPORTED)
    pres.receive(SConnect(requirements=FU, user_data=ppdu.encode_cp(CP(contexts=(
        ContextDefinition(context_id=1, abstract_syntax=ACSE_AS),)))))
    pres.next_event()
    pres.send(PConnectAccept(session=SConnectAccept(requirements=FU)))
    try:
        pres.receive(SData(user_data=data))
    except ProtocolError as exc:
        assert exc.layer == "presentation"
    else:
        event = pres.next_event()
        assert isinstance(event, PData) and all(p.context_id == 1 for p in event.user_data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=100))
def test_random_abort_user_data_ends_the_connection(data: bytes) -> None:
    pres = PresentationEngine("initiator")
    pres.send(PConnect(contexts=(ContextDefinition(context_id=1, abstract_syntax=ACSE_AS),),
                       session=SConnect(requirements=FU)))
    try:
        pres.receive(SUAbort(user_data=data))
    except ProtocolError as exc:  # an ARU whose values are outside the proposed contexts
        assert exc.layer == "presentation"
    else:
        assert isinstance(pres.next_event(), PUAbort | PPAbort)
    assert pres.state is State.CLOSED
