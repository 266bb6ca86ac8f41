"""Group commit: ``Queue.batch`` (several operations, one transaction, one fsync) and the
gateway's ``QueueWriter`` (every queue write in a thread of its own, batched).

What the gateway relies on: nothing of a batch is visible to another connection -- durable --
before the batch ends, and then all of it is (RFC 5321 §6.1: the "250" comes after); a caller
hears its result only after that; one failing operation is undone alone and fails alone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bridge.gateway.commit import SUBMIT, WORK, QueueWriter
from bridge.queue import Delivered, Queue, QueueError, Recipient, Submission, sqlqueue
from bridge.queue import pg as pg_module
from bridge.queue.pg import PgQueue
from tests.pgserver import Backend, require_postgres, shared_cluster
from tests.test_queue import claimed_once_by_two_nodes

LOG = logging.getLogger("x400bridge.test")


def sub(address: str = "a@x400.example", *, recipients: bool = True) -> Submission:
    return Submission(direction="to-x400", origin="smtp", sender="alice@example.org",
                      recipients=(Recipient(address=address, route="peer"),) if recipients
                      else (), data=b"Subject: x\r\n\r\nhi\r\n", meta={"tracking": "t"})


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Both backends (see tests/test_queue.py)."""
    if request.param == "postgresql":
        require_postgres()
        return Backend(name="postgresql", path=tmp_path / "q.sqlite",
                       dsn=shared_cluster().create_database())
    return Backend(name="sqlite", path=tmp_path / "q.sqlite")


def opener(backend: Backend, mixin: type | None = None) -> Callable[[], Any]:
    """Opens the test's store on its backend, as the base class with ``mixin`` in front."""
    base: type = PgQueue if backend.name == "postgresql" else Queue
    cls = base if mixin is None else type(f"{mixin.__name__}{base.__name__}", (mixin, base), {})
    where = backend.dsn if backend.name == "postgresql" else backend.path
    return lambda: cls(where)


def committed(backend: Backend) -> int:
    """Messages another connection sees (what is committed)."""
    with backend.other_connection() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])  # type: ignore[attr-defined]


def test_a_batch_is_one_transaction_and_a_failing_operation_is_undone_alone(
        backend: Backend) -> None:
    q = opener(backend)()
    try:
        with q.batch():
            first = q.submit(sub())
            doomed = q.submit(sub("b@x400.example"))
            with pytest.raises(RuntimeError), q._write() as conn:   # a failing operation
                conn.execute(backend.sql("DELETE FROM messages WHERE id = ?"), (first,))
                raise RuntimeError("undone alone")
            q.drop(doomed)
            (job,) = q.claim("to-x400")                            # sees the batch's rows
            q.record(job, {"a@x400.example": Delivered(detail="ok")})
            assert committed(backend) == 0                            # nothing durable yet
            with pytest.raises(QueueError):
                with q.batch():
                    pass                                           # batches do not nest
        assert committed(backend) == 1                                # all of it at once
        info = q.get(first)
        assert info is not None
        assert [r.state for r in info.recipients] == ["delivered"]
    finally:
        q.close()


def test_a_failed_batch_leaves_nothing(backend: Backend) -> None:
    q = opener(backend)()
    try:
        with pytest.raises(KeyboardInterrupt), q.batch():
            q.submit(sub())
            raise KeyboardInterrupt
        assert committed(backend) == 0
        q.submit(sub())                                            # the queue still works
        assert committed(backend) == 1
    finally:
        q.close()


