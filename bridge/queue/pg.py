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

Threads: a small pool of connections (``pool_size``, opened as needed), one per operation or
per :meth:`PgQueue.batch` of a thread, so several threads' transactions run at once (the
gateway's submit and delivery writers, :mod:`bridge.gateway.commit`) where the SQLite queue
has one connection behind a lock.  The schema and its migrations:
:mod:`bridge.queue.migrations_pg`.

Round trips (docs/queue.md "Speed"): on PostgreSQL each statement is one, and a transaction
waits for them in turn, so the hot operations are one statement each where SQLite runs
several -- a submission (message, recipients, history, NOTIFY), a claim (candidates, locks,
leases, the jobs' rows), a record of final outcomes -- and other records two (read and lock
the rows, then one write); an operation inside a batch is a savepoint, released with the next
one's in one round trip.  The queue writer's batches (:meth:`PgQueue.run_batch`) go in
pipeline mode without savepoints first: BEGIN, submissions, records and COMMIT in one round
trip, a claim waits for its rows only.  Each round trip is also a wait of the writer's thread
for the GIL, which the gateway's event loop holds while it runs.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pgerrors
from psycopg import pq

from bridge.queue import migrations_pg
from bridge.queue.model import Delivered, Direction, Failed, Outcome, Submission
from bridge.queue.rows import recipient_from_row
from bridge.queue.sql import JOB_RCPT_COLUMNS, POSTGRESQL, claim_eligible
from bridge.queue.sqlqueue import ROWS_PER_JOB, Change, SqlQueue, submitted_detail
from bridge.queue.types import Job, QueueCorrupt, QueueError, QueueFull, RetryPolicy

Conn = psycopg.Connection[Any]

#: the NOTIFY channel; the payload is the direction that has work
CHANNEL = "x400bridge_queue"
_DEFAULT_RETRY = RetryPolicy()
#: notifies(timeout=0) would mean "no timeout": the shortest wait instead
_NO_WAIT = 0.001
#: connections a handle opens at most by default: the gateway's three writer lanes
#: (:mod:`bridge.gateway.commit`), a reader, one spare (each node and SMTP intake process
#: has its own handle; a handle opens only as many as it uses at once)
POOL_SIZE = 5
#: candidate rows the one-statement claim reads per job it may return: each is joined to
#: its message and destination, so fewer than ``ROWS_PER_JOB`` (SQLite's, and the claim
#: group by group); messages with more recipients per route than this make a smaller batch
_ROWS_PER_JOB = 4
#: recipients a handle submits, at least, before it refreshes the planner's statistics
#: (:meth:`PgQueue._grew`); after that each time the table may have doubled
_ANALYZE_AFTER = 100

#: One submission in one statement: the message (a taken id inserts nothing, and then
#: nothing else either), its recipients from arrays, its history event, the wake-up.
_SUBMIT = """
WITH m AS (
    INSERT INTO messages (id, direction, origin, sender, meta, data, digest, nrcpt, created)
    VALUES (%(id)s, %(dir)s, %(origin)s, %(sender)s, %(meta)s, %(data)s, %(digest)s,
            %(nrcpt)s, %(now)s)
    ON CONFLICT (id) DO NOTHING RETURNING id),
r AS (
    INSERT INTO recipients (message_id, idx, address, route, notify, orcpt, extra, priority,
                            state, since, next_attempt)
    SELECT m.id, v.n - 1, v.address, v.route, v.notify, v.orcpt, v.extra, v.priority,
           'pending', %(now)s, %(now)s
    FROM m, unnest(%(address)s::text[], %(route)s::text[], %(notify)s::text[],
                   %(orcpt)s::text[], %(extra)s::text[], %(priority)s::integer[])
         WITH ORDINALITY AS v(address, route, notify, orcpt, extra, priority, n)),
h AS (
    INSERT INTO history (message_id, at, event, address, detail)
    SELECT m.id, %(now)s, 'submitted', '', %(detail)s FROM m)
SELECT m.id, pg_notify(%(channel)s, %(dir)s) FROM m
"""
#: :data:`_SUBMIT` in a pipelined batch (:meth:`PgQueue._pipelined`): a taken id is a unique
#: violation that fails the batch -- run again with savepoints, where :data:`_SUBMIT` picks
#: another id -- so nothing needs reading back and the submission waits for no result
_SUBMIT_PIPELINED = _SUBMIT.replace("    ON CONFLICT (id) DO NOTHING RETURNING id),",
                                    "    RETURNING id),")

