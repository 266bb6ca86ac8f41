"""X.227 ACSE: the APDU codec (bridge.codec.acpdu) and the ACSEEngine over presentation.

Real third-party bytes: the AARQ and AARE of an Isode M-Switch association start decode to the
expected values, re-encode, and drive the whole responder (session -> presentation -> ACSE) and
initiator stacks.  Pairs of stacks talk through real SessionEngines and bytes: associate
(accept, reject, unknown abstract syntax), data in several contexts, release, user and provider
abort.  Hostile APDUs give ProtocolError(layer="acse") and nothing else.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.codec import acpdu, ppdu
from bridge.codec.acpdu import AARE, AARQ, ABRT, RLRE, RLRQ
from bridge.errors import ProtocolError
from bridge.x400.acse import (
    TRANSITIONS,
    AAbort,
    AAssociate,
    AAssociateAccept,
    AAssociateReject,
    ACSEEngine,
    APAbort,
    ARelease,
    AReleaseAccept,
    External,
    State,
)
from bridge.x400.presentation import (
    ACSE_AS,
    BER,
    PDV,
    ContextDefinition,
    PConnect,
    PConnectAccept,
    PConnectRefuse,
    PData,
    PPAbort,
    PRelease,
    PresentationEngine,
    PUAbort,
)
from bridge.x400.session import (
    SConnect,
    SConnectAccept,
    SessionEngine,
    SPAbort,
    STokenPlease,
    Token,
)
from tests.test_x400_presentation import (
    AC_MTS_TRANSFER,
    FU,
    MTA_RTSE,
    MTSE,
    SUPPORTED,
    frames,
    real_cp,
    real_cpa,
    spdu_user_data,
    tsdu,
)

CONTEXTS = (ContextDefinition(context_id=1, abstract_syntax=ACSE_AS),
            ContextDefinition(context_id=3, abstract_syntax=MTA_RTSE),
            ContextDefinition(context_id=5, abstract_syntax=MTSE))


def state(engine: ACSEEngine) -> State:
    """The engine's state (a call, so that mypy does not narrow it across sends)."""
    return engine.state


def real_aarq() -> bytes:
    return ppdu.decode_cp(real_cp()).user_data[0].value


def real_aare() -> bytes:
    return ppdu.decode_cpa(real_cpa()).user_data[0].value


# ---------------------------------------------------------------------------------------------
# Codec on the real APDUs
# ---------------------------------------------------------------------------------------------


def test_real_aarq_decodes() -> None:
    aarq = acpdu.decode_apdu(real_aarq())
    assert isinstance(aarq, AARQ)
    assert aarq.application_context == AC_MTS_TRANSFER
    assert aarq.versions == frozenset({0})
    assert aarq.calling_ap_title is None and aarq.called_ap_title is None
    [ext] = aarq.user_information
    assert ext.direct_reference == BER and ext.indirect_reference == 3
    assert ext.encoding == "single-ASN1-type"
    assert ext.value[:2] == b"\xb0\x30"  # [16] RTORQapdu (X.228)
    assert b"percival.smhs.co.uk" in ext.value and b"excalibur" in ext.value


def test_real_aare_decodes() -> None:
    aare = acpdu.decode_apdu(real_aare())
    assert isinstance(aare, AARE)
    assert aare.application_context == AC_MTS_TRANSFER
    assert (aare.result, aare.source, aare.diagnostic) == (0, 0, 0)  # accepted, user, null
    [ext] = aare.user_information
    assert (ext.direct_reference, ext.indirect_reference) == (BER, 3)
    assert ext.value[:2] == b"\xb1\x2b" and b"guinevere.smhs.co.uk" in ext.value


@pytest.mark.parametrize("data", [real_aarq, real_aare], ids=["AARQ", "AARE"])
def test_real_apdus_reencode(data: object) -> None:
    raw = data()  # type: ignore[operator]
    apdu = acpdu.decode_apdu(raw)
    again = acpdu.encode_apdu(apdu)
    assert acpdu.decode_apdu(again) == apdu
    assert again == raw  # both are definite-length, minimal: byte-identical


