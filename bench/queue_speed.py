"""The queue alone, on both backends: what one message costs the PostgreSQL queue against the
SQLite queue (issue 15: the gateway on PostgreSQL at >= 0.7 x its rate on SQLite).

Two measurements per backend, each the median of ``--runs`` runs on a fresh store:

1. ``direct``: one thread, the pattern of the gateway's hot paths without the gateway --
   submissions in batches of 10 through ``Queue.run_batch()`` (one COMMIT each: the queue
   writer's group commit, on PostgreSQL pipelined), then claims of 8 jobs, each claim's
   records in one ``run_batch``.  Reported in ms per message (submit) and per job (claim +
   record).
2. ``gateway``: the writes through :class:`bridge.gateway.commit.QueueWriter` as
   ``bridge/gateway/core.py`` makes them (the workers' records in the lane ``WORK``, their
   claims in ``CLAIM``: the one thread on SQLite, a thread each on PostgreSQL) from asyncio
   tasks -- ``--clients``
   submitters (SMTP sessions) and ``--workers`` delivery workers that claim 8 and record each
   job on its own -- in messages/s from the first submit to the last record.

PostgreSQL runs in a private cluster (tests/pgserver.py) with fsync on, like SQLite's
``synchronous=FULL``; the SQLite file is in a temporary folder.  The ratio printed is the
PostgreSQL rate over the SQLite rate (1 / the ratio of the times).  No goal is judged here
(bench/gateway.py judges the gateway's); compare runs on the same machine.

Run: ``python bench/queue_speed.py [--messages N] [--runs N] [--size BYTES] [--clients N]
[--workers N] [--backend both|sqlite|postgresql]`` (PostgreSQL: ``.ci/install-postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

from bridge.gateway import commit  # noqa: E402
from bridge.queue.api import MessageQueue  # noqa: E402
from bridge.queue.model import Delivered, Recipient, Submission  # noqa: E402
from bridge.queue.store import Queue  # noqa: E402

LOG = logging.getLogger("bench.queue")
CLAIM = 8          # jobs per claim, as the gateway's workers (bridge/gateway/core.py _BATCH)
SUBMIT_BATCH = 10  # submissions per batch in the direct run


def submissions(n: int, size: int) -> list[Submission]:
    """``n`` one-recipient SMTP -> X.400 submissions of ``size`` octets."""
    return [Submission(direction="to-x400", origin="smtp", sender="a@internet.example",
                       recipients=(Recipient(address=f"r{i}@x400.example", route="remote"),),
                       data=b"x" * size, meta={"envid": None}) for i in range(n)]


def direct(queue: MessageQueue, n: int, size: int) -> tuple[float, float]:
    """ms per submitted message, ms per claimed and recorded job (see the docstring)."""
    subs = submissions(n, size)
    t0 = time.perf_counter()
    for i in range(0, n, SUBMIT_BATCH):
        _all_ok(queue.run_batch([functools.partial(queue.submit, sub)
                                 for sub in subs[i:i + SUBMIT_BATCH]]))
    t1 = time.perf_counter()
    done = 0
    while jobs := queue.claim("to-x400", limit=CLAIM, lease=600.0, node="n1"):
        _all_ok(queue.run_batch([functools.partial(
            queue.record, job, {r.address: Delivered(detail="ok") for r in job.recipients})
            for job in jobs]))
        done += len(jobs)
    t2 = time.perf_counter()
    if done != n:
        raise SystemExit(f"direct: {done} of {n} jobs claimed")
    return (t1 - t0) / n * 1e3, (t2 - t1) / n * 1e3


def _all_ok(done: list[tuple[bool, Any]]) -> None:
    for ok, value in done:
        if not ok:
            raise value


async def through_writers(queue: MessageQueue, n: int, size: int, clients: int,
                          workers: int) -> float:
    """Messages/s through the gateway's queue writers (see the docstring)."""
    writer = commit.QueueWriter(queue, LOG)
    # the workers' lanes, as bridge/gateway/core.py uses them (a writer without lanes: none)
    work: dict[str, Any] = {"lane": commit.WORK} if hasattr(commit, "WORK") else {}
    claims: dict[str, Any] = {"lane": getattr(commit, "CLAIM", commit.WORK)} if work else {}
    subs = submissions(n, size)
    recorded = 0
    submitted = asyncio.Event()

    async def client(part: list[Submission]) -> None:
        for sub in part:
            await writer.submit(sub)

    async def worker() -> None:
        nonlocal recorded
        while recorded < n:
            jobs = await writer.call(lambda: queue.claim(
                "to-x400", limit=CLAIM, lease=600.0, node="n1"), **claims)
            for job in jobs:
                outcome = {r.address: Delivered(detail="ok") for r in job.recipients}
                await writer.call(queue.record, job, outcome, **work)
                recorded += 1
            if not jobs:
                if submitted.is_set() and recorded >= n:
                    return
                await asyncio.sleep(0.002)

    t0 = time.perf_counter()
    try:
        feeding = asyncio.gather(*(client(subs[i::clients]) for i in range(clients)))
        working = asyncio.gather(*(worker() for _ in range(workers)))
        await feeding
        submitted.set()
        await working
    finally:
        writer.close()
    return n / (time.perf_counter() - t0)


@contextmanager
def stores(backend: str) -> Iterator[Callable[[], MessageQueue]]:
    """A maker of fresh, empty queues of ``backend``."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            count = iter(range(1 << 30))
            yield lambda: Queue(Path(folder) / f"q{next(count)}.sqlite")
        return
    from bridge.queue.pg import PgQueue
    from tests.pgserver import PgCluster, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        raise SystemExit(f"postgresql: {reason}")
    cluster = PgCluster.start(durable=True)
    try:
        yield lambda: PgQueue(cluster.create_database())
    finally:
        cluster.stop()


def measure(backend: str, args: argparse.Namespace) -> dict[str, float]:
    """The medians of ``args.runs`` runs of both measurements on ``backend``."""
    runs: dict[str, list[float]] = {"submit": [], "claim+record": [], "gateway": []}
    with stores(backend) as fresh:
        for _ in range(args.runs):
            with fresh() as queue:
                direct(queue, max(50, args.messages // 5), args.size)     # warm up
            with fresh() as queue:
                submit_ms, work_ms = direct(queue, args.messages, args.size)
            with fresh() as queue:
                rate = asyncio.run(through_writers(queue, args.messages, args.size,
                                                   args.clients, args.workers))
            runs["submit"].append(submit_ms)
            runs["claim+record"].append(work_ms)
            runs["gateway"].append(rate)
    medians = {k: statistics.median(v) for k, v in runs.items()}
    print(f"{backend:>10}: submit {medians['submit']:.3f} ms/msg, claim+record "
          f"{medians['claim+record']:.3f} ms/job, through the writers "
          f"{medians['gateway']:.0f} msgs/s  (runs: "
          + "; ".join(f"{a:.3f}/{b:.3f}/{c:.0f}" for a, b, c in zip(*runs.values(),
                                                                     strict=True)) + ")",
          flush=True)
    return medians


def main(argv: list[str] | None = None) -> int:
    """Measure, print the figures and the ratios PostgreSQL / SQLite."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    names = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    result: dict[str, dict[str, Any]] = {name: measure(name, args) for name in names}
    if len(result) == 2:
        sq, pg = result["sqlite"], result["postgresql"]
        print(f"PostgreSQL / SQLite: submit {sq['submit'] / pg['submit']:.2f}, claim+record "
              f"{sq['claim+record'] / pg['claim+record']:.2f}, through the writers "
              f"{pg['gateway'] / sq['gateway']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
