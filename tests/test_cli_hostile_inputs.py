"""``convert`` and ``dump`` on what an archive shelf really holds (issue 12 item 7): a FIFO in
an input folder, a folder the run may not list, 8-bit octets where only ASCII belongs, and
``/dev/zero``.  Each is reported and the run goes on; none hangs or ends it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bridge.convert import inputs
from tests.test_cli_convert import GW, mail, run


def _report(path: Path) -> dict[str, dict[str, object]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {Path(m["input"]).name: m for m in data["messages"]}


def test_a_fifo_in_the_archive_is_reported_not_read(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "archive"
    src.mkdir()
    (src / "one.eml").write_bytes(mail(1))
    os.mkfifo(src / "pipe.eml")                      # opening it would block for ever
    code, _, _ = run(capsys, "convert", "--to", "x400", *GW, "--out", str(tmp_path / "out"),
                     "--report", str(tmp_path / "r.json"), str(src))
    assert code == 1
    report = _report(tmp_path / "r.json")
    assert report["one.eml"]["status"] == "ok"
    assert report["pipe.eml"]["status"] == "failed"
    assert "not a regular file" in str(report["pipe.eml"]["error"])


def test_8bit_octets_in_a_mime_parameter_name_and_file_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A header the email package keeps as surrogates and a non-UTF-8 file name: the journal
    is written, the report made, and --resume recognises what was done."""
    src = tmp_path / "archive"
    src.mkdir()
    bad = mail(2).replace(b"Subject:", b"Content-Type: text/plain; ch\xffrset=us-ascii\r\n"
                                       b"Subject:")
    (src / "param.eml").write_bytes(bad)
    with open(os.path.join(os.fsencode(src), b"name-\xe9.eml"), "wb") as f:
        f.write(mail(3))
    args = ["convert", "--to", "x400", *GW, "--out", str(tmp_path / "out"),
            "--report", str(tmp_path / "r.json"), str(src)]
    code, _, _ = run(capsys, *args)
    assert code == 0
    assert len(_report(tmp_path / "r.json")) == 2
    code, out, _ = run(capsys, *args, "--resume")
    assert code == 0 and "2 skipped" in out


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """(As root no permission bit stops us, so the refusal is simulated where os.walk
    lists folders.)"""
    src = tmp_path / "archive"
    (src / "locked").mkdir(parents=True)
    (src / "locked" / "x.eml").write_bytes(mail(1))
    (src / "one.eml").write_bytes(mail(2))
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    items = list(inputs.iter_items([src]))
    assert sorted((Path(i.path).name, bool(i.error)) for i in items) == [
        ("locked", True), ("one.eml", False)]
    assert any("Permission denied" in i.error for i in items)


def test_dump_of_an_endless_file_stops(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dump", "/dev/zero")
    assert code == 1 and "more than" in err
