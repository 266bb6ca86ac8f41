"""Wireshark (tshark) dissects our RFC 1006 traffic: the independent check of the whole stack.

1. Our responder's answers to the real Isode bind (accept, and refuse for a wrong password).
2. A recorded in-memory association (bind, transfers incl. an IPM, release) written as a pcap.
3. A live loopback capture of our initiator against our responder over TCP (dumpcap on lo).

Every frame must dissect without malformed-packet or expert errors, down the chain
tpkt:cotp:ses:pres:acse:rtse(:ros):p1(:p22).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from bridge.codec.rtpdu import MTABind
from bridge.x400.cotp import COTPEngine, TConnect
from bridge.x400.mta import (
    BindAccept,
    BindError,
    BindReject,
    BindRequest,
    Release,
    ReleaseConfirm,
    Transfer,
    TransferAccept,
)
from bridge.x400.peers import LocalMTA, Peer, PeerTable
from bridge.x400.shell import Association, Responder
from bridge.x400.stack import Stack
from tests.oracle import require
from tests.osi_wire import Frame, dissect_file, dissect_stream, events, isode_frames

pytestmark = pytest.mark.oracle

SAMPLES = Path(__file__).parent / "data" / "samples"
CHAIN = "tpkt:cotp:ses"


def check_clean(frames: list[Frame]) -> list[Frame]:
    payload = [f for f in frames if f.has_payload]
    assert payload, "no RFC 1006 frames dissected"
    for f in payload:
        if f.protocols.endswith(":tpkt:cotp"):       # CR / CC: transport connection only
            assert f.layers["cotp"]["cotp.type"] in ("0x0e", "0x0d"), (f.number, f.layers)
            continue
        assert CHAIN in f.protocols, (f.number, f.protocols)
        assert not f.expert, (f.number, f.protocols, f.expert)
        assert "malformed" not in f.protocols, (f.number, f.protocols)
    return payload


def _answer_real_bind(tmp_path: Path, answer: BindAccept | BindReject) -> list[Frame]:
    """Our responder's answer to the real Isode bind, dissected together with it."""
    require("tshark")
    frames = isode_frames()
    res = Stack("responder", mode=None)
    res.receive_data(COTPEngine("initiator").send(TConnect()))
    res.data_to_send()
    res.receive_data(frames["I"])
    events(res)
    res.send(answer)
    ours = res.data_to_send()
    return check_clean(dissect_stream([("I", frames["I"]), ("O", ours)], tmp_path))


def test_our_bind_result_to_the_real_isode_bind(tmp_path: Path) -> None:
    dissected = _answer_real_bind(tmp_path, BindAccept(
        responder=MTABind(name="guinevere.smhs.co.uk", password="merlin")))
    answer = dissected[-1]
    assert "ses:pres:acse:rtse:ros:p1" in answer.protocols
    assert "guinevere.smhs.co.uk" in answer.text and "merlin" in answer.text
    assert '"rtse.checkpointSize": "63"' in answer.text


def test_our_bind_error_to_the_real_isode_bind(tmp_path: Path) -> None:
    dissected = _answer_real_bind(tmp_path, BindReject(error=BindError.AUTHENTICATION_ERROR))
    answer = dissected[-1]
    assert "acse" in answer.protocols and "rtse" in answer.protocols
    assert '"p1.MTABindError": "2"' in answer.text or "authentication-error" in answer.text


