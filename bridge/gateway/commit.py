"""The queue's writer: every write of the gateway (and of its SMTP intake processes) goes
through one thread that commits them in groups -- the one gate (STYLE.md §10).

Operations (``Queue.submit``, ``claim``, ``record``, ``release``) queued while the writer
thread is busy are run together in ONE transaction (``Queue.batch``: each a savepoint, one
COMMIT, one fsync), so concurrent SMTP sessions, P1 associations and delivery workers share
fsyncs, and the event loop never waits for the disk.  A caller's future is resolved only after
the COMMIT of its batch returned: a message id only once the message is on disk (RFC 5321
§6.1: the "250" means the gateway has taken responsibility), a recorded outcome only once it
is durable (so a delivery worker still has at most one job between the next hop's "yes" and
the record of it).  One failing operation is undone alone; a failed COMMIT fails the batch.

Measured (bench/gateway.py): fsyncs on the event loop blocked it ~20 % of the time; a thread
hop per operation cost more CPU than the transaction -- one hop per batch costs neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from bridge.queue.api import MessageQueue
from bridge.queue.model import Submission

T = TypeVar("T")

_Op = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


class QueueWriter:
    """Runs queue writes in a thread of its own, in shared transactions."""

    def __init__(self, queue: MessageQueue, log: logging.Logger) -> None:
        self.queue = queue
        self.log = log
        self._ops: list[_Op] = []
        self._current: list[_Op] = []               # the batch the thread is running
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` (a write method of the queue) in the next batch; its result once the
        batch is durable."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._wake:
            if self._closed:
                raise RuntimeError("the queue writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="x400bridge-queue",
                                                daemon=True)
                self._thread.start()
            self._ops.append((fn, args, future))
            self._wake.notify()
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
        """Let the thread finish the batch in hand (what is queued after is refused)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # noqa: BLE001 - a bug: fail loudly, never hang
            self.log.critical("queue writer stopped: %r", exc)
            with self._wake:
                self._closed = True
                ops, self._ops = self._current + self._ops, []
            failure = RuntimeError(f"the queue writer stopped: {exc!r}")
            _hand_back([(future, False, failure) for _, _, future in ops])

    def _serve(self) -> None:
        while True:
            with self._wake:
                while not self._ops and not self._closed:
                    self._wake.wait()
                ops, self._ops = self._ops, []
                self._current = ops
            if not ops:
                return                                # closed and nothing left
            _hand_back(self._batch(ops))
            self._current = []

    def _batch(self, ops: list[_Op]) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        done: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            with self.queue.batch():
                for fn, args, future in ops:
                    try:
                        done.append((future, True, fn(*args)))
                    except Exception as exc:  # noqa: BLE001 - it goes to its caller
                        done.append((future, False, exc))
        except Exception as exc:  # noqa: BLE001 - the COMMIT failed: none of it is durable
            return [(future, False, exc) for _, _, future in ops]
        return done


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
