"""The queue's writer: every write of the gateway (and of its SMTP intake processes) goes
through one thread that commits them in groups -- the one gate (STYLE.md §10).

Operations (``Queue.submit``, ``claim``, ``record``, ``release``) queued while the writer
thread is busy are run together in ONE transaction (``Queue.run_batch``: each a savepoint --
on PostgreSQL first pipelined without any, ``PgQueue.run_batch`` -- one COMMIT, one fsync),
so concurrent SMTP sessions, P1 associations and delivery workers share fsyncs, and the event
loop never waits for the disk.  A caller's future is resolved only after the COMMIT of its
batch returned: a message id only once the message is on disk (RFC 5321 §6.1: the "250"
means the gateway has taken responsibility), a recorded outcome only once it is durable (so a
delivery worker still has at most one job between the next hop's "yes" and the record of
it).  One failing operation is undone alone; a failed COMMIT fails the batch.

Lanes: the delivery workers' records and releases go in the lane ``WORK``, their claims in
``CLAIM``, the rest in ``SUBMIT``.  On SQLite (one writer at a time) all are the one thread;
on PostgreSQL (``PgQueue.concurrent_writes``: a connection per thread) each lane is a thread
with its own batches, so they run at once -- one thread for all made every round trip of
every write wait for the others (bench/queue_speed.py, docs/queue.md "Speed").  A worker
waits for its record's COMMIT before it transfers the next job, so records have a lane of
their own: a claim (a read of the due rows, ms on a backlog) in the same batch delayed every
record of it (bench/gateway.py on PostgreSQL, profiled: claims took about half the lane's
time).

Measured (bench/gateway.py): fsyncs on the event loop blocked it ~20 % of the time; a thread
hop per operation cost more CPU than the transaction -- one hop per batch costs neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from bridge.queue.api import MessageQueue
from bridge.queue.model import Submission

T = TypeVar("T")

_Op = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]

#: The writer's lanes: the way in (submissions, and what else has no lane of its own), the
#: delivery workers' records and releases, and their claims.
SUBMIT = "submit"
WORK = "work"
CLAIM = "claim"


class QueueWriter:
    """Runs queue writes in a thread of its own, in shared transactions.

    On a queue whose transactions can run at once (``queue.concurrent_writes``: PostgreSQL,
    a connection per thread) each lane has its own thread and batches, so the workers'
    claims and records do not wait behind the submissions' commits nor they behind them;
    on SQLite, which has one writer at a time anyway, every lane is the one thread."""

    def __init__(self, queue: MessageQueue, log: logging.Logger) -> None:
        self.queue = queue
        self.log = log
        self.lanes = queue.concurrent_writes
        self._guard = threading.Lock()
        self._closed = False
        self._threads: dict[str, _Lane] = {}

    async def call(self, fn: Callable[..., T], *args: Any, lane: str = SUBMIT) -> T:
        """``fn(*args)`` (a write method of the queue) in the next batch of ``lane``; its
        result once the batch is durable."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._guard:
            if self._closed:
                raise RuntimeError("the queue writer is closed")
            key = lane if self.lanes else SUBMIT
            runner = self._threads.get(key)
            if runner is None:
                runner = self._threads[key] = _Lane(self, key)
            runner.put((fn, args, future))
        return await future

    async def submit(self, sub: Submission) -> str:
        """Queue ``sub`` durably; its message id once committed (logged: one line a message,
        the queue id tied to the id the other side knows it by)."""
        message_id: str = await self.call(self.queue.submit, sub)
        meta = sub.meta
        self.log.info("queued %s %s from %s origin=%s client=%s rcpts=%d known-as=%s",
                      message_id, sub.direction, sub.sender or "<>", sub.origin,
                      meta.get("client") or meta.get("peer") or "-", len(sub.recipients),
                      meta.get("tracking") or meta.get("mts_id") or "-")
        return message_id

    def close(self, timeout: float = 30.0) -> None:
        """Let the threads finish the batches in hand (what is queued after is refused)."""
        with self._guard:
            self._closed = True
            lanes = list(self._threads.values())
        for runner in lanes:
            runner.close()
        for runner in lanes:
            runner.join(timeout)

    def _stopped(self) -> None:
        """A lane's thread died (a bug): refuse whatever comes next, on every lane."""
        with self._guard:
            self._closed = True


class _Lane:
    """One thread of a :class:`QueueWriter` and the operations queued for it.

    The operations reach the thread through a ``queue.SimpleQueue`` (C: a put neither takes
    a lock in Python nor notifies a condition -- the event loop thread puts one per write, and
    ``Condition.notify`` was a tenth of its queue-writer cost, bench/gateway.py profiled); the
    thread takes what has arrived into one batch.  ``None`` asks it to stop after that."""

    def __init__(self, writer: QueueWriter, name: str) -> None:
        self.writer = writer
        self.queue = writer.queue
        self.log = writer.log
        self._inbox: SimpleQueue[_Op | None] = SimpleQueue()
        self._current: list[_Op] = []               # the batch the thread is running
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name="x400bridge-queue" if name == SUBMIT else f"x400bridge-queue-{name}")
        self._thread.start()

    def put(self, op: _Op) -> None:
        self._inbox.put(op)

    def close(self) -> None:
        self._inbox.put(None)

    def join(self, timeout: float) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # noqa: BLE001 - a bug: fail loudly, never hang
            self.log.critical("queue writer stopped: %r", exc)
            self.writer._stopped()
            ops = self._current + [op for op in self._drain() if op is not None]
            failure = RuntimeError(f"the queue writer stopped: {exc!r}")
            _hand_back([(future, False, failure) for _, _, future in ops])

    def _drain(self) -> list[_Op | None]:
        """What has arrived and not been taken yet."""
        out: list[_Op | None] = []
        while True:
            try:
                out.append(self._inbox.get_nowait())
            except Empty:
                return out

    def _serve(self) -> None:
        closing = False
        while not closing:
            arrived = [self._inbox.get(), *self._drain()]   # waits for the first
            closing = None in arrived
            ops = [op for op in arrived if op is not None]
            if ops:
                self._current = ops
                _hand_back(self._batch(ops))
                self._current = []

    def _batch(self, ops: list[_Op]) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        calls = [functools.partial(fn, *args) for fn, args, _ in ops]
        try:
            done = self.queue.run_batch(calls)
        except Exception as exc:  # noqa: BLE001 - the COMMIT failed: none of it is durable
            return [(future, False, exc) for _, _, future in ops]
        return [(future, ok, value)
                for (_, _, future), (ok, value) in zip(ops, done, strict=True)]


def _hand_back(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """Resolve the callers' futures on their event loops: one hand-over per loop and batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
    for result in results:
        by_loop.setdefault(result[0].get_loop(), []).append(result)
    for loop, part in by_loop.items():
        with contextlib.suppress(RuntimeError):   # a closed loop: nobody waits
            loop.call_soon_threadsafe(_resolve, part)


def _resolve(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in results:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