def test_apdus_round_trip_with_every_field() -> None:
    ext = External(direct_reference=BER, indirect_reference=3, value=b"\x05\x00")
    name = b"\x30\x0d\x31\x0b\x30\x09\x06\x03\x55\x04\x03\x13\x02mt"  # Name: CN=mt
    for apdu in (
        AARQ(application_context="1.2.3", versions=frozenset({0, 1}),
             called_ap_title="1.3.6.1.4.1.1", called_ae_qualifier=5, called_ap_invocation=1,
             called_ae_invocation=2, calling_ap_title=name,
             calling_ae_qualifier=b"\x31\x09\x30\x07\x06\x03\x55\x04\x03\x13\x00",
             calling_ap_invocation=3, calling_ae_invocation=4, requirements=frozenset({0}),
             mechanism_name="2.5.5.1", authentication_value=b"\x80\x06secret",
             context_name_list=("1.2", "1.3"), implementation_information=b"x400bridge",
             user_information=(ext, External(value=b"ab", encoding="octet-aligned"))),
        AARE(application_context="1.2.3", result=2, source=1, diagnostic=2,
             responding_ap_title="1.2", responding_ae_qualifier=1, user_information=(ext,)),
        RLRQ(reason=1, user_information=(ext,)), RLRQ(), RLRE(reason=30), RLRE(),
        ABRT(source=1, diagnostic=2, user_information=(ext,)), ABRT(),
    ):
        assert acpdu.decode_apdu(acpdu.encode_apdu(apdu)) == apdu


# ---------------------------------------------------------------------------------------------
# Whole stacks (session + presentation + ACSE) on the real bytes
# ---------------------------------------------------------------------------------------------


class Stack:
    """Session, presentation and ACSE engines of one side."""

    def __init__(self, role: str, supported: frozenset[str] = SUPPORTED) -> None:
        self.session = SessionEngine(role)  # type: ignore[arg-type]
        self.pres = PresentationEngine(role, abstract_syntaxes=supported)  # type: ignore[arg-type]
        self.acse = ACSEEngine(role)  # type: ignore[arg-type]

    def down(self, primitive: object) -> list[bytes]:
        out = []
        for p in self.acse.send(primitive):  # type: ignore[arg-type]
            for s in self.pres.send(p):
                out.append(self.session.send(s))  # type: ignore[arg-type]
        return out

    def up(self, data: bytes) -> list[object]:
        self.session.receive(data)
        events: list[object] = []
        while (sev := self.session.next_event()) is not None:
            self.pres.receive(sev)
            while (pev := self.pres.next_event()) is not None:
                self.acse.receive(pev)
                while (aev := self.acse.next_event()) is not None:
                    events.append(aev)
        return events


def test_real_cn_drives_the_responder_stack() -> None:
    responder = Stack("responder")
    [event] = responder.up(tsdu(frames()["I"]))
    assert isinstance(event, AAssociate)
    assert event.application_context == AC_MTS_TRANSFER
    assert event.calling_ap_title is None and event.called_ae_qualifier is None
    [ext] = event.user_information
    assert (ext.direct_reference, ext.indirect_reference) == (BER, 3)
    assert ext.value[:2] == b"\xb0\x30"
    assert [c.abstract_syntax for c in event.presentation.contexts] == [ACSE_AS, MTA_RTSE, MTSE]
    assert event.presentation.user_data == ()
    assert responder.acse.acse_context_id == 1 and state(responder.acse) is State.STA2
    # accept: the CPA carries an accepting AARE in context 1 and three acceptances
    [ac] = responder.down(AAssociateAccept(
        application_context=AC_MTS_TRANSFER, user_information=(ext,),
        presentation=PConnectAccept(session=SConnectAccept(requirements=event.presentation
                                                           .session.requirements))))
    cpa = ppdu.decode_cpa(spdu_user_data(ac))
    assert [r.result for r in cpa.results] == [0, 0, 0]
    aare = acpdu.decode_apdu(cpa.user_data[0].value)
    assert isinstance(aare, AARE) and aare.result == 0 and aare.user_information == (ext,)
    assert state(responder.acse) is State.STA5