def _recorded_association(checkpoint: int) -> list[tuple[str, bytes]]:
    """Bytes of a whole association between our two stacks, as (direction, octets)."""
    ini, res = Stack("initiator", mode="normal"), Stack("responder", mode=None)
    wire: list[tuple[str, bytes]] = []

    def pump() -> None:
        for _ in range(10_000):
            x, y = ini.data_to_send(), res.data_to_send()
            if not x and not y:
                return
            if x:
                wire.append(("I", x))
                res.receive_data(x)
            if y:
                wire.append(("O", y))
                ini.receive_data(y)

    ini.send(BindRequest(name="percival", password="excalibur", checkpoint_size=checkpoint))
    pump()
    events(res)
    res.send(BindAccept(responder=MTABind(name="guinevere", password="merlin")))
    pump()
    events(ini)
    for path in sorted(SAMPLES.glob("*.p1.ber")):
        ini.send(Transfer(apdu=path.read_bytes()))
        pump()
        events(res)
        res.send(TransferAccept())
        pump()
        events(ini)
    ini.send(Release())
    pump()
    events(res)
    res.send(ReleaseConfirm())
    pump()
    return wire


@pytest.mark.parametrize("checkpoint", [0, 1])
def test_recorded_association_dissects(tmp_path: Path, checkpoint: int) -> None:
    require("tshark")
    dissected = check_clean(dissect_stream(_recorded_association(checkpoint), tmp_path))
    chains = [f.protocols for f in dissected]
    assert any("ses:pres:acse:rtse:ros:p1" in c for c in chains)      # the bind
    transfers = [f for f in dissected if ":pres:rtse" in f.protocols]
    assert len([f for f in transfers if '"p1.' in f.text]) == len(list(SAMPLES.glob("*.p1.ber")))
    assert any('"p22.' in f.text for f in transfers)                 # an IPM inside


def _dumpcap() -> str:
    require("tshark")
    tool = shutil.which("dumpcap")
    if tool is None:
        pytest.skip("dumpcap is not installed")
    return tool


async def _captured(pcap: Path, port: int, before: int) -> int:
    """Poke the port with empty TCP connections until dumpcap has written their packets.

    Event-driven, bounded: dumpcap needs a moment to start capturing, and every packet sent
    before the final size change is known to be on disk.
    """
    for _ in range(60):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
        for _ in range(10):
            size = pcap.stat().st_size if pcap.exists() else 0
            if size > before:
                return size
            await asyncio.sleep(0.05)
    pytest.skip("dumpcap wrote nothing on lo")
    return 0


def test_live_loopback_capture(tmp_path: Path) -> None:
    """Our initiator against our responder over real TCP, captured on lo and dissected."""
    dumpcap = _dumpcap()
    pcap = tmp_path / "live.pcap"

    async def main() -> int:
        got: list[bytes] = []

        async def store(apdu: bytes, peer: Peer) -> None:
            got.append(apdu)

        table = PeerTable(local=LocalMTA(name="guinevere", password="merlin"), peers={
            "percival": Peer(key="percival", mta_name="percival", password="excalibur")})
        responder = Responder(table, store)
        await responder.start("127.0.0.1", 0)
        port = responder.port
        # "-w -": dumpcap flushes every packet to stdout (to a file it buffers)
        sink = pcap.open("wb")
        proc = subprocess.Popen([dumpcap, "-q", "-P", "-i", "lo", "-f", f"tcp port {port}",
                                 "-w", "-"], stdout=sink, stderr=subprocess.DEVNULL)
        try:
            size = await _captured(pcap, port, 24)        # 24 = the pcap file header
            assoc = await Association.open(Peer(key="g", mta_name="guinevere",
                                                password="merlin", host="127.0.0.1",
                                                port=port), LocalMTA(name="percival",
                                                                     password="excalibur"))
            sent = [p.read_bytes() for p in sorted(SAMPLES.glob("*.p1.ber"))]
            for apdu in sent:
                await assoc.transfer(apdu)
            await assoc.release()
            assert got == sent
            await _captured(pcap, port, size)             # everything before is on disk
        finally:
            await responder.close()
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
            sink.close()
        return port

    port = asyncio.run(main())
    dissected = check_clean(dissect_file(pcap, port=port))
    chains = [f.protocols for f in dissected]
    assert any("ses:pres:acse:rtse:ros:p1" in c for c in chains)
    assert any('"p22.' in f.text for f in dissected)
    assert any(f.protocols.endswith(":tpkt:cotp") for f in dissected)   # CR and CC too
