"""RFC 1006 §6 TPKT framing, sans-IO.

TCP is a stream of octets; transport class 0 expects discrete NSDUs, each holding exactly one TPDU
(RFC 1006 §6: "an NSDU is identical to a TPDU").  RFC 1006 delimits them with a 4-octet
packet-header::

    vrsn (8 bits, always 3) | reserved (8 bits) | packet length (16 bits, min=7, max=65535)

The packet length counts the whole packet *including* the header, so a TPDU is at most
65535 - 4 = 65531 octets.  The reserved octet is ignored on input (RFC 2126 §6.10) and sent as 0.

:class:`TPKTFramer` is the bottom of the OSI stack: the shell feeds it what ``recv()`` returned and
pulls whole TPDUs out.  It is on the hot path, so the buffer is a ``bytearray`` with a read offset
(consumed octets are dropped in one ``del`` when the next data arrives, never per packet) and every
header is checked as soon as its octets arrive: a peer that sends garbage fails on its first
bad header, long before anything is buffered.
"""

from __future__ import annotations

from bridge.errors import ProtocolError

__all__ = ["TPKT_HEADER_SIZE", "TPKT_MAX_LENGTH", "TPKT_MIN_LENGTH", "TPKT_VERSION", "TPKTFramer"]

TPKT_VERSION = 3  # RFC 1006 §6: "This field is always 3"
TPKT_HEADER_SIZE = 4  # vrsn + reserved + 16-bit packet length
TPKT_MIN_LENGTH = 7  # RFC 1006 §6: packet length min=7 (header + the shortest TPDU, a 3-octet DT)
TPKT_MAX_LENGTH = 65535  # RFC 1006 §6: max=65535 (a 16-bit field)

_LAYER = "tpkt"


class TPKTFramer:
    """Split a TCP octet stream into TPDUs and wrap TPDUs into TPKTs (RFC 1006 §6).

    ``feed(data)`` appends received octets; ``next_packet()`` returns the next complete TPDU with
    its packet-header stripped, or ``None`` while the packet is still incomplete; ``frame(tpdu)``
    prepends a packet-header.  A wrong version, a length below 7 or above ``max_packet`` raises
    :class:`~bridge.errors.ProtocolError` (layer ``"tpkt"``) from ``feed`` and every later call.

    Memory: the framer holds what was fed and not yet taken by ``next_packet``.  A caller that
    drains after each ``feed`` (as :class:`bridge.x400.cotp.COTPEngine` does) therefore never holds
    more than the fed chunk plus one incomplete packet (at most ``max_packet`` octets).
    """

    __slots__ = ("_buf", "_pos", "_scan", "_max_packet", "_error")

    def __init__(self, max_packet: int = TPKT_MAX_LENGTH) -> None:
        if not TPKT_MIN_LENGTH <= max_packet <= TPKT_MAX_LENGTH:
            raise ValueError(f"max_packet must be {TPKT_MIN_LENGTH}..{TPKT_MAX_LENGTH}")
        self._buf = bytearray()
        self._pos = 0  # start of the first packet not yet returned by next_packet()
        self._scan = 0  # end of the last complete packet whose header has been checked
        self._max_packet = max_packet
        self._error: ProtocolError | None = None

    @property
    def max_packet(self) -> int:
        """The largest packet length (header included) accepted from the peer."""
        return self._max_packet

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as packets (for memory accounting)."""
        return len(self._buf) - self._pos

    @property
    def pending_packets(self) -> bool:
        """True when ``next_packet()`` would return a packet."""
        return self._scan > self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append octets received from TCP and check every packet-header they complete."""
        if self._error is not None:
            raise self._error
        if not data:
            return
        if self._pos:
            # Drop the consumed prefix once per feed (a memmove of < one packet when drained).
            del self._buf[: self._pos]
            self._scan -= self._pos
            self._pos = 0
        self._buf += data
        self._check_headers()

    def _check_headers(self) -> None:
        """Walk the packet-headers from ``_scan`` on, stopping at the first incomplete packet."""
        buf = self._buf
        end = len(buf)
        scan = self._scan
        while scan < end:
            if buf[scan] != TPKT_VERSION:
                self._fail(f"version {buf[scan]} (RFC 1006 §6 requires {TPKT_VERSION})")
            if end - scan < TPKT_HEADER_SIZE:
                break
            length = (buf[scan + 2] << 8) | buf[scan + 3]
            if length < TPKT_MIN_LENGTH:
                self._fail(f"packet length {length} < {TPKT_MIN_LENGTH} (RFC 1006 §6)")
            if length > self._max_packet:
                self._fail(f"packet length {length} > limit {self._max_packet}")
            if end - scan < length:
                break
            scan += length
        self._scan = scan

    def _fail(self, reason: str) -> None:
        self._error = ProtocolError(reason, layer=_LAYER)
        raise self._error

    def next_packet(self) -> bytes | None:
        """Return the next complete TPDU (packet-header stripped), or None if there is none."""
        if self._error is not None:
            raise self._error
        pos = self._pos
        if self._scan <= pos:
            return None
        buf = self._buf
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        with memoryview(buf) as view:
            packet = bytes(view[pos + TPKT_HEADER_SIZE : pos + length])  # the one copy
        self._pos = pos + length
        if self._pos == len(buf):  # fully drained: reset cheaply instead of a later memmove
            buf.clear()
            self._pos = self._scan = 0
        return packet

    @staticmethod
    def frame(tpdu: bytes | bytearray | memoryview) -> bytes:
        """Wrap one TPDU in a TPKT: ``03 00 <length incl. header>`` + TPDU (RFC 1006 §6)."""
        length = TPKT_HEADER_SIZE + len(tpdu)
        if not TPKT_MIN_LENGTH <= length <= TPKT_MAX_LENGTH:
            raise ValueError(
                f"TPDU of {len(tpdu)} octets does not fit a TPKT (3..65531 octets, RFC 1006 §6)"
            )
        return bytes((TPKT_VERSION, 0, length >> 8, length & 0xFF)) + tpdu
