"""Reading the DATA section of an SMTP transaction (RFC 5321 §4.1.1.4, §4.5.2) in bulk.

The data ends at the first line that is exactly "." -- in octets, ``CRLF "." CRLF`` where the
CRLF ends the previous line, or ``"." CRLF`` as the very first line.  Only CRLF ends a line:
a bare CR or LF never does (RFC 5321 §2.3.8), so no ``LF "." LF`` variant can end the data
early and smuggle what follows in as commands.  A line of the data that starts with "." had
one added by the client (transparency, §4.5.2): it is removed.

Reading line by line costs a coroutine step per line; here the stream is searched for the
terminator itself (one ``readuntil`` for a whole message that fits the reader's buffer), and
the lines are inspected afterwards in C (``split``, ``replace``).  The state machine at the
start of a line only runs while lines start with "." or CR (each such line is read whole, in
one search): from the first line that starts with anything else, every terminator lies wholly
ahead in the stream, preceded by the CRLF that ends a line.  At the start of a line, the
octets the reader already holds are looked at first: when three are there, they tell whether
the line is the terminator without reading it -- so a run of lines that start with "." or
CR costs a coroutine step per line only when the client sends slower than we read.

The limits are aiosmtpd's: a line (with its CRLF, before un-stuffing) of more than
``line_limit`` octets refuses the message with 500 (§4.5.3.1.6), more than ``size_limit``
octets of data with 552 (RFC 1870 §6.3) -- in both cases only once the data has ended
(§4.2.5), so that the session stays in step; the first limit broken, in the order of the data,
decides.  The size is counted as RFC 1870 §3 defines it: the octets after the transparency
dots are removed, without the final "." line.

Memory: the data is kept only while the message can still be accepted.  Once the octets kept,
less their transparency dots, exceed ``size_limit``, the verdict is known (552, or 500 for a
long line before that point): the data is dropped, and the rest is read up to the terminator
(in chunks of the reader's buffer limit) without being kept.  At most ``size_limit`` octets
plus their dots plus one chunk are held (:attr:`DataReader.peak` says how many were).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

TERMINATOR = b"\r\n.\r\n"
LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
TOO_MUCH_DATA = "552 Error: Too much mail data"
#: a transparency dot: a "." that begins a line (RFC 5321 §4.5.2)
_DOT = b"\r\n."


@dataclass(frozen=True, slots=True)
class Data:
    """What :meth:`DataReader.read` read: the content (un-stuffed), or the refusal to send."""

    content: bytes | None
    problem: str | None = None


class DataReader:
    """One DATA section being read: the octets kept so far, and the first limit broken.

    ``octets`` counts what was read (as sent, without the final "." line), ``kept`` what is
    held now, ``peak`` the most ever held -- the figure that shows the memory stays bounded
    whatever the client sends."""

    __slots__ = ("_dots", "_last", "_parts", "_tail", "kept", "line_limit", "octets", "peak",
                 "problem", "size_limit")

    def __init__(self, *, size_limit: int | None, line_limit: int) -> None:
        self.size_limit = size_limit or None
        self.line_limit = line_limit
        self.octets = 0
        self.kept = 0
        self.peak = 0
        self.problem: str | None = None   # once set, nothing more is kept
        self._parts: list[bytes] = []
        self._last = b""                  # the last octet read
        self._dots = -1                   # transparency dots in the kept octets (-1: uncounted)
        self._tail = b""                  # the last two kept octets, once the dots are counted

    async def read(self, reader: asyncio.StreamReader) -> Data:
        """Read up to and including the terminating line; never an octet beyond it (what
        follows is the client's next command, RFC 2920).  EOF raises
        ``asyncio.IncompleteReadError``."""
        while True:                       # at the start of a line
            ahead = _peek(reader, 3)
            if len(ahead) == 3:           # decided without reading: the common case
                if ahead == b".\r\n":
                    await reader.readexactly(3)
                    return self._finish()
                break                     # not the end: the terminator is wholly ahead
            first = await reader.readexactly(1)
            if first != b"." and first != b"\r":
                self._keep(first)
                break
            # "." may begin the terminator, CR the CRLF before a terminator: read the line
            line, whole = await self._through(reader, b"\n", first)
            if whole and line == b".\r\n":
                return self._finish()
            before = self._last
            self._keep(line)
            if (line[-2:-1] if len(line) > 1 else before) != b"\r":
                break                     # a bare LF: still inside the line
        last, _ = await self._through(reader, TERMINATOR, b"")
        self._keep(last[:-3])             # without "." CRLF
        return self._finish()

    async def _through(self, reader: asyncio.StreamReader, separator: bytes,
                       head: bytes) -> tuple[bytes, bool]:
        """``head`` (already read) and the stream through ``separator``: ``(all of it,
        True)``; when that is longer than the reader's buffer limit, the earlier parts are
        kept (:meth:`_keep`) as they come and the result is ``(the last part, False)``.
        When the limit is hit the reader keeps the last ``len(separator) - 1`` octets, which
        may begin the separator, so the search goes on seamlessly -- and a separator is never
        split between two parts."""
        spilled = False
        while True:
            try:
                piece = await reader.readuntil(separator)
            except asyncio.LimitOverrunError as exc:
                if not spilled:
                    spilled = True
                    self._keep(head)
                self._keep(await reader.readexactly(exc.consumed))
                continue
            if spilled:
                return piece, False
            return (head + piece if head else piece), True

    def _keep(self, chunk: bytes) -> None:
        """Account for ``chunk`` (the next octets of the data) and keep it while the message
        can still be accepted."""
        if not chunk:
            return
        self.octets += len(chunk)
        self._last = chunk[-1:]
        if self.problem is not None:
            return                        # refused already: read to the end, keep nothing
        self._parts.append(chunk)
        self.kept += len(chunk)
        if self.kept > self.peak:
            self.peak = self.kept
        if self.size_limit is not None and self.kept > self.size_limit:
            self._over_size(chunk)

    def _over_size(self, chunk: bytes) -> None:
        """More than ``size_limit`` octets kept: count their transparency dots (not part of
        the size, RFC 1870 §3); when the size without them is over the limit too, the message
        is refused -- with the first limit it broke -- and the data dropped."""
        assert self.size_limit is not None
        if self._dots < 0:                # the first time: count over all that is kept
            data = b"".join(self._parts)
            self._parts = [data]
            self._dots, self._tail = _count_dots(b"\r\n", data)   # the data starts a line
        else:
            dots, self._tail = _count_dots(self._tail, chunk)
            self._dots += dots
        if self.kept - self._dots <= self.size_limit:
            return
        data = b"".join(self._parts)
        self._parts = []
        self.kept = 0
        complete = data.split(b"\r\n")[:-1]          # the last line is still being read
        self.problem = _first_problem(complete, self.size_limit, self.line_limit) or \
            TOO_MUCH_DATA                # ... and will take the size over the limit

    def _finish(self) -> Data:
        """The verdict on the whole data: the refusal, or the content without its
        transparency dots."""
        if self.problem is not None:
            return Data(None, self.problem)
        data = b"".join(self._parts)
        self._parts = []
        self.kept = 0
        lines = data.split(b"\r\n")
        if (self.size_limit is not None and len(data) > self.size_limit) or \
                max(map(len, lines)) + 2 > self.line_limit:
            problem = _first_problem(lines[:-1], self.size_limit, self.line_limit)
            if problem is not None:
                return Data(None, problem)
        if data.startswith(b"."):
            data = data[1:]
        return Data(data.replace(_DOT, b"\r\n"))


def _peek(reader: asyncio.StreamReader, n: int) -> bytes:
    """Up to ``n`` octets the reader holds, without reading them.  StreamReader has no peek;
    its buffer is the bytearray ``_buffer`` (so since Python 3.4; aiosmtpd clears it at
    STARTTLS): without it, nothing is seen and the line is read instead."""
    buffer = getattr(reader, "_buffer", None)
    return bytes(buffer[:n]) if isinstance(buffer, bytearray) else b""


def _count_dots(tail: bytes, chunk: bytes) -> tuple[int, bytes]:
    """Transparency dots in ``chunk`` whose data so far ended with ``tail`` (its last two
    octets, or the CRLF before the data) -- those across the boundary too -- and the new
    tail."""
    dots = chunk.count(_DOT) + (tail + chunk[:2]).count(_DOT)
    return dots, (chunk[-2:] if len(chunk) >= 2 else (tail + chunk)[-2:])


def _first_problem(lines: list[bytes], size_limit: int | None, line_limit: int) -> str | None:
    """The first limit broken by complete ``lines`` (without their CRLFs), as a line-by-line
    reader meets them: after each line the size so far (un-stuffed), then its length (as
    sent)."""
    size = 0
    for line in lines:
        size += len(line) + 2 - line.startswith(b".")
        if size_limit is not None and size > size_limit:
            return TOO_MUCH_DATA
        if len(line) + 2 > line_limit:
            return LINE_TOO_LONG
    return None


# ------------------------------------------------------------------ checks of the content

#: RFC 5321 §6.3: a message with this many trace fields is in a loop ("a rule of thumb ... at
#: least 100 Received header fields"); X400-Received fields count too (CONFORMANCE T-4: IDA
#: and V8 sendmail count them, since each is a hop through an X.400 MTA).
MAX_HOPS = 100
_TRACE_FIELD = re.compile(rb"^(?:X400-)?Received:", re.IGNORECASE | re.MULTILINE)


def hops(content: bytes) -> int:
    """Trace fields in the header section of ``content`` -- exact whenever it matters: an
    upper bound (every "received:" in the header) is counted first, and only when that bound
    exceeds :data:`MAX_HOPS` are the fields themselves counted."""
    end = content.find(b"\r\n\r\n")
    header = content if end < 0 else content[:end]
    bound = header.lower().count(b"received:")
    if bound <= MAX_HOPS:
        return bound
    return len(_TRACE_FIELD.findall(header))


def has_bare_cr_or_lf(data: bytes) -> bool:
    """RFC 5321 §2.3.8: a CR not followed by LF, or an LF not preceded by CR, anywhere --
    counted in C rather than searched with a look-behind (10x faster on a typical message)."""
    pairs = data.count(b"\r\n")
    return data.count(b"\r") != pairs or data.count(b"\n") != pairs
