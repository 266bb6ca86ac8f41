"""Read the TCP conversations of a packet capture (pcap or pcapng) for replay tests.

The captures in ``x400-samples/pp/`` were taken on loopback by a third party (see its README):
this module turns one into its TCP connections, each a list of ``(direction, payload)``
segments in capture order, ``"I"`` for the side that sent the SYN (the initiator) and ``"O"``
for the other.  Only what the replay tests need: Ethernet or Linux "cooked"/null loopback
link layers, IPv4 or IPv6, TCP; retransmissions (a segment whose sequence range was seen
already) are dropped.  File formats: libpcap (tcpdump.org "pcap savefile") and pcapng (IETF
draft-ietf-opsawg-pcapng: SHB, IDB, EPB, SPB blocks).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

#: ../shared/x400-samples/pp next to the checkout (as in CI), or $X400BRIDGE_SAMPLES/../pp
PP_SAMPLES = Path(__file__).parents[2] / "shared" / "x400-samples" / "pp"

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113


def pp_sample(name: str) -> Path:
    """The path of one PP capture; skips the calling test when the samples are absent."""
    import pytest

    base = Path(os.environ["X400BRIDGE_SAMPLES"]).parent / "pp" \
        if "X400BRIDGE_SAMPLES" in os.environ else PP_SAMPLES
    path = base / name
    if not path.exists():
        pytest.skip(f"x400-samples/pp not available ({path})")
    return path


@dataclass
class Connection:
    """One TCP connection: endpoints and the payload segments in capture order."""

    client: tuple[str, int]
    server: tuple[str, int]
    segments: list[tuple[str, bytes]] = field(default_factory=list)
    _next_seq: dict[str, int] = field(default_factory=dict)

    def stream(self, direction: str) -> bytes:
        """All payload octets sent in one direction, concatenated."""
        return b"".join(p for d, p in self.segments if d == direction)


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """(link type, frame) pairs of a pcap or pcapng file."""
    magic = data[:4]
    out: list[tuple[int, bytes]] = []
    if magic == b"\x0a\x0d\x0d\x0a":
        links: list[int] = []
        i = 0
        end = "<"
        while i + 12 <= len(data):
            btype = struct.unpack_from(end + "I", data, i)[0]
            if btype == 0x0A0D0D0A:                     # section header: byte order
                end = "<" if data[i + 8:i + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            blen = struct.unpack_from(end + "I", data, i + 4)[0]
            body = data[i + 8:i + blen - 4]
            if btype == 1:                              # interface description
                links.append(struct.unpack_from(end + "H", body, 0)[0])
            elif btype == 6:                            # enhanced packet
                iface, _, _, caplen, _ = struct.unpack_from(end + "IIIII", body, 0)
                out.append((links[iface], body[20:20 + caplen]))
            elif btype == 3:                            # simple packet
                out.append((links[0], body[4:]))
            i += blen
        return out
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("not a pcap or pcapng file")
    link = struct.unpack_from(end + "I", data, 20)[0] & 0xFFFF
    i = 24
    while i + 16 <= len(data):
        caplen = struct.unpack_from(end + "I", data, i + 8)[0]
        out.append((link, data[i + 16:i + 16 + caplen]))
        i += 16 + caplen
    return out


def _ip_packet(link: int, frame: bytes) -> bytes | None:
    if link == LINKTYPE_ETHERNET:
        etype, off = struct.unpack_from("!H", frame, 12)[0], 14
        while etype == 0x8100:                          # 802.1Q tag
            etype, off = struct.unpack_from("!H", frame, off + 2)[0], off + 4
        return frame[off:] if etype in (0x0800, 0x86DD) else None
    if link == LINKTYPE_LINUX_SLL:
        return frame[16:]
    if link == LINKTYPE_NULL:
        return frame[4:]
    if link == LINKTYPE_RAW:
        return frame
    return None


def connections(path: Path) -> list[Connection]:
    """The TCP connections of a capture, in the order their SYNs appear."""
    conns: dict[tuple[tuple[str, int], tuple[str, int]], Connection] = {}
    order: list[Connection] = []
    for link, frame in _frames(path.read_bytes()):
        ip = _ip_packet(link, frame)
        if ip is None or not ip:
            continue
        if ip[0] >> 4 == 4:
            if ip[9] != 6:
                continue
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack_from("!H", ip, 2)[0]
            src_ip, dst_ip = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
            tcp = ip[ihl:total]
        elif ip[0] >> 4 == 6:
            if ip[6] != 6:
                continue
            plen = struct.unpack_from("!H", ip, 4)[0]
            src_ip, dst_ip = ip[8:24].hex(), ip[24:40].hex()
            tcp = ip[40:40 + plen]
        else:
            continue
        sport, dport, seq = struct.unpack_from("!HHI", tcp, 0)
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4:]
        src, dst = (src_ip, sport), (dst_ip, dport)
        if flags & 0x02 and not flags & 0x10:           # SYN: a new connection
            conn = Connection(client=src, server=dst)
            conns[(src, dst)] = conn
            order.append(conn)
            conn._next_seq["I"] = seq + 1
            continue
        conn_or_none = conns.get((src, dst)) or conns.get((dst, src))
        if conn_or_none is None:
            continue
        conn = conn_or_none
        direction = "I" if src == conn.client else "O"
        if flags & 0x02:                                # SYN-ACK
            conn._next_seq["O"] = seq + 1
            continue
        if not payload:
            continue
        expected = conn._next_seq.get(direction, seq)
        if seq + len(payload) <= expected:              # a retransmission
            continue
        if seq < expected:
            payload = payload[expected - seq:]
        conn._next_seq[direction] = max(expected, seq) + len(payload)
        conn.segments.append((direction, payload))
    return order
