"""``x400bridge convert`` as an archivist uses it (issue 13, "what users expect"): outputs that
mirror the input tree, a progress bar only on a terminal, a closing summary with failures by
reason, the report's fields, refusals that protect a resumable run, and a worker that dies
failing only its own message."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.convert import batch
from bridge.convert.batch import Settings, reason_of, summary
from bridge.convert.inputs import iter_items
from tests.test_cli_convert import GW, mail, run

REPORTS = Path(__file__).parent / "data" / "convert" / "reports"
#: another process holding the lock of an output folder until its stdin closes
HOLD_LOCK = ("import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.lockf(f, fcntl.LOCK_EX); "
             "print('locked', flush=True); sys.stdin.read()")


def mbox(*numbers: int) -> bytes:
    return b"".join(b"From someone Sat Nov 28 09:00:00 2026\n"
                    + mail(n).replace(b"\r\n", b"\n") + b"\n" for n in numbers)


def maildir(path: Path, *numbers: int) -> None:
    for d in ("cur", "new", "tmp"):
        (path / d).mkdir(parents=True)
    for n in numbers:
        (path / ("new" if n % 2 else "cur") / f"17000000{n:02d}.M1P1.host:2,S").write_bytes(
            mail(n))


def files_under(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*")
            if p.is_file() and not p.name.startswith(".x400bridge-convert")}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "archive"
    (src / "2019" / "lists").mkdir(parents=True)
    (src / "one.eml").write_bytes(mail(1))
    (src / "2019" / "a.eml").write_bytes(mail(2))
    (src / "2019" / "a.txt").write_bytes(mail(3))        # same stem as a.eml
    (src / "2019" / "lists" / "inbox.mbox").write_bytes(mbox(4, 5, 6))
    (src / "2019" / "7").write_bytes(mail(7))             # an MH folder's message file
    (src / "2019" / "notes.bin").write_bytes(b"\x00 not mail")
    maildir(src / "Maildir", 8, 9)
    shutil.copy(REPORTS / "delayed-and-delivered.eml", src / "dsn.eml")  # report + an IPM
    return src


def test_outputs_mirror_the_input_tree(tmp_path: Path, tree: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Relative to the input, suffix replaced, a stem collision kept whole, an mbox and a
    Maildir as folders of numbered messages, a DSN's extra output as NAME.2 -- never an
    underscore-joined absolute path."""
    out = tmp_path / "out"
    code, _, _ = run(capsys, "convert", "--to", "x400", "--out", str(out), str(tree), *GW)
    assert code == 0
    assert files_under(out) == {
        "one.p1", "dsn.p1", "dsn.2.p1", "2019/a.eml.p1", "2019/a.txt.p1", "2019/7.p1",
        "2019/lists/inbox.mbox/1.p1", "2019/lists/inbox.mbox/2.p1",
        "2019/lists/inbox.mbox/3.p1", "Maildir/1.p1", "Maildir/2.p1"}
    # the Maildir is numbered cur/ then new/, each by name: 8 is in cur/, 9 in new/
    journal = [json.loads(line) for line in (out / batch.JOURNAL).read_text().splitlines()]
    by_id = {r["id"]: r for r in journal[1:]}
    assert by_id["Maildir/1"]["input"].endswith("cur/1700000008.M1P1.host:2,S")
    assert by_id["2019/lists/inbox.mbox/2"]["input"].endswith("inbox.mbox#2")
    # and back: a.eml.p1 -> a.eml.eml (its stem, a.eml, is unique there)
    back = tmp_path / "back"
    code, _, _ = run(capsys, "convert", "--to", "mime", "--out", str(back), str(out), *GW)
    assert code == 0
    assert {"one.eml", "2019/a.eml.eml", "Maildir/2.eml", "2019/lists/inbox.mbox/1.eml"
            } <= files_under(back)


