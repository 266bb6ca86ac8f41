"""kill -9 at random points: nothing acknowledged is lost, nothing is half-written.

A child process submits messages in a loop (printing each id and the SHA-256 of its data only
*after* ``submit`` returned -- the moment a peer would be told "accepted") while also claiming,
recording outcomes, reporting, shunting and retrying.  It is SIGKILLed after a random delay
(seeded RNG: it is the kill timing that is random, nothing waits on it for synchronisation),
N times over the same file.  After every kill the file must pass ``PRAGMA integrity_check``
and ``Queue.verify`` and hold every printed message with its exact bytes and all its
recipients; at the end, every lease left by a killed worker must come back.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bridge.queue import Queue

ROOT = Path(__file__).resolve().parent.parent
KILLS = 12
SEED = 20261128

CHILD = r"""
import hashlib, os, random, sys
from pathlib import Path
from bridge.queue import (Deferred, Delivered, Failed, Queue, Recipient, RetryPolicy,
                          Submission)

path, seed = Path(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
q = Queue(path, retry=RetryPolicy(initial=0.01, factor=2, maximum=0.05, expire_after=2.0,
                                  delay_warning=0.5))
print("ready", flush=True)
sizes = (0, 17, 1000, 65536, 300000)
n = 0
while True:
    n += 1
    direction = rng.choice(("to-x400", "to-smtp"))
    rcpts = tuple(Recipient(address=f"r{i}-{n}@example.{seed}", route=f"route{rng.randrange(3)}",
                            notify=rng.choice(((), ("SUCCESS", "FAILURE"), ("DELAY",))))
                  for i in range(rng.randint(1, 4)))
    data = os.urandom(rng.choice(sizes))
    mid = q.submit(Submission(direction=direction, origin="crash-test", sender="s@example",
                              recipients=rcpts, data=data, meta={"n": n, "seed": seed}))
    print(mid, hashlib.sha256(data).hexdigest(), len(rcpts), flush=True)
    for job in q.claim(rng.choice(("to-x400", "to-smtp")), limit=3, lease=0.5):
        outcomes = {}
        for r in job.recipients:
            pick = rng.random()
            if pick < 0.5:
                outcomes[r.address] = Delivered(detail="250 ok")
            elif pick < 0.6:
                outcomes[r.address] = Failed(status="5.1.1", diagnostic="smtp; 550 no")
            elif pick < 0.9:
                outcomes[r.address] = Deferred(status="4.4.1")
        if rng.random() < 0.1:
            q.release(job)
        elif rng.random() < 0.03:
            q.shunt(job.message_id, "crash test")
        else:
            q.record(job, outcomes)
    if n % 5 == 0:
        for task in q.reports_due(limit=5):
            for kind in ("failure", "delivery", "delay"):
                q.mark_reported(task.message_id,
                                [i.recipient.address for i in task.items if i.kind == kind],
                                kind)
    if n % 17 == 0:
        for summary in q.list(state="dead", limit=2):
            q.retry(summary.message_id)
"""


def _run_and_kill(path: Path, out: Path, seed: int, delay: float) -> list[tuple[str, str, int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(seed)],
                                stdout=sink, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not out.read_bytes().startswith(b"ready\n"):     # bounded poll for startup
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "child did not start"
            time.sleep(0.01)
        time.sleep(delay)                      # the random kill point, not synchronisation
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stderr.close()                                      # type: ignore[union-attr]
    acked = []
    for line in out.read_bytes().split(b"\n")[1:-1]:             # complete lines only
        mid, digest, n = line.decode().split()
        acked.append((mid, digest, int(n)))
    return acked


def test_kill_minus_nine_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite"
    rng = random.Random(SEED)
    acked: list[tuple[str, str, int]] = []
    for k in range(KILLS):
        acked += _run_and_kill(path, tmp_path / f"out{k}.txt", SEED + k, rng.uniform(0.05, 0.8))

        raw = sqlite3.connect(path)                # recovers the WAL like any opener would
        try:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            raw.close()
        q = Queue(path)
        try:
            assert q.verify() == []
            for mid, digest, nrcpt in acked:
                info = q.get(mid)
                assert info is not None, f"acknowledged {mid} lost after kill {k}"
                assert hashlib.sha256(info.data).hexdigest() == digest
                assert len(info.recipients) == nrcpt
                assert info.history[0].event == "submitted"
        finally:
            q.close()
    assert len(acked) >= KILLS, "the child hardly ran; the kills proved nothing"

    # every lease a killed worker held comes back once it expires
    q = Queue(path, clock=lambda: time.time() + 3600)
    try:
        active = sum(q.stats().recipients[s] for s in ("pending", "deferred"))
        claimed = 0
        for direction in ("to-x400", "to-smtp"):
            while jobs := q.claim(direction, limit=1000):
                claimed += sum(len(j.recipients) for j in jobs)
        assert claimed == active
    finally:
        q.close()