def test_real_ac_completes_the_initiator_stack() -> None:
    initiator = Stack("initiator")
    real = ppdu.decode_cp(real_cp())
    cn = frames()["I"]
    requirements = SessionEngine("responder")
    requirements.receive(tsdu(cn))
    sconnect = requirements.next_event()
    assert isinstance(sconnect, SConnect)
    [out] = initiator.down(AAssociate(
        application_context=AC_MTS_TRANSFER,
        user_information=acpdu.decode_apdu(real_aarq()).user_information,
        presentation=PConnect(contexts=real.contexts,
                              session=SConnect(requirements=sconnect.requirements,
                                               calling_ssel=sconnect.calling_ssel,
                                               called_ssel=sconnect.called_ssel))))
    assert ppdu.decode_cp(spdu_user_data(out)) == real  # our CP says what Isode's said
    [event] = initiator.up(tsdu(frames()["O"]))
    assert isinstance(event, AAssociateAccept)
    assert event.application_context == AC_MTS_TRANSFER
    assert event.user_information[0].value[:2] == b"\xb1\x2b"
    assert state(initiator.acse) is State.STA5
    assert initiator.pres.contexts == {1: ACSE_AS, 3: MTA_RTSE, 5: MTSE}


# ---------------------------------------------------------------------------------------------
# Stack pairs through bytes
# ---------------------------------------------------------------------------------------------


class Pair:
    def __init__(self, supported: frozenset[str] = SUPPORTED) -> None:
        self.side = {"i": Stack("initiator"), "r": Stack("responder", supported)}

    def send(self, side: str, primitive: object) -> list[object]:
        other = "r" if side == "i" else "i"
        events = []
        for data in self.side[side].down(primitive):
            events += self.side[other].up(data)
        return events

    def associate(self) -> list[object]:
        ext = External(direct_reference=BER, indirect_reference=3, value=b"\x05\x00")
        [ind] = self.send("i", AAssociate(
            application_context=AC_MTS_TRANSFER, calling_ap_title="1.2.3",
            calling_ae_qualifier=7, user_information=(ext,),
            presentation=PConnect(contexts=CONTEXTS, session=SConnect(requirements=FU))))
        assert isinstance(ind, AAssociate)
        assert (ind.calling_ap_title, ind.calling_ae_qualifier) == ("1.2.3", 7)
        assert ind.user_information == (ext,)
        return self.send("r", AAssociateAccept(
            application_context=AC_MTS_TRANSFER, responding_ap_title="1.2.4",
            presentation=PConnectAccept(session=SConnectAccept(requirements=FU))))


def test_pair_associate_data_release() -> None:
    pair = Pair()
    [cnf] = pair.associate()
    assert isinstance(cnf, AAssociateAccept) and cnf.responding_ap_title == "1.2.4"
    data = (PDV(context_id=3, value=b"\x04\x01a"), PDV(context_id=5, value=b"\x30\x00"))
    assert pair.send("i", PData(user_data=data)) == [PData(user_data=data)]
    assert pair.send("r", PData(user_data=data)) == [PData(user_data=data)]
    please = STokenPlease(tokens=Token.DATA)  # session pass-through, both ways
    assert pair.side["i"].acse.send(please) == [please]
    pair.side["r"].acse.receive(please)
    assert pair.side["r"].acse.next_event() == please
    assert pair.send("i", ARelease(reason=0)) == [ARelease(reason=0)]
    assert state(pair.side["i"].acse) is State.STA3 and state(pair.side["r"].acse) is State.STA4
    assert pair.send("r", AReleaseAccept()) == [AReleaseAccept()]
    assert state(pair.side["i"].acse) is state(pair.side["r"].acse) is State.CLOSED


def test_pair_reject() -> None:
    pair = Pair()
    pair.send("i", AAssociate(application_context=AC_MTS_TRANSFER,
                              presentation=PConnect(contexts=CONTEXTS,
                                                    session=SConnect(requirements=FU))))
    [cnf] = pair.send("r", AAssociateReject(result=2, diagnostic=3))
    assert isinstance(cnf, AAssociateReject)
    assert (cnf.result, cnf.source, cnf.diagnostic) == (2, 0, 3)
    assert cnf.application_context == AC_MTS_TRANSFER  # echoed from the AARQ
    assert isinstance(cnf.presentation, PConnectRefuse)
    assert state(pair.side["i"].acse) is state(pair.side["r"].acse) is State.CLOSED


