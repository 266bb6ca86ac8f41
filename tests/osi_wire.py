"""Test helpers for the OSI stack: an in-memory byte pump, a TCP pcap writer, tshark on streams.

``tcp_pcap`` writes a pcap (Ethernet/IPv4/TCP, with the three-way handshake so Wireshark sees
the conversation from its start) of RFC 1006 traffic given as (direction, octets) pairs;
``dissect_stream`` runs tshark over it with ``-d tcp.port==N,tpkt`` and returns per-frame
protocol chains, expert messages and the JSON layers.  Live captures go through the same
dissection (``dissect_file``).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.oracle import require

#: The Isode M-Switch association start (x400-samples/README.md), next to the checkout as in CI
#: (../shared), or where X400BRIDGE_SAMPLES points.
ISODE_SAMPLE = Path(__file__).parents[2] / "shared" / "x400-samples" / \
    "ping-success-bind.hexdump"
#: TPKT header (RFC 1006 §6, 4 octets) + COTP DT (X.224 §13.7, 02 f0 80)
TPKT_COTP_DT = 7


def isode_frames() -> dict[str, bytes]:
    """The two frames of the Isode sample: "I" (initiator -> responder) and "O" (back), each
    TPKT + COTP DT + a session SPDU.  Skips the test when the sample is not there."""
    import os

    import pytest

    path = Path(os.environ.get("X400BRIDGE_SAMPLES", ISODE_SAMPLE))
    if not path.exists():
        pytest.skip(f"x400-samples not available ({path})", allow_module_level=True)
    frames: dict[str, bytearray] = {}
    current = ""
    for line in path.read_text().splitlines():
        if line.strip() in ("I", "O"):
            current = line.strip()
            frames[current] = bytearray()
        elif line.strip():
            frames[current] += bytes.fromhex("".join(line.split()[1:]))
    return {k: bytes(v) for k, v in frames.items()}

CLIENT = ("10.0.0.1", 40000)
SERVER = ("10.0.0.2", 102)


def _ip(addr: str) -> bytes:
    return bytes(int(x) for x in addr.split("."))


def _packet(src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int,
            payload: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, _ip(src[0]),
                     _ip(dst[0]))
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp + payload


def tcp_pcap(frames: list[tuple[str, bytes]], *, port: int = 102) -> bytes:
    """A pcap of one TCP connection: "I" frames client->server, "O" server->client.

    Payloads above 60000 octets are split into several TCP segments.
    """
    server = (SERVER[0], port)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]   # DLT_EN10MB
    seq = {"I": 1000, "O": 5000}
    packets = [
        _packet(CLIENT, server, seq["I"] - 1, 0, 0x02, b""),                 # SYN
        _packet(server, CLIENT, seq["O"] - 1, seq["I"], 0x12, b""),          # SYN-ACK
        _packet(CLIENT, server, seq["I"], seq["O"], 0x10, b""),              # ACK
    ]
    for direction, payload in frames:
        src, dst = (CLIENT, server) if direction == "I" else (server, CLIENT)
        other = "O" if direction == "I" else "I"
        for i in range(0, max(len(payload), 1), 60000):
            chunk = payload[i:i + 60000]
            packets.append(_packet(src, dst, seq[direction], seq[other], 0x18, chunk))
            seq[direction] += len(chunk)
    for n, pkt in enumerate(packets):
        out.append(struct.pack("<IIII", 1_700_000_000 + n, 0, len(pkt), len(pkt)) + pkt)
    return b"".join(out)


@dataclass
class Frame:
    """One dissected frame."""

    number: int
    protocols: str
    expert: list[str] = field(default_factory=list)
    layers: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @property
    def has_payload(self) -> bool:
        return ":tpkt" in self.protocols


#: Wireshark expert severities (epan/proto.h): PI_CHAT 0x200000, PI_NOTE 0x400000,
#: PI_WARN 0x600000, PI_ERROR 0x800000.  "Expert errors" are PI_ERROR and above.
PI_ERROR = 0x800000


def _collect_expert(obj: Any, out: list[str]) -> None:
    """Expert infos of error severity and malformed-packet markers, anywhere in the tree."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "_ws.malformed":
                out.append(f"malformed: {json.dumps(value)[:300]}")
            elif key == "_ws.expert" and isinstance(value, dict) and \
                    int(value.get("_ws.expert.severity", "0")) >= PI_ERROR:
                out.append(f"{value.get('_ws.expert.message', '?')}")
            _collect_expert(value, out)
    elif isinstance(obj, list):
        for item in obj:
            _collect_expert(item, out)


def dissect_file(path: Path, *, port: int) -> list[Frame]:
    """Dissect a pcap of RFC 1006 traffic on ``port`` with tshark (skips without tshark)."""
    require("tshark")
    tshark = shutil.which("tshark")
    assert tshark is not None
    proc = subprocess.run(
        [tshark, "-n", "-r", str(path), "-d", f"tcp.port=={port},tpkt",
         "-o", "tcp.desegment_tcp_streams:TRUE", "-T", "json"],
        capture_output=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"tshark failed: {proc.stderr.decode(errors='replace')}")
    frames = []
    for packet in json.loads(proc.stdout):
        layers = packet["_source"]["layers"]
        expert: list[str] = []
        _collect_expert(layers, expert)
        frames.append(Frame(number=int(layers["frame"]["frame.number"]),
                            protocols=layers["frame"]["frame.protocols"], expert=expert,
                            layers=layers, text=json.dumps(layers)))
    return frames


def dissect_stream(frames: list[tuple[str, bytes]], tmp: Path, *, port: int = 102) -> \
        list[Frame]:
    """Write ``frames`` as one TCP connection and dissect it."""
    path = tmp / "stream.pcap"
    path.write_bytes(tcp_pcap(frames, port=port))
    return dissect_file(path, port=port)


def pump(a: Any, b: Any, *, limit: int = 10_000) -> None:
    """Move bytes between two Stacks until both are quiet (no sleeps, bounded rounds)."""
    for _ in range(limit):
        x = a.data_to_send()
        y = b.data_to_send()
        if not x and not y:
            return
        if x:
            b.receive_data(x)
        if y:
            a.receive_data(y)
    raise AssertionError("the stacks never went quiet")


def events(stack: Any) -> list[Any]:
    out = []
    while (ev := stack.next_event()) is not None:
        out.append(ev)
    return out
