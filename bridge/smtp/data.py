"""Reading the DATA section of an SMTP transaction (RFC 5321 §4.1.1.4, §4.5.2) in bulk.

The data ends at the first line that is exactly "." -- in octets, ``CRLF "." CRLF`` where the
CRLF ends the previous line, or ``"." CRLF`` as the very first line.  Only CRLF ends a line:
a bare CR or LF never does (RFC 5321 §2.3.8), so no ``LF "." LF`` variant can end the data
early and smuggle what follows in as commands.  A line of the data that starts with "." had
one added by the client (transparency, §4.5.2): it is removed.

Reading line by line costs a coroutine step per line; here the stream is searched for the
terminator itself (one ``readuntil`` for a whole message that fits the reader's buffer), and
the lines are inspected afterwards in C (``split``, ``replace``).  The state machine at the
start of a line only runs until it sees a first octet that is neither "." nor CR: from then on
every terminator lies wholly ahead in the stream, preceded by the CRLF that ends a line.
The limits are aiosmtpd's: a line (with its CRLF, before un-stuffing) of more than
``line_limit`` octets refuses the message with 500 (§4.5.3.1.6), more than ``size_limit``
octets of data with 552 (RFC 1870 §6.3) -- in both cases only once the data has ended
(§4.2.5), so that the session stays in step.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

TERMINATOR = b"\r\n.\r\n"
LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
TOO_MUCH_DATA = "552 Error: Too much mail data"


@dataclass(frozen=True, slots=True)
class Data:
    """What :func:`read_data` read: the content (un-stuffed), or the refusal to send."""

    content: bytes | None
    problem: str | None = None


async def read_data(reader: asyncio.StreamReader, *, size_limit: int | None,
                    line_limit: int) -> Data:
    """Read up to and including the terminating line; never an octet beyond it (what follows
    is the client's next command, RFC 2920).  EOF raises ``asyncio.IncompleteReadError``."""
    raw: list[bytes] = []                 # the data as sent (stuffed), without the "." line
    # -- at the start of a line, until a line starts with neither "." nor CR
    while True:
        first = await reader.readexactly(1)
        if first == b".":
            line = first + await _through(reader, b"\r\n")
            if line == b".\r\n":
                return _finish(b"".join(raw), size_limit, line_limit)
            raw.append(line)
            continue
        if first == b"\r":
            line = first
            while line.endswith(b"\r"):   # CR ...: the line ends at the first CRLF
                more = await reader.readexactly(1)
                line += more
                if more == b"\n":
                    break
            else:
                line += await _through(reader, b"\r\n")
            raw.append(line)
            continue
        raw.append(first)
        break
    # -- inside a line that cannot end the data: the terminator is wholly ahead
    raw.append(await _through(reader, TERMINATOR))
    data = b"".join(raw)
    return _finish(data[:-3], size_limit, line_limit)      # without "." CRLF


async def _through(reader: asyncio.StreamReader, separator: bytes) -> bytes:
    """The stream up to and including ``separator``, however far beyond the reader's buffer
    limit it lies (when the limit is hit the reader keeps the last octets, which may begin
    the separator, so the search goes on seamlessly)."""
    parts: list[bytes] = []
    while True:
        try:
            parts.append(await reader.readuntil(separator))
            return b"".join(parts)
        except asyncio.LimitOverrunError as exc:
            parts.append(await reader.readexactly(exc.consumed))


def _finish(data: bytes, size_limit: int | None, line_limit: int) -> Data:
    """Check the limits (the first one broken, in the order of the data, decides the reply,
    as aiosmtpd's line loop does), then remove the transparency dots."""
    lines = data.split(b"\r\n")
    if (size_limit and len(data) > size_limit) or max(map(len, lines)) + 2 > line_limit:
        size = 0
        for line in lines[:-1]:            # the last is the empty rest after the final CRLF
            size += len(line) + 2
            if size_limit and size > size_limit:
                return Data(None, TOO_MUCH_DATA)
            if len(line) + 2 > line_limit:
                return Data(None, LINE_TOO_LONG)
    if data.startswith(b"."):
        data = data[1:]
    return Data(data.replace(b"\r\n.", b"\r\n"))