def test_pair_unknown_abstract_syntax_rejected() -> None:
    pair = Pair(supported=frozenset({ACSE_AS, MTA_RTSE}))
    [cnf] = pair.associate()
    assert isinstance(cnf, AAssociateAccept)
    assert [r.result for r in cnf.presentation.results] == [0, 0, 2]
    assert cnf.presentation.results[2].reason == ppdu.ResultReason.ABSTRACT_SYNTAX_NOT_SUPPORTED
    assert pair.side["i"].pres.contexts == {1: ACSE_AS, 3: MTA_RTSE}


def test_acse_context_rejected_is_a_protocol_error() -> None:
    pair = Pair(supported=frozenset({MTA_RTSE, MTSE}))
    pair.send("i", AAssociate(application_context=AC_MTS_TRANSFER,
                              presentation=PConnect(contexts=CONTEXTS,
                                                    session=SConnect(requirements=FU))))
    # the responder's AARE cannot go in a context its presentation engine rejected
    with pytest.raises(ProtocolError, match="local: presentation context 1"):
        pair.send("r", AAssociateAccept(
            application_context=AC_MTS_TRANSFER,
            presentation=PConnectAccept(session=SConnectAccept(requirements=FU))))


def test_pair_user_abort() -> None:
    pair = Pair()
    pair.associate()
    ext = External(indirect_reference=3, value=b"\x05\x00")
    assert pair.send("r", AAbort(source=0, user_information=(ext,))) == [
        AAbort(source=0, user_information=(ext,))]
    assert state(pair.side["i"].acse) is state(pair.side["r"].acse) is State.CLOSED


def test_provider_aborts() -> None:
    pair = Pair()
    pair.associate()
    # the responder's presentation provider aborts (ARP in S-U-ABORT)
    stack = pair.side["r"]
    data = stack.session.send(stack.pres.send(PPAbort(reason=1))[0])  # type: ignore[arg-type]
    [event] = pair.side["i"].up(data)
    assert event == APAbort(reason=1, detail="presentation provider abort (ARP PPDU)")
    # a session provider abort
    acse = ACSEEngine("initiator")
    pres = PresentationEngine("initiator")
    for p in acse.send(AAssociate(application_context="1.2",
                                  presentation=PConnect(contexts=CONTEXTS[:1],
                                                        session=SConnect(requirements=FU)))):
        pres.send(p)
    pres.receive(SPAbort(detail="transport disconnected"))
    acse.receive(pres.next_event())
    assert acse.next_event() == APAbort(detail="session provider abort: transport disconnected")
    # P-U-ABORT without ABRT
    acse = ACSEEngine("initiator")
    acse.send(AAssociate(application_context="1.2",
                         presentation=PConnect(contexts=CONTEXTS[:1],
                                               session=SConnect(requirements=FU))))
    acse.receive(PUAbort())
    assert acse.next_event() == APAbort(detail="P-U-ABORT without an ABRT APDU")


# ---------------------------------------------------------------------------------------------
# Protocol errors and local misuse
# ---------------------------------------------------------------------------------------------


def responder_with(user_data: tuple[PDV, ...],
                   contexts: tuple[ContextDefinition, ...] = CONTEXTS) -> ACSEEngine:
    acse = ACSEEngine("responder")
    acse.receive(PConnect(contexts=contexts, session=SConnect(requirements=FU),
                          user_data=user_data))
    return acse


@pytest.mark.parametrize("user_data, contexts", [
    ((), CONTEXTS),  # no AARQ
    ((PDV(context_id=3, value=real_aarq()),), CONTEXTS),  # AARQ outside the ACSE context
    ((PDV(context_id=1, value=acpdu.encode_apdu(RLRQ())),), CONTEXTS),  # not an AARQ
    ((PDV(context_id=1, value=real_aarq()),), CONTEXTS[1:]),  # no ACSE context
    ((PDV(context_id=1, value=acpdu.encode_apdu(AARQ(application_context="1.2",
                                                     versions=frozenset({1})))),), CONTEXTS),
    ((PDV(context_id=1, value=b"\x60\x03\x02\x01\x00"),), CONTEXTS),  # undecodable
])
def test_bad_associate_indications(user_data: tuple[PDV, ...],
                                   contexts: tuple[ContextDefinition, ...]) -> None:
    with pytest.raises(ProtocolError) as err:
        responder_with(user_data, contexts)
    assert err.value.layer == "acse"


