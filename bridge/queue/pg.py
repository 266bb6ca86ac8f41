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

Thread safety: one connection guarded by a lock, like the SQLite queue.  The schema and its
migrations: :mod:`bridge.queue.migrations_pg`.
"""

from __future__ import annotations

import builtins
import hashlib
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

from bridge.queue import migrations_pg
from bridge.queue.model import Deferred, Delivered, Direction, Failed, Outcome, Submission
from bridge.queue.rows import dumps, recipient_from_row, recipient_info, report_kind
from bridge.queue.types import (
    ACTIVE,
    REPORT_KINDS,
    STATES,
    HistoryEvent,
    Job,
    MessageInfo,
    MessageSummary,
    NoSuchMessage,
    QueueCorrupt,
    QueueError,
    QueueFull,
    QueueStats,
    ReportItem,
    ReportTask,
    RetryPolicy,
)

Conn = psycopg.Connection[Any]

#: the NOTIFY channel; the payload is the direction that has work
CHANNEL = "x400bridge_queue"
_DIRECTIONS = ("to-x400", "to-smtp")
_DEFAULT_RETRY = RetryPolicy()
#: notifies(timeout=0) would mean "no timeout": the shortest wait instead
_NO_WAIT = 0.001
_ROWS_PER_JOB = 16              # as in the SQLite store: rows a claim reads per job it returns

#: bridge.queue.rows.FINAL_REPORT_DUE in PostgreSQL's dialect
FINAL_REPORT_DUE = (
    "((state IN ('failed', 'expired') AND strpos(reported, 'F') = 0) "
    "OR (state = 'delivered' AND strpos(reported, 'F') = 0 AND "
    "(strpos(upper(notify), '\"SUCCESS\"') > 0 "
    "OR (extra::jsonb ->> 'report') = 'delivery')))")
RCPT_COLUMNS = ("idx, address, route, notify, orcpt, extra, state, attempts, since, "
                "next_attempt, lease_until, claim, last_kind, last_at, last_status, "
                "last_diagnostic, last_detail, last_x400, reported")


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


class PgQueue:
    """A durable message queue in a PostgreSQL database (see the module docstring).

    ``dsn`` is a ``postgresql://user@host:port/db`` URL; ``password`` (from the
    ``password-file``) is passed apart from it, or libpq takes ``PGPASSWORD``.  ``migrate``
    applies missing schema steps at open (else an older schema is refused).
    """

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

    def __enter__(self) -> PgQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    @staticmethod
    def _notify(conn: Conn, direction: str) -> None:
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, direction))

    # -- the way in -----------------------------------------------------------------------

    def submit(self, sub: Submission) -> str:
        """Store ``sub`` durably (COMMIT returned) and return its message id."""
        return self.submit_many([sub])[0]

    def submit_many(self, subs: Sequence[Submission]) -> builtins.list[str]:
        """Store several submissions in ONE transaction; the ids in order."""
        prepared = []
        for sub in subs:
            if sub.direction not in _DIRECTIONS:
                raise ValueError(f"unknown direction {sub.direction!r}")
            if not sub.recipients:
                raise ValueError("a submission needs at least one recipient")
            data = bytes(sub.data)
            rows = [(r.address, r.route, dumps(list(r.notify), "notify"), r.orcpt,
                     dumps(r.extra, "extra"), int(sub.priority)) for r in sub.recipients]
            prepared.append((sub, data, dumps(sub.meta, "meta"), rows,
                             hashlib.sha256(data).hexdigest()))
        now = self._clock()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        ids: list[str] = []
        with self._write() as conn:
            for sub, data, meta, rows, digest in prepared:
                while True:
                    message_id = f"{stamp}-{secrets.token_hex(4)}"
                    inserted = conn.execute(
                        "INSERT INTO messages (id, direction, origin, sender, meta, data, "
                        "digest, nrcpt, created) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (id) DO NOTHING RETURNING id",
                        (message_id, sub.direction, sub.origin, sub.sender, meta, data,
                         digest, len(rows), now)).fetchone()
                    if inserted is not None:
                        break
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO recipients (message_id, idx, address, route, notify, "
                        "orcpt, extra, priority, state, since, next_attempt) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s)",
                        [(message_id, i, *row, now, now) for i, row in enumerate(rows)])
                _history(conn, message_id, now, "submitted",
                         detail=f"{sub.origin}, {len(data)} octets, {len(rows)} recipient(s)")
                ids.append(message_id)
            for direction in sorted({sub.direction for sub, *_ in prepared}):
                self._notify(conn, direction)
        return ids

    # -- workers --------------------------------------------------------------------------

    def claim(self, direction: Direction, *, limit: int = 10,
              lease: float = 600.0) -> builtins.list[Job]:
        """Claim up to ``limit`` jobs (see :meth:`bridge.queue.store.Queue.claim`); rows
        another claimer holds are skipped (FOR UPDATE SKIP LOCKED), never waited for."""
        now = self._clock()
        token = secrets.token_hex(8)
        jobs: list[Job] = []
        eligible = (
            "r.state IN ('pending', 'deferred') AND r.next_attempt <= %(now)s "
            "AND (r.lease_until IS NULL OR r.lease_until <= %(now)s) "
            "AND m.direction = %(dir)s "
            "AND NOT EXISTS (SELECT 1 FROM routes b WHERE b.direction = m.direction "
            "AND b.route = r.route AND b.next_attempt > %(now)s)")
        params: dict[str, Any] = {"now": now, "dir": direction}
        with self._write() as conn:
            # Candidates by priority (RFC 6710, highest first), then in due order, read
            # without locks (the partial index recipients_active); then each (message,
            # route) is locked on its own and rows another claimer holds are skipped --
            # only what is claimed is locked, so a claim inside a long batch does not hide
            # more than its jobs from other nodes.
            rows_due = conn.execute(
                "SELECT r.message_id, r.route FROM recipients r "
                f"JOIN messages m ON m.id = r.message_id WHERE {eligible} "
                "ORDER BY r.priority DESC, r.next_attempt, r.seq LIMIT %(rows)s",
                {**params, "rows": limit * _ROWS_PER_JOB}).fetchall()
            messages: dict[str, tuple[Any, ...]] = {}
            for message_id, route in dict.fromkeys((m, r) for m, r in rows_due):
                if len(jobs) >= limit:
                    break
                rows = conn.execute(
                    "SELECT r.idx, r.address, r.notify, r.orcpt, r.extra, r.attempts "
                    "FROM recipients r JOIN messages m ON m.id = r.message_id "
                    f"WHERE r.message_id = %(mid)s AND r.route = %(route)s AND {eligible} "
                    "ORDER BY r.idx FOR UPDATE OF r SKIP LOCKED",
                    {**params, "mid": message_id, "route": route}).fetchall()
                if not rows:
                    continue              # taken by another claimer meanwhile
                if message_id not in messages:
                    messages[message_id] = conn.execute(
                        "SELECT origin, sender, data, meta, created FROM messages "
                        "WHERE id = %s", (message_id,)).fetchone() or ()
                origin, sender, data, meta, created = messages[message_id]
                conn.execute(
                    "UPDATE recipients SET lease_until = %s, claim = %s "
                    "WHERE message_id = %s AND idx = ANY(%s)",
                    (now + lease, token, message_id, [row[0] for row in rows]))
                jobs.append(Job(
                    message_id=message_id, direction=direction, origin=origin, sender=sender,
                    data=bytes(data), meta=json.loads(meta), route=route,
                    recipients=tuple(recipient_from_row(row[1], route, row[2], row[3], row[4])
                                     for row in rows),
                    attempts=max(row[5] for row in rows), first_seen=created, claim=token))
        return jobs

    def record(self, job: Job, outcomes: Mapping[str, Outcome]) -> None:
        """Record the outcome of an attempt per recipient address (see
        :meth:`bridge.queue.store.Queue.record`)."""
        self.record_many([(job, outcomes)])

    def record_many(self, items: Sequence[tuple[Job, Mapping[str, Outcome]]]) -> None:
        """:meth:`record` for several jobs in ONE transaction."""
        for job, outcomes in items:
            unknown = set(outcomes) - {r.address for r in job.recipients}
            if unknown:
                raise ValueError(f"outcomes for addresses not in the job: {sorted(unknown)}")
        now = self._clock()
        with self._write() as conn:
            for job, outcomes in items:
                self._record_in(conn, job, outcomes, now)

    def _record_in(self, conn: Conn, job: Job, outcomes: Mapping[str, Outcome],
                   now: float) -> None:
        addresses = {r.address for r in job.recipients}
        policy = self.retry_policy
        rows = conn.execute(
            "SELECT idx, address, state, attempts, since, claim FROM recipients "
            "WHERE message_id = %s AND route = %s ORDER BY idx FOR UPDATE",
            (job.message_id, job.route)).fetchall()
        for idx, address, state, attempts, since, claim in rows:
            if address not in addresses or state not in ACTIVE:
                continue          # not ours, or already final / dead-lettered
            outcome = outcomes.get(address)
            ours = claim == job.claim or claim is None
            if outcome is None:
                if ours:
                    _set(conn, job.message_id, idx, lease_until=None, claim=None)
                continue
            if isinstance(outcome, Deferred) and not ours:
                continue          # someone else holds it now (our lease had expired)
            attempts += 1
            fields: dict[str, Any]
            if isinstance(outcome, Delivered):
                fields = dict(state="delivered", last_kind="delivered", last_status="2.0.0",
                              last_diagnostic="", last_detail=outcome.detail, last_x400=None)
                event, detail = "delivered", outcome.detail
            elif isinstance(outcome, Failed):
                fields = dict(state="failed", last_kind="failed", last_status=outcome.status,
                              last_diagnostic=outcome.diagnostic, last_detail="",
                              last_x400=None if outcome.x400 is None
                              else json.dumps(list(outcome.x400)))
                event, detail = "failed", f"{outcome.status} {outcome.diagnostic}".strip()
            else:
                expired = now - since >= policy.expire_after
                fields = dict(state="expired" if expired else "deferred",
                              last_kind="expired" if expired else "deferred",
                              last_status=outcome.status, last_diagnostic=outcome.diagnostic,
                              last_detail="", last_x400=None,
                              next_attempt=now + policy.backoff(attempts))
                event = "expired" if expired else "deferred"
                detail = f"{outcome.status} {outcome.diagnostic}".strip()
            _set(conn, job.message_id, idx, attempts=attempts, lease_until=None, claim=None,
                 last_at=now, **fields)
            _history(conn, job.message_id, now, event, address, detail)
        given = list(outcomes.values())
        if given and all(isinstance(o, Deferred) for o in given):
            # one statement, so two nodes deferring the same destination count two failures
            row = conn.execute(
                "INSERT INTO routes (direction, route, failures, next_attempt) "
                "VALUES (%s, %s, 1, %s) ON CONFLICT (direction, route) DO UPDATE "
                "SET failures = routes.failures + 1 RETURNING failures",
                (job.direction, job.route, now + policy.backoff(1))).fetchone()
            failures = int(row[0]) if row else 1
            conn.execute("UPDATE routes SET next_attempt = %s WHERE direction = %s AND "
                         "route = %s", (now + policy.backoff(failures), job.direction,
                                        job.route))
        elif given:
            conn.execute("DELETE FROM routes WHERE direction = %s AND route = %s",
                         (job.direction, job.route))

    def release_leases(self) -> int:
        """Give back every claim (start-up after a crash).  With several nodes on one
        database this would take work from the live ones: a single gateway only, for now."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE recipients SET lease_until = NULL, claim = NULL "
                "WHERE lease_until IS NOT NULL AND state IN ('pending', 'deferred')")
            for direction in _DIRECTIONS:
                self._notify(conn, direction)
            return cur.rowcount

    def release(self, job: Job) -> None:
        """Give the claim back untouched: no attempt counted, due as before."""
        with self._write() as conn:
            conn.execute("UPDATE recipients SET lease_until = NULL, claim = NULL "
                         "WHERE message_id = %s AND claim = %s", (job.message_id, job.claim))
            self._notify(conn, job.direction)

    def shunt(self, message_id: str, reason: str) -> None:
        """Dead-letter a message: its active recipients become ``dead``."""
        now = self._clock()
        with self._write() as conn:
            _require(conn, message_id)
            conn.execute("UPDATE recipients SET state = 'dead', lease_until = NULL, "
                         "claim = NULL WHERE message_id = %s AND state IN "
                         "('pending', 'deferred')", (message_id,))
            conn.execute("UPDATE messages SET shunt_reason = %s WHERE id = %s",
                         (reason, message_id))
            _history(conn, message_id, now, "shunted", detail=reason)

    # -- reports --------------------------------------------------------------------------

    def reports_due(self, *, limit: int = 100) -> builtins.list[ReportTask]:
        """Messages with recipients needing a report (see
        :meth:`bridge.queue.store.Queue.reports_due`)."""
        now = self._clock()
        warn = self.retry_policy.delay_warning
        tasks: list[ReportTask] = []
        with self._read() as conn:
            candidates = conn.execute(
                f"SELECT message_id, {RCPT_COLUMNS} FROM recipients WHERE "
                f"({FINAL_REPORT_DUE} "
                "OR (state = 'deferred' AND strpos(reported, 'D') = 0 AND since <= %s "
                "AND strpos(upper(notify), '\"DELAY\"') > 0)) "
                "AND message_id NOT IN (SELECT id FROM messages WHERE shunt_reason IS NOT NULL) "
                "ORDER BY message_id, idx",
                (now - warn if warn is not None else float("-inf"),)).fetchall()
            by_message: dict[str, list[ReportItem]] = {}
            for row in candidates:
                info = recipient_info(row[1:])
                kind = report_kind(info)
                if kind is None:
                    continue
                if row[0] not in by_message and len(by_message) >= limit:
                    continue
                by_message.setdefault(row[0], []).append(ReportItem(
                    recipient=info.recipient, kind=kind, state=info.state,
                    attempts=info.attempts, last=info.last))
            for message_id, items in by_message.items():
                m = conn.execute("SELECT direction, origin, sender, created, data, meta "
                                 "FROM messages WHERE id = %s", (message_id,)).fetchone()
                assert m is not None
                tasks.append(ReportTask(
                    message_id=message_id, direction=m[0], origin=m[1], sender=m[2],
                    created=m[3], data=bytes(m[4]), meta=json.loads(m[5]),
                    items=tuple(items)))
        return tasks

    def mark_reported(self, message_id: str, addresses: Iterable[str], kind: str) -> None:
        """Note that a report of ``kind`` was made (or deliberately not) for these
        recipients."""
        if kind not in REPORT_KINDS:
            raise ValueError(f"unknown report kind {kind!r} (one of {REPORT_KINDS})")
        flag = "D" if kind == "delay" else "F"
        wanted = set(addresses)
        now = self._clock()
        with self._write() as conn:
            _require(conn, message_id)
            for idx, address, reported in conn.execute(
                    "SELECT idx, address, reported FROM recipients WHERE message_id = %s "
                    "ORDER BY idx FOR UPDATE", (message_id,)).fetchall():
                if address in wanted and flag not in reported:
                    _set(conn, message_id, idx, reported=reported + flag)
                    _history(conn, message_id, now, f"reported {kind}", address)

    # -- operators ------------------------------------------------------------------------

    def retry(self, message_id: str) -> int:
        """Dead / deferred / expired / failed recipients -> pending now (see
        :meth:`bridge.queue.store.Queue.retry`); how many changed."""
        now = self._clock()
        with self._write() as conn:
            direction = _require(conn, message_id)
            rows = conn.execute(
                "SELECT idx, address, route FROM recipients WHERE message_id = %s AND state IN "
                "('dead', 'deferred', 'expired', 'failed') AND (lease_until IS NULL OR "
                "lease_until <= %s) ORDER BY idx FOR UPDATE", (message_id, now)).fetchall()
            for idx, address, route in rows:
                _set(conn, message_id, idx, state="pending", attempts=0, since=now,
                     next_attempt=now, lease_until=None, claim=None, reported="")
                conn.execute("DELETE FROM routes WHERE direction = %s AND route = %s",
                             (direction, route))
                _history(conn, message_id, now, "retried", address)
            conn.execute("UPDATE messages SET shunt_reason = NULL WHERE id = %s AND NOT EXISTS "
                         "(SELECT 1 FROM recipients WHERE message_id = %s AND state = 'dead')",
                         (message_id, message_id))
            if rows:
                self._notify(conn, direction)
        return len(rows)

    def purge(self, *, older_than: float) -> int:
        """Delete finished messages unchanged for ``older_than`` seconds; how many."""
        cutoff = self._clock() - older_than
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM messages WHERE created <= %(cutoff)s AND NOT EXISTS (SELECT 1 "
                "FROM recipients WHERE message_id = messages.id AND (state NOT IN "
                "('delivered', 'failed', 'expired') OR coalesce(last_at, 0) > %(cutoff)s "
                f"OR {FINAL_REPORT_DUE}))", {"cutoff": cutoff})
            return cur.rowcount

    def drop(self, message_id: str) -> bool:
        """Delete a message and everything about it; False if there was none."""
        with self._write() as conn:
            cur = conn.execute("DELETE FROM messages WHERE id = %s", (message_id,))
            return cur.rowcount > 0

    def get(self, message_id: str) -> MessageInfo | None:
        """Everything about one message, or None."""
        with self._read() as conn:
            m = conn.execute("SELECT direction, origin, sender, created, data, meta, "
                             "shunt_reason FROM messages WHERE id = %s",
                             (message_id,)).fetchone()
            if m is None:
                return None
            rcpts = conn.execute(f"SELECT {RCPT_COLUMNS} FROM recipients WHERE "
                                 "message_id = %s ORDER BY idx", (message_id,)).fetchall()
            hist = conn.execute("SELECT at, event, address, detail FROM history WHERE "
                                "message_id = %s ORDER BY id", (message_id,)).fetchall()
        return MessageInfo(
            message_id=message_id, direction=m[0], origin=m[1], sender=m[2], created=m[3],
            data=bytes(m[4]), meta=json.loads(m[5]), shunt_reason=m[6],
            recipients=tuple(recipient_info(r) for r in rcpts),
            history=tuple(HistoryEvent(at=h[0], event=h[1], address=h[2], detail=h[3])
                          for h in hist))

    def list(self, *, state: str | None = None, direction: str | None = None,
             limit: int = 100) -> builtins.list[MessageSummary]:
        """Messages, oldest first; ``state`` keeps those with a recipient in that state."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r} (one of {', '.join(STATES)})")
        if direction is not None and direction not in _DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}")
        where: list[str] = []
        params: list[Any] = []
        if direction is not None:
            where.append("m.direction = %s")
            params.append(direction)
        if state is not None:
            where.append("EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id "
                         "AND r.state = %s)")
            params.append(state)
        sql = ("SELECT m.id, m.direction, m.origin, m.sender, m.created, "
               "octet_length(m.data), m.shunt_reason FROM messages m"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY m.created, m.id LIMIT %s")
        with self._read() as conn:
            rows = conn.execute(sql, (*params, limit)).fetchall()
            out = []
            for mid, dirn, origin, sender, created, size, reason in rows:
                counts = {s: int(n) for s, n in conn.execute(
                    "SELECT state, count(*) FROM recipients WHERE message_id = %s "
                    "GROUP BY state", (mid,))}
                out.append(MessageSummary(
                    message_id=mid, direction=dirn, origin=origin, sender=sender,
                    created=created, size=size, states=counts, shunt_reason=reason))
        return out

    def stats(self) -> QueueStats:
        """Counts by state and direction, depth, in-flight, dead, oldest active age."""
        now = self._clock()
        with self._read() as conn:
            by_dir: dict[str, dict[str, int]] = {d: {s: 0 for s in STATES} for d in _DIRECTIONS}
            for dirn, state, n in conn.execute(
                    "SELECT m.direction, r.state, count(*) FROM recipients r JOIN messages m "
                    "ON m.id = r.message_id GROUP BY m.direction, r.state"):
                by_dir[dirn][state] = int(n)
            totals: dict[str, int] = {s: sum(by_dir[d][s] for d in _DIRECTIONS)
                                      for s in STATES}
            (messages,) = _one(conn, "SELECT count(*) FROM messages")
            (depth,) = _one(conn, "SELECT count(DISTINCT message_id) FROM recipients WHERE "
                                  "state IN ('pending', 'deferred')")
            (dead,) = _one(conn, "SELECT count(DISTINCT message_id) FROM recipients WHERE "
                                 "state = 'dead'")
            (in_flight,) = _one(conn, "SELECT count(*) FROM recipients WHERE state IN "
                                      "('pending', 'deferred') AND lease_until > %s", (now,))
            (oldest,) = _one(conn, "SELECT min(since) FROM recipients WHERE state IN "
                                   "('pending', 'deferred')")
            backing = tuple(f"{d}:{r}" for d, r in conn.execute(
                "SELECT direction, route FROM routes WHERE next_attempt > %s "
                "ORDER BY direction, route", (now,)))
        return QueueStats(
            messages=int(messages), recipients=totals, by_direction=by_dir, depth=int(depth),
            in_flight=int(in_flight), dead=int(dead),
            oldest_pending_age=None if oldest is None else max(0.0, now - oldest),
            routes_backing_off=backing)

    def verify(self) -> builtins.list[str]:
        """Every message's data against its SHA-256, every message with all its recipients,
        meta is JSON.  (PostgreSQL checks its own pages: data_checksums, amcheck.)"""
        problems: list[str] = []
        with self._read() as conn:
            counts = dict(conn.execute(
                "SELECT message_id, count(*) FROM recipients GROUP BY message_id").fetchall())
            with conn.cursor(name="x400bridge_verify") as cur:     # streamed, not all at once
                cur.execute("SELECT id, data, digest, nrcpt, meta FROM messages")
                for mid, data, digest, nrcpt, meta in cur:
                    if hashlib.sha256(data).hexdigest() != digest:
                        problems.append(f"{mid}: data does not match its digest")
                    n = counts.get(mid, 0)
                    if n != nrcpt:
                        problems.append(f"{mid}: {n} of {nrcpt} recipients")
                    try:
                        json.loads(meta)
                    except ValueError:
                        problems.append(f"{mid}: meta is not JSON")
        return problems


# -- row helpers (PostgreSQL's placeholders; the SQLite ones are in bridge.queue.rows) --------


def _one(conn: Conn, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    row = conn.execute(sql, params).fetchone()
    assert row is not None                                # an aggregate gives one row
    return tuple(row)


def _require(conn: Conn, message_id: str) -> str:
    """The message's direction; :class:`NoSuchMessage` if there is none."""
    row = conn.execute("SELECT direction FROM messages WHERE id = %s",
                       (message_id,)).fetchone()
    if row is None:
        raise NoSuchMessage(f"no message {message_id!r} in the queue")
    return str(row[0])


def _set(conn: Conn, message_id: str, idx: int, **fields: Any) -> None:
    names = ", ".join(f"{k} = %s" for k in fields)     # keys are our own literals, not input
    conn.execute(f"UPDATE recipients SET {names} WHERE message_id = %s AND idx = %s",
                 (*fields.values(), message_id, idx))


def _history(conn: Conn, message_id: str, at: float, event: str, address: str = "",
             detail: str = "") -> None:
    conn.execute("INSERT INTO history (message_id, at, event, address, detail) "
                 "VALUES (%s, %s, %s, %s, %s)", (message_id, at, event, address, detail))
