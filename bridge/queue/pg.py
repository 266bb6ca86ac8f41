"""The queue on PostgreSQL (psycopg 3): the same interface and behaviour as the SQLite
:class:`bridge.queue.store.Queue` (:class:`bridge.queue.api.MessageQueue`), shared by several
processes or nodes.

Durability: a COMMIT that returned is on disk with ``synchronous_commit = on``, which every
session of the queue sets (an operator's ``off`` in postgresql.conf would otherwise let a
crash lose messages already answered "250", RFC 5321 §6.1).

Claims: ``SELECT ... FOR UPDATE OF r SKIP LOCKED`` -- two claimers (threads, processes,
nodes) never wait for each other and never get the same recipient: rows one claimer has
locked are skipped by the other, and once it committed the lease excludes them (READ
COMMITTED re-checks the condition on the row it is about to lock).

Wake-ups: a transaction that makes work due (submit, retry, release) sends ``NOTIFY`` on
:data:`CHANNEL`; PostgreSQL delivers it at COMMIT to every listening session.  Each handle
LISTENs on a second connection of its own, so :meth:`PgQueue.wait_for_work` may block while
the main connection works.

What both backends do alike is :class:`bridge.queue.sqlqueue.SqlQueue` (the SQL in
PostgreSQL's :data:`~bridge.queue.sql.POSTGRESQL` dialect); this module has the connections,
transactions, the claim and the wake-ups.

Thread safety: one connection guarded by a lock, like the SQLite queue.  The schema and its
migrations: :mod:`bridge.queue.migrations_pg`.
"""

from __future__ import annotations

import builtins
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pgerrors

from bridge.queue import migrations_pg
from bridge.queue.model import Direction
from bridge.queue.sql import JOB_RCPT_COLUMNS, POSTGRESQL, claim_eligible
from bridge.queue.sqlqueue import ROWS_PER_JOB, SqlQueue
from bridge.queue.types import Job, QueueCorrupt, QueueError, QueueFull, RetryPolicy

Conn = psycopg.Connection[Any]

#: the NOTIFY channel; the payload is the direction that has work
CHANNEL = "x400bridge_queue"
_DEFAULT_RETRY = RetryPolicy()
#: notifies(timeout=0) would mean "no timeout": the shortest wait instead
_NO_WAIT = 0.001