class Counting:
    """A queue (mixin) that counts the writer's batches and notes when each has committed."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.batches = 0
        self.durable: list[bool] = []

    def run_batch(self, calls: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
        self.batches += 1
        done: list[tuple[bool, Any]] = super().run_batch(calls)  # type: ignore[misc]
        self.durable.append(True)
        return done


class CountingQueue(Counting, Queue):
    """A queue that counts its batches and notes when each has committed."""


def test_writer_groups_concurrent_writes_and_answers_after_the_commit(backend: Backend) -> None:
    q = opener(backend, Counting)()
    writer = QueueWriter(q, LOG)

    async def one(i: int) -> str:
        batches_done = len(q.durable)
        message_id = await writer.submit(sub(f"r{i}@x400.example"))
        assert len(q.durable) > batches_done                       # its batch committed
        return message_id

    async def main() -> tuple[list[str], BaseException]:
        ids = await asyncio.gather(*(one(i) for i in range(50)))
        with pytest.raises(ValueError) as bad:                     # no recipients: refused
            await asyncio.gather(writer.submit(sub(recipients=False)), writer.submit(sub()))
        return list(ids), bad.value

    try:
        ids, bad = asyncio.run(main())
        assert "recipient" in str(bad)
        assert len(set(ids)) == 50
        assert committed(backend) == 51              # the bad one alone failed
        assert q.batches < 50                                      # writes shared commits
    finally:
        writer.close()
        q.close()


def test_writer_refuses_after_close(backend: Backend) -> None:
    q = opener(backend)()
    writer = QueueWriter(q, LOG)
    try:
        async def main() -> None:
            await writer.submit(sub())
            writer.close()
            with pytest.raises(RuntimeError):
                await writer.submit(sub())
        asyncio.run(main())
    finally:
        q.close()


class Broken:
    """A queue (mixin) whose batches end the thread that runs them (a bug, say)."""

    def run_batch(self, calls: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
        raise SystemExit("a bug")


class BrokenQueue(Broken, Queue):
    """A queue whose batches end the thread that runs them (a bug, say)."""


def test_a_writer_that_dies_fails_its_callers_instead_of_hanging(backend: Backend) -> None:
    q = opener(backend, Broken)()
    writer = QueueWriter(q, LOG)

    async def main() -> tuple[BaseException | None, BaseException | None]:
        first = await asyncio.wait_for(asyncio.gather(writer.submit(sub()),
                                                      return_exceptions=True), 10)
        try:
            await asyncio.wait_for(writer.submit(sub()), 10)
        except RuntimeError as exc:
            return first[0], exc
        return first[0], None

    try:
        first, later = asyncio.run(main())
        assert isinstance(first, RuntimeError) and "stopped" in str(first)
        assert isinstance(later, RuntimeError)                     # refused, not queued
    finally:
        writer.close()
        q.close()


def test_the_work_lane_runs_beside_the_submissions_on_postgresql_only(
        backend: Backend) -> None:
    """PostgreSQL (a connection per thread): a claim in the lane WORK commits while a batch
    of the lane SUBMIT is still open; SQLite (one writer at a time): the lanes are one
    thread, the claim waits for that batch."""
    q = opener(backend)()
    writer = QueueWriter(q, LOG)
    release = threading.Event()

    def slow_submit() -> str:
        message_id: str = q.submit(sub())
        release.wait(10)
        return message_id

    async def main() -> tuple[bool, str, int]:
        held = asyncio.ensure_future(writer.call(slow_submit, lane=SUBMIT))
        await asyncio.sleep(0.2)                     # its batch is open, in slow_submit
        claim = asyncio.ensure_future(writer.call(q.claim, "to-x400", lane=WORK))
        done, _ = await asyncio.wait([claim], timeout=2)
        release.set()
        message_id = await held
        return bool(done), message_id, len(await claim)

    try:
        claimed_meanwhile, message_id, jobs = asyncio.run(main())
        assert writer.lanes is (backend.name == "postgresql")
        assert claimed_meanwhile is writer.lanes
        # beside the open batch it saw nothing; after it (one thread), the message
        assert jobs == (0 if writer.lanes else 1)
        assert committed(backend) == 1 and message_id
    finally:
        release.set()
        writer.close()
        q.close()


# -- run_batch: the writer's batches (PostgreSQL: pipelined first, savepoints when one fails) --

class Batches:
    """A queue (mixin) that counts its ``batch()`` transactions (savepoint batches)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.batches = 0

    @contextmanager
    def batch(self) -> Iterator[None]:
        self.batches += 1
        with super().batch():  # type: ignore[misc]
            yield


def failing_call(q: Any, backend: Backend) -> Callable[[], None]:
    """A call that fails in the database (a statement error aborts a PostgreSQL
    transaction: the batch must still keep the other calls)."""
    def call() -> None:
        with q._write() as conn:
            conn.execute(backend.sql("INSERT INTO no_such_table VALUES (?)"), (1,))
    return call


def test_run_batch_keeps_the_others_when_one_call_fails(backend: Backend) -> None:
    """PostgreSQL: the pipelined attempt (no savepoints) is rolled back and the batch run
    again with a savepoint per call; what the caller sees is the same on both backends."""
    q = opener(backend, Batches)()
    try:
        done = q.run_batch([functools.partial(q.submit, sub("a@x400.example")),
                            failing_call(q, backend),
                            functools.partial(q.submit, sub("b@x400.example")),
                            functools.partial(q.claim, "to-x400", limit=5)])
        assert [ok for ok, _ in done] == [True, False, True, True]
        assert isinstance(done[1][1], Exception)
        assert len(done[3][1]) == 2                       # the claim saw both submissions
        assert committed(backend) == 2
        assert q.batches == 1                             # run once with savepoints
        assert {j.message_id for j in done[3][1]} == {done[0][1], done[2][1]}
    finally:
        q.close()


