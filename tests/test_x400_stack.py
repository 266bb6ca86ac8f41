"""The whole stack (COTP .. P1) as initiator <-> responder engines through bytes (O-1..O-4).

Both modes, bind accepted / refused, many transfers on one association, checkpointing with a
window, release, abort, the real Isode bind bytes, hostile input.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.codec.rtpdu import MTABind
from bridge.errors import ProtocolError
from bridge.x400.cotp import COTPEngine, TConnect
from bridge.x400.mta import (
    Aborted,
    AbortRequest,
    BindAccept,
    BindError,
    BindIndication,
    BindReject,
    BindRequest,
    Release,
    ReleaseConfirm,
    Transfer,
    TransferAccept,
    TransferConfirm,
)
from bridge.x400.stack import Stack
from tests.osi_wire import events, isode_frames, pump

APDU_DIR = Path(__file__).parent / "data" / "samples"

def apdus() -> list[bytes]:
    return [p.read_bytes() for p in sorted(APDU_DIR.glob("*.p1.ber"))]


def bound_pair(mode: str = "normal", *, checkpoint: int = 0, window: int = 3) \
        -> tuple[Stack, Stack]:
    ini = Stack("initiator", mode=mode)  # type: ignore[arg-type]
    res = Stack("responder", mode=None)
    ini.send(BindRequest(name="percival", password="excalibur", checkpoint_size=checkpoint,
                         window_size=window))
    pump(ini, res)
    [ind] = events(res)
    assert isinstance(ind, BindIndication)
    assert ind.initiator == MTABind(name="percival", password="excalibur")
    assert ind.mode == mode
    assert (ind.checkpoint_size, ind.window_size) == (checkpoint, window)
    res.send(BindAccept(responder=MTABind(name="guinevere", password="merlin")))
    pump(ini, res)
    [conf] = events(ini)
    assert conf == BindAccept(responder=MTABind(name="guinevere", password="merlin"))
    return ini, res


def transfer(ini: Stack, res: Stack, apdu: bytes) -> None:
    ini.send(Transfer(apdu=apdu))
    pump(ini, res)
    [ind] = events(res)
    assert ind == Transfer(apdu=apdu)
    assert events(ini) == []            # not confirmed before the receiver says it is durable
    res.send(TransferAccept())
    pump(ini, res)
    assert events(ini) == [TransferConfirm()]


@pytest.mark.parametrize("mode", ["normal", "x410"])
def test_bind_transfer_release(mode: str) -> None:
    """O-4: one association carries many MTS-APDUs, then an orderly release."""
    ini, res = bound_pair(mode)
    for apdu in apdus():
        transfer(ini, res, apdu)
    transfer(ini, res, os.urandom(200_000))          # larger than one TPDU: segmented
    ini.send(Release())
    pump(ini, res)
    assert events(res) == [Release()]
    res.send(ReleaseConfirm())
    pump(ini, res)
    assert events(ini) == [ReleaseConfirm()]


@pytest.mark.parametrize("mode", ["normal", "x410"])
@pytest.mark.parametrize(("checkpoint", "window", "size"),
                         [(1, 1, 5000), (1, 3, 10_240), (2, 2, 1), (4, 3, 100_000)])
def test_checkpointing_with_window(mode: str, checkpoint: int, window: int, size: int) -> None:
    """X.228 §7.4.2: minor syncs every checkpoint-size KiB, at most window unconfirmed."""
    ini, res = bound_pair(mode, checkpoint=checkpoint, window=window)
    data = os.urandom(size)
    ini.send(Transfer(apdu=data))
    # step the exchange by hand: the sender never has more than `window` syncs outstanding
    for _ in range(1000):
        assert ini.mta.rtse._unconfirmed <= window
        x = ini.data_to_send()
        y = res.data_to_send()
        if not x and not y:
            break
        if x:
            res.receive_data(x)
        if y:
            ini.receive_data(y)
    [ind] = events(res)
    assert ind == Transfer(apdu=data)
    res.send(TransferAccept())
    pump(ini, res)
    assert events(ini) == [TransferConfirm()]


@pytest.mark.parametrize("mode", ["normal", "x410"])
def test_bind_refused(mode: str) -> None:
    """A wrong password gets a bind error (X.411 §12.1.3) and the association ends."""
    ini = Stack("initiator", mode=mode)  # type: ignore[arg-type]
    res = Stack("responder", mode=None)
    ini.send(BindRequest(name="percival", password="wrong"))
    pump(ini, res)
    [ind] = events(res)
    assert isinstance(ind, BindIndication)
    res.send(BindReject(error=BindError.AUTHENTICATION_ERROR))
    pump(ini, res)
    [ev] = events(ini)
    assert isinstance(ev, BindReject)
    if mode == "normal":        # X.410 mode's PRefuse has no room for the error value
        assert ev.error == BindError.AUTHENTICATION_ERROR
    with pytest.raises(ProtocolError):
        ini.send(Transfer(apdu=b"x"))


def test_abort_mid_transfer() -> None:
    ini, res = bound_pair("normal", checkpoint=1, window=1)
    ini.send(Transfer(apdu=os.urandom(8000)))
    res.receive_data(ini.data_to_send())
    res.send(AbortRequest())
    pump(ini, res)
    [ev] = events(ini)
    assert isinstance(ev, Aborted)


def test_transport_closed_mid_transfer() -> None:
    ini, res = bound_pair("normal")
    ini.send(Transfer(apdu=b"\x30\x00"))
    res.receive_data(b"")            # TCP closed before the data arrived
    assert any(isinstance(e, Aborted) for e in events(res))


def test_real_isode_bind_is_accepted() -> None:
    """The real M-Switch connect/bind bytes: our responder sees percival/excalibur."""
    frames = isode_frames()
    res = Stack("responder", mode=None)
    cr = COTPEngine("initiator").send(TConnect())
    res.receive_data(cr)
    assert res.data_to_send()[5] == 0xD0            # CC TPDU after the TPKT header
    res.receive_data(frames["I"])
    [ind] = events(res)
    assert isinstance(ind, BindIndication)
    assert ind.initiator == MTABind(name="percival.smhs.co.uk", password="excalibur")
    assert (ind.mode, ind.checkpoint_size, ind.window_size) == ("normal", 63, 3)
    res.send(BindAccept(responder=MTABind(name="guinevere.smhs.co.uk", password="merlin")))
    answer = res.data_to_send()
    assert answer[:4] == b"\x03\x00" + len(answer).to_bytes(2, "big")


def test_real_isode_bind_result_is_accepted_by_initiator() -> None:
    """Our initiator takes the real M-Switch bind result (frame O) as a bind result."""
    frames = isode_frames()
    ini = Stack("initiator", mode="normal")
    ini.send(BindRequest(name="percival.smhs.co.uk", password="excalibur", checkpoint_size=63))
    responder_cotp = COTPEngine("responder")
    responder_cotp.receive_data(ini.data_to_send())
    from bridge.x400.cotp import TConnectAccept
    assert responder_cotp.next_event() is not None
    ini.receive_data(responder_cotp.send(TConnectAccept()))
    assert ini.data_to_send()                      # our CN went out
    ini.receive_data(frames["O"])
    [ev] = events(ini)
    assert ev == BindAccept(responder=MTABind(name="guinevere.smhs.co.uk", password="merlin"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=3000), st.integers(0, 3))
def test_hostile_bytes_never_crash(garbage: bytes, where: int) -> None:
    """Random octets at any phase: ProtocolError or nothing -- never another exception."""
    ini, res = bound_pair("normal") if where else (None, Stack("responder", mode=None))
    target = res
    if where == 2:
        assert ini is not None
        ini.send(Transfer(apdu=b"\x30\x03\x02\x01\x05"))
        res.receive_data(ini.data_to_send()[:-3])
    if where == 3 and ini is not None:
        target = ini
    try:
        target.receive_data(b"\x03\x00" + len(garbage).to_bytes(2, "big")[-2:] + garbage
                            if where % 2 else garbage)
        events(target)
    except ProtocolError:
        assert target.closed


def test_ten_megabytes_of_garbage_is_refused_fast() -> None:
    res = Stack("responder", mode=None)
    blob = os.urandom(10 * 1024 * 1024)
    with pytest.raises(ProtocolError):
        for i in range(0, len(blob), 65536):
            res.receive_data(blob[i:i + 65536])
    assert res.closed