def redact(dsn: str) -> str:
    """The DSN as logs and errors may show it: any password removed."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _wrap(where: str, exc: psycopg.Error) -> QueueError:
    if isinstance(exc, pgerrors.DiskFull):
        return QueueFull(f"{where}: {exc}")                 # 452 4.3.1
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return QueueError(f"{where}: {exc}")                # down, timeout, lock wait
    return QueueCorrupt(f"{where}: {exc}")


class PgQueue(SqlQueue):
    """A durable message queue in a PostgreSQL database (see the module docstring); what it
    shares with the SQLite queue is :class:`~bridge.queue.sqlqueue.SqlQueue`.

    ``dsn`` is a ``postgresql://user@host:port/db`` URL; ``password`` (from the
    ``password-file``) is passed apart from it, or libpq takes ``PGPASSWORD``.  ``migrate``
    applies missing schema steps at open (else an older schema is refused).
    """

    dialect = POSTGRESQL

    def __init__(self, dsn: str, *, password: str | None = None,
                 retry: RetryPolicy = _DEFAULT_RETRY, clock: Callable[[], float] = time.time,
                 busy_timeout: float = 30.0, create: bool = True, migrate: bool = False,
                 connect_timeout: float = 10.0) -> None:
        self.dsn = dsn
        self.where = redact(dsn)
        self.retry_policy = retry
        self._password = password
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._in_batch = False
        self._listen_lock = threading.Lock()
        self._listener: Conn | None = None
        self._conn: Conn | None = self._connect()
        try:
            migrations_pg.setup(self._conn, self.where, create=create, migrate=migrate)
        except psycopg.Error as exc:
            self._conn.close()
            raise _wrap(self.where, exc) from exc
        except BaseException:
            self._conn.close()
            raise

    # -- plumbing -------------------------------------------------------------------------

    def _open(self, application_name: str) -> Conn:
        """A new autocommit connection (the password, if any, never in a message)."""
        extra: dict[str, Any] = {"application_name": application_name,
                                 "connect_timeout": max(1, round(self._connect_timeout))}
        if self._password is not None:
            extra["password"] = self._password
        return psycopg.connect(self.dsn, autocommit=True, **extra)

    def _connect(self) -> Conn:
        try:
            conn = self._open("x400bridge")
        except psycopg.Error as exc:
            raise QueueError(f"{self.where}: cannot connect to the queue: {exc}") from exc
        try:
            conn.execute("SET synchronous_commit = on")
            # a writer waits for another one's row locks as long as SQLite's busy_timeout
            conn.execute(f"SET lock_timeout = {int(self._busy_timeout * 1000)}")
        except psycopg.Error as exc:
            conn.close()
            raise _wrap(self.where, exc) from exc
        return conn

    def _live(self) -> Conn:
        if self._conn is None:
            raise QueueError(f"{self.where}: queue is closed")
        if self._conn.broken and not self._in_batch:     # the server restarted: reconnect
            self._conn.close()
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        with self._lock:
            conn = self._live()
            if self._in_batch:
                yield conn
                return
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield conn
            except psycopg.Error as exc:
                raise _wrap(self.where, exc) from exc

    @contextmanager
    def _write(self) -> Iterator[Conn]:
        """One transaction, or inside :meth:`batch` a savepoint of the batch's transaction
        (undone alone if it fails)."""
        with self._lock:
            conn = self._live()
            try:
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                raise _wrap(self.where, exc) from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several operations in ONE transaction from this thread (see
        :meth:`bridge.queue.store.Queue.batch`): each a savepoint, one COMMIT at the end."""
        with self._lock:
            conn = self._live()
            if self._in_batch:
                raise QueueError("batches do not nest")
            self._in_batch = True
            try:
                with conn.transaction():
                    yield
            except psycopg.Error as exc:
                raise _wrap(self.where, exc) from exc
            finally:
                self._in_batch = False

    def check_file(self) -> None:
        """The database still answers (the gateway calls this every few seconds; the SQLite
        queue checks its file here).  Raises :class:`QueueError` when it does not."""
        with self._read() as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        """Close both connections (idempotent)."""
        with self._listen_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- schema and wake-ups --------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version of the open queue."""
        with self._read() as conn:
            return migrations_pg.schema_version(conn)

    def migrate(self) -> builtins.list[int]:
        """Apply the schema steps the database lacks (under the advisory lock that keeps
        nodes from doing it twice); the versions applied."""
        with self._lock:
            conn = self._live()
            try:
                return migrations_pg.setup(conn, self.where, create=False, migrate=True)
            except psycopg.Error as exc:
                raise _wrap(self.where, exc) from exc

    def wait_for_work(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a NOTIFY from any node that made work due.

        True: look now (a notification came, or this is the first call -- the listening
        starts then, so what came before is not known); False: the time ran out.  A worker
        claims after every wait either way (a lease that ran out sends nothing).
        """
        with self._listen_lock:
            if self._listener is None or self._listener.closed:
                if self._conn is None:
                    raise QueueError(f"{self.where}: queue is closed")
                try:
                    self._listener = self._open("x400bridge-listen")
                    self._listener.execute(f"LISTEN {CHANNEL}")
                except psycopg.Error as exc:
                    self._listener = None
                    raise QueueError(f"{self.where}: cannot listen: {exc}") from exc
                return True
            try:
                got = sum(1 for _ in self._listener.notifies(
                    timeout=max(_NO_WAIT, timeout), stop_after=1))
                if got:         # drain what else came: one wake-up for a burst
                    sum(1 for _ in self._listener.notifies(timeout=_NO_WAIT))
            except psycopg.Error as exc:
                self._listener.close()
                raise QueueError(f"{self.where}: lost the listening connection: {exc}") \
                    from exc
            return got > 0

    def _made_due(self, conn: Any, directions: Iterable[str]) -> None:
        """NOTIFY every listening session (delivered at COMMIT, never after a rollback)."""
        for direction in directions:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, direction))

    @contextmanager
    def _stream(self, conn: Any, text: str) -> Iterator[Iterable[Any]]:
        with conn.cursor(name="x400bridge_stream") as cur:     # a server-side cursor
            cur.execute(self.dialect.sql(text))
            yield cur

    # -- workers --------------------------------------------------------------------------

    def claim(self, direction: Direction, *, limit: int = 10, lease: float = 600.0,
              node: str = "") -> builtins.list[Job]:
        """Claim up to ``limit`` jobs (see :meth:`bridge.queue.store.Queue.claim`); rows
        another claimer holds are skipped (FOR UPDATE SKIP LOCKED), never waited for."""
        now = self._clock()
        token = secrets.token_hex(8)
        jobs: list[Job] = []
        eligible = claim_eligible(self.retry_policy)
        params: dict[str, Any] = {"now": now, "dir": direction}
        with self._write() as conn:
            # Candidates by priority (RFC 6710, highest first), then in due order, read
            # without locks (the partial index recipients_active); then each (message,
            # route) is locked on its own and rows another claimer holds are skipped --
            # only what is claimed is locked, so a claim inside a long batch does not hide
            # more than its jobs from other nodes.
            rows_due = self._x(
                conn, "SELECT r.message_id, r.route FROM recipients r "
                f"JOIN messages m ON m.id = r.message_id WHERE {eligible} "
                "ORDER BY r.priority DESC, r.next_attempt, r.seq LIMIT :rows",
                {**params, "rows": limit * ROWS_PER_JOB}).fetchall()
            messages: dict[str, tuple[Any, ...]] = {}
            for message_id, route in dict.fromkeys((m, r) for m, r in rows_due):
                if len(jobs) >= limit:
                    break
                rows = self._x(
                    conn, f"SELECT {JOB_RCPT_COLUMNS} FROM recipients r "
                    "JOIN messages m ON m.id = r.message_id "
                    f"WHERE r.message_id = :mid AND r.route = :route AND {eligible} "
                    "ORDER BY r.idx FOR UPDATE OF r SKIP LOCKED",
                    {**params, "mid": message_id, "route": route}).fetchall()
                if not rows:
                    continue              # taken by another claimer meanwhile
                self._lease(conn, message_id, rows, until=now + lease, token=token, node=node)
                jobs.append(self._job(conn, messages, direction, message_id, route, rows,
                                      token))
        return jobs
