"""The bulk DATA reader (bridge/smtp/data.py) against a plain line-by-line reading of the same
octets -- the reading RFC 5321 §4.1.1.4 / §4.5.2 describe and aiosmtpd implements: lines end
at CRLF only, the data at the first line that is exactly ".", a leading "." of a line is
removed, a line over the line limit gives 500 and too much data 552 (the first broken in the
order of the data).  Whatever the octets and however TCP cuts them, both agree on the
content or refusal AND on where the data ended: what follows is the next command, untouched.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.smtp.data import LINE_TOO_LONG, TOO_MUCH_DATA, read_data

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
        size += len(line)
        if problem is None and size_limit and size > size_limit:
            problem = TOO_MUCH_DATA
        elif problem is None and len(line) > line_limit:
            problem = LINE_TOO_LONG
        out.append(line[1:] if line.startswith(b".") else line)
    return (None if problem else b"".join(out)), problem, pos


async def _bulk(chunks: list[bytes], limit: int, size_limit: int | None,
                line_limit: int) -> tuple[bytes | None, str | None, bytes]:
    reader = asyncio.StreamReader(limit=limit)

    async def feed() -> None:
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)            # the reader sees the stream as TCP cuts it
        reader.feed_eof()

    feeder = asyncio.ensure_future(feed())
    data = await asyncio.wait_for(read_data(reader, size_limit=size_limit,
                                            line_limit=line_limit), 10)
    await feeder
    return data.content, data.problem, await reader.read()


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
    got = asyncio.run(_bulk(chunks, limit, size_limit, line_limit))
    assert got == (content, problem, stream[consumed:])


def test_the_common_cases() -> None:
    def bulk(stream: bytes) -> tuple[bytes | None, str | None, bytes]:
        return asyncio.run(_bulk([stream], 1 << 16, 5000, 1001))

    assert bulk(b".\r\n" + NEXT) == (b"", None, NEXT)
    assert bulk(b"a\r\n.\r\n" + NEXT) == (b"a\r\n", None, NEXT)
    assert bulk(b"..\r\n...b\r\n.\r\n" + NEXT) == (b".\r\n..b\r\n", None, NEXT)
    assert bulk(b"a\n.\nb\r\n.\r\n" + NEXT) == (b"a\n.\nb\r\n", None, NEXT)
    assert bulk(b"\r\n.\r\n" + NEXT) == (b"\r\n", None, NEXT)
    assert bulk(b"x" * 1000 + b"\r\n.\r\n" + NEXT) == (None, LINE_TOO_LONG, NEXT)
