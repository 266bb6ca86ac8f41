"""RTSE (X.228) codec and protocol machine: APDUs, recovery, exceptions, turn, hostile input."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.codec import rtpdu
from bridge.codec.rtpdu import RTAB, RTOAC, RTORJ, RTORQ, RTTP, MTABind, Recover
from bridge.errors import DecodeError, ProtocolError
from bridge.x400.rtse import (
    RTOpen,
    RTOpenAccept,
    RTPAbort,
    RTSEEngine,
    RTTransfer,
    RTTransferAccept,
    RTTransferConfirm,
    RTTransferFailed,
    RTTurnGive,
    RTTurnPlease,
    RTUAbort,
)
from bridge.x400.session import (
    FunctionalUnit,
    SActivityDiscard,
    SActivityDiscardConfirm,
    SActivityEnd,
    SActivityEndConfirm,
    SActivityInterrupt,
    SActivityInterruptConfirm,
    SActivityResume,
    SActivityStart,
    SConnect,
    SConnectAccept,
    SControlGive,
    SData,
    SPAbort,
    SSyncMinor,
    SSyncMinorConfirm,
    STokenPlease,
    SUAbort,
    SUExceptionReport,
)

# The RTORQ / RTOAC of the real Isode association (x400-samples, inside the AARQ / AARE)
ISODE_RTORQ = bytes.fromhex(
    "b030800 13f820100a328a026b024a1228013706572636976616c2e736d68732e636f2e756ba10b1609"
    "657863616c69627572".replace(" ", ""))
ISODE_RTOAC = bytes.fromhex(
    "b12b80013fa226a024b122a12080146775696e65766572652e736d68732e636f2e756ba10816066d65"
    "726c696e")


def test_real_rtorq_and_rtoac() -> None:
    rq = rtpdu.decode_rtpdu(ISODE_RTORQ)
    assert isinstance(rq, RTORQ)
    assert (rq.checkpoint_size, rq.window_size, rq.dialogue_mode) == (63, 3, rtpdu.MONOLOGUE)
    assert rq.open is not None
    assert rtpdu.decode_bind(rq.open, result=False, x410=False) == MTABind(
        name="percival.smhs.co.uk", password="excalibur")
    ac = rtpdu.decode_rtpdu(ISODE_RTOAC)
    assert isinstance(ac, RTOAC) and ac.open is not None
    assert rtpdu.decode_bind(ac.open, result=True, x410=False) == MTABind(
        name="guinevere.smhs.co.uk", password="merlin")
    assert rtpdu.encode_rtpdu(ac) == ISODE_RTOAC          # same octets back
    # the Isode RTORQ spells out the DEFAULT dialogueMode; ours leaves it out (X.690 §11.5)
    assert rtpdu.decode_rtpdu(rtpdu.encode_rtpdu(rq)) == rq


@pytest.mark.parametrize("pdu", [
    RTORQ(checkpoint_size=4, window_size=2, dialogue_mode=rtpdu.TWA, open=b"\x05\x00"),
    RTORQ(recover=Recover(calling_ss_user_reference=b"ref", common_reference=b"261128Z")),
    RTOAC(open=b"\x05\x00"), RTORJ(refuse_reason=1), RTORJ(user_data=b"\xb2\x03\x02\x01\x02"),
    RTAB(abort_reason=4), RTAB(), RTTP(priority=3)])
def test_apdus_round_trip(pdu: object) -> None:
    assert rtpdu.decode_rtpdu(rtpdu.encode_rtpdu(pdu)) == pdu  # type: ignore[arg-type]


@pytest.mark.parametrize("pdu", [RTORQ(open=b"\x05\x00", application_protocol=1),
                                 RTOAC(open=b"\x05\x00"), RTORJ(refuse_reason=2)])
def test_x410_pdus_round_trip(pdu: RTORQ | RTOAC | RTORJ) -> None:
    kind = {RTORQ: "PConnect", RTOAC: "PAccept", RTORJ: "PRefuse"}[type(pdu)]
    assert rtpdu.decode_x410(kind, rtpdu.encode_x410(pdu)) == pdu


@pytest.mark.parametrize("x410", [False, True])
def test_bind_values(x410: bool) -> None:
    for bind in (MTABind(name="a", password="b"), MTABind(name="a", password=b"\x00\xff"),
                 MTABind()):
        for result in (False, True):
            data = rtpdu.encode_bind(bind, result=result, x410=x410)
            assert rtpdu.decode_bind(data, result=result, x410=x410) == bind
    assert rtpdu.decode_bind_error(rtpdu.encode_bind_error(2)) == 2


@given(st.binary(max_size=3000), st.integers(0, 127))
def test_rttr_and_external_round_trip(data: bytes, pcid: int) -> None:
    assert rtpdu.decode_rttr(rtpdu.encode_rttr(data)) == data
    assert rtpdu.decode_external(rtpdu.encode_external(pcid, b"\x04\x01x")) == \
        (None, pcid, b"\x04\x01x")


def test_constructed_rttr_is_joined() -> None:
    # X.690 §8.7.3: a constructed OCTET STRING, one level nested
    data = b"\x24\x0a\x04\x02ab\x24\x04\x04\x02cd"
    assert rtpdu.decode_rttr(data) == b"abcd"
    with pytest.raises(DecodeError):
        rtpdu.decode_rttr(b"\x24\x04\x02\x02ab")


@given(st.binary(max_size=200))
def test_garbage_apdus_are_decode_errors(data: bytes) -> None:
    for fn in (rtpdu.decode_rtpdu, rtpdu.decode_rttr, rtpdu.decode_external):
        try:
            fn(data)
        except DecodeError:
            pass


# ------------------------------------------------------------------------------ the engine

def _x410_receiver(checkpoint: int = 1) -> RTSEEngine:
    """An X.410-mode responder after an accepted RT-OPEN (driven with session primitives)."""
    rt = RTSEEngine("responder", mode="x410")
    rq = RTORQ(checkpoint_size=checkpoint, window_size=3, open=b"\x05\x00")
    rt.receive(SConnect(requirements=FunctionalUnit.HALF_DUPLEX,
                        user_data=rtpdu.encode_x410(rq)))
    assert isinstance(rt.next_event(), RTOpen)
    [accept] = rt.send(RTOpenAccept(user_data=b"\x05\x00", session=SConnectAccept(
        requirements=FunctionalUnit.HALF_DUPLEX)))
    assert isinstance(accept, SConnectAccept)
    return rt


def test_interrupted_activity_resumes_from_the_checkpoint() -> None:
    """X.228 §7.4.4: after S-ACTIVITY-INTERRUPT the sender resumes at a confirmed checkpoint;
    the receiver keeps what came before it and drops what came after."""
    rt = _x410_receiver()
    rt.receive(SActivityStart(activity_id=b"1"))
    rt.receive(SData(user_data=b"A" * 1024))
    rt.receive(SSyncMinor(serial=1, confirm_required=True))
    assert rt.pending() == [SSyncMinorConfirm(serial=1)]
    rt.receive(SData(user_data=b"lost"))                    # after the checkpoint
    rt.receive(SActivityInterrupt(reason=0))
    assert rt.pending() == [SActivityInterruptConfirm()]
    rt.receive(SActivityResume(activity_id=b"2", old_activity_id=b"1", serial=1))
    rt.receive(SData(user_data=b"B" * 10))
    rt.receive(SActivityEnd(serial=2))
    assert rt.next_event() == RTTransfer(apdu=b"A" * 1024 + b"B" * 10)
    assert rt.pending() == []                                # not confirmed before durable
    rt.send(RTTransferAccept())
    assert rt.state == "open"


def test_resume_of_an_unknown_activity_aborts() -> None:
    rt = _x410_receiver()
    rt.receive(SActivityResume(activity_id=b"9", old_activity_id=b"7", serial=3))
    assert isinstance(rt.next_event(), RTPAbort)
    [abort] = rt.pending()
    assert isinstance(abort, SUAbort)
    ab = rtpdu.decode_rtpdu(abort.user_data)
    assert isinstance(ab, RTAB) and ab.abort_reason == rtpdu.AbortReason.UNRECOGNIZED_ACTIVITY


def test_discarded_activity_delivers_nothing() -> None:
    rt = _x410_receiver()
    rt.receive(SActivityStart(activity_id=b"1"))
    rt.receive(SData(user_data=b"x"))
    rt.receive(SActivityDiscard(reason=0))
    assert rt.pending() == [SActivityDiscardConfirm()]
    assert rt.next_event() is None
    rt.receive(SActivityStart(activity_id=b"2"))
    rt.receive(SData(user_data=b"y"))
    rt.receive(SActivityEnd(serial=1))
    assert rt.next_event() == RTTransfer(apdu=b"y")


def _x410_sender(checkpoint: int = 0) -> RTSEEngine:
    rt = RTSEEngine("initiator", mode="x410")
    [connect] = rt.send(RTOpen(user_data=b"\x05\x00", checkpoint_size=checkpoint,
                               session=SConnect(requirements=FunctionalUnit.HALF_DUPLEX)))
    assert isinstance(connect, SConnect)
    rt.receive(SConnectAccept(requirements=FunctionalUnit.HALF_DUPLEX, user_data=rtpdu.
                              encode_x410(RTOAC(checkpoint_size=checkpoint, open=b"\x05\x00"))))
    assert isinstance(rt.next_event(), RTOpenAccept)
    return rt


def test_receiver_exception_makes_the_sender_discard() -> None:
    """X.228 §7.4.3: a receiver's exception report ends the transfer unconfirmed."""
    rt = _x410_sender()
    out = rt.send(RTTransfer(apdu=b"data"))
    assert [type(p) for p in out] == [SActivityStart, SData, SActivityEnd]
    rt.receive(SUExceptionReport(reason=0))
    assert rt.pending() == [SActivityDiscard(reason=0)]
    rt.receive(SActivityDiscardConfirm())
    assert isinstance(rt.next_event(), RTTransferFailed)
    # the association stays usable: the next transfer goes through
    rt.send(RTTransfer(apdu=b"again"))
    rt.receive(SActivityEndConfirm())
    assert isinstance(rt.next_event(), RTTransferConfirm)


