"""Input discovery for `x400bridge convert`: eml, mbox (streamed by byte ranges, mboxrd
unquoting), Maildir, BER files and folders of them."""

from __future__ import annotations

import io
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.convert import inputs
from bridge.convert.inputs import iter_items, mbox_items
from bridge.errors import DecodeError
from tests.conftest import sample_file

MSG = b"From: a@example.com\nTo: b@example.com\nSubject: %d\n\nline\n>From the start\n"


def test_mbox_is_split_by_from_lines_and_unquoted(tmp_path: Path) -> None:
    box = tmp_path / "archive.mbox"
    box.write_bytes(b"".join(b"From a@example.com Sat Nov 28 09:00:00 2026\n" + MSG % i + b"\n"
                             for i in range(3)))
    items = list(mbox_items(box))
    assert [i.id for i in items] == [f"{box}#{n}" for n in (1, 2, 3)]
    for n, item in enumerate(items):
        data = item.read()
        assert data.startswith(b"From: a@example.com") and b"Subject: %d" % n in data
        assert b"\nFrom the start\n" in data  # mboxrd >From unquoted
        assert data == (MSG % n).replace(b">From", b"From")  # no octet of its neighbours


def test_folders_maildirs_and_ber_files(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(MSG % 1)
    (tmp_path / "notes.bin").write_bytes(b"ignored")
    md = tmp_path / "Maildir"
    for d in ("cur", "new", "tmp"):
        (md / d).mkdir(parents=True)
    (md / "new" / "1.host").write_bytes(MSG % 2)
    (md / "cur" / "2.host:2,S").write_bytes(MSG % 3)
    (tmp_path / "x.p1").write_bytes(sample_file("message-text.p1").read_bytes())
    kinds = [(Path(i.path).name, i.kind) for i in iter_items([tmp_path])]
    assert kinds == [("a.eml", "eml"), ("x.p1", "ber"), ("2.host:2,S", "eml"), ("1.host", "eml")]
    ber = tmp_path / "noext"
    ber.write_bytes(sample_file("report.p1").read_bytes())
    assert [i.kind for i in iter_items([ber])] == ["ber"]


def _separators_line_by_line(data: bytes) -> list[int]:
    """RFC 4155 read the plain way: a "From " line at the start or after an empty line."""
    found, pos, previous_blank = [], 0, True
    for line in io.BytesIO(data):
        if line.startswith(b"From ") and previous_blank:
            found.append(pos)
        previous_blank = line in (b"\n", b"\r\n")
        pos += len(line)
    return found


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"From ", b"\n", b"\r\n", b"\r", b"x", b"From a@b\n",
                                 b"\n\nFrom ", b">From "]), max_size=60),
       st.sampled_from([1, 2, 3, 5, 7, 8, 64]))
def test_mbox_separators_found_block_by_block_as_line_by_line(
        pieces: list[bytes], block: int) -> None:
    """The block scanner (bytes.find over 1 MiB blocks) finds exactly the separators a
    line-by-line reading finds, wherever the blocks cut the lines."""
    data = b"".join(pieces)
    with patch.object(inputs, "_BLOCK", block):
        assert list(inputs._separators(io.BytesIO(data))) == _separators_line_by_line(data)


def test_files_without_a_message_suffix_are_recognised_by_content(tmp_path: Path) -> None:
    """An MH folder's numbered files and a corpus's email.01 are messages; a Makefile, a
    dotfile, an empty file and a binary are not; a whole BER value is BER; a file in mbox
    format with one message is named as a file, with several as a folder."""
    (tmp_path / "1").write_bytes(MSG % 1)
    (tmp_path / "email.01").write_bytes(b"Received: from x\r\n" + MSG % 2)
    (tmp_path / "Makefile").write_bytes(b"all: build\n\ttrue\n")
    (tmp_path / ".mh_sequences").write_bytes(b"unseen: 1\n")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "blob").write_bytes(b"\xa0\x05abc")           # says 5 octets, has 3
    (tmp_path / "apdu").write_bytes(sample_file("report.p1").read_bytes())
    (tmp_path / "one-from").write_bytes(b"From a Sat Nov 28 09:00:00 2026\n" + MSG % 3)
    (tmp_path / "two-from").write_bytes(b"".join(
        b"From a Sat Nov 28 09:00:00 2026\n" + MSG % n + b"\n" for n in (4, 5)))
    found = {(i.name, i.kind) for i in iter_items([tmp_path])}
    assert found == {("1", "eml"), ("email.01", "eml"), ("apdu", "ber"), ("one-from", "eml"),
                     ("two-from/1", "eml"), ("two-from/2", "eml")}


def test_names_of_one_folder() -> None:
    """The suffix goes unless two files share a stem, or one's stem is another's plus .N
    (the name of a second output: c's would be c.2.p1, as c.2.eml's is)."""
    assert inputs.output_bases(["a.eml", "b.eml", "b.txt", "c", "c.2.eml", "D.P1",
                                "2019.01"]) == {
        "a.eml": "a", "b.eml": "b.eml", "b.txt": "b.txt", "c": "c", "c.2.eml": "c.2.eml",
        "D.P1": "D", "2019.01": "2019.01"}


def test_a_message_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.eml"
    with big.open("wb") as f:
        f.write(MSG % 1)
        f.truncate(inputs.MAX_MESSAGE + 1)
    (item,) = iter_items([big])
    with pytest.raises(DecodeError, match="larger than"):
        item.read()
