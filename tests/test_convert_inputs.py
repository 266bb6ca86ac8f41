"""Input discovery for `x400bridge convert`: eml, mbox (streamed by byte ranges, mboxrd
unquoting), Maildir, BER files and folders of them."""

from __future__ import annotations

from pathlib import Path

from bridge.convert.inputs import iter_items, mbox_items
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
    assert kinds == [("2.host:2,S", "eml"), ("1.host", "eml"), ("a.eml", "eml"), ("x.p1", "ber")]
    ber = tmp_path / "noext"
    ber.write_bytes(sample_file("report.p1").read_bytes())
    assert [i.kind for i in iter_items([ber])] == ["ber"]
