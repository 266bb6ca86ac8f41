"""The bulk DATA reader (bridge/smtp/data.py) against a plain line-by-line reading of the same
octets -- the reading RFC 5321 §4.1.1.4 / §4.5.2 describe and aiosmtpd implements: lines end
at CRLF only, the data at the first line that is exactly ".", a leading "." of a line is
removed, a line over the line limit gives 500 and too much data 552 (the first broken in the
order of the data; the size counted without the transparency dots, RFC 1870 §3).  Whatever
the octets and however TCP cuts them, both agree on the content or refusal AND on where the
data ended: what follows is the next command, untouched -- and the reader never holds much
more than the size limit, however much data comes (issue 12).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.smtp.data import LINE_TOO_LONG, TOO_MUCH_DATA, DataReader

NEXT = b"QUIT\r\n"


def line_by_line(stream: bytes, size_limit: int | None,
                 line_limit: int) -> tuple[bytes | None, str | None, int]:
    """(content, problem, octets consumed) read one CRLF-terminated line at a time."""
    pos, size, problem, out = 0, 0, None, []
    while True:
        end = stream.find(b"\r\n", pos)
        assert end >= 0, "the generated stream always has a terminator"
        line, pos = stream[pos:end + 2], end + 2
        if line == b".\r\n":
            break
        size += len(line) - line.startswith(b".")       # RFC 1870 §3: without the dots
        if problem is None and size_limit and size > size_limit:
            problem = TOO_MUCH_DATA
        elif problem is None and len(line) > line_limit:
            problem = LINE_TOO_LONG
        out.append(line[1:] if line.startswith(b".") else line)
    return (None if problem else b"".join(out)), problem, pos


async def _bulk(chunks: list[bytes], limit: int, size_limit: int | None,
                line_limit: int, peak: list[int] | None = None
                ) -> tuple[bytes | None, str | None, bytes]:
    reader = asyncio.StreamReader(limit=limit)

    async def feed() -> None:
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)            # the reader sees the stream as TCP cuts it
        reader.feed_eof()

    feeder = asyncio.ensure_future(feed())
    data_reader = DataReader(size_limit=size_limit, line_limit=line_limit)
    data = await asyncio.wait_for(data_reader.read(reader), 10)
    await feeder
    if peak is not None:
        peak.append(data_reader.peak)
    return data.content, data.problem, await reader.read()


def held_bound(size_limit: int, limit: int, largest_cut: int) -> int:
    """The most a DataReader may hold: the size limit and the transparency dots in it (one
    per line of at least 4 octets, plus a first line of 1), and one chunk of the stream
    reader -- its buffer limit, what one delivery added, the separator and the first octet
    read alone."""
    return size_limit * 4 // 3 + 2 + limit + largest_cut + 5 + 1


piece = st.sampled_from([b".", b"\r", b"\n", b"\r\n", b"\r\n.", b".\r\n", b"x", b"ab", b" ",
                         b"\r\n.\r\n", b"..", b"\n.\n", b"\r.\r", b"y" * 40])


@settings(max_examples=600, deadline=None)
@given(body=st.lists(piece, max_size=40).map(b"".join),
       cuts=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20),
       limit=st.sampled_from([8, 16, 64, 1 << 16]),
       size_limit=st.sampled_from([None, 30, 200]),
       line_limit=st.sampled_from([12, 60, 1001]))
def test_bulk_reader_agrees_with_line_by_line(body: bytes, cuts: list[int], limit: int,
                                              size_limit: int | None, line_limit: int) -> None:
    stream = body + b"\r\n.\r\n" + NEXT          # at least this terminator (maybe an earlier one)
    content, problem, consumed = line_by_line(stream, size_limit, line_limit)
    chunks, pos = [], 0
    for i in range(len(stream)):
        size = cuts[i % len(cuts)]
        if pos >= len(stream):
            break
        chunks.append(stream[pos:pos + size])
        pos += size
    peak: list[int] = []
    got = asyncio.run(_bulk(chunks, limit, size_limit, line_limit, peak))
    assert got == (content, problem, stream[consumed:])
    if size_limit is not None:
        assert peak[0] <= held_bound(size_limit, limit, max(cuts)), peak


def test_the_common_cases() -> None:
    def bulk(stream: bytes) -> tuple[bytes | None, str | None, bytes]:
        return asyncio.run(_bulk([stream], 1 << 16, 5000, 1001))

    assert bulk(b".\r\n" + NEXT) == (b"", None, NEXT)
    assert bulk(b"a\r\n.\r\n" + NEXT) == (b"a\r\n", None, NEXT)
    assert bulk(b"..\r\n...b\r\n.\r\n" + NEXT) == (b".\r\n..b\r\n", None, NEXT)
    assert bulk(b"a\n.\nb\r\n.\r\n" + NEXT) == (b"a\n.\nb\r\n", None, NEXT)
    assert bulk(b"\r\n.\r\n" + NEXT) == (b"\r\n", None, NEXT)
    assert bulk(b"x" * 1000 + b"\r\n.\r\n" + NEXT) == (None, LINE_TOO_LONG, NEXT)


def test_size_is_counted_without_the_transparency_dots() -> None:
    """RFC 1870 §3: the size of a message does not count the dots added for transparency
    (RFC 5321 §4.5.2): 25 lines "..x" are 125 octets as sent and 100 as stored."""
    def bulk(stream: bytes) -> tuple[bytes | None, str | None, bytes]:
        return asyncio.run(_bulk([stream], 1 << 16, 100, 1001))

    assert bulk(b"..x\r\n" * 25 + b".\r\n" + NEXT) == (b".x\r\n" * 25, None, NEXT)
    assert bulk(b"..x\r\n" * 26 + b".\r\n" + NEXT) == (None, TOO_MUCH_DATA, NEXT)
    assert bulk(b"x" * 98 + b"\r\n.\r\n" + NEXT) == (b"x" * 98 + b"\r\n", None, NEXT)
    assert bulk(b"x" * 99 + b"\r\n.\r\n" + NEXT) == (None, TOO_MUCH_DATA, NEXT)


@pytest.mark.parametrize("unit", [b"\r\n", b"..\r\n", b"\r", b"z", b"y" * 998 + b"\r\n",
                                  b".\r.\n", b"\n.\n"])
def test_hostile_data_is_read_in_bulk_and_not_kept(unit: bytes) -> None:
    """Issue 12 #2, on the reader alone: 4 MB of hostile data (runs of empty lines, of
    stuffed dots, of CRs, a line without end, ...) to a 64 KiB limit, fed as a socket would
    with flow control (the stream reader's buffer stays under twice its limit): the reader
    holds no more than the bound, reads it all, and refuses it with 552 at the terminator
    -- after which the next command is untouched."""
    limit, size_limit, piece = 1 << 16, 1 << 16, 1 << 16
    stream = unit * (4_000_000 // len(unit)) + b"\r\n.\r\n" + NEXT

    async def main() -> tuple[Any, bytes, int]:
        reader = asyncio.StreamReader(limit=limit)
        data_reader = DataReader(size_limit=size_limit, line_limit=1001)

        async def feed() -> None:
            for i in range(0, len(stream), piece):
                while len(reader._buffer) > 2 * limit:     # asyncio's pause_reading
                    await asyncio.sleep(0)
                reader.feed_data(stream[i:i + piece])
            reader.feed_eof()

        feeder = asyncio.ensure_future(feed())
        data = await asyncio.wait_for(data_reader.read(reader), 30)
        await feeder
        return data, await reader.read(), data_reader.peak

    data, rest, peak = asyncio.run(main())
    assert (data.content, data.problem, rest) == (None, TOO_MUCH_DATA, NEXT)
    assert peak <= held_bound(size_limit, 3 * limit, piece), peak