def test_inputs_that_could_clash_go_under_their_position(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two inputs with the same relative paths (two years' exports, two Maildirs); an input
    that clashes with nothing stays at the top."""
    for year in ("2019", "2020"):
        (tmp_path / year).mkdir()
        (tmp_path / year / "inbox.mbox").write_bytes(mbox(1, 2))
    maildir(tmp_path / "md1", 3)
    maildir(tmp_path / "md2", 4)
    (tmp_path / "lone.eml").write_bytes(mail(5))
    out = tmp_path / "out"
    code, _, _ = run(capsys, "convert", "--to", "x400", "--out", str(out),
                     str(tmp_path / "2019"), str(tmp_path / "2020"), str(tmp_path / "md1"),
                     str(tmp_path / "md2"), str(tmp_path / "lone.eml"), *GW)
    assert code == 0
    assert files_under(out) == {"1/inbox.mbox/1.p1", "1/inbox.mbox/2.p1",
                                "2/inbox.mbox/1.p1", "2/inbox.mbox/2.p1",
                                "3/1.p1", "4/1.p1", "lone.p1"}


def test_names_are_stable_and_unique(tree: Path) -> None:
    first = [(i.id, i.name) for i in iter_items([tree, tree / "2019"])]
    assert first == [(i.id, i.name) for i in iter_items([tree, tree / "2019"])]
    names = [name for _, name in first]
    assert len(names) == len(set(names))


def test_the_output_folder_inside_an_input_is_not_walked(
        tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tree / "converted"
    args = ["convert", "--to", "x400", "--out", str(out), str(tree), *GW]
    code, first, _ = run(capsys, *args)
    code2, second, _ = run(capsys, *args)
    assert code == code2 == 0 and first == second and "converted/" not in str(
        files_under(out))
    code, _, err = run(capsys, "convert", "--to", "x400", "--out", str(tree), str(tree), *GW)
    assert code == 2 and "is an input" in err


def test_progress_bar_on_a_terminal_quiet_elsewhere(
        tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On a terminal: a tqdm bar with the rate, the ETA and the counts; otherwise (stderr
    not a terminal, as here) nothing on stderr, only the summary on stdout."""
    code, stdout, stderr = run(capsys, "convert", "--to", "x400", "--out",
                               str(tmp_path / "quiet"), str(tree), *GW)
    assert code == 0 and stderr == "" and stdout.startswith("10 converted")
    terminal = io.StringIO()
    settings = Settings(direction="x400", out_dir=str(tmp_path / "bar"), tables=GW[1],
                        gateway_domain=GW[3], gateway_or=GW[5], postmaster="pm@" + GW[3],
                        mta_name=GW[3])
    batch.run([tree], settings, progress=terminal)
    shown = terminal.getvalue()
    assert "converting" in shown and "100%" in shown and "B/s" in shown
    assert "<00:00" in shown                         # elapsed<remaining: the ETA
    assert "10 msgs" in shown and "0 failed" in shown


def test_summary_and_report_count_converted_lossy_and_failed_by_reason(
        tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # refused before parsing (bridge/convert/limits.py): a header over 1 MiB
    (tree / "bad1.eml").write_bytes(b"X-A: " + b"a" * 1_100_000 + b"\r\n\r\nx\r\n")
    (tree / "bad2.eml").write_bytes(b"X-B: " + b"b" * 1_200_000 + b"\r\n\r\ny\r\n")
    (tree / "x.p1").write_bytes(b"\xa0\x00")          # BER: not for --to x400
    report = tmp_path / "r.json"
    code, stdout, _ = run(capsys, "convert", "--to", "x400", "--out", str(tmp_path / "out"),
                          "--report", str(report), str(tree), *GW)
    data = json.loads(report.read_text())
    totals = data["totals"]
    assert code == 1
    assert totals["messages"] == 13 and totals["failed"] == 3 and totals["skipped"] == 0
    assert totals["converted"] + totals["converted_with_loss"] == 10
    assert data["failures"] == {"header of N octets, more than the limit of N": 2,
                                "--to x400 takes RFC N messages (...)": 1}
    assert stdout.splitlines()[0] == (
        f"{totals['converted']} converted, {totals['converted_with_loss']} converted with "
        f"loss, 3 failed, 0 skipped (converted by an earlier run)")
    assert stdout.splitlines()[1:3] == ["failed, by reason:",
                                        "       2  header of N octets, more than the limit "
                                        "of N"]
    messages = {m["id"]: m for m in data["messages"]}
    assert len(messages) == len(data["messages"]) == 13
    for m in data["messages"]:
        assert {"id", "input", "status", "lossy", "outputs", "defects"} <= m.keys()
        assert m["lossy"] == (m["status"] == "ok" and m["lossy"])
        assert ("error" in m and "reason" in m) == (m["status"] == "failed")
    dsn = messages["dsn"]
    assert dsn["status"] == "ok" and len(dsn["outputs"]) == 2
    assert messages["bad1"]["error"].startswith("header of 1100006 octets") and \
        messages["bad1"]["outputs"] == []
    assert not (tmp_path / "out" / "bad1.p1").exists()


def test_reasons_mask_what_varies() -> None:
    assert reason_of("bad local-part in 'x y'") == reason_of("bad local-part in ''") \
        == "bad local-part in '...'"
    assert reason_of("internal error: AssertionError: at 12") == "internal error: AssertionError"
    assert reason_of("extension 20 (x) is critical") == "extension N (...) is critical"
    totals = batch.Totals(converted=1, failed=2)
    totals.reasons.update(["b", "a", "a"])
    assert summary(totals).splitlines()[1:] == ["failed, by reason:", "       2  a",
                                                "       1  b"]


def test_resume_refuses_a_journal_of_other_inputs_or_another_run(
        tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run(capsys, "convert", "--to", "x400", "--out", str(out), str(tree), *GW)
    code, _, err = run(capsys, "convert", "--to", "x400", "--resume", "--out", str(out),
                       str(tree / "2019"), *GW)
    assert code == 2 and "other inputs" in err
    code, _, err = run(capsys, "convert", "--to", "mime", "--resume", "--out", str(out),
                       str(tree), *GW)
    assert code == 2 and "other direction" in err
    holder = subprocess.Popen(                           # a run in progress holds it
        [sys.executable, "-c", HOLD_LOCK, str(out / batch.LOCK)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        code, _, err = run(capsys, "convert", "--to", "x400", "--resume", "--out", str(out),
                           str(tree), *GW)
    finally:
        holder.communicate("")
    assert code == 2 and "another x400bridge convert" in err
    code, stdout, _ = run(capsys, "convert", "--to", "x400", "--resume", "--out", str(out),
                          str(tree), *GW)
    assert code == 0 and "10 skipped" in stdout


def test_a_worker_that_dies_fails_only_its_message(
        tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A conversion that kills its process (a signal, the OOM killer): the messages the pool
    had in hand are run again one at a time; the culprit is failed, the others convert."""
    (tree / "poison.eml").write_bytes(mail(99).replace(b"Subject:", b"X-Poison: 1\r\nSubject:"))
    real = batch.convert_one

    def convert_one(item: object, ctx: object, direction: str) -> object:
        if b"X-Poison" in item.read():  # type: ignore[attr-defined]
            os._exit(1)
        return real(item, ctx, direction)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "convert_one", convert_one)   # inherited by forked workers
    report = tmp_path / "r.json"
    code, _, _ = run(capsys, "convert", "--to", "x400", "--jobs", "2", "--out",
                     str(tmp_path / "out"), "--report", str(report), str(tree), *GW)
    data = json.loads(report.read_text())
    assert code == 1 and data["totals"]["failed"] == 1
    assert data["totals"]["converted"] + data["totals"]["converted_with_loss"] == 10
    failed = next(m for m in data["messages"] if m["status"] == "failed")
    assert failed["id"] == "poison" and "process died" in failed["error"]


def test_help_explains_every_option_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    from bridge.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    convert = commands.choices["convert"]  # type: ignore[index]
    assert all(action.help for action in convert._actions), "an option without help"
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "x400bridge convert --to x400" in text
    assert "output layout" in text and "--resume" in text and "docs/convert.md" in text


def test_the_bar_of_the_command_on_a_pseudo_terminal(tmp_path: Path, tree: Path) -> None:
    """The command itself, stderr a pseudo-terminal (one that gives no width, as some CI
    runners' do): the bar is drawn, 100 columns wide."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "convert", "--to", "x400",
                             "--out", str(tmp_path / "out"), str(tree), *GW],
                            stdout=subprocess.PIPE, stderr=slave,
                            cwd=Path(__file__).resolve().parent.parent)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:                                  # EIO: the terminal's last user left
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    stdout, _ = proc.communicate()
    last = [ln.strip() for ln in shown.decode().split("\r") if ln.strip()][-1]
    assert proc.returncode == 0 and stdout.startswith(b"10 converted")
    assert last.startswith("converting: 100%") and "10 msgs" in last and len(last) <= 100