def test_apdus_out_of_state_and_data_in_the_acse_context() -> None:
    acse = responder_with((PDV(context_id=1, value=real_aarq()),))
    with pytest.raises(ProtocolError, match="not allowed in state STA2"):
        acse.receive(PRelease(user_data=(PDV(context_id=1, value=acpdu.encode_apdu(RLRQ())),)))
    assert acse.state is State.CLOSED
    with pytest.raises(ProtocolError, match="after the association ended"):
        acse.receive(PData(user_data=()))
    acse = responder_with((PDV(context_id=1, value=real_aarq()),))
    acse.send(AAssociateAccept(application_context=AC_MTS_TRANSFER,
                               presentation=PConnectAccept(
                                   session=SConnectAccept(requirements=FU))))
    with pytest.raises(ProtocolError, match="local: P-DATA in the ACSE"):
        acse.send(PData(user_data=(PDV(context_id=1, value=b"\x05\x00"),)))
    with pytest.raises(ProtocolError, match="P-DATA in the ACSE"):
        acse.receive(PData(user_data=(PDV(context_id=1, value=b"\x05\x00"),)))


def test_local_misuse_changes_nothing() -> None:
    acse = ACSEEngine("responder")
    for primitive in (ARelease(), AReleaseAccept(), AAbort(),
                      AAssociateAccept(application_context="1.2",
                                       presentation=PConnectAccept(
                                           session=SConnectAccept(requirements=FU))),
                      PData(user_data=()),
                      AAssociate(application_context="1.2",
                                 presentation=PConnect(contexts=CONTEXTS,
                                                       session=SConnect(requirements=FU)))):
        with pytest.raises(ProtocolError, match="local: "):
            acse.send(primitive)
        assert acse.state is State.STA0
    acse = ACSEEngine("initiator")
    with pytest.raises(ProtocolError, match="exactly one ACSE context"):
        acse.send(AAssociate(application_context="1.2", presentation=PConnect(
            contexts=CONTEXTS[1:], session=SConnect(requirements=FU))))


def test_transition_table_names_only_known_states() -> None:
    assert all(isinstance(s, State) and isinstance(n, State) for (s, _), n in TRANSITIONS.items())
    assert not any(s is State.CLOSED for s, _ in TRANSITIONS)
    # every state but CLOSED can be aborted by the peer and by the provider
    for state in State:
        if state not in (State.STA0, State.CLOSED):
            assert TRANSITIONS[(state, "ABRT")] is TRANSITIONS[(state, "P-PABind")] \
                is State.CLOSED


# ---------------------------------------------------------------------------------------------
# Hypothesis: hostile APDU bytes
# ---------------------------------------------------------------------------------------------


hostile = st.binary(max_size=120) | st.binary(max_size=60).map(
    lambda b: bytes([0x60 + (b[0] % 5 if b else 0)]) + b)


@settings(max_examples=200, deadline=None)
@given(hostile)
def test_random_aarq_bytes_give_protocol_error_only(data: bytes) -> None:
    try:
        acse = responder_with((PDV(context_id=1, value=data),))
    except ProtocolError as exc:
        assert exc.layer == "acse"
    else:
        assert isinstance(acse.next_event(), AAssociate)


@settings(max_examples=200, deadline=None)
@given(hostile)
def test_random_release_and_abort_bytes(data: bytes) -> None:
    for primitive in (PRelease(user_data=(PDV(context_id=1, value=data),)),
                      PUAbort(user_data=(PDV(context_id=1, value=data),))):
        acse = responder_with((PDV(context_id=1, value=real_aarq()),))
        acse.next_event()
        acse.send(AAssociateAccept(application_context=AC_MTS_TRANSFER,
                                   presentation=PConnectAccept(
                                       session=SConnectAccept(requirements=FU))))
        try:
            acse.receive(primitive)
        except ProtocolError as exc:
            assert exc.layer == "acse"
            assert acse.state is State.CLOSED
        else:
            assert isinstance(acse.next_event(), ARelease | AAbort | APAbort)