#: The outcomes of one job in one statement (what ``SqlQueue._record_in`` decided): the
#: recipients changed, those released, their history in order, the destination's backoff
#: ended when it answered.
_RECORD = """
WITH v AS (
    SELECT * FROM unnest(%(idx)s::integer[], %(attempts)s::integer[], %(state)s::text[],
                         %(last_kind)s::text[], %(last_status)s::text[],
                         %(last_diagnostic)s::text[], %(last_detail)s::text[],
                         %(last_x400)s::text[], %(next_attempt)s::double precision[],
                         %(event)s::text[], %(address)s::text[], %(detail)s::text[])
         WITH ORDINALITY AS v(idx, attempts, state, last_kind, last_status, last_diagnostic,
                              last_detail, last_x400, next_attempt, event, address, detail,
                              n)),
u AS (
    UPDATE recipients r SET state = v.state, attempts = v.attempts, lease_until = NULL,
        claim = NULL, node = NULL, last_at = %(now)s, last_kind = v.last_kind,
        last_status = v.last_status, last_diagnostic = v.last_diagnostic,
        last_detail = v.last_detail, last_x400 = v.last_x400,
        next_attempt = coalesce(v.next_attempt, r.next_attempt)
    FROM v WHERE r.message_id = %(mid)s AND r.idx = v.idx),
released AS (
    UPDATE recipients SET lease_until = NULL, claim = NULL, node = NULL
    WHERE message_id = %(mid)s AND idx = ANY(%(released)s::integer[])),
h AS (
    INSERT INTO history (message_id, at, event, address, detail)
    SELECT %(mid)s, %(now)s, v.event, v.address, v.detail FROM v ORDER BY v.n),
answered AS (
    DELETE FROM routes WHERE %(answered)s AND direction = %(dir)s AND route = %(route)s)
SELECT 1
"""

#: Final outcomes only (Delivered, Failed: nothing to compute from the rows) in ONE
#: statement, without reading the rows first: the active recipients of the job with an
#: outcome change, those without one are released if the claim is still theirs (as
#: ``SqlQueue._record_in`` decides), history in recipient order, the destination answered.
_RECORD_FINAL = """
WITH v AS (
    SELECT * FROM unnest(%(address)s::text[], %(state)s::text[], %(last_status)s::text[],
                         %(last_diagnostic)s::text[], %(last_detail)s::text[],
                         %(last_x400)s::text[], %(detail)s::text[])
         AS v(address, state, last_status, last_diagnostic, last_detail, last_x400, detail)),
u AS (
    UPDATE recipients r SET state = v.state, attempts = r.attempts + 1, lease_until = NULL,
        claim = NULL, node = NULL, last_at = %(now)s, last_kind = v.state,
        last_status = v.last_status, last_diagnostic = v.last_diagnostic,
        last_detail = v.last_detail, last_x400 = v.last_x400
    FROM v WHERE r.message_id = %(mid)s AND r.route = %(route)s AND r.address = v.address
        AND r.state IN ('pending', 'deferred')
    RETURNING r.idx, r.address, v.state, v.detail),
released AS (
    UPDATE recipients SET lease_until = NULL, claim = NULL, node = NULL
    WHERE message_id = %(mid)s AND route = %(route)s AND address = ANY(%(released)s::text[])
        AND state IN ('pending', 'deferred') AND claim = %(claim)s),
h AS (
    INSERT INTO history (message_id, at, event, address, detail)
    SELECT %(mid)s, %(now)s, u.state, u.address, u.detail FROM u ORDER BY u.idx),
answered AS (
    DELETE FROM routes WHERE direction = %(dir)s AND route = %(route)s)
SELECT 1
"""

