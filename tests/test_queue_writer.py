"""Group commit: ``Queue.batch`` (several operations, one transaction, one fsync) and the
gateway's ``QueueWriter`` (every queue write in a thread of its own, batched).

What the gateway relies on: nothing of a batch is visible to another connection -- durable --
before the batch ends, and then all of it is (RFC 5321 §6.1: the "250" comes after); a caller
hears its result only after that; one failing operation is undone alone and fails alone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bridge.gateway.commit import SUBMIT, WORK, QueueWriter
from bridge.queue import Delivered, Queue, QueueError, Recipient, Submission
from bridge.queue.pg import PgQueue
from tests.pgserver import Backend, require_postgres, shared_cluster

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
    """A queue (mixin) that counts its batches and notes when each has committed."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.batches = 0
        self.durable: list[bool] = []

    @contextmanager
    def batch(self) -> Iterator[None]:
        self.batches += 1
        with super().batch():  # type: ignore[misc]
            yield
        self.durable.append(True)


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

    @contextmanager
    def batch(self) -> Iterator[None]:
        raise SystemExit("a bug")
        yield


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
