"""``kill -9`` of ``x400bridge convert --jobs 2`` (issue 13): its workers die with it, and
``--resume`` after kills at random points leaves each message exactly one set of outputs and
a report that counts every message once -- the same as a run that was never interrupted.

Real processes, real SIGKILLs: the run is a subprocess of the test; the points it is killed
at come from a random generator whose seed the failure message shows.  Waiting is on
events with deadlines (the process's exit, pidfds), not on sleeps.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.convert.batch import JOURNAL, LOCK
from tests.test_cli_convert import GW, mail

ROOT = Path(__file__).resolve().parent.parent
REPORTS = Path(__file__).parent / "data" / "convert" / "reports"
#: how long workers may take to go once their parent is killed (the kernel kills them at
#: once; this only bounds a test on a loaded machine)
DEADLINE = 20.0
#: kill -9s before the run is let finish
KILLS = 5

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="PR_SET_PDEATHSIG and pidfds are Linux")


def archive(root: Path) -> Path:
    """A few hundred messages: an mbox, a Maildir, nested .eml files, a DSN (two outputs)
    and some that fail."""
    src = root / "archive"
    (src / "years" / "2019").mkdir(parents=True)
    with (src / "years" / "lists.mbox").open("wb") as f:
        for n in range(150):
            f.write(b"From x Sat Nov 28 09:00:00 2026\n" + mail(n).replace(b"\r\n", b"\n")
                    + b"\n")
    for d in ("cur", "new", "tmp"):
        (src / "Maildir" / d).mkdir(parents=True)
    for n in range(150, 190):
        (src / "Maildir" / ("cur" if n % 3 else "new") / f"{n}.M1.host:2,S").write_bytes(
            mail(n))
    for n in range(190, 280):
        (src / "years" / "2019" / f"{n}.eml").write_bytes(mail(n))
    shutil.copy(REPORTS / "delayed-and-delivered.eml", src / "dsn.eml")
    for n in range(5):
        # refused before parsing (bridge/convert/limits.py): over 10,000 header fields
        (src / f"broken-{n}.eml").write_bytes(b"X-F: 1\r\n" * 10_001 + b"\r\nbody\r\n")
    return src


def command(src: Path, out: Path, report: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bridge.cli", "convert", "--to", "x400", "--jobs", "2",
            "--out", str(out), "--report", str(report), *extra, str(src), *GW]


def processes_of(marker: str) -> dict[int, str]:
    """Live processes whose command line holds ``marker`` (the forked workers share their
    parent's), with their state letter."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found[int(entry)] = state
    return found


def kill_and_check_workers(proc: subprocess.Popen[bytes], marker: str) -> None:
    """SIGKILL the run; every process it had started must be gone soon after."""
    workers = [pid for pid in processes_of(marker) if pid != proc.pid]
    pidfds = []
    for pid in workers:
        try:
            pidfds.append(os.pidfd_open(pid))
        except ProcessLookupError:
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    poller = select.poll()
    for fd in pidfds:
        poller.register(fd, select.POLLIN)
    alive = set(pidfds)
    end = time.monotonic() + DEADLINE
    while alive and time.monotonic() < end:
        for fd, _ in poller.poll(max(0, int((end - time.monotonic()) * 1000))):
            alive.discard(fd)
            poller.unregister(fd)
    for fd in pidfds:
        os.close(fd)
    assert not alive, f"{len(alive)} worker(s) outlived the killed run"
    assert not processes_of(marker), "a process of the killed run is still alive"


def test_workers_die_with_a_killed_run(tmp_path: Path) -> None:
    src = archive(tmp_path)
    out = tmp_path / "out-killed-workers"
    proc = subprocess.Popen(command(src, out, tmp_path / "r.json"), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + DEADLINE        # until both workers run (or it is over)
        while len(processes_of(str(out))) < 3 and time.monotonic() < end:
            try:
                proc.wait(timeout=0.02)
                pytest.fail("the run ended before its workers could be seen")
            except subprocess.TimeoutExpired:
                pass
        assert len(processes_of(str(out))) == 3, "the run and its two workers"
        kill_and_check_workers(proc, str(out))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def outcome(out: Path, report: Path) -> tuple[set[str], dict[str, str], dict[str, int]]:
    """The files under ``out`` (but the journal and lock), each message's status, the
    report's totals (but the skipped count, which depends on the interruptions)."""
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    files -= {JOURNAL, LOCK}
    data = json.loads(report.read_text())
    ids = [m["id"] for m in data["messages"]]
    assert len(ids) == len(set(ids)), "a message reported twice"
    for m in data["messages"]:
        for path in m["outputs"]:
            assert Path(path).is_file(), path
    totals = {k: v for k, v in data["totals"].items() if k != "skipped"}
    return files, {m["id"]: m["status"] for m in data["messages"]}, totals


def test_resume_after_kill_9_at_random_points_is_exact(tmp_path: Path) -> None:
    src = archive(tmp_path)
    reference, ref_report = tmp_path / "reference", tmp_path / "reference.json"
    start = time.monotonic()
    done = subprocess.run(command(src, reference, ref_report), cwd=ROOT, capture_output=True,
                          check=False)
    duration = time.monotonic() - start
    assert done.returncode == 1, done.stderr        # the broken ones fail
    expected = outcome(reference, ref_report)
    assert len(expected[1]) == 150 + 40 + 90 + 1 + 5

    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    out, report = tmp_path / "out", tmp_path / "r.json"
    kills = runs = 0
    while kills < KILLS and runs < 10 * KILLS:   # a run that ends before its kill: again
        runs += 1
        proc = subprocess.Popen(command(src, out, report, "--resume"), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.05, duration))
        except subprocess.TimeoutExpired:
            kill_and_check_workers(proc, str(out))
            kills += 1
    assert kills == KILLS, f"seed {seed}: the runs ended before they could be killed"
    final = subprocess.run(command(src, out, report, "--resume"), cwd=ROOT,
                           capture_output=True, text=True, check=False)
    assert final.returncode == 1, final.stderr
    files, statuses, totals = outcome(out, report)
    assert files == expected[0], f"seed {seed}: outputs differ (missing or doubled)"
    assert statuses == expected[1], f"seed {seed}"
    assert totals == expected[2], f"seed {seed}"