def test_window_holds_segments_back() -> None:
    rt = _x410_sender(checkpoint=1)
    out = rt.send(RTTransfer(apdu=os.urandom(5 * 1024)))
    assert [type(p) for p in out].count(SSyncMinor) == 3          # window 3
    assert not any(isinstance(p, SActivityEnd) for p in out)
    rt.receive(SSyncMinorConfirm(serial=1))
    more = rt.pending()
    assert [type(p) for p in more] == [SData, SSyncMinor]
    for serial in (2, 3, 4):
        rt.receive(SSyncMinorConfirm(serial=serial))
    assert isinstance(rt.pending()[-1], SActivityEnd)


def test_turn_please_and_give() -> None:
    """X.228 §7.5: RT-TURN-PLEASE is S-TOKEN-PLEASE with an RTTP, RT-TURN-GIVE S-CONTROL-GIVE."""
    sender = _x410_sender()
    receiver = _x410_receiver()
    [please] = receiver.send(RTTurnPlease(priority=2))
    assert isinstance(please, STokenPlease)
    sender.receive(please)
    assert sender.next_event() == RTTurnPlease(priority=2)
    [give] = sender.send(RTTurnGive())
    assert isinstance(give, SControlGive)
    receiver.receive(give)
    assert receiver.next_event() == RTTurnGive()
    assert receiver.holds_turn and not sender.holds_turn
    with pytest.raises(ProtocolError, match="local"):
        sender.send(RTTransfer(apdu=b"x"))                       # no turn any more


