"""X.225 session engine: an initiator and a responder wired together in memory (STYLE.md §13).

Real bytes: the CN and AC SPDUs of an Isode M-Switch association
(/work/shared/x400-samples/ping-success-bind.hexdump, frames I and O after TPKT + COTP DT).
"""

from __future__ import annotations

import copy
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import ProtocolError
from bridge.x400 import spdu as sp
from bridge.x400.session import (
    ConnectionIdentifier,
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
    SConnectRefuse,
    SControlGive,
    SData,
    SessionEngine,
    SessionPrimitive,
    SPAbort,
    SPExceptionReport,
    SRelease,
    SReleaseAccept,
    SReleaseRefuse,
    SSyncMinor,
    SSyncMinorConfirm,
    STokenGive,
    STokenPlease,
    SUAbort,
    SUExceptionReport,
    Token,
    TokenSetting,
    TokenSide,
)
from bridge.x400.session_states import INCOMING, OUTGOING, STATES, TRANSITIONS
from tests.osi_wire import TPKT_COTP_DT, isode_frames

P1_FU = (FunctionalUnit.HALF_DUPLEX | FunctionalUnit.MINOR_SYNC | FunctionalUnit.ACTIVITY
         | FunctionalUnit.EXCEPTIONS)  # 0x0249, what the Isode MTA proposes


def real_cn() -> bytes:
    """The real CN SPDU (frame I of the Isode sample, after TPKT + COTP DT)."""
    return isode_frames()["I"][TPKT_COTP_DT:]


def real_ac() -> bytes:
    """The real AC SPDU (frame O)."""
    return isode_frames()["O"][TPKT_COTP_DT:]


REAL_CID = ConnectionIdentifier(calling_ss_user_reference=b"\x04\x08Percival",
                                common_reference=b"\x17\x0d051001144852Z")


# ---------------------------------------------------------------------- the in-memory pump
class Pair:
    """Two engines; every TSDU one sends is delivered to the other (SPM replies included)."""

    def __init__(self) -> None:
        self.i = SessionEngine("initiator")
        self.r = SessionEngine("responder")
        self.wire: list[bytes] = []

    def peer(self, e: SessionEngine) -> SessionEngine:
        return self.r if e is self.i else self.i

    def deliver(self, dst: SessionEngine, tsdu: bytes) -> None:
        self.wire.append(tsdu)
        dst.receive(tsdu)
        for t in dst.tsdus_to_send():
            self.deliver(self.peer(dst), t)

    def send(self, src: SessionEngine, p: SessionPrimitive) -> list[SessionPrimitive]:
        """``src`` sends ``p``; returns what the peer indicated."""
        dst = self.peer(src)
        tsdu = src.send(p)
        if tsdu:
            self.deliver(dst, tsdu)
        return drain(dst)

    def connect(self, fu: FunctionalUnit = P1_FU, **kw: object) -> None:
        ind = self.send(self.i, SConnect(requirements=fu, **kw))  # type: ignore[arg-type]
        assert isinstance(ind[0], SConnect)
        cnf = self.send(self.r, SConnectAccept(requirements=fu))
        assert isinstance(cnf[0], SConnectAccept)
        assert self.i.state == self.r.state == "STA713"


def drain(e: SessionEngine) -> list[SessionPrimitive]:
    out = []
    while (ev := e.next_event()) is not None:
        out.append(ev)
    return out


# ---------------------------------------------------------------------- real bytes
def test_real_cn_indication() -> None:
    r = SessionEngine("responder")
    r.receive(real_cn())
    [ind] = drain(r)
    assert isinstance(ind, SConnect)
    assert ind.requirements == P1_FU == 0x0249
    assert ind.connection_id == REAL_CID
    assert ind.version == 2
    assert ind.initial_tokens == {Token.DATA: TokenSide.INITIATOR,
                                  Token.MINOR_SYNC: TokenSide.INITIATOR,
                                  Token.MAJOR_ACTIVITY: TokenSide.INITIATOR}
    assert len(ind.user_data) == 148 and ind.user_data[:2] == b"\x31\x80"  # CP-type SET
    assert ind.calling_ssel == ind.called_ssel == b""
    assert r.state == "STA08"


def test_our_cn_is_octet_for_octet_the_real_one() -> None:
    user_data = real_cn()[-148:]
    cn = SessionEngine("initiator").send(SConnect(requirements=P1_FU, connection_id=REAL_CID,
                                                  user_data=user_data))
    assert cn == real_cn()


def test_initiator_accepts_real_ac() -> None:
    i = SessionEngine("initiator")
    i.send(SConnect(requirements=P1_FU, connection_id=REAL_CID, user_data=real_cn()[-148:]))
    i.receive(real_ac())
    [cnf] = drain(i)
    assert isinstance(cnf, SConnectAccept)
    assert cnf.requirements == P1_FU and cnf.version == 2
    assert cnf.user_data == real_ac()[-127:] and cnf.user_data[:2] == b"\x31\x7d"  # CPA-PPDU
    assert cnf.connection_id == REAL_CID
    assert i.state == "STA713"
    assert i.tokens_available == Token.DATA | Token.MINOR_SYNC | Token.MAJOR_ACTIVITY
    assert i.tokens_owned == i.tokens_available  # token setting 00: all initiator's side