#: The record columns a :class:`~bridge.queue.sqlqueue.Change` may set, as _RECORD's arrays
_CHANGE_FIELDS = ("state", "last_kind", "last_status", "last_diagnostic", "last_detail",
                  "last_x400", "next_attempt")


def _claim_sql(eligible: str) -> str:
    """A claim in one statement: the candidates by priority (RFC 6710, highest first), then
    in due order, read without locks (the partial index recipients_active); the first
    ``:limit`` (message, route) groups among them; their eligible rows locked, those another
    claimer holds skipped (FOR UPDATE SKIP LOCKED: no wait, and only what is claimed is
    locked); the lease; the jobs' rows in the candidates' order, each message's data once.
    When there were candidates but every one was skipped, one row of NULLs instead: the
    caller then goes on group by group -- and only then (nothing due: one statement)."""
    return f"""
WITH due AS (
    SELECT r.message_id, r.route,
           row_number() OVER (ORDER BY r.priority DESC, r.next_attempt, r.seq) AS rank
    FROM (SELECT r.message_id, r.route, r.priority, r.next_attempt, r.seq
          FROM recipients r JOIN messages m ON m.id = r.message_id WHERE {eligible}
          ORDER BY r.priority DESC, r.next_attempt, r.seq LIMIT :rows) r),
groups AS (
    SELECT message_id, route, min(rank) AS rank FROM due GROUP BY message_id, route
    ORDER BY rank LIMIT :limit),
locked AS (
    SELECT l.message_id, l.idx FROM groups g, LATERAL (
        SELECT r.message_id, r.idx FROM recipients r JOIN messages m ON m.id = r.message_id
        WHERE r.message_id = g.message_id AND r.route = g.route AND {eligible}
        FOR UPDATE OF r SKIP LOCKED) l),
leased AS (
    UPDATE recipients r SET lease_until = :until, claim = :token, node = :node
    FROM locked l WHERE r.message_id = l.message_id AND r.idx = l.idx
    RETURNING {JOB_RCPT_COLUMNS}, r.message_id, r.route),
jobs AS (
    SELECT l.idx, l.address, l.notify, l.orcpt, l.extra, l.attempts, l.message_id, l.route,
           m.origin, m.sender, m.meta, m.created,
           CASE WHEN row_number() OVER (PARTITION BY l.message_id ORDER BY l.idx) = 1
                THEN m.data END AS data, g.rank
    FROM leased l JOIN groups g USING (message_id, route) JOIN messages m ON m.id = l.message_id
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    WHERE NOT EXISTS (SELECT 1 FROM leased) AND EXISTS (SELECT 1 FROM groups))
SELECT idx, address, notify, orcpt, extra, attempts, message_id, route, origin, sender, meta,
       created, data FROM jobs ORDER BY rank, idx
"""


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
    concurrent_writes = True

    def __init__(self, dsn: str, *, password: str | None = None,
                 retry: RetryPolicy = _DEFAULT_RETRY, clock: Callable[[], float] = time.time,
                 busy_timeout: float = 30.0, create: bool = True, migrate: bool = False,
                 connect_timeout: float = 10.0, pool_size: int = POOL_SIZE) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.dsn = dsn
        self.where = redact(dsn)
        self.retry_policy = retry
        self._password = password
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._connect_timeout = connect_timeout
        self._pool = threading.Condition()
        self._idle: list[Conn] = []             # connections no operation holds
        self._opened = 0                        # connections open (idle or held)
        self._pool_size = pool_size
        self._closed = False
        self._local = threading.local()         # .batch: this thread's _Batch, if any
        self._listen_lock = threading.Lock()
        self._listener: Conn | None = None
        # the server processes of this handle's connections: a NOTIFY names its sender's
        self._backends: dict[int, Conn] = {}
        self._stats_lock = threading.Lock()
        self._grown = 0                         # recipients submitted since the statistics
        self._stats_rows = 0                    # recipients the statistics counted
        self._analyzer: threading.Thread | None = None
        conn = self._connect()
        try:
            migrations_pg.setup(conn, self.where, create=create, migrate=migrate)
        except psycopg.Error as exc:
            conn.close()
            raise _wrap(self.where, exc) from exc
        except BaseException:
            conn.close()
            raise
        self._idle.append(conn)
        self._opened = 1

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
            # a writer waits for another one's row locks as long as SQLite's busy_timeout
            conn.execute("SET synchronous_commit = on; "
                         f"SET lock_timeout = {int(self._busy_timeout * 1000)}")
        except psycopg.Error as exc:
            conn.close()
            raise _wrap(self.where, exc) from exc
        self._backends[conn.info.backend_pid] = conn
        return conn

    def _take(self) -> Conn:
        """A connection for this thread alone: an idle one, a new one while fewer than
        ``pool_size`` are open, else the next one given back.  One that broke (the server
        restarted) is replaced by a new one here."""
        with self._pool:
            while True:
                if self._closed:
                    raise QueueError(f"{self.where}: queue is closed")
                if self._idle:
                    conn: Conn | None = self._idle.pop()
                    break
                if self._opened < self._pool_size:
                    self._opened += 1
                    conn = None
                    break
                self._pool.wait()
        if conn is not None and not conn.broken and not conn.closed:
            return conn
        if conn is not None:
            conn.close()
        try:
            return self._connect()
        except BaseException:
            with self._pool:
                self._opened -= 1
                self._pool.notify()
            raise

    def _give(self, conn: Conn) -> None:
        """Give back what :meth:`_take` gave (closed when the queue was closed meanwhile)."""
        with self._pool:
            if self._closed or conn.closed:
                conn.close()
                self._opened -= 1
            else:
                self._idle.append(conn)
            self._pool.notify()

    @contextmanager
    def _held(self) -> Iterator[Conn]:
        conn = self._take()
        try:
            yield conn
        finally:
            self._give(conn)

    def _live(self) -> Conn:
        """A connection for a statement of the caller's own in autocommit (tests, tools):
        this thread's batch's, else an idle one (shared: not for concurrent use)."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            return batch.conn
        conn = self._take()
        self._give(conn)
        return conn

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            yield batch.conn
            return
        with self._held() as conn:
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
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            with batch.savepoint(self.where):
                yield batch.conn
            return
        with self._held() as conn:
            try:
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                raise _wrap(self.where, exc) from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several operations in ONE transaction from this thread (see
        :meth:`bridge.queue.store.Queue.batch`): each a savepoint, one COMMIT at the end.
        Other threads' operations meanwhile run on other connections of the pool."""
        if getattr(self._local, "batch", None) is not None:
            raise QueueError("batches do not nest")
        with self._held() as conn:
            try:
                with conn.transaction():
                    self._local.batch = _Batch(conn)
                    try:
                        yield
                    finally:
                        self._local.batch = None
            except psycopg.Error as exc:
                raise _wrap(self.where, exc) from exc

    def run_batch(self, calls: Sequence[Callable[[], Any]]
                  ) -> builtins.list[tuple[bool, Any]]:
        """The queue writer's group commit (see ``SqlQueue.run_batch``), with far fewer
        round trips: first optimistically, in psycopg's pipeline mode without a savepoint
        per call (:meth:`_pipelined`); only when a call failed is the batch rolled back and
        run again as :meth:`batch`, each call a savepoint, so that the failure is undone
        alone as before.  The calls must not act outside the database (a queue's
        operations do not): the first run of a batch that is run again never happened."""
        if getattr(self._local, "batch", None) is not None:
            raise QueueError("batches do not nest")
        if not psycopg.Pipeline.is_supported():     # libpq before 14
            return super().run_batch(calls)
        try:
            return self._pipelined(calls)
        except _Again:
            return super().run_batch(calls)

    def _pipelined(self, calls: Sequence[Callable[[], Any]]
                   ) -> builtins.list[tuple[bool, Any]]:
        """``BEGIN``, the calls' statements, ``COMMIT`` in pipeline mode: libpq sends each
        statement without waiting for the previous one's result (PostgreSQL docs, libpq
        "Pipeline Mode"); only a result a call reads (a claim's rows, a submission's id)
        waits, so a batch of records is ONE round trip where savepoints made it two per
        record plus BEGIN and COMMIT.  Still one transaction and one COMMIT, which returns
        once the WAL is flushed (``synchronous_commit = on``): the same durability.

        A failing statement aborts the transaction (and the rest of the pipeline, up to its
        sync): then it is rolled back and :class:`_Again` raised -- nothing of it was
        committed, the COMMIT never ran.  A COMMIT that failed, or a connection lost, fails
        the whole batch as in :meth:`batch` (not run again: the COMMIT may have happened)."""
        results: list[tuple[bool, Any]] = []
        with self._held() as conn:
            try:
                with conn.pipeline():
                    conn.execute("BEGIN")
                    self._local.batch = _Batch(conn, savepoints=False)
                    try:
                        for call in calls:
                            results.append((True, call()))
                    finally:
                        self._local.batch = None
                    conn.execute("COMMIT")
            except Exception as exc:
                if conn.info.transaction_status in _OPEN:     # the COMMIT did not run
                    try:
                        conn.execute("ROLLBACK")
                    except psycopg.Error:
                        conn.close()                # a connection in doubt is not reused
                    else:
                        raise _Again from exc
                if isinstance(exc, psycopg.Error):
                    raise _wrap(self.where, exc) from exc
                raise
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    if conn.info.transaction_status in _OPEN:
                        conn.execute("ROLLBACK")
                raise
        return results

    def _changed(self, cur: Any) -> int:
        """The rows a statement changed -- in pipeline mode known only once its result came:
        a sync (one round trip) first."""
        conn = cur.connection
        if conn.info.pipeline_status != pq.PipelineStatus.OFF:
            with conn.pipeline():                   # a nested pipeline syncs at its end
                pass
        return int(cur.rowcount)

    def check_file(self) -> None:
        """The database still answers (the gateway calls this every few seconds; the SQLite
        queue checks its file here).  Raises :class:`QueueError` when it does not."""
        with self._held() as conn:
            try:
                conn.execute("SELECT 1")
            except psycopg.Error as exc:
                raise _wrap(self.where, exc) from exc

    def close(self) -> None:
        """Close every connection (idempotent); those held now close when given back."""
        with self._listen_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        with self._pool:
            self._closed = True
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
            self._pool.notify_all()
        for conn in idle:
            conn.close()
        analyzer = self._analyzer
        if analyzer is not None:        # its connection closes when its ANALYZE is done
            analyzer.join(10.0)

    # -- schema and wake-ups --------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version of the open queue."""
        with self._read() as conn:
            return migrations_pg.schema_version(conn)

    def migrate(self) -> builtins.list[int]:
        """Apply the schema steps the database lacks (under the advisory lock that keeps
        nodes from doing it twice); the versions applied."""
        with self._held() as conn:
            try:
                return migrations_pg.setup(conn, self.where, create=False, migrate=True)
            except psycopg.Error as exc:
                raise _wrap(self.where, exc) from exc

    def wait_for_work(self, timeout: float, *, foreign: bool = False) -> bool:
        """Block up to ``timeout`` seconds for a NOTIFY from any node that made work due --
        with ``foreign``, only from other handles (nodes, processes): the gateway's doorbell,
        whose own process's writes wake its workers directly (a NOTIFY names the server
        process that sent it, PostgreSQL docs "NOTIFY"; each of its own submissions rang
        every worker of both directions a second time, and each woken worker claimed).

        True: look now (a notification came, or this is the first call -- the listening
        starts then, so what came before is not known); False: the time ran out.  A worker
        claims after every wait either way (a lease that ran out sends nothing).
        """
        with self._listen_lock:
            if self._listener is None or self._listener.closed:
                if self._closed:
                    raise QueueError(f"{self.where}: queue is closed")
                try:
                    self._listener = self._open("x400bridge-listen")
                    self._listener.execute(f"LISTEN {CHANNEL}")
                except psycopg.Error as exc:
                    self._listener = None
                    raise QueueError(f"{self.where}: cannot listen: {exc}") from exc
                return True
            try:
                got = False
                deadline = time.monotonic() + timeout
                while not got:
                    came = list(self._listener.notifies(
                        timeout=max(_NO_WAIT, deadline - time.monotonic()), stop_after=1))
                    if not came:
                        break                                   # the time ran out
                    got = not foreign or any(not self._own(n.pid) for n in came)
                if got:         # drain what else came: one wake-up for a burst
                    sum(1 for _ in self._listener.notifies(timeout=_NO_WAIT))
            except psycopg.Error as exc:
                self._listener.close()
                raise QueueError(f"{self.where}: lost the listening connection: {exc}") \
                    from exc
            return got > 0

    def _own(self, pid: int) -> bool:
        """Whether server process ``pid`` serves one of this handle's open connections."""
        conn = self._backends.get(pid)
        return conn is not None and not conn.closed

    def _made_due(self, conn: Any, directions: Iterable[str]) -> None:
        """NOTIFY every listening session (delivered at COMMIT, never after a rollback)."""
        for direction in directions:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, direction))

    @contextmanager
    def _stream(self, conn: Any, text: str) -> Iterator[Iterable[Any]]:
        with conn.cursor(name="x400bridge_stream") as cur:     # a server-side cursor
            cur.execute(self.dialect.sql(text))
            yield cur

    # -- the planner's statistics ---------------------------------------------------------

    def submit_many(self, subs: Sequence[Submission]) -> builtins.list[str]:
        """See ``SqlQueue.submit_many``; the statistics refreshed when the queue grew."""
        ids = super().submit_many(subs)
        self._grew(sum(len(sub.recipients) for sub in subs))
        return ids

    def _grew(self, recipients: int) -> None:
        """Refresh the planner's statistics of the queue's tables (ANALYZE, in a thread of
        its own) once this handle has added as many recipients as they counted, and at least
        :data:`_ANALYZE_AFTER`.

        Why: autovacuum analyzes a table only after 10 % of it changed and looks at most once
        a minute (``autovacuum_naptime``), so a new queue that fills within its first minute
        (or a small one hit by a burst) is planned as nearly empty -- and the claim's plan
        then reads every due row and sorts them (bitmap scan) where an index walk stops after
        a few: 7-10 ms instead of 0.6-0.9 at 2,000 due (measured, EXPLAIN ANALYZE).  Each
        refresh takes a few ms of one pooled connection, outside any batch; ANALYZE takes
        only a lock that DML does not conflict with (SHARE UPDATE EXCLUSIVE, PostgreSQL docs
        "Explicit Locking"), so writers never wait for it."""
        with self._stats_lock:
            self._grown += recipients
            if self._grown < max(_ANALYZE_AFTER, self._stats_rows) or self._closed or (
                    self._analyzer is not None and self._analyzer.is_alive()):
                return
            self._grown = 0
            self._analyzer = threading.Thread(target=self._analyze, daemon=True,
                                              name="x400bridge-analyze")
            self._analyzer.start()

    def _analyze(self) -> None:
        try:
            with self._held() as conn:
                conn.execute("ANALYZE recipients, messages")
                row = conn.execute("SELECT reltuples FROM pg_class "
                                   "WHERE oid = 'recipients'::regclass").fetchone()
        except (psycopg.Error, QueueError):
            return                  # down or closed: autovacuum still does it, later
        with self._stats_lock:
            self._stats_rows = max(0, int(row[0])) if row is not None else 0

    # -- the hot operations, one statement each -------------------------------------------

    insert_notifies = True

    def _insert(self, conn: Any, message_id: str, sub: Submission, data: bytes, meta: str,
                digest: str, rows: Sequence[tuple[Any, ...]], now: float) -> bool:
        """One submission in one statement (:data:`_SUBMIT`), its NOTIFY included; in a
        pipelined batch sent without waiting for it (:data:`_SUBMIT_PIPELINED`)."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * 6
        address, route, notify, orcpt, extra, priority = (list(c) for c in columns)
        batch: _Batch | None = getattr(self._local, "batch", None)
        pipelined = batch is not None and not batch.savepoints
        cur = conn.execute(_SUBMIT_PIPELINED if pipelined else _SUBMIT, {
            "id": message_id, "dir": sub.direction, "origin": sub.origin,
            "sender": sub.sender, "meta": meta, "data": data, "digest": digest,
            "nrcpt": len(rows), "now": now, "address": address, "route": route,
            "notify": notify, "orcpt": orcpt, "extra": extra, "priority": priority,
            "detail": submitted_detail(sub, data), "channel": CHANNEL})
        return pipelined or cur.fetchone() is not None

    def _record_in(self, conn: Any, job: Job, outcomes: Mapping[str, Outcome],
                   now: float) -> None:
        """Final outcomes (the common case) in one statement (:data:`_RECORD_FINAL`), any
        other as ``SqlQueue._record_in`` (read the rows, then :meth:`_store_record`)."""
        finals = [(a, o) for a, o in outcomes.items() if isinstance(o, Delivered | Failed)]
        if not finals or len(finals) != len(outcomes):
            super()._record_in(conn, job, outcomes, now)
            return
        state: list[str] = []
        status: list[str] = []
        diagnostic: list[str] = []
        detail: list[str] = []
        x400: list[str | None] = []
        event_detail: list[str] = []
        for _, outcome in finals:
            if isinstance(outcome, Delivered):
                state.append("delivered")
                status.append("2.0.0")
                diagnostic.append("")
                detail.append(outcome.detail)
                x400.append(None)
                event_detail.append(outcome.detail)
            else:
                state.append("failed")
                status.append(outcome.status)
                diagnostic.append(outcome.diagnostic)
                detail.append("")
                x400.append(None if outcome.x400 is None else json.dumps(list(outcome.x400)))
                event_detail.append(f"{outcome.status} {outcome.diagnostic}".strip())
        conn.execute(_RECORD_FINAL, {
            "mid": job.message_id, "route": job.route, "dir": job.direction, "now": now,
            "claim": job.claim, "address": [a for a, _ in finals], "state": state,
            "last_status": status, "last_diagnostic": diagnostic, "last_detail": detail,
            "last_x400": x400, "detail": event_detail,
            "released": [r.address for r in job.recipients if r.address not in outcomes]})

    def _store_record(self, conn: Any, job: Job, released: Sequence[int],
                      changes: Sequence[Change], now: float, *, answered: bool) -> None:
        """What recording ``job`` changes, in one statement (:data:`_RECORD`)."""
        if not released and not changes and not answered:
            return
        params: dict[str, Any] = {
            "mid": job.message_id, "now": now, "released": list(released),
            "answered": answered, "dir": job.direction, "route": job.route,
            "idx": [c.idx for c in changes], "attempts": [c.attempts for c in changes],
            "event": [c.event for c in changes], "address": [c.address for c in changes],
            "detail": [c.detail for c in changes]}
        for name in _CHANGE_FIELDS:
            params[name] = [c.fields.get(name) for c in changes]
        conn.execute(_RECORD, params)

    def claim(self, direction: Direction, *, limit: int = 10, lease: float = 600.0,
              node: str = "") -> builtins.list[Job]:
        """Claim up to ``limit`` jobs (see :meth:`bridge.queue.store.Queue.claim`); rows
        another claimer holds are skipped (FOR UPDATE SKIP LOCKED), never waited for.

        One statement (:func:`_claim_sql`) claims what is free among the first ``limit``
        groups due; when another claimer held all of them it finds nothing there, and the
        claim goes on group by group (:meth:`_claim_each`) -- so a claim finds work whenever
        some is free.  With nothing due at all it is one statement (an idle direction's
        workers, woken by every NOTIFY, claimed twice each before)."""
        now = self._clock()
        token = secrets.token_hex(8)
        params: dict[str, Any] = {"now": now, "dir": direction, "until": now + lease,
                                  "token": token, "node": node, "limit": limit,
                                  "rows": limit * _ROWS_PER_JOB}
        with self._write() as conn:
            # never prepared: its best plan depends on its times (:now), and the generic plan
            # of a prepared statement read every due row (5x slower at a backlog of 1,000)
            rows = conn.execute(self.dialect.sql(_claim_sql(claim_eligible(self.retry_policy))),
                                params, prepare=False).fetchall()
            if not rows:
                return []                   # nothing due
            if rows[0][0] is None:          # all of it held by other claimers meanwhile
                return self._claim_each(conn, direction, limit, now, lease, token, node)
        jobs: list[Job] = []
        # each message's data comes once, on its lowest-numbered recipient's row -- which
        # may be in a later group than the message's first one (rows are in rank order)
        data = {r[6]: bytes(r[12]) for r in rows if r[12] is not None}
        for (message_id, route), group in itertools.groupby(rows, key=lambda r: (r[6], r[7])):
            part = list(group)
            first = part[0]
            jobs.append(Job(
                message_id=message_id, direction=direction, origin=first[8], sender=first[9],
                data=data[message_id], meta=json.loads(first[10]), route=route,
                recipients=tuple(recipient_from_row(r[1], route, r[2], r[3], r[4])
                                 for r in part),
                attempts=max(r[5] for r in part), first_seen=first[11], claim=token))
        return jobs

    def _claim_each(self, conn: Conn, direction: Direction, limit: int, now: float,
                    lease: float, token: str, node: str) -> builtins.list[Job]:
        """The claim group by group: each (message, route) due locked on its own, those
        another claimer holds skipped, until ``limit`` jobs."""
        jobs: list[Job] = []
        eligible = claim_eligible(self.retry_policy)
        params: dict[str, Any] = {"now": now, "dir": direction}
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
            jobs.append(self._job(conn, messages, direction, message_id, route, rows, token))
        return jobs


class _Again(Exception):
    """An optimistic batch (:meth:`PgQueue._pipelined`) failed before its COMMIT and was
    rolled back: run it again with a savepoint per call."""


#: transaction states in which a COMMIT has not ended the transaction yet
_OPEN = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)


class _Batch:
    """A thread's :meth:`PgQueue.batch`: its connection, and each operation in it a savepoint
    (``savepoints``; none in :meth:`PgQueue._pipelined`, where a failure runs the batch again).

    A savepoint costs a round trip to set and one to release; here the release of one
    operation's savepoint goes with the setting of the next one's (one simple query), and
    the last is released by the COMMIT.  A failed operation is rolled back to its savepoint,
    the batch's other operations kept (PostgreSQL's "current transaction is aborted" ends
    there)."""

    def __init__(self, conn: Conn, *, savepoints: bool = True) -> None:
        self.conn = conn
        self.savepoints = savepoints
        self.open = False                 # a savepoint of an operation that succeeded

    @contextmanager
    def savepoint(self, where: str) -> Iterator[None]:
        if not self.savepoints:
            yield                         # a failure fails the batch (run again, see above)
            return
        try:
            self.conn.execute("RELEASE SAVEPOINT op; SAVEPOINT op" if self.open
                              else "SAVEPOINT op")
        except psycopg.Error as exc:
            self.open = False
            raise _wrap(where, exc) from exc
        self.open = True
        try:
            yield
        except BaseException as exc:
            self.open = False
            with contextlib.suppress(psycopg.Error):    # lost: the COMMIT fails the batch
                self.conn.execute("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")
            if isinstance(exc, psycopg.Error):
                raise _wrap(where, exc) from exc
            raise
