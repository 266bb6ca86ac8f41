"""The queue as an interface: what the gateway, the CLI and the tests may call, and
:func:`open_queue`, which picks the backend.

Two backends implement :class:`MessageQueue`: :class:`bridge.queue.store.Queue` (one SQLite
file, the embedded default) and :class:`bridge.queue.pg.PgQueue` (PostgreSQL, shared by
several processes or nodes).  ``tests/test_queue.py`` and ``tests/test_queue_writer.py`` run
one contract suite against both.  States, leases, backoff, expiry, reports and dead letters
are described once, in ``docs/queue.md``.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, Protocol

from bridge.queue.model import Direction, Outcome, Submission
from bridge.queue.settings import BackendSettings
from bridge.queue.types import (
    Job,
    MessageInfo,
    MessageSummary,
    QueueStats,
    ReportTask,
    RetryPolicy,
)

_DEFAULT_RETRY = RetryPolicy()


class MessageQueue(Protocol):
    """A durable queue (docs/queue.md).  Every write is durable when it returns, or -- inside
    :meth:`batch` -- when the batch ends; errors are :class:`~bridge.queue.types.QueueError`
    (``QueueFull``, ``QueueGone``, ``QueueCorrupt``, ``NoSuchMessage``) or ``ValueError`` for
    bad arguments."""

    retry_policy: RetryPolicy
    #: whether writes from several threads run at once (PostgreSQL: a connection per thread;
    #: SQLite: one writer at a time) -- the queue writer's lanes follow it
    concurrent_writes: ClassVar[bool]

    # the way in
    def submit(self, sub: Submission) -> str: ...
    def submit_many(self, subs: Sequence[Submission]) -> builtins.list[str]: ...

    # workers
    def claim(self, direction: Direction, *, limit: int = 10, lease: float = 600.0,
              node: str = "") -> builtins.list[Job]: ...
    def record(self, job: Job, outcomes: Mapping[str, Outcome]) -> None: ...
    def record_many(self, items: Sequence[tuple[Job, Mapping[str, Outcome]]]) -> None: ...
    def release(self, job: Job) -> None: ...
    def release_leases(self, node: str | None = None) -> int:
        """Release ``node``'s leases (a node starting again), or every lease (None)."""
        ...
    def shunt(self, message_id: str, reason: str) -> None: ...
    def wait_for_work(self, timeout: float, *, foreign: bool = False) -> bool:
        """Block up to ``timeout`` s until work may be due (``foreign``: work other handles
        made due only); call through ``asyncio.to_thread`` from the event loop, claim after
        it either way."""
        ...

    # reports
    def reports_due(self, *, limit: int = 100) -> builtins.list[ReportTask]: ...
    def mark_reported(self, message_id: str, addresses: Iterable[str], kind: str) -> None: ...

    # operators
    def retry(self, message_id: str) -> int: ...
    def purge(self, *, older_than: float) -> int: ...
    def drop(self, message_id: str) -> bool: ...
    def get(self, message_id: str) -> MessageInfo | None: ...
    def list(self, *, state: str | None = None, direction: str | None = None,
             limit: int = 100) -> builtins.list[MessageSummary]: ...
    def stats(self) -> QueueStats: ...
    def verify(self) -> builtins.list[str]: ...

    # transactions, schema, life cycle
    def batch(self) -> AbstractContextManager[None]: ...
    def run_batch(self, calls: Sequence[Callable[[], Any]]
                  ) -> builtins.list[tuple[bool, Any]]:
        """Each call (an operation of this queue) in ONE transaction, in order: per call
        ``(True, result)`` or ``(False, exception)`` -- a failed call undone alone, the
        others durable when this returns; raises when the COMMIT failed (none durable)."""
        ...
    def check_file(self) -> None:
        """Raise ``QueueGone``/``QueueError`` when the store is no longer usable (the SQLite
        file was replaced, the database does not answer)."""
        ...
    def schema_version(self) -> int: ...
    def migrate(self) -> builtins.list[int]: ...
    def close(self) -> None: ...

    def __enter__(self) -> MessageQueue: ...

    def __exit__(self, *exc: object) -> None: ...


def open_queue(settings: BackendSettings, *, path: Path | None = None,
               retry: RetryPolicy = _DEFAULT_RETRY, clock: Callable[[], float] = time.time,
               busy_timeout: float = 30.0, create: bool = True,
               migrate: bool = False) -> MessageQueue:
    """Open the queue ``settings`` name: the SQLite file ``path`` (``[queue] path``), or the
    PostgreSQL database at ``settings.dsn`` with the password from ``password-file`` (read
    now) or ``PGPASSWORD``.  ``create`` makes an empty store a queue; ``migrate`` brings an
    older PostgreSQL schema up to date (an SQLite file always is, when opened).

    Raises :class:`~bridge.queue.types.QueueError` (unreachable, newer schema, ...),
    :class:`~bridge.errors.ConfigError` (unreadable password file)."""
    if settings.backend == "postgresql":
        from bridge.queue.pg import PgQueue  # psycopg is loaded only when used

        assert settings.dsn is not None           # settings.backend_settings checked it
        return PgQueue(settings.dsn, password=settings.read_password(), retry=retry,
                       clock=clock, busy_timeout=busy_timeout, create=create, migrate=migrate)
    from bridge.queue.store import Queue

    if path is None:
        raise ValueError("the SQLite backend needs the queue's path")
    return Queue(path, retry=retry, clock=clock, busy_timeout=busy_timeout, create=create)