def test_responder_answers_real_cn_with_an_ac_the_initiator_takes() -> None:
    r = SessionEngine("responder")
    r.receive(real_cn())
    drain(r)
    ac = r.send(SConnectAccept(requirements=P1_FU, connection_id=REAL_CID,
                               user_data=real_ac()[-127:]))
    [parsed] = sp.decode_tsdu(ac)
    real = sp.decode_tsdu(real_ac())[0]
    assert parsed.si == real.si == sp.SI.AC
    assert parsed.get(sp.PI.CONNECT_ACCEPT_ITEM) == real.get(sp.PI.CONNECT_ACCEPT_ITEM)
    assert parsed.get(sp.PI.SESSION_USER_REQUIREMENTS) == b"\x02\x49"
    assert parsed.get(sp.PI.USER_DATA) == real.get(sp.PI.USER_DATA)
    assert r.state == "STA713" and r.tokens_owned == Token(0)


# ---------------------------------------------------------------------- connection
def test_refuse_with_user_data() -> None:
    p = Pair()
    p.send(p.i, SConnect(requirements=P1_FU, user_data=b"cp"))
    [cnf] = p.send(p.r, SConnectRefuse(reason=2, user_data=b"cpr"))
    assert cnf == SConnectRefuse(reason=2, user_data=b"cpr")
    assert p.i.state == "STA01" and p.r.state == "STA16"
    p.r.connection_lost()
    assert drain(p.r) == [] and p.r.state == "STA01"


def test_roles_and_single_use() -> None:
    with pytest.raises(ProtocolError, match="local"):
        SessionEngine("responder").send(SConnect(requirements=P1_FU))
    with pytest.raises(ProtocolError, match="initiator"):
        SessionEngine("initiator").receive(real_cn())
    p = Pair()
    p.connect()
    p.send(p.i, SUAbort())
    with pytest.raises(ProtocolError, match="closed"):
        p.r.send(SConnect(requirements=P1_FU))
    with pytest.raises(ValueError):
        SessionEngine("server")  # type: ignore[arg-type]


def test_refuse_user_data_needs_reason_2() -> None:
    p = Pair()
    p.send(p.i, SConnect(requirements=P1_FU))
    with pytest.raises(ProtocolError, match="local"):
        p.r.send(SConnectRefuse(reason=0, user_data=b"x"))


def test_accept_negotiates_intersection_and_called_choice() -> None:
    p = Pair()
    proposed = P1_FU | FunctionalUnit.DUPLEX | FunctionalUnit.NEGOTIATED_RELEASE
    tokens = {Token.DATA: TokenSide.CALLED_CHOICE, Token.MINOR_SYNC: TokenSide.INITIATOR,
              Token.MAJOR_ACTIVITY: TokenSide.RESPONDER, Token.RELEASE: TokenSide.INITIATOR}
    [ind] = p.send(p.i, SConnect(requirements=proposed, initial_tokens=tokens))
    assert isinstance(ind, SConnect) and ind.initial_tokens == tokens
    [cnf] = p.send(p.r, SConnectAccept(requirements=P1_FU | FunctionalUnit.NEGOTIATED_RELEASE,
                                       initial_tokens={Token.DATA: TokenSide.RESPONDER}))
    assert isinstance(cnf, SConnectAccept)
    assert p.i.requirements == p.r.requirements == cnf.requirements == \
        P1_FU | FunctionalUnit.NEGOTIATED_RELEASE
    assert cnf.initial_tokens == {Token.DATA: TokenSide.RESPONDER,
                                  Token.MINOR_SYNC: TokenSide.INITIATOR,
                                  Token.MAJOR_ACTIVITY: TokenSide.RESPONDER,
                                  Token.RELEASE: TokenSide.INITIATOR}
    assert p.r.tokens_owned == Token.DATA | Token.MAJOR_ACTIVITY
    assert p.i.tokens_owned == Token.MINOR_SYNC | Token.RELEASE


def test_accept_must_pick_one_of_half_duplex_and_duplex() -> None:
    p = Pair()
    p.send(p.i, SConnect(requirements=FunctionalUnit.HALF_DUPLEX | FunctionalUnit.DUPLEX))
    with pytest.raises(ProtocolError, match="local"):
        p.r.send(SConnectAccept(requirements=FunctionalUnit.HALF_DUPLEX | FunctionalUnit.DUPLEX))
    p.r.send(SConnectAccept(requirements=FunctionalUnit.DUPLEX))


def test_token_setting_is_hashable_and_compares_to_dicts() -> None:
    a = SConnect(requirements=P1_FU, initial_tokens={Token.DATA: TokenSide.RESPONDER})
    b = SConnect(requirements=P1_FU, initial_tokens=TokenSetting([(Token.DATA, TokenSide(1))]))
    assert a == b and hash(a) == hash(b)
    assert a.initial_tokens == {Token.DATA: TokenSide.RESPONDER}