def test_local_misuse_is_reported_and_changes_nothing() -> None:
    rt = _x410_receiver()
    with pytest.raises(ProtocolError, match="local"):
        rt.send(RTTransfer(apdu=b"x"))                           # the responder has no turn
    assert rt.state == "open"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    SActivityStart(activity_id=b"1"), SData(user_data=b"x"), SSyncMinor(serial=1),
    SActivityEnd(serial=2), SActivityInterrupt(), SActivityDiscard(),
    SActivityResume(activity_id=b"2", old_activity_id=b"1", serial=1),
    SSyncMinorConfirm(serial=1), SActivityEndConfirm(), SControlGive(), SUAbort(),
    SPAbort(), SConnect(requirements=FunctionalUnit.HALF_DUPLEX, user_data=b"\x30\x00"),
    STokenPlease(tokens=7, user_data=b"garbage"), SActivityDiscardConfirm()]),  # type: ignore[arg-type]
    max_size=12), st.booleans())
def test_any_primitive_sequence_is_handled(seq: list[object], sender: bool) -> None:
    """Every (state, input) walk: events or ProtocolError, never another exception."""
    rt = _x410_sender() if sender else _x410_receiver()
    for primitive in seq:
        try:
            rt.receive(primitive)
        except ProtocolError:
            assert rt.state == "closed"
            return
        while (ev := rt.next_event()) is not None:
            if isinstance(ev, RTTransfer):
                rt.send(RTTransferAccept())
            assert not isinstance(ev, RTUAbort | RTPAbort) or rt.state == "closed"


def test_recover_across_associations_is_refused() -> None:
    rt = RTSEEngine("responder", mode="x410")
    rq = RTORQ(recover=Recover(calling_ss_user_reference=b"r", common_reference=b"c"))
    rt.receive(SConnect(requirements=FunctionalUnit.HALF_DUPLEX, user_data=rtpdu.encode_x410(rq)))
    assert isinstance(rt.next_event(), RTPAbort)
    [refuse] = rt.pending()
    rj = rtpdu.decode_x410("PRefuse", refuse.user_data)  # type: ignore[attr-defined]
    assert rj == RTORJ(refuse_reason=rtpdu.RefuseReason.CANNOT_RECOVER)
