"""RFC 1006 TPKT framing and X.224 class 0: an initiator and a responder engine wired in memory."""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import ProtocolError
from bridge.x400.cotp import (
    DEFAULT_MAX_TPDU_SIZE,
    TRANSITIONS,
    COTPEngine,
    COTPState,
    DisconnectReason,
    TConnect,
    TConnectAccept,
    TData,
    TDisconnect,
    TransportPrimitive,
)
from bridge.x400.tpkt import TPKTFramer
from tests.osi_wire import isode_frames

# -- helpers ----------------------------------------------------------------------------------


def events(engine: COTPEngine) -> list[TransportPrimitive]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def deliver(
    octets: bytes, engine: COTPEngine, *, step: int | None = None
) -> list[TransportPrimitive]:
    """Feed ``octets`` to ``engine`` (in ``step``-octet pieces if given) and return its events."""
    if step is None:
        engine.receive_data(octets)
    else:
        for i in range(0, len(octets), step):
            engine.receive_data(octets[i : i + step])
    return events(engine)


def connect(
    request: TConnect | None = None,
    accept: TConnectAccept | None = None,
    *,
    initiator_max: int = DEFAULT_MAX_TPDU_SIZE,
    responder_max: int = DEFAULT_MAX_TPDU_SIZE,
    max_tsdu: int = 64 * 1024 * 1024,
) -> tuple[COTPEngine, COTPEngine, TConnect, TConnectAccept]:
    """CR/CC through bytes; return both engines and the indication and confirm they produced."""
    a = COTPEngine("initiator", max_tpdu_size=initiator_max, max_tsdu=max_tsdu)
    b = COTPEngine("responder", max_tpdu_size=responder_max, max_tsdu=max_tsdu)
    [indication] = deliver(a.send(request or TConnect()), b)
    assert isinstance(indication, TConnect)
    assert (a.state, b.state) == (COTPState.WFCC, COTPState.WFTRESP)
    [confirm] = deliver(b.send(accept or TConnectAccept()), a)
    assert isinstance(confirm, TConnectAccept)
    assert (a.state, b.state) == (COTPState.OPEN, COTPState.OPEN)
    assert a.max_tpdu_size == b.max_tpdu_size == confirm.max_tpdu_size
    return a, b, indication, confirm


def tpkt(tpdu: bytes) -> bytes:
    return TPKTFramer.frame(tpdu)


# -- TPKT -------------------------------------------------------------------------------------


def test_tpkt_frame_and_split_across_feeds() -> None:
    framer = TPKTFramer()
    stream = TPKTFramer.frame(b"\x02\xf0\x80abc") + TPKTFramer.frame(b"\x02\xf0\x80")
    assert stream[:4] == b"\x03\x00\x00\x0a"
    framer.feed(stream[:5])
    assert framer.next_packet() is None
    framer.feed(stream[5:])
    assert framer.next_packet() == b"\x02\xf0\x80abc"
    assert framer.next_packet() == b"\x02\xf0\x80"
    assert framer.next_packet() is None
    assert framer.buffered == 0


def test_tpkt_reserved_octet_ignored() -> None:
    framer = TPKTFramer()
    framer.feed(b"\x03\xff\x00\x07\x02\xf0\x80")  # RFC 2126 §6.10: reserved ignored on input
    assert framer.next_packet() == b"\x02\xf0\x80"


@pytest.mark.parametrize(
    "header, reason",
    [(b"\x04", "version 4"), (b"\x03\x00\x00\x06", "length 6"), (b"\x03\x00\x00\x00", "length 0")],
)
def test_tpkt_bad_header(header: bytes, reason: str) -> None:
    framer = TPKTFramer()
    with pytest.raises(ProtocolError, match=reason) as info:
        framer.feed(header)
    assert info.value.layer == "tpkt"
    with pytest.raises(ProtocolError):  # stays failed
        framer.next_packet()