@pytest.mark.parametrize("size", [513, 10240, 20000, 200_000])
def test_connect_user_data_extended_and_overflow(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    p = Pair()
    [ind] = p.send(p.i, SConnect(requirements=P1_FU, user_data=data))
    assert isinstance(ind, SConnect) and ind.user_data == data
    assert p.r.state == "STA08" and p.i.state == "STA02A"
    cn = sp.decode_tsdu(p.wire[0])[0]
    if size <= 10240:
        assert cn.get(sp.PI.EXTENDED_USER_DATA) == data and len(p.wire) == 1
    else:
        assert cn.get(sp.PI.DATA_OVERFLOW) == b"\x01"
        assert sp.decode_tsdu(p.wire[1])[0].si == sp.SI.OA
        assert all(sp.decode_tsdu(t)[0].si == sp.SI.CDO for t in p.wire[2:])
    [cnf] = p.send(p.r, SConnectAccept(requirements=P1_FU))
    assert isinstance(cnf, SConnectAccept)


def test_version_1_limits_user_data() -> None:
    with pytest.raises(ProtocolError, match="local"):
        SessionEngine("initiator").send(SConnect(requirements=P1_FU, version=1,
                                                 user_data=bytes(513)))
    p = Pair()
    p.send(p.i, SConnect(requirements=P1_FU, version=1, user_data=bytes(512)))
    [cnf] = p.send(p.r, SConnectAccept(requirements=P1_FU))
    assert isinstance(cnf, SConnectAccept) and cnf.version == 1 == p.i.version
    with pytest.raises(ProtocolError, match="local"):
        p.i.send(SUAbort(user_data=bytes(10)))  # X.225 §8.3.9: 9 octets in version 1


# ---------------------------------------------------------------------- tokens, data
def test_half_duplex_tokens() -> None:
    p = Pair()
    p.connect(FunctionalUnit.HALF_DUPLEX)
    assert p.send(p.i, SData(user_data=b"one")) == [SData(user_data=b"one")]
    assert p.wire[-1] == b"\x01\x00\x01\x00one"  # X.225 §6.3.7: GT + DT
    with pytest.raises(ProtocolError, match="local"):
        p.r.send(SData(user_data=b"no token"))
    assert p.send(p.r, STokenPlease(tokens=Token.DATA, user_data=b"pls")) == [
        STokenPlease(tokens=Token.DATA, user_data=b"pls")]
    assert p.send(p.i, STokenGive(tokens=Token.DATA)) == [STokenGive(tokens=Token.DATA)]
    assert p.r.tokens_owned == Token.DATA and p.i.tokens_owned == Token(0)
    assert p.send(p.r, SData(user_data=b"two")) == [SData(user_data=b"two")]
    with pytest.raises(ProtocolError, match="local"):
        p.i.send(STokenGive(tokens=Token.DATA))


def test_duplex_needs_no_token() -> None:
    p = Pair()
    p.connect(FunctionalUnit.DUPLEX)
    assert p.i.tokens_available == Token(0)
    assert p.send(p.r, SData(user_data=b"r")) == [SData(user_data=b"r")]
    assert p.send(p.i, SData(user_data=b"i")) == [SData(user_data=b"i")]


def test_control_give() -> None:
    p = Pair()
    p.connect()
    assert p.send(p.i, SControlGive()) == [SControlGive()]
    assert p.i.state == p.r.state == "STA713"  # GTA came back
    assert p.r.tokens_owned == p.r.tokens_available and p.i.tokens_owned == Token(0)
    assert sp.decode_tsdu(p.wire[-1])[0].si == sp.SI.GTA


# ---------------------------------------------------------------------- activities
def test_activity_with_data_and_minor_syncs() -> None:
    p = Pair()
    p.connect()
    with pytest.raises(ProtocolError, match="local"):
        p.i.send(SData(user_data=b"outside"))  # X.225: data only inside an activity
    assert p.send(p.i, SActivityStart(activity_id=b"A1", user_data=b"as")) == [
        SActivityStart(activity_id=b"A1", user_data=b"as")]
    assert p.i.in_activity and p.r.in_activity and p.i.next_serial == 1
    for n in range(1, 4):
        for k in range(5):
            assert p.send(p.i, SData(user_data=bytes([k]) * 100)) == [
                SData(user_data=bytes([k]) * 100)]
        [ind] = p.send(p.i, SSyncMinor(user_data=b"chk"))
        assert ind == SSyncMinor(serial=n, confirm_required=True, user_data=b"chk")
        assert p.send(p.r, SSyncMinorConfirm(serial=n)) == [SSyncMinorConfirm(serial=n)]
    [ind] = p.send(p.i, SSyncMinor(confirm_required=False))
    assert ind == SSyncMinor(serial=4, confirm_required=False)
    with pytest.raises(ProtocolError, match="local"):
        p.r.send(SSyncMinorConfirm(serial=3))
    assert p.send(p.i, SActivityEnd()) == [SActivityEnd(serial=5)]
    assert p.i.state == "STA04B" and p.r.state == "STA10B"
    assert p.send(p.r, SActivityEndConfirm(user_data=b"ok")) == [
        SActivityEndConfirm(user_data=b"ok")]
    assert p.i.state == p.r.state == "STA713" and not p.i.in_activity and not p.r.in_activity
    assert p.i.next_serial == p.r.next_serial == 6


def test_interrupt_resume_discard() -> None:
    p = Pair()
    p.connect()
    p.send(p.i, SActivityStart(activity_id=b"A1"))
    p.send(p.i, SData(user_data=b"x"))
    p.send(p.i, SSyncMinor())
    assert p.send(p.i, SActivityInterrupt(reason=1)) == [SActivityInterrupt(reason=1)]
    assert (p.i.state, p.r.state) == ("STA05B", "STA11B")
    assert p.send(p.r, SActivityInterruptConfirm()) == [SActivityInterruptConfirm()]
    assert not p.i.in_activity and p.i.tokens_owned == p.i.tokens_available
    old = ConnectionIdentifier(calling_ss_user_reference=b"me", common_reference=b"c")
    resume = SActivityResume(activity_id=b"A2", old_activity_id=b"A1", serial=1,
                             old_connection_id=old, user_data=b"r")
    assert p.send(p.i, resume) == [resume]
    assert p.i.next_serial == p.r.next_serial == 2
    assert p.send(p.i, SSyncMinor()) == [SSyncMinor(serial=2)]
    assert p.send(p.i, SActivityDiscard(reason=3)) == [SActivityDiscard(reason=3)]
    assert (p.i.state, p.r.state) == ("STA05C", "STA11C")
    assert p.send(p.r, SActivityDiscardConfirm()) == [SActivityDiscardConfirm()]
    assert p.i.state == p.r.state == "STA713" and not p.r.in_activity


def test_interrupt_discards_what_the_peer_sent_meanwhile() -> None:
    p = Pair()
    p.connect()
    p.send(p.i, SActivityStart(activity_id=b"A"))
    p.send(p.i, SSyncMinor())
    mia = p.r.send(SSyncMinorConfirm(serial=1))  # in flight while the initiator interrupts
    p.send(p.i, SActivityInterrupt())
    p.i.receive(mia)
    assert drain(p.i) == [] and p.i.state == "STA05B"


def test_exception_report() -> None:
    p = Pair()
    p.connect()
    p.send(p.i, SActivityStart(activity_id=b"A"))
    with pytest.raises(ProtocolError, match="local"):
        p.i.send(SUExceptionReport(reason=3))  # the data token holder cannot report
    assert p.send(p.r, SUExceptionReport(reason=3, user_data=b"e")) == [
        SUExceptionReport(reason=3, user_data=b"e")]
    with pytest.raises(ProtocolError, match="local"):
        p.i.send(SData(user_data=b"x"))  # must clear the exception first
    p.send(p.i, SActivityDiscard())
    p.send(p.r, SActivityDiscardConfirm())
    p.send(p.i, SActivityStart(activity_id=b"B"))
    assert p.send(p.i, SData(user_data=b"y")) == [SData(user_data=b"y")]


def test_provider_exception_report_from_peer() -> None:
    p = Pair()
    p.connect()
    p.i.receive(b"\x01\x00\x00\x00")  # GT + ER (X.225 §8.3.x)
    assert drain(p.i) == [SPExceptionReport(reason=0)]
    with pytest.raises(ProtocolError, match="local"):
        p.i.send(SPExceptionReport(reason=0))


# ---------------------------------------------------------------------- release, abort
def test_release() -> None:
    p = Pair()
    p.connect()
    with pytest.raises(ProtocolError, match="local"):
        p.r.send(SRelease())  # the responder owns no token
    assert p.send(p.i, SRelease(user_data=b"rlrq")) == [SRelease(user_data=b"rlrq")]
    assert (p.i.state, p.r.state) == ("STA03", "STA09")
    assert p.send(p.r, SReleaseAccept(user_data=b"rlre")) == [SReleaseAccept(user_data=b"rlre")]
    assert (p.i.state, p.r.state) == ("STA01", "STA16")
    p.i.connection_lost()
    p.r.connection_lost()
    assert drain(p.i) == drain(p.r) == []
    with pytest.raises(ProtocolError):
        p.i.receive(b"\x01\x00\x01\x00late")


def test_negotiated_release_refused() -> None:
    p = Pair()
    p.connect(P1_FU | FunctionalUnit.NEGOTIATED_RELEASE)
    p.send(p.i, SRelease())
    assert p.send(p.r, SReleaseRefuse(user_data=b"no")) == [SReleaseRefuse(user_data=b"no")]
    assert p.i.state == p.r.state == "STA713"
    p2 = Pair()
    p2.connect()
    p2.send(p2.i, SRelease())
    with pytest.raises(ProtocolError, match="local"):
        p2.r.send(SReleaseRefuse())


def test_user_abort_and_transport_loss() -> None:
    p = Pair()
    p.connect()
    assert p.send(p.r, SUAbort(user_data=b"abrt")) == [SUAbort(user_data=b"abrt")]
    assert p.i.state == "STA01" and p.r.state == "STA16"
    assert p.r.send(SUAbort()) == b""
    q = Pair()
    q.connect()
    q.i.connection_lost()
    [ev] = drain(q.i)
    assert isinstance(ev, SPAbort) and q.i.state == "STA01"


# ---------------------------------------------------------------------- peer errors
def _data_state() -> Pair:
    p = Pair()
    p.connect()
    p.send(p.i, SActivityStart(activity_id=b"A"))
    return p


@pytest.mark.parametrize("tsdu, what", [
    (b"\x01\x00\x01\x00data", "DT without the data token"),
    (b"\x01\x00\x31\x03\x2a\x01\x31", "MIP without the tokens"),
    (b"\x63\x00", "unknown SI"),
    (b"\x0d\x00", "CN in the data transfer state"),
    (b"\x0e\x05\x14\x02\x02", "LI past the end"),
    (b"\x01\x00\x29\x00", "AE without a serial number"),
    (b"\x01\x00\x29\x03\x2a\x01\x31\x01\x00\x01\x00x", "SPDU after AE"),
])
def test_peer_errors_close_the_engine(tsdu: bytes, what: str) -> None:
    p = _data_state()
    with pytest.raises(ProtocolError) as info:
        p.i.receive(tsdu)
    assert info.value.layer == "session"
    assert p.i.state == "STA01"
    [ab] = p.i.tsdus_to_send()
    assert sp.decode_tsdu(ab)[0].si == sp.SI.AB
    with pytest.raises(ProtocolError):
        p.i.receive(b"\x01\x00\x01\x00more")


def test_protocol_error_abort_reaches_the_peer_as_provider_abort() -> None:
    p = _data_state()
    with pytest.raises(ProtocolError):
        p.i.receive(b"\x63\x00")
    [ab] = p.i.tsdus_to_send()
    p.r.receive(ab)
    [ev] = drain(p.r)
    assert isinstance(ev, SPAbort)
    assert ev.reason == sp.TransportDisconnect.RELEASED | sp.TransportDisconnect.PROTOCOL_ERROR
    assert p.r.state == "STA01"


# ---------------------------------------------------------------------- collisions
def test_abort_collision() -> None:
    p = _data_state()
    ab_i, ab_r = p.i.send(SUAbort()), p.r.send(SUAbort())
    p.i.receive(ab_r)
    p.r.receive(ab_i)
    assert p.i.state == p.r.state == "STA01" and drain(p.i) == drain(p.r) == []


def test_confirm_crossing_activity_end() -> None:
    p = _data_state()
    p.send(p.i, SSyncMinor())
    mia = p.r.send(SSyncMinorConfirm(serial=1))
    p.send(p.i, SActivityEnd())
    p.i.receive(mia)  # arrives while the initiator waits for AEA
    assert drain(p.i) == [SSyncMinorConfirm(serial=1)] and p.i.state == "STA04B"
    assert p.send(p.r, SActivityEndConfirm()) == [SActivityEndConfirm()]


def test_exception_crossing_activity_end_then_discard() -> None:
    """RTSE's reaction to an exception report (X.228 §7.4.3) when AE is already on its way."""
    p = _data_state()
    p.send(p.i, SData(user_data=b"seg"))
    ed = p.r.send(SUExceptionReport(reason=0))
    p.send(p.i, SActivityEnd())
    p.i.receive(ed)
    assert drain(p.i) == [SUExceptionReport(reason=0)] and p.i.state == "STA04B"
    assert p.send(p.i, SActivityDiscard()) == [SActivityDiscard()]
    assert p.r.state == "STA11C"
    assert p.send(p.r, SActivityDiscardConfirm()) == [SActivityDiscardConfirm()]
    assert p.i.state == p.r.state == "STA713" and not p.i.in_activity


def test_data_crossing_our_abort_is_ignored() -> None:
    p = _data_state()
    dt = p.i.send(SData(user_data=b"late"))
    p.r.send(SUAbort())
    p.r.receive(dt)
    assert drain(p.r) == [] and p.r.state == "STA16"


def test_peer_serial_mismatch() -> None:
    p = _data_state()
    p.r.send(STokenPlease(tokens=Token.DATA))  # not delivered: just to show it is legal
    p.send(p.i, SActivityEnd())
    p.send(p.r, SActivityEndConfirm())
    p.send(p.i, SControlGive())
    p.send(p.r, SActivityStart(activity_id=b"B"))
    bad_mip = b"\x01\x00\x31\x03\x2a\x01" + b"7"  # serial 7, V(M) is 1
    with pytest.raises(ProtocolError, match="serial"):
        p.i.receive(bad_mip)


def test_dt_over_the_ssdu_limit() -> None:
    p = Pair()
    p.r = SessionEngine("responder", max_ssdu=1000)
    p.connect()
    p.send(p.i, SActivityStart(activity_id=b"A"))
    with pytest.raises(ProtocolError, match="limit"):
        p.send(p.i, SData(user_data=bytes(1001)))


def test_ten_megabytes_of_garbage_fails_fast() -> None:
    garbage = bytes([0x77]) * (10 * 1024 * 1024)
    for engine in (SessionEngine("responder"), _data_state().r):
        start = time.perf_counter()
        with pytest.raises(ProtocolError):
            engine.receive(garbage)
        assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------------- every state x input
def _reach(state: str) -> tuple[Pair, SessionEngine]:
    """A pair where one engine (returned) is in ``state``."""
    p = Pair()
    if state == "STA01":
        return p, p.r
    if state == "STA02B":
        p.i.send(SConnect(requirements=P1_FU, user_data=bytes(20000)))
        return p, p.i
    if state == "STA01D":
        p.r.receive(p.i.send(SConnect(requirements=P1_FU, user_data=bytes(20000))))
        return p, p.r
    p.send(p.i, SConnect(requirements=P1_FU))
    if state in ("STA02A", "STA08"):
        return p, p.i if state == "STA02A" else p.r
    p.send(p.r, SConnectAccept(requirements=P1_FU))
    if state == "STA713":
        return p, p.i
    if state == "STA18":
        p.i.send(SControlGive())
        return p, p.i
    if state in ("STA03", "STA09", "STA16"):
        p.send(p.i, SRelease())
        if state == "STA16":
            p.send(p.r, SReleaseAccept())
        return p, p.i if state == "STA03" else p.r
    p.send(p.i, SActivityStart(activity_id=b"A"))
    reqs: dict[str, SessionPrimitive] = {"STA04B": SActivityEnd(), "STA10B": SActivityEnd(),
           "STA05B": SActivityInterrupt(), "STA11B": SActivityInterrupt(),
           "STA05C": SActivityDiscard(), "STA11C": SActivityDiscard()}
    p.send(p.i, reqs[state])
    return p, p.i if state in ("STA04B", "STA05B", "STA05C") else p.r


def _sample_tsdus() -> list[bytes]:
    """One TSDU of every SPDU kind we know, recorded from complete exchanges."""
    seen: list[bytes] = []
    for fu in (P1_FU, P1_FU | FunctionalUnit.NEGOTIATED_RELEASE):
        p = Pair()
        p.send(p.i, SConnect(requirements=fu, user_data=bytes(20000)))
        p.send(p.r, SConnectAccept(requirements=fu, user_data=b"a"))
        p.send(p.i, SActivityStart(activity_id=b"A"))
        p.send(p.i, SData(user_data=b"d"))
        p.send(p.i, SSyncMinor(user_data=b"s"))
        p.send(p.r, SSyncMinorConfirm(serial=1))
        p.send(p.r, SUExceptionReport(reason=1))
        p.send(p.i, SActivityInterrupt())
        p.send(p.r, SActivityInterruptConfirm())
        p.send(p.i, SActivityResume(activity_id=b"B", old_activity_id=b"A", serial=1))
        p.send(p.i, SActivityDiscard())
        p.send(p.r, SActivityDiscardConfirm())
        p.send(p.i, SActivityStart(activity_id=b"C"))
        p.send(p.i, SActivityEnd())
        p.send(p.r, SActivityEndConfirm())
        p.send(p.i, SControlGive())
        p.send(p.r, STokenGive(tokens=Token.DATA))
        p.send(p.r, STokenPlease(tokens=Token.DATA))
        p.send(p.i, STokenGive(tokens=Token.DATA))
        p.send(p.r, SRelease())
        if fu & FunctionalUnit.NEGOTIATED_RELEASE:
            p.send(p.i, SReleaseRefuse())
            p.send(p.r, SUAbort(user_data=b"u"))
        else:
            p.send(p.i, SReleaseAccept())
        seen += p.wire
    q = Pair()
    q.send(q.i, SConnect(requirements=P1_FU))
    q.send(q.r, SConnectRefuse(reason=2, user_data=b"no"))
    return seen + q.wire + [real_cn(), real_ac(), b"\x01\x00\x00\x00"]


SAMPLE_TSDUS = _sample_tsdus()
ALL_STATES = sorted(STATES)
PRIMITIVES: list[SessionPrimitive] = [
    SConnect(requirements=P1_FU), SConnectAccept(requirements=P1_FU),
    SConnectRefuse(reason=0), SData(user_data=b"d"), STokenGive(tokens=Token.DATA),
    STokenPlease(tokens=Token.DATA), SControlGive(), SSyncMinor(), SSyncMinorConfirm(serial=1),
    SActivityStart(activity_id=b"A"), SActivityResume(activity_id=b"B", old_activity_id=b"A",
                                                      serial=3),
    SActivityInterrupt(), SActivityInterruptConfirm(), SActivityDiscard(),
    SActivityDiscardConfirm(), SActivityEnd(), SActivityEndConfirm(),
    SUExceptionReport(reason=0), SPExceptionReport(reason=0), SRelease(), SReleaseAccept(),
    SReleaseRefuse(), SUAbort(), SPAbort(),
]


def test_state_table_is_consistent() -> None:
    for (state, event), nxt in TRANSITIONS.items():
        assert state in STATES and nxt in STATES
        assert event in OUTGOING | INCOMING
    assert {"SCONreq", "SDTreq", "SUABreq"} <= OUTGOING
    assert len(SAMPLE_TSDUS) > 30


@pytest.mark.parametrize("state", ALL_STATES)
def test_every_state_every_spdu(state: str) -> None:
    """Each recorded SPDU in each state: accepted or ProtocolError, nothing else."""
    for tsdu in SAMPLE_TSDUS:
        _, e = _reach(state)
        assert e.state == state
        try:
            e.receive(tsdu)
        except ProtocolError as exc:
            assert exc.layer == "session" and e.state == "STA01"


@pytest.mark.parametrize("state", ALL_STATES)
def test_every_state_every_primitive(state: str) -> None:
    """Each primitive in each state: sent, or refused as a *local* error."""
    for prim in PRIMITIVES:
        _, e = _reach(state)
        try:
            e.send(prim)
        except ProtocolError as exc:
            assert "local" in str(exc) and exc.layer == "session"
            assert e.state == state  # a local error changes nothing


def test_every_truncation_in_idle_and_data_states() -> None:
    """Every prefix of every recorded TSDU: accepted or ProtocolError, never anything else."""
    base = _data_state()
    errors = 0
    for tsdu in SAMPLE_TSDUS:
        for cut in range(1, min(len(tsdu), 300)):
            for engine in (SessionEngine("responder"), copy.deepcopy(base.r)):
                try:
                    engine.receive(tsdu[:cut])
                except ProtocolError:
                    errors += 1
                    assert engine.state == "STA01"
    assert errors > 1000


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_in_every_state(data: bytes) -> None:
    for state in ("STA01", "STA08", "STA713", "STA04B", "STA10B", "STA03"):
        _, e = _reach(state)
        try:
            e.receive(data)
        except ProtocolError:
            assert e.state == "STA01"


# ---------------------------------------------------------------------- hypothesis walks
CONFIRM_LAST = SSyncMinorConfirm(serial=-1)  # stands for "confirm the last S-SYNC-MINOR seen"
ACTIONS = st.sampled_from([
    ("i", SData(user_data=b"x")), ("r", SData(user_data=b"y")),
    ("i", STokenGive(tokens=Token.DATA)), ("r", STokenGive(tokens=Token.DATA)),
    ("i", STokenGive(tokens=Token.MAJOR_ACTIVITY | Token.MINOR_SYNC | Token.DATA)),
    ("r", STokenGive(tokens=Token.MAJOR_ACTIVITY | Token.MINOR_SYNC | Token.DATA)),
    ("i", STokenPlease(tokens=Token.DATA)), ("r", STokenPlease(tokens=Token.MAJOR_ACTIVITY)),
    ("i", SControlGive()), ("r", SControlGive()),
    ("i", SSyncMinor()), ("r", SSyncMinor(confirm_required=False)),
    ("i", SSyncMinorConfirm(serial=1)), ("r", SSyncMinorConfirm(serial=2)),
    ("i", CONFIRM_LAST), ("r", CONFIRM_LAST), ("r", CONFIRM_LAST),
    ("i", SActivityStart(activity_id=b"A")), ("r", SActivityStart(activity_id=b"B")),
    ("i", SActivityResume(activity_id=b"C", old_activity_id=b"A", serial=7)),
    ("i", SActivityInterrupt()), ("r", SActivityInterrupt()),
    ("i", SActivityInterruptConfirm()), ("r", SActivityInterruptConfirm()),
    ("i", SActivityDiscard()), ("r", SActivityDiscard()),
    ("i", SActivityDiscardConfirm()), ("r", SActivityDiscardConfirm()),
    ("i", SActivityEnd()), ("r", SActivityEnd()),
    ("i", SActivityEndConfirm()), ("r", SActivityEndConfirm()),
    ("i", SUExceptionReport(reason=1)), ("r", SUExceptionReport(reason=1)),
    ("i", SRelease()), ("r", SRelease()),
    ("i", SReleaseAccept()), ("r", SReleaseAccept()),
    ("i", SReleaseRefuse()), ("r", SReleaseRefuse()),
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fu=st.sampled_from([P1_FU, P1_FU | FunctionalUnit.NEGOTIATED_RELEASE,
                           FunctionalUnit.HALF_DUPLEX | FunctionalUnit.EXCEPTIONS,
                           FunctionalUnit.DUPLEX | FunctionalUnit.MINOR_SYNC]),
       walk=st.lists(ACTIONS, max_size=40))
def test_random_walks_stay_symmetric(fu: FunctionalUnit,
                                     walk: list[tuple[str, SessionPrimitive]]) -> None:
    """Whatever one side may send, the other accepts; tokens and serials stay in step."""
    p = Pair()
    p.connect(fu)
    last_sync: dict[str, int] = {}
    for side, prim in walk + [("r", SUAbort(user_data=b"bye"))]:
        src = p.i if side == "i" else p.r
        if prim is CONFIRM_LAST:
            prim = SSyncMinorConfirm(serial=last_sync.get(side, 0))
        try:
            tsdu = src.send(prim)
        except ProtocolError as exc:
            assert "local" in str(exc)
            continue
        if tsdu:
            p.deliver(p.peer(src), tsdu)  # must not raise: the sender was allowed to send it
        for name, eng in (("i", p.i), ("r", p.r)):
            for ev in drain(eng):
                if isinstance(ev, SSyncMinor) and ev.serial is not None:
                    last_sync[name] = ev.serial
        if p.i.state == p.r.state == "STA713":
            assert p.i.tokens_owned & p.r.tokens_owned == Token(0)
            assert p.i.tokens_owned | p.r.tokens_owned == p.i.tokens_available
            assert p.i.next_serial == p.r.next_serial
            assert p.i.in_activity == p.r.in_activity
        if "STA01" in (p.i.state, p.r.state):
            break
    assert "STA01" in (p.i.state, p.r.state)


# ---------------------------------------------------------------------- hot path
def test_data_throughput() -> None:
    p = _data_state()
    msg = bytes(10 * 1024)
    start = time.perf_counter()
    for _ in range(2000):
        p.r.receive(p.i.send(SData(user_data=msg)))
        p.r.next_event()
    assert time.perf_counter() - start < 1.0  # the whole stack's budget: 500 msg/s


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fu=st.sampled_from([P1_FU, P1_FU | FunctionalUnit.NEGOTIATED_RELEASE]),
       walk=st.lists(st.tuples(ACTIONS, st.integers(0, 3)), max_size=40))
def test_random_interleavings_only_raise_protocol_errors(
        fu: FunctionalUnit, walk: list[tuple[tuple[str, SessionPrimitive], int]]) -> None:
    """TSDUs in flight both ways, delivered late: collisions may fail, but only cleanly."""
    p = Pair()
    p.connect(fu)
    queues: dict[str, list[bytes]] = {"i": [], "r": []}  # TSDUs on their way *to* i / r
    last_sync: dict[str, int] = {}

    def pump(name: str, n: int) -> None:
        dst = p.i if name == "i" else p.r
        while queues[name] and n > 0:
            n -= 1
            try:
                dst.receive(queues[name].pop(0))
            except ProtocolError as exc:
                assert exc.layer == "session" and dst.state == "STA01"
            queues["r" if name == "i" else "i"] += dst.tsdus_to_send()
            for ev in drain(dst):
                if isinstance(ev, SSyncMinor) and ev.serial is not None:
                    last_sync[name] = ev.serial

    for (side, prim), lag in walk:
        src = p.i if side == "i" else p.r
        if prim is CONFIRM_LAST:
            prim = SSyncMinorConfirm(serial=last_sync.get(side, 0))
        try:
            tsdu = src.send(prim)
        except ProtocolError as exc:
            assert "local" in str(exc)
        else:
            if tsdu:
                queues["r" if side == "i" else "i"].append(tsdu)
        pump("i", lag)
        pump("r", lag)
    pump("i", 1000)
    pump("r", 1000)


# ---------------------------------------------------------------------- concatenation (O-4)
def _category_pairs(wire: list[bytes]) -> list[tuple[int, int]]:
    """(category 0 SI, category 2 SI) of every concatenated TSDU on the wire."""
    out = []
    for tsdu in wire:
        spdus = sp.decode_tsdu(tsdu)
        if spdus[0].category == 0:
            out += [(spdus[0].si, s.si) for s in spdus[1:]]
    return out


def test_every_category_2_spdu_travels_with_the_token_spdu_x225_wants() -> None:
    """X.225 §6.3.7: acknowledgements (MIA, AEA/MAA, AIA, ADA) and reports (ER, ED) behind
    PLEASE TOKENS, what the token holder sends (DT, MIP, AS, AR, AE, AI, AD) behind GIVE
    TOKENS.  ISODE aborts on anything else (x400-samples/pp/pp-to-responder-abort-after-ack)."""
    p = Pair()
    p.connect()
    p.send(p.i, SActivityStart(activity_id=b"A1"))
    p.send(p.i, SData(user_data=b"x"))
    p.send(p.i, SSyncMinor())
    p.send(p.r, SSyncMinorConfirm(serial=1))
    p.send(p.i, SActivityInterrupt(reason=1))
    p.send(p.r, SActivityInterruptConfirm())
    old = ConnectionIdentifier(calling_ss_user_reference=b"me", common_reference=b"c")
    p.send(p.i, SActivityResume(activity_id=b"A2", old_activity_id=b"A1", serial=1,
                                old_connection_id=old))
    p.send(p.r, SUExceptionReport(reason=3))
    p.send(p.i, SActivityDiscard(reason=3))
    p.send(p.r, SActivityDiscardConfirm())
    p.send(p.i, SActivityStart(activity_id=b"A3"))
    p.send(p.i, SActivityEnd())
    p.send(p.r, SActivityEndConfirm())
    pairs = _category_pairs(p.wire)
    sent = {si for _, si in pairs}
    assert {sp.SI.DT, sp.SI.MIP, sp.SI.MIA, sp.SI.AI, sp.SI.AIA, sp.SI.AR, sp.SI.ED,
            sp.SI.AD, sp.SI.ADA, sp.SI.AS, sp.SI.AE, sp.SI.AEA} <= sent
    for cat0, si in pairs:
        want = sp.SI.PT if si in sp.PLEASE_TOKENS_PREFIXED else sp.SI.GT
        assert cat0 == want, f"SPDU {si} sent behind {cat0}, X.225 wants {want}"
    assert sp.PLEASE_TOKENS_PREFIXED | sp.GIVE_TOKENS_PREFIXED == sp.CATEGORY_2


@pytest.mark.parametrize("prefix", [b"\x01\x00", b"\x02\x00"], ids=["GT", "PT"])
def test_acknowledgements_behind_either_token_spdu_are_accepted(prefix: bytes) -> None:
    """Accept both on input: our releases before issue 11 sent GT before MIA/AEA."""
    p = Pair()
    p.connect()
    p.send(p.i, SActivityStart(activity_id=b"A"))
    p.i.send(SSyncMinor())
    p.i.receive(prefix + b"\x32\x03\x2a\x01\x31")           # MIA serial 1
    assert drain(p.i) == [SSyncMinorConfirm(serial=1)]
    p.i.send(SActivityEnd())
    p.i.receive(prefix + b"\x2a\x03\x2a\x01\x32")           # AEA serial 2
    assert drain(p.i) == [SActivityEndConfirm()]