def test_run_batch_without_failures_is_one_pipelined_transaction(backend: Backend) -> None:
    q = opener(backend, Batches)()
    try:
        done = q.run_batch([functools.partial(q.submit, sub(f"r{i}@x400.example"))
                            for i in range(5)])
        assert all(ok for ok, _ in done) and len({mid for _, mid in done}) == 5
        assert committed(backend) == 5
        # PostgreSQL sends it without savepoints (no batch()); SQLite's is a batch()
        assert q.batches == (0 if backend.name == "postgresql" else 1)
        jobs = q.claim("to-x400", limit=5)
        (released,) = q.run_batch([q.release_leases])     # a row count in pipeline mode
        assert released == (True, 5) and len(jobs) == 5
    finally:
        q.close()


def test_pg_a_taken_message_id_in_a_pipelined_batch_is_picked_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipelined submission has no ON CONFLICT (nothing to read back): a taken id fails
    the attempt, and the savepoint run picks another id, as a lone submission does."""
    require_postgres()
    dsn = shared_cluster().create_database()
    tokens = iter(["0000000a", "0000000a", "0000000a", "0000000b", "0000000c"])
    monkeypatch.setattr(sqlqueue.secrets, "token_hex", lambda n: next(tokens))
    with PgQueue(dsn, clock=lambda: 1.0e9) as q:
        first = q.submit(sub("a@x400.example"))                    # ...-0000000a
        done = q.run_batch([functools.partial(q.submit, sub("b@x400.example")),
                            functools.partial(q.submit, sub("c@x400.example"))])
        assert all(ok for ok, _ in done)
        ids = [first, *(mid for _, mid in done)]
        assert len(set(ids)) == 3 and ids[0].endswith("-0000000a")
        assert sorted(m.message_id for m in q.list()) == sorted(ids)


def test_pg_claims_in_pipelined_batches_of_two_nodes_never_overlap() -> None:
    """Several claims in each pipelined batch (the writer's lane), two handles (nodes) at
    once: every recipient claimed exactly once."""
    require_postgres()
    dsn = shared_cluster().create_database()
    with PgQueue(dsn) as feeder:
        ids = set(feeder.submit_many([sub(f"r{i}@x400.example") for i in range(120)]))

    def claims(q: PgQueue, node: str) -> Iterator[list[str]]:
        while True:
            done = q.run_batch([functools.partial(q.claim, "to-x400", limit=3,
                                                  node=node)] * 4)
            jobs = [job for ok, part in done if ok for job in part]
            assert all(ok for ok, _ in done)
            if not jobs:
                return
            yield [j.message_id for j in jobs]
            q.run_batch([functools.partial(q.record, job, {"a@x400.example": Delivered()})
                         for job in jobs])
    claimed_once_by_two_nodes(dsn, ids, claims)


def test_pg_a_batch_claimed_by_a_node_that_dies_is_taken_over_after_the_lease() -> None:
    require_postgres()
    dsn = shared_cluster().create_database()
    now = [1.0e9]
    with PgQueue(dsn, clock=lambda: now[0]) as other:
        ids = other.submit_many([sub(f"r{i}@x400.example") for i in range(6)])
        dead = PgQueue(dsn, clock=lambda: now[0])
        done = dead.run_batch([functools.partial(dead.claim, "to-x400", limit=3, lease=60.0,
                                                 node="dead")] * 2)
        assert sorted(j.message_id for _, jobs in done for j in jobs) == sorted(ids)
        dead.close()                                       # dies holding every lease
        assert other.claim("to-x400", node="b") == []       # leases still running
        now[0] += 61.0
        taken = other.run_batch([functools.partial(other.claim, "to-x400", limit=10,
                                                   node="b")])
        assert sorted(j.message_id for j in taken[0][1]) == sorted(ids)
        assert other.stats().leases_by_node == {"b": 6}


def test_pg_statistics_are_refreshed_when_the_queue_grew() -> None:
    """A new queue that fills fast is analyzed (autovacuum would wait up to a minute):
    the claim's plan then walks the index instead of sorting every due row."""
    require_postgres()
    dsn = shared_cluster().create_database()
    with PgQueue(dsn) as q:
        q.submit_many([sub(f"r{i}@x400.example") for i in range(pg_module._ANALYZE_AFTER)])
        assert q._analyzer is not None
        q._analyzer.join(30)
        with q._held() as conn:
            (tuples,) = conn.execute("SELECT reltuples FROM pg_class "
                                     "WHERE oid = 'recipients'::regclass").fetchone()
        assert tuples == pg_module._ANALYZE_AFTER
        q.submit(sub())                                    # not grown enough: none
        assert not q._analyzer.is_alive()