def test_tpkt_max_packet_limit() -> None:
    framer = TPKTFramer(max_packet=100)
    with pytest.raises(ProtocolError, match="101"):
        framer.feed(b"\x03\x00\x00\x65")


def test_tpkt_frame_rejects_oversize() -> None:
    with pytest.raises(ValueError):
        TPKTFramer.frame(bytes(65532))
    with pytest.raises(ValueError):
        TPKTFramer.frame(b"\x01\x02")
    assert len(TPKTFramer.frame(bytes(65531))) == 65535


# -- connection establishment -------------------------------------------------------------------


def test_connect_with_selectors_and_user_data() -> None:
    a, b, ind, conf = connect(
        TConnect(calling_tsel=b"\x00\x01", called_tsel=b"MTA", user_data=b"hello"),
        TConnectAccept(responding_tsel=b"MTA", user_data=b"welcome"),
    )
    assert ind == TConnect(calling_tsel=b"\x00\x01", called_tsel=b"MTA", user_data=b"hello")
    assert conf == TConnectAccept(responding_tsel=b"MTA", user_data=b"welcome")
    assert a.max_tpdu_size == DEFAULT_MAX_TPDU_SIZE


def test_cr_wire_format() -> None:
    a = COTPEngine("initiator")
    octets = a.send(TConnect(calling_tsel=b"\x01", called_tsel=b"\x02"))
    # TPKT, LI 12, CR, DST-REF 0, SRC-REF, class 0, C1 01 01, C2 01 02; no size (65531 default)
    assert octets[:5] == b"\x03\x00\x00\x11\x0c"
    assert octets[5] == 0xE0
    assert octets[6:8] == b"\x00\x00"
    assert octets[10] == 0x00
    assert octets[11:] == b"\xc1\x01\x01\xc2\x01\x02"


def test_cc_echoes_source_reference() -> None:
    b = COTPEngine("responder")
    cr = b"\x06\xe0\x00\x00\x12\x34\x00"
    deliver(tpkt(cr), b)
    cc = b.send(TConnectAccept())[4:]
    assert cc[1] == 0xD0 and cc[2:4] == b"\x12\x34" and cc[6] == 0


