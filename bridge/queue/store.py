"""The durable queue: the one gate between the two sides of the gateway (STYLE.md §10).

Every message enters through :meth:`Queue.submit`, which returns only after the COMMIT is on
disk (WAL, ``synchronous=FULL``), so a peer is told "accepted" (SMTP 250, RFC 5321 §4.2.5;
P1 transfer confirmed, X.411 §12.2) for nothing that a crash could lose.  State is kept per
recipient; delivery workers :meth:`~Queue.claim` jobs under a lease, deliver, and
:meth:`~Queue.record` one outcome per recipient.  The states, transitions, backoff, expiry and
the duplicate window are described in ``docs/queue.md``.

What both backends do alike (submit, record, reports, the operator verbs, one SQL text per
statement) is :class:`bridge.queue.sqlqueue.SqlQueue`; this module has the SQLite connection,
its transactions and its claim.

Thread safety: one connection guarded by a lock -- the gateway calls the queue from several
asyncio tasks through ``asyncio.to_thread``.  Other processes (the CLI) share the file through
SQLite's own locking.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridge.queue.model import Direction
from bridge.queue.rows import wrap_error
from bridge.queue.schema import connect, migrate, schema_version
from bridge.queue.sql import JOB_RCPT_COLUMNS, SQLITE, claim_eligible
from bridge.queue.sqlqueue import ROWS_PER_JOB, SqlQueue
from bridge.queue.types import Job, QueueError, QueueGone, RetryPolicy

_DEFAULT_RETRY = RetryPolicy()
#: The highest priority of an active recipient below ``:below`` (one seek of the partial
#: index recipients_active: SQLite's min/max optimisation)
_TOP_LEVEL = ("SELECT max(priority) FROM recipients INDEXED BY recipients_active "
              "WHERE state IN ('pending', 'deferred') AND priority < :below")
_ABOVE_ALL = 1 << 31   # above every priority (RFC 6710: at most 9)


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the queue file, None when there is none (an os.stat: ≈1 µs)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Queue(SqlQueue):
    """A durable message queue in one SQLite file (see the module docstring); what it
    shares with the PostgreSQL queue is :class:`~bridge.queue.sqlqueue.SqlQueue`."""

    dialect = SQLITE

    def __init__(self, path: Path, *, retry: RetryPolicy = _DEFAULT_RETRY,
                 clock: Callable[[], float] = time.time, busy_timeout: float = 30.0,
                 create: bool = True) -> None:
        self.path = Path(path)
        self.retry_policy = retry
        self._clock = clock
        self._lock = threading.RLock()
        self._batch_owner: int | None = None     # the thread inside batch(), if any
        self._conn: sqlite3.Connection | None = connect(
            self.path, busy_timeout=busy_timeout, create=create)
        self._identity = _identity(self.path)
        self._work = threading.Event()           # set when this handle made work due

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._live()
            if self._batch_owner is not None:      # inside batch(): its transaction
                yield conn
                return
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise wrap_error(self.path, exc) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock up front, so two
        claimers (threads or processes) never see the same due rows.  Inside
        :meth:`batch` it is a SAVEPOINT of the batch's transaction instead: undone alone if
        it fails, durable with the batch."""
        with self._lock:
            conn = self._live()
            if self._batch_owner is not None:
                try:
                    conn.execute("SAVEPOINT op")
                    try:
                        yield conn
                    except BaseException:
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        raise
                    conn.execute("RELEASE op")
                except sqlite3.DatabaseError as exc:
                    raise wrap_error(self.path, exc) from exc
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    self._still_ours()
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise wrap_error(self.path, exc) from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run several operations (submit, claim, record, ...) in ONE transaction, from this
        thread: each is a savepoint (a failed one is undone alone and raises as usual), and
        the one COMMIT -- one fsync -- makes them all durable at once when the block ends.
        Nothing in the block is durable before then: a caller must not report success for
        an operation until the block has ended without an exception."""
        with self._lock:
            conn = self._live()
            if self._batch_owner is not None:
                raise QueueError("batches do not nest")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise wrap_error(self.path, exc) from exc
            self._batch_owner = threading.get_ident()
            try:
                yield
                self._still_ours()
            except BaseException:
                self._batch_owner = None
                with contextlib.suppress(sqlite3.DatabaseError):
                    conn.execute("ROLLBACK")
                raise
            self._batch_owner = None
            try:
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise wrap_error(self.path, exc) from exc

    def check_file(self) -> None:
        """Raise :class:`QueueGone` if the queue file is no longer the one opened."""
        self._still_ours()

    def _still_ours(self) -> None:
        """Before a COMMIT: the file at :attr:`path` is still the one we opened.  A state
        directory removed (or a queue file replaced) under a running gateway would otherwise
        take confirmed messages into an unlinked file (issue 12: 1,200 P1 transfers
        confirmed into a deleted database)."""
        if _identity(self.path) != self._identity:
            raise QueueGone(f"{self.path}: the queue file was removed or replaced while "
                            "open; nothing is accepted until the gateway is restarted")

    def wait_for_work(self, timeout: float, *, foreign: bool = False) -> bool:
        """Block up to ``timeout`` seconds until work may be due (True) or not (False).

        SQLite has no notifications between processes: this wakes for what *this* handle
        made due (submit, retry, release) -- with ``foreign`` (other handles' work only)
        never; other processes' work is found by polling -- a worker calls :meth:`claim`
        after every wait, True or not.  (PostgreSQL: LISTEN/NOTIFY across every node,
        :meth:`bridge.queue.pg.PgQueue.wait_for_work`.)"""
        if foreign:
            time.sleep(max(0.0, timeout))
            return False
        if self._work.wait(max(0.0, timeout)):
            self._work.clear()
            return True
        return False

    def schema_version(self) -> int:
        """The schema version of the open queue (:mod:`bridge.queue.migrations`)."""
        with self._read() as conn:
            return schema_version(conn)

    def migrate(self) -> builtins.list[int]:
        """Apply the schema steps this queue lacks; the versions applied.  Opening an SQLite
        queue already does this (one gateway owns the file), so normally none."""
        with self._write() as conn:
            return migrate(conn, str(self.path))

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise QueueError(f"{self.path}: queue is closed")
        return self._conn

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _made_due(self, conn: Any, directions: Iterable[str]) -> None:
        del conn, directions          # this handle's waiters; other processes poll
        self._work.set()

    def _integrity(self, conn: Any) -> builtins.list[str]:
        return [f"sqlite: {line}" for (line,) in conn.execute("PRAGMA integrity_check")
                if line != "ok"]

    # -- workers --------------------------------------------------------------------------

    def claim(self, direction: Direction, *, limit: int = 10, lease: float = 600.0,
              node: str = "") -> builtins.list[Job]:
        """Claim up to ``limit`` jobs: due active recipients of ``direction`` whose route is
        not backing off and that nobody holds, one :class:`Job` per (message, route).

        The claim is a lease held by ``node`` (the gateway node's name): if the worker neither
        records nor releases it within ``lease`` seconds (it crashed, its node died), the
        recipients become claimable again -- by any node (docs/queue.md "Nodes").
        """
        now = self._clock()
        token = secrets.token_hex(8)
        jobs: list[Job] = []
        eligible = claim_eligible(self.retry_policy)
        params = {"now": now, "dir": direction}
        with self._write() as conn:
            # Highest priority first (RFC 6710), oldest due first within a priority: per
            # priority present, a seek for the level and a walk of the partial index
            # recipients_active (priority, next_attempt) in next_attempt order that stops
            # after enough rows -- the cost follows the batch and the number of levels, not
            # the backlog (a GROUP BY over every due row made a 100k backlog cost 100k).
            wanted = limit * ROWS_PER_JOB
            rows_due: list[tuple[str, str]] = []
            level = conn.execute(_TOP_LEVEL, {"below": _ABOVE_ALL}).fetchone()[0]
            while level is not None and len(rows_due) < wanted \
                    and len(set(rows_due)) < limit:
                rows_due += map(tuple, conn.execute(
                    "SELECT r.message_id, r.route FROM recipients r "
                    "INDEXED BY recipients_active JOIN messages m ON m.id = r.message_id "
                    f"WHERE r.priority = :level AND {eligible} "
                    "ORDER BY r.next_attempt LIMIT :rows",
                    {**params, "level": level, "rows": wanted - len(rows_due)}))
                level = conn.execute(_TOP_LEVEL, {"below": level}).fetchone()[0]
            messages: dict[str, tuple[Any, ...]] = {}
            for message_id, route in list(dict.fromkeys(rows_due))[:limit]:
                rows = conn.execute(
                    f"SELECT {JOB_RCPT_COLUMNS} FROM recipients r "
                    "JOIN messages m ON m.id = r.message_id "
                    f"WHERE r.message_id = :mid AND r.route = :route AND {eligible} "
                    "ORDER BY r.idx", {**params, "mid": message_id, "route": route}).fetchall()
                self._lease(conn, message_id, rows, until=now + lease, token=token, node=node)
                jobs.append(self._job(conn, messages, direction, message_id, route, rows,
                                      token))
        return jobs