@pytest.mark.parametrize(
    "initiator_max, responder_max, expected",
    [
        (DEFAULT_MAX_TPDU_SIZE, DEFAULT_MAX_TPDU_SIZE, 65531),  # RFC 1006 §5 default both ways
        (1024, DEFAULT_MAX_TPDU_SIZE, 1024),  # 0xC0 proposal
        (DEFAULT_MAX_TPDU_SIZE, 2048, 2048),  # the responder narrows it, named in the CC
        (4096, 512, 512),
        (128, 8192, 128),
        (60000, DEFAULT_MAX_TPDU_SIZE, 59904),  # 0xF0: 468 * 128
        (60000, 30000, 29952),  # 0xF0 both ways: 234 * 128
        (DEFAULT_MAX_TPDU_SIZE, 30000, 16384 // 2),  # peer did not use 0xF0: 2**13
    ],
)
def test_size_negotiation(initiator_max: int, responder_max: int, expected: int) -> None:
    a, b, ind, conf = connect(initiator_max=initiator_max, responder_max=responder_max)
    assert conf.max_tpdu_size == expected == a.max_tpdu_size == b.max_tpdu_size


def test_size_from_tconnect_primitive() -> None:
    _, _, ind, conf = connect(TConnect(max_tpdu_size=256), TConnectAccept(max_tpdu_size=8192))
    assert ind.max_tpdu_size == 256 and conf.max_tpdu_size == 256


@pytest.mark.parametrize(
    "params, proposed",
    [
        (b"", 65531),  # RFC 1006 §5
        (b"\xc0\x01\x07", 128),
        (b"\xc0\x01\x0d", 8192),
        (b"\xf0\x02\x00\x08", 1024),  # 8 * 128
        (b"\xc0\x01\x0a\xf0\x01\x10", 2048),  # 0xF0 wins over 0xC0
        (b"\xf0\x04\x00\x01\x00\x00", 65531),  # 65536 * 128, capped to what a TPKT holds
        (b"\xc6\x01\x00\x99\x03abc", 65531),  # unknown and optional parameters ignored
    ],
)
def test_peer_cr_size_parameters(params: bytes, proposed: int) -> None:
    b = COTPEngine("responder")
    cr = bytes((6 + len(params),)) + b"\xe0\x00\x00\x00\x01\x00" + params
    [ind] = deliver(tpkt(cr), b)
    assert isinstance(ind, TConnect) and ind.max_tpdu_size == proposed
    b.send(TConnectAccept())
    assert b.max_tpdu_size == proposed


@pytest.mark.parametrize("params", [b"\xc0\x01\x06", b"\xc0\x01\x0e", b"\xc0\x02\x07\x00",
                                    b"\xf0\x01\x00", b"\xc0\x05\x07"])
def test_peer_cr_bad_size_parameter(params: bytes) -> None:
    b = COTPEngine("responder")
    cr = bytes((6 + len(params),)) + b"\xe0\x00\x00\x00\x01\x00" + params
    with pytest.raises(ProtocolError) as info:
        b.receive_data(tpkt(cr))
    assert info.value.layer == "cotp" and b.state is COTPState.RELEASED


def test_cc_without_size_keeps_initiator_proposal() -> None:
    a = COTPEngine("initiator", max_tpdu_size=1024)
    a.send(TConnect())
    [conf] = deliver(tpkt(b"\x06\xd0\x00\x01\x00\x02\x00"), a)
    assert isinstance(conf, TConnectAccept) and conf.max_tpdu_size == 1024


def test_class_negotiation() -> None:
    # preferred class 2 with alternative class 0 (RFC 2126 §6.3) is answered with class 0
    b = COTPEngine("responder")
    deliver(tpkt(b"\x09\xe0\x00\x00\x00\x01\x20\xc7\x01\x00"), b)
    assert b.send(TConnectAccept())[10] == 0x00
    # class 2 alone cannot be served
    with pytest.raises(ProtocolError, match="class 2"):
        COTPEngine("responder").receive_data(tpkt(b"\x06\xe0\x00\x00\x00\x01\x20"))
    # a CC selecting class 2 answers a class 0 CR wrongly
    a = COTPEngine("initiator")
    a.send(TConnect())
    with pytest.raises(ProtocolError, match="class 2"):
        a.receive_data(tpkt(b"\x06\xd0\x00\x01\x00\x02\x20"))


def test_connect_user_data_limits() -> None:
    a = COTPEngine("initiator")
    with pytest.raises(ValueError):
        a.send(TConnect(user_data=bytes(33)))
    assert a.state is COTPState.CLOSED  # unchanged by the failed request
    # receiving: RFC 1006 §5 sets no bound, so larger connect data is accepted
    b = COTPEngine("responder")
    [ind] = deliver(tpkt(b"\x06\xe0\x00\x00\x00\x01\x00" + bytes(100)), b)
    assert isinstance(ind, TConnect) and ind.user_data == bytes(100)


# -- data transfer -------------------------------------------------------------------------------


@pytest.mark.parametrize("tpdu_size", [DEFAULT_MAX_TPDU_SIZE, 128, 1024])
@pytest.mark.parametrize("delta", [None, 0, 1, -3, -2])
def test_tsdu_sizes_round_trip(tpdu_size: int, delta: int | None) -> None:
    a, b, _, _ = connect(initiator_max=tpdu_size)
    length = 0 if delta is None else (tpdu_size + delta if delta < 0 else delta)
    data = bytes(random.Random(length).randbytes(length))
    octets = a.send(TData(data=data))
    per_dt = min(tpdu_size - 3, 65524)          # RFC 1006 §6 caps the data of one DT
    segments = max(1, -(-length // per_dt))
    assert len(octets) == length + 7 * segments
    assert deliver(octets, b) == [TData(data=data)]
    assert deliver(b.send(TData(data=data)), a) == [TData(data=data)]


def test_one_dt_holds_max_minus_3() -> None:
    a, _, _, _ = connect(initiator_max=1024)
    assert len(a.send(TData(data=bytes(1021)))) == 1024 + 4  # one TPKT, EOT set
    two = a.send(TData(data=bytes(1022)))
    assert two[6] == 0x00 and two[4 + 1024 + 6] == 0x80  # first DT without EOT, second with


def test_one_megabyte_round_trip() -> None:
    a, b, _, _ = connect()
    data = random.Random(1).randbytes(1024 * 1024)
    octets = a.send(TData(data=data))
    assert deliver(octets, b) == [TData(data=data)]
    assert b.buffered == 0


def test_octet_at_a_time_gives_same_events() -> None:
    a, b, _, _ = connect()
    octets = b"".join(a.send(TData(data=d)) for d in (b"", b"x", bytes(70000), b"end"))
    expected = deliver(octets, connect()[1])
    assert deliver(octets, b, step=1) == expected
    assert [len(e.data) for e in expected if isinstance(e, TData)] == [0, 1, 70000, 3]


def test_connect_octet_at_a_time() -> None:
    a = COTPEngine("initiator")
    b = COTPEngine("responder")
    [ind] = deliver(a.send(TConnect(called_tsel=b"x", user_data=b"u")), b, step=1)
    assert ind == TConnect(called_tsel=b"x", user_data=b"u")
    [conf] = deliver(b.send(TConnectAccept(max_tpdu_size=512)), a, step=1)
    assert conf == TConnectAccept(max_tpdu_size=512)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tsdus=st.lists(st.binary(max_size=3000), max_size=8),
    tpdu_size=st.sampled_from([128, 256, 1024, DEFAULT_MAX_TPDU_SIZE]),
    cuts=st.lists(st.integers(min_value=0, max_value=30000), max_size=12),
)
def test_random_tsdus_and_splits_round_trip(
    tsdus: list[bytes], tpdu_size: int, cuts: list[int]
) -> None:
    a, b, _, _ = connect(initiator_max=tpdu_size)
    stream = b"".join(a.send(TData(data=d)) for d in tsdus)
    points = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    got = []
    for start, end in zip(points, points[1:], strict=False):
        b.receive_data(stream[start:end])
        got.extend(events(b))
    assert got == [TData(data=d) for d in tsdus]
    assert b.buffered == 0 and b.reassembling == 0


# -- release -------------------------------------------------------------------------------------


def test_refusal_with_dr() -> None:
    a = COTPEngine("initiator")
    b = COTPEngine("responder")
    deliver(a.send(TConnect()), b)
    octets = b.send(TDisconnect(reason=DisconnectReason.CONNECTION_REQUEST_REFUSED))
    assert octets[5] == 0x80 and b.state is COTPState.RELEASED
    [ind] = deliver(octets, a)
    assert isinstance(ind, TDisconnect) and ind.reason == 136
    assert "connection request refused" in ind.detail
    assert a.state is COTPState.RELEASED
    with pytest.raises(ProtocolError):
        a.send(TData(data=b"x"))


def test_dr_user_data_not_sent_in_class_0() -> None:
    b = COTPEngine("responder")
    deliver(COTPEngine("initiator").send(TConnect()), b)
    with pytest.raises(ValueError):
        b.send(TDisconnect(user_data=b"x"))


def test_disconnect_is_tcp_close() -> None:
    a, b, _, _ = connect()
    assert a.send(TDisconnect()) == b"" and a.state is COTPState.RELEASED
    assert a.send(TDisconnect()) == b""  # idempotent
    [ind] = deliver(b"", b)  # the shell closed TCP: N-DISCONNECT indication
    assert isinstance(ind, TDisconnect) and "N-DISCONNECT" in ind.detail
    assert b.state is COTPState.RELEASED
    assert deliver(b"", b) == [] and deliver(b"\x03\x00\x00\x07\x02\xf0\x80", b) == []


def test_tcp_close_mid_tsdu() -> None:
    a, b, _, _ = connect(initiator_max=128)
    octets = a.send(TData(data=bytes(500)))
    deliver(octets[:200], b)
    [ind] = deliver(b"", b)
    assert isinstance(ind, TDisconnect) and "unfinished TSDU" in ind.detail


def test_dr_in_data_phase_and_er() -> None:
    _, b, _, _ = connect()
    [ind] = deliver(tpkt(b"\x08\x80\x00\x01\x00\x02\x80\xe0\x00"), b)
    assert isinstance(ind, TDisconnect) and ind.reason == DisconnectReason.NORMAL
    _, b, _, _ = connect()
    [ind] = deliver(tpkt(b"\x08\x70\x00\x01\x02\xc1\x02\x02\x10"), b)
    assert isinstance(ind, TDisconnect) and ind.reason == DisconnectReason.PROTOCOL_ERROR
    assert "invalid tpdu type" in ind.detail and "0210" in ind.detail


# -- the state table, every (state, input) pair --------------------------------------------------

PEER_TPDUS = {
    "CR": b"\x06\xe0\x00\x00\x00\x01\x00",
    "CC": b"\x06\xd0\x00\x01\x00\x02\x00",
    "DR": b"\x06\x80\x00\x01\x00\x02\x00",
    "DT": b"\x02\xf0\x80x",
    "ER": b"\x04\x70\x00\x01\x00",
}
USER_REQUESTS: dict[str, TransportPrimitive] = {
    "TCONreq": TConnect(),
    "TCONresp": TConnectAccept(),
    "TDTreq": TData(data=b"x"),
    "TDISreq": TDisconnect(),
}
ROLE_ONLY = {"CR": "responder", "CC": "initiator", "TCONreq": "initiator", "TCONresp": "responder"}
REACHABLE = [
    ("initiator", COTPState.CLOSED),
    ("initiator", COTPState.WFCC),
    ("initiator", COTPState.OPEN),
    ("responder", COTPState.CLOSED),
    ("responder", COTPState.WFTRESP),
    ("responder", COTPState.OPEN),
]


def engine_in(role: str, state: COTPState) -> COTPEngine:
    engine = COTPEngine(role)  # type: ignore[arg-type]
    if role == "initiator" and state is not COTPState.CLOSED:
        engine.send(TConnect())
        if state is COTPState.OPEN:
            engine.receive_data(tpkt(PEER_TPDUS["CC"]))
    elif role == "responder" and state is not COTPState.CLOSED:
        engine.receive_data(tpkt(PEER_TPDUS["CR"]))
        if state is COTPState.OPEN:
            engine.send(TConnectAccept())
    events(engine)
    assert engine.state is state
    return engine


@pytest.mark.parametrize("role, state", REACHABLE)
@pytest.mark.parametrize("tpdu", sorted(PEER_TPDUS))
def test_every_state_and_peer_tpdu(role: str, state: COTPState, tpdu: str) -> None:
    engine = engine_in(role, state)
    expected = TRANSITIONS.get((state, tpdu))
    if expected is None or ROLE_ONLY.get(tpdu, role) != role:
        with pytest.raises(ProtocolError):
            engine.receive_data(tpkt(PEER_TPDUS[tpdu]))
        assert engine.state is COTPState.RELEASED
    else:
        engine.receive_data(tpkt(PEER_TPDUS[tpdu]))
        assert engine.state is expected
        assert len(events(engine)) == 1


@pytest.mark.parametrize("role, state", REACHABLE)
@pytest.mark.parametrize("request_name", sorted(USER_REQUESTS))
def test_every_state_and_user_request(role: str, state: COTPState, request_name: str) -> None:
    engine = engine_in(role, state)
    expected = TRANSITIONS.get((state, request_name))
    if expected is None or ROLE_ONLY.get(request_name, role) != role:
        with pytest.raises(ProtocolError):
            engine.send(USER_REQUESTS[request_name])
        assert engine.state is state  # a refused request changes nothing
    else:
        octets = engine.send(USER_REQUESTS[request_name])
        assert engine.state is expected
        assert bool(octets) == (request_name != "TDISreq" or state is COTPState.WFTRESP)


def test_released_engine_accepts_nothing() -> None:
    engine = engine_in("initiator", COTPState.OPEN)
    engine.send(TDisconnect())
    for request in ("TCONreq", "TCONresp", "TDTreq"):
        with pytest.raises(ProtocolError):
            engine.send(USER_REQUESTS[request])
    assert engine.send(TDisconnect()) == b""
    for tpdu in PEER_TPDUS.values():
        engine.receive_data(tpkt(tpdu))
    assert events(engine) == []


# -- hostile input ---------------------------------------------------------------------------------


def test_truncated_tpkt_no_event() -> None:
    a, b, _, _ = connect()
    octets = a.send(TData(data=b"hello"))
    assert deliver(octets[:-1], b) == []
    assert b.state is COTPState.OPEN and b.buffered == len(octets) - 1


@pytest.mark.parametrize(
    "octets, match",
    [
        (b"\x02\x00\x00\x07\x02\xf0\x80", "version"),
        (b"\x03\x00\x00\x05\x02\xf0", "length 5"),
        (tpkt(b"\x02\x90\x80"), "unknown code"),  # 0x90 is no TPDU code
        (tpkt(b"\x04\x60\x00\x01\x00"), "AK TPDU not valid"),  # class 2+ only
        (tpkt(b"\x04\xc0\x00\x01\x00\x02"), "DC TPDU not valid"),
        (tpkt(b"\x02\x10\x80x"), "ED TPDU"),
        (tpkt(b"\x04\xf0\x80\x00\x00"), "length indicator 4"),  # class 2 DT format
        (tpkt(b"\x06\xe0\x00\x00\x00\x01\x00"), "CR TPDU not allowed in state OPEN"),  # second CR
        (tpkt(b"\xff\x80\x00\x01\x00\x02\x00"), "length indicator 255"),
        (tpkt(b"\x08\x80\x00\x01\x00\x02\x80\xe0\x05"), "overruns"),
        (tpkt(b"\x07\x80\x00\x01\x00\x02\x80\xe0"), "truncated parameter"),
        (tpkt(b"\x03\xe0\x00"), "CR TPDU with invalid length indicator 3"),
        (tpkt(b"\x06\x70\x00\x01\x02"), "ER TPDU with invalid length indicator 6"),
    ],
)
def test_hostile_tpdus(octets: bytes, match: str) -> None:
    _, b, _, _ = connect()
    with pytest.raises(ProtocolError, match=match) as info:
        b.receive_data(octets)
    assert info.value.layer in ("tpkt", "cotp")
    assert b.state is COTPState.RELEASED
    assert deliver(b"\x03\x00\x00\x08\x02\xf0\x80x", b) == []  # later octets are discarded


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_dt_before_cc(role: str) -> None:
    engine = COTPEngine(role)  # type: ignore[arg-type]
    if role == "initiator":
        engine.send(TConnect())  # WFCC
    with pytest.raises(ProtocolError, match="DT TPDU in state"):
        engine.receive_data(tpkt(b"\x02\xf0\x80data"))


def test_wrong_role_and_state_requests() -> None:
    b = COTPEngine("responder")
    with pytest.raises(ProtocolError):
        b.send(TConnect())  # a responder does not send CR
    with pytest.raises(ProtocolError):
        b.send(TConnectAccept())  # no CR yet
    with pytest.raises(ProtocolError):
        b.send(TData(data=b"x"))
    a = COTPEngine("initiator")
    with pytest.raises(ProtocolError):  # a CR reaching an initiator
        a.receive_data(tpkt(b"\x06\xe0\x00\x00\x00\x01\x00"))


def test_cc_with_short_header() -> None:
    a = COTPEngine("initiator")
    a.send(TConnect())
    with pytest.raises(ProtocolError, match="CC TPDU with invalid length indicator 2"):
        a.receive_data(tpkt(b"\x02\xd0\x00"))


def test_cc_to_responder_rejected() -> None:
    b = COTPEngine("responder")
    with pytest.raises(ProtocolError, match="CC TPDU"):
        b.receive_data(tpkt(b"\x06\xd0\x00\x01\x00\x02\x00"))


def test_oversize_tsdu() -> None:
    a, b, _, _ = connect(max_tsdu=10_000)
    assert deliver(a.send(TData(data=bytes(10_000))), b) == [TData(data=bytes(10_000))]
    with pytest.raises(ProtocolError, match="TSDU exceeds"):
        b.receive_data(a.send(TData(data=bytes(10_001))))
    assert b.state is COTPState.RELEASED and b.reassembling == 0


def test_random_garbage_fails_fast_with_bounded_memory() -> None:
    rng = random.Random(1006)
    garbage = rng.randbytes(10 * 1024 * 1024)
    for start in (0, 1, 2, 3):
        _, b, _, _ = connect()
        tracemalloc.start()
        try:
            peak_buffer = 0
            with pytest.raises(ProtocolError):
                for i in range(start, len(garbage), 4096):
                    b.receive_data(garbage[i : i + 4096])
                    peak_buffer = max(peak_buffer, b.buffered)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak_buffer <= 65535
        assert peak < 2 * 1024 * 1024  # never near the 10 MB fed


def test_huge_chunk_in_one_call_bounded() -> None:
    """10 MB of well-formed non-final DTs in one call: fails at max_tsdu, the rest unread."""
    _, b, _, _ = connect(max_tsdu=1024 * 1024)
    chunk = tpkt(b"\x02\xf0\x00" + bytes(65528)) * 160  # 160 TPKTs of 65535 octets
    with pytest.raises(ProtocolError, match="TSDU exceeds"):
        b.receive_data(chunk)
    assert b.buffered == 0 and b.reassembling == 0


def test_engine_buffer_bounded_while_reading_valid_stream() -> None:
    a, b, _, _ = connect()
    stream = a.send(TData(data=bytes(3 * 1024 * 1024)))
    peak = 0
    for i in range(0, len(stream), 100_000):
        b.receive_data(stream[i : i + 100_000])
        peak = max(peak, b.buffered)
    assert peak < 65535  # only the incomplete TPKT is kept between calls
    assert [len(e.data) for e in events(b) if isinstance(e, TData)] == [3 * 1024 * 1024]


# -- real bytes: Isode M-Switch association start ------------------------------------------------


def test_real_isode_frame_parses() -> None:
    frames = isode_frames()
    first = frames["I"]
    assert first[:7] == b"\x03\x00\x00\xcd\x02\xf0\x80"
    responder = COTPEngine("responder")
    deliver(COTPEngine("initiator").send(TConnect()), responder)
    responder.send(TConnectAccept())
    assert deliver(first, responder) == [TData(data=first[7:])]
    # the responder's answer, fed to an initiator, parses the same way
    answer = frames["O"]
    initiator = COTPEngine("initiator")
    initiator.send(TConnect())
    deliver(tpkt(b"\x06\xd0\x00\x01\x00\x02\x00"), initiator)  # a plain class 0 CC
    assert deliver(answer, initiator) == [TData(data=answer[7:])]
