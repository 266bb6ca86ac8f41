"""The durable queue: the one gate between the two sides of the gateway (STYLE.md §10).

Every message enters through :meth:`Queue.submit`, which returns only after the COMMIT is on
disk (WAL, ``synchronous=FULL``), so a peer is told "accepted" (SMTP 250, RFC 5321 §4.2.5;
P1 transfer confirmed, X.411 §12.2) for nothing that a crash could lose.  State is kept per
recipient; delivery workers :meth:`~Queue.claim` jobs under a lease, deliver, and
:meth:`~Queue.record` one outcome per recipient.  The states, transitions, backoff, expiry and
the duplicate window are described in ``docs/queue.md``.

Thread safety: one connection guarded by a lock -- the gateway calls the queue from several
asyncio tasks through ``asyncio.to_thread``.  Other processes (the CLI) share the file through
SQLite's own locking.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridge.queue.model import (
    Deferred,
    Delivered,
    Direction,
    Failed,
    Outcome,
    Submission,
)
from bridge.queue.rows import (
    FINAL_REPORT_DUE,
    RCPT_COLUMNS,
    add_history,
    dumps,
    recipient_from_row,
    recipient_info,
    report_kind,
    require_message,
    set_recipient,
    wrap_error,
)
from bridge.queue.schema import connect, migrate, schema_version
from bridge.queue.types import (
    ACTIVE,
    REPORT_KINDS,
    STATES,
    HistoryEvent,
    Job,
    MessageInfo,
    MessageSummary,
    QueueError,
    QueueGone,
    QueueStats,
    ReportItem,
    ReportTask,
    RetryPolicy,
)

_DIRECTIONS = ("to-x400", "to-smtp")
_DEFAULT_RETRY = RetryPolicy()
#: rows a claim reads per job it may return (a job is one message's recipients on one route;
#: a batch of messages with more recipients than this per route is just smaller)
_ROWS_PER_JOB = 16
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


class Queue:
    """A durable message queue in one SQLite file (see the module docstring)."""

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

    def wait_for_work(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until work may be due (True) or not (False).

        SQLite has no notifications between processes: this wakes for what *this* handle
        made due (submit, retry, release); other processes' work is found by polling -- a
        worker calls :meth:`claim` after every wait, True or not.  (PostgreSQL: LISTEN/NOTIFY
        across every node, :meth:`bridge.queue.pg.PgQueue.wait_for_work`.)"""
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

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the way in -----------------------------------------------------------------------

    def submit(self, sub: Submission) -> str:
        """Store ``sub`` durably and return its message (tracking) id.

        The id is ``YYYYMMDDTHHMMSSZ-<8 hex>`` (UTC).  Every recipient starts ``pending`` and
        due now.  The COMMIT is on disk when this returns (RFC 5321 §6.1: the 250 reply means
        the server has taken responsibility for the message).
        """
        return self.submit_many([sub])[0]

    def submit_many(self, subs: Sequence[Submission]) -> list[str]:
        """Store several submissions in ONE transaction (group commit): all or none are
        durable when this returns; the ids in order.  (The gateway shares commits between
        all its writes with :meth:`batch` instead.)"""
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
                    if message_id not in ids and conn.execute(
                            "SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone() \
                            is None:
                        break
                conn.execute(
                    "INSERT INTO messages (id, direction, origin, sender, meta, data, digest, "
                    "nrcpt, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (message_id, sub.direction, sub.origin, sub.sender, meta, data, digest,
                     len(rows), now))
                conn.executemany(
                    "INSERT INTO recipients (message_id, idx, address, route, notify, orcpt, "
                    "extra, priority, state, since, next_attempt) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                    [(message_id, i, *row, now, now) for i, row in enumerate(rows)])
                add_history(conn, message_id, now, "submitted",
                            detail=f"{sub.origin}, {len(data)} octets, "
                                   f"{len(rows)} recipient(s)")
                ids.append(message_id)
        self._work.set()
        return ids

    # -- workers --------------------------------------------------------------------------


    def claim(self, direction: Direction, *, limit: int = 10, lease: float = 600.0) -> list[Job]:
        """Claim up to ``limit`` jobs: due active recipients of ``direction`` whose route is
        not backing off and that nobody holds, one :class:`Job` per (message, route).

        The claim is a lease: if the worker neither records nor releases it within ``lease``
        seconds (it crashed), the recipients become claimable again.
        """
        now = self._clock()
        token = secrets.token_hex(8)
        jobs: list[Job] = []
        eligible = (
            "r.state IN ('pending', 'deferred') AND r.next_attempt <= :now "
            "AND (r.lease_until IS NULL OR r.lease_until <= :now) AND m.direction = :dir "
            "AND NOT EXISTS (SELECT 1 FROM routes b WHERE b.direction = m.direction "
            "AND b.route = r.route AND b.next_attempt > :now)")
        params = {"now": now, "dir": direction}
        with self._write() as conn:
            # Highest priority first (RFC 6710), oldest due first within a priority: per
            # priority present, a seek for the level and a walk of the partial index
            # recipients_active (priority, next_attempt) in next_attempt order that stops
            # after enough rows -- the cost follows the batch and the number of levels, not
            # the backlog (a GROUP BY over every due row made a 100k backlog cost 100k).
            wanted = limit * _ROWS_PER_JOB
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
            groups = list(dict.fromkeys(rows_due))[:limit]
            messages: dict[str, tuple[Any, ...]] = {}
            for message_id, route in groups:
                if message_id not in messages:
                    messages[message_id] = conn.execute(
                        "SELECT origin, sender, data, meta, created FROM messages "
                        "WHERE id = ?", (message_id,)).fetchone()
                origin, sender, data, meta, created = messages[message_id]
                rows = conn.execute(
                    f"SELECT r.idx, r.address, r.notify, r.orcpt, r.extra, r.attempts "
                    f"FROM recipients r JOIN messages m ON m.id = r.message_id "
                    f"WHERE r.message_id = :mid AND r.route = :route AND {eligible} "
                    f"ORDER BY r.idx", {**params, "mid": message_id, "route": route}).fetchall()
                conn.executemany(
                    "UPDATE recipients SET lease_until = ?, claim = ? "
                    "WHERE message_id = ? AND idx = ?",
                    [(now + lease, token, message_id, row[0]) for row in rows])
                jobs.append(Job(
                    message_id=message_id, direction=direction, origin=origin, sender=sender,
                    data=bytes(data), meta=json.loads(meta), route=route,
                    recipients=tuple(recipient_from_row(row[1], route, row[2], row[3], row[4])
                                     for row in rows),
                    attempts=max(row[5] for row in rows), first_seen=created, claim=token))
        return jobs

    def record(self, job: Job, outcomes: Mapping[str, Outcome]) -> None:
        """Record the outcome of an attempt, per recipient address.

        Delivered / Failed are final.  Deferred schedules the next attempt after
        ``RetryPolicy.backoff(attempts)``; a recipient deferred ``expire_after`` after it was
        queued becomes ``expired`` instead (final, reported as a failure).  When every
        outcome of the job is Deferred, the destination (route) backs off too; any Delivered
        or Failed clears its backoff (the destination answered).  A recipient of the job
        without an outcome is released: lease cleared, no attempt counted.
        """
        self.record_many([(job, outcomes)])

    def record_many(self, items: Sequence[tuple[Job, Mapping[str, Outcome]]]) -> None:
        """:meth:`record` for several jobs in ONE transaction (a worker's whole batch)."""
        for job, outcomes in items:
            unknown = set(outcomes) - {r.address for r in job.recipients}
            if unknown:
                raise ValueError(f"outcomes for addresses not in the job: {sorted(unknown)}")
        now = self._clock()
        with self._write() as conn:
            for job, outcomes in items:
                self._record_in(conn, job, outcomes, now)

    def _record_in(self, conn: sqlite3.Connection, job: Job, outcomes: Mapping[str, Outcome],
                   now: float) -> None:
        addresses = {r.address for r in job.recipients}
        policy = self.retry_policy
        rows = conn.execute(
            "SELECT idx, address, state, attempts, since, claim FROM recipients "
            "WHERE message_id = ? AND route = ?", (job.message_id, job.route)).fetchall()
        for idx, address, state, attempts, since, claim in rows:
            if address not in addresses or state not in ACTIVE:
                continue          # not ours, or already final / dead-lettered
            outcome = outcomes.get(address)
            ours = claim == job.claim or claim is None
            if outcome is None:
                if ours:
                    set_recipient(conn, job.message_id, idx, lease_until=None, claim=None)
                continue
            if isinstance(outcome, Deferred) and not ours:
                continue          # someone else holds it now (our lease had expired)
            attempts += 1
            if isinstance(outcome, Delivered):
                fields: dict[str, Any] = dict(state="delivered", last_kind="delivered",
                              last_status="2.0.0", last_diagnostic="",
                              last_detail=outcome.detail, last_x400=None)
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
                              last_status=outcome.status,
                              last_diagnostic=outcome.diagnostic, last_detail="",
                              last_x400=None,
                              next_attempt=now + policy.backoff(attempts))
                event = "expired" if expired else "deferred"
                detail = f"{outcome.status} {outcome.diagnostic}".strip()
            set_recipient(conn, job.message_id, idx, attempts=attempts, lease_until=None,
                          claim=None, last_at=now, **fields)
            add_history(conn, job.message_id, now, event, address, detail)
        given = list(outcomes.values())
        if given and all(isinstance(o, Deferred) for o in given):
            row = conn.execute("SELECT failures FROM routes WHERE direction = ? AND "
                               "route = ?", (job.direction, job.route)).fetchone()
            failures = (row[0] if row else 0) + 1
            conn.execute(
                "INSERT OR REPLACE INTO routes (direction, route, failures, next_attempt) "
                "VALUES (?, ?, ?, ?)",
                (job.direction, job.route, failures, now + policy.backoff(failures)))
        elif given:
            conn.execute("DELETE FROM routes WHERE direction = ? AND route = ?",
                         (job.direction, job.route))

    def release_leases(self) -> int:
        """Give back every claim (start-up of the one process that claims from this queue,
        after a crash): recipients a killed worker held become due again at once instead of
        after their lease.  Returns how many were released."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE recipients SET lease_until = NULL, claim = NULL "
                "WHERE lease_until IS NOT NULL AND state IN ('pending', 'deferred')")
            released = cur.rowcount
        self._work.set()
        return released

    def release(self, job: Job) -> None:
        """Give the claim back untouched (shutdown): no attempt counted, due as before."""
        with self._write() as conn:
            conn.execute("UPDATE recipients SET lease_until = NULL, claim = NULL "
                         "WHERE message_id = ? AND claim = ?", (job.message_id, job.claim))
        self._work.set()

    def shunt(self, message_id: str, reason: str) -> None:
        """Dead-letter a message: its active recipients become ``dead`` until an operator
        retries or drops it (a message that cannot be handled is never dropped, STYLE.md §10).
        """
        now = self._clock()
        with self._write() as conn:
            require_message(conn, message_id)
            conn.execute("UPDATE recipients SET state = 'dead', lease_until = NULL, "
                         "claim = NULL WHERE message_id = ? AND state IN "
                         "('pending', 'deferred')", (message_id,))
            conn.execute("UPDATE messages SET shunt_reason = ? WHERE id = ?",
                         (reason, message_id))
            add_history(conn, message_id, now, "shunted", detail=reason)

    # -- reports --------------------------------------------------------------------------

    def reports_due(self, *, limit: int = 100) -> list[ReportTask]:
        """Messages with recipients needing a report, not yet reported.

        * ``failed`` / ``expired``: always (the caller applies NOTIFY=NEVER, RFC 3461 §4.1,
          or the X.400 report request, X.411 §8.2.1.1.1.34);
        * ``delivered``: when NOTIFY contains SUCCESS or ``extra["report"] == "delivery"``;
        * ``deferred`` for at least ``delay_warning`` with NOTIFY containing DELAY: once.

        A shunted message gets no reports until an operator retries it (its report may be
        what failed).
        """
        now = self._clock()
        warn = self.retry_policy.delay_warning
        tasks: list[ReportTask] = []
        with self._read() as conn:
            candidates = conn.execute(
                f"SELECT message_id, {RCPT_COLUMNS} FROM recipients WHERE "
                f"({FINAL_REPORT_DUE} "
                "OR (state = 'deferred' AND instr(reported, 'D') = 0 AND since <= ? "
                "AND instr(upper(notify), '\"DELAY\"') > 0)) "
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
                                 "FROM messages WHERE id = ?", (message_id,)).fetchone()
                tasks.append(ReportTask(
                    message_id=message_id, direction=m[0], origin=m[1], sender=m[2],
                    created=m[3], data=bytes(m[4]), meta=json.loads(m[5]),
                    items=tuple(items)))
        return tasks

    def mark_reported(self, message_id: str, addresses: Iterable[str], kind: str) -> None:
        """Note that a report of ``kind`` ("failure", "delivery", "delay") was made (or
        deliberately not made) for these recipients, so ``reports_due`` stops listing them."""
        if kind not in REPORT_KINDS:
            raise ValueError(f"unknown report kind {kind!r} (one of {REPORT_KINDS})")
        flag = "D" if kind == "delay" else "F"
        wanted = set(addresses)
        now = self._clock()
        with self._write() as conn:
            require_message(conn, message_id)
            for idx, address, reported in conn.execute(
                    "SELECT idx, address, reported FROM recipients WHERE message_id = ?",
                    (message_id,)).fetchall():
                if address in wanted and flag not in reported:
                    set_recipient(conn, message_id, idx, reported=reported + flag)
                    add_history(conn, message_id, now, f"reported {kind}", address)

    # -- operators ------------------------------------------------------------------------

    def retry(self, message_id: str) -> int:
        """Make the message's dead / deferred / expired / failed recipients pending and due
        now, with a fresh expiry clock and attempt count; their destinations' backoff is
        cleared.  Recipients under a live lease are left alone.  Returns how many changed."""
        now = self._clock()
        with self._write() as conn:
            require_message(conn, message_id)
            rows = conn.execute(
                "SELECT idx, address, route FROM recipients WHERE message_id = ? AND state IN "
                "('dead', 'deferred', 'expired', 'failed') AND (lease_until IS NULL OR "
                "lease_until <= ?)", (message_id, now)).fetchall()
            direction = conn.execute("SELECT direction FROM messages WHERE id = ?",
                                     (message_id,)).fetchone()[0]
            for idx, address, route in rows:
                set_recipient(conn, message_id, idx, state="pending", attempts=0, since=now,
                              next_attempt=now, lease_until=None, claim=None, reported="")
                conn.execute("DELETE FROM routes WHERE direction = ? AND route = ?",
                             (direction, route))
                add_history(conn, message_id, now, "retried", address)
            conn.execute("UPDATE messages SET shunt_reason = NULL WHERE id = ? AND NOT EXISTS "
                         "(SELECT 1 FROM recipients WHERE message_id = ? AND state = 'dead')",
                         (message_id, message_id))
        self._work.set()
        return len(rows)

    def purge(self, *, older_than: float) -> int:
        """Delete finished messages: every recipient final, every report due made, and no
        change for ``older_than`` seconds.  The gateway calls it now and then; returns how
        many messages went."""
        cutoff = self._clock() - older_than
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM messages WHERE created <= :cutoff AND NOT EXISTS (SELECT 1 FROM "
                "recipients WHERE message_id = messages.id AND (state NOT IN ('delivered', "
                f"'failed', 'expired') OR coalesce(last_at, 0) > :cutoff OR {FINAL_REPORT_DUE}"
                "))", {"cutoff": cutoff})
            return cur.rowcount

    def drop(self, message_id: str) -> bool:
        """Delete a message and everything about it; False if there was none."""
        with self._write() as conn:
            cur = conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            return cur.rowcount > 0

    def get(self, message_id: str) -> MessageInfo | None:
        """Everything about one message, or None."""
        with self._read() as conn:
            m = conn.execute("SELECT direction, origin, sender, created, data, meta, "
                             "shunt_reason FROM messages WHERE id = ?",
                             (message_id,)).fetchone()
            if m is None:
                return None
            rcpts = conn.execute(f"SELECT {RCPT_COLUMNS} FROM recipients WHERE "
                                 "message_id = ? ORDER BY idx", (message_id,)).fetchall()
            hist = conn.execute("SELECT at, event, address, detail FROM history WHERE "
                                "message_id = ? ORDER BY rowid", (message_id,)).fetchall()
        return MessageInfo(
            message_id=message_id, direction=m[0], origin=m[1], sender=m[2], created=m[3],
            data=bytes(m[4]), meta=json.loads(m[5]), shunt_reason=m[6],
            recipients=tuple(recipient_info(r) for r in rcpts),
            history=tuple(HistoryEvent(at=h[0], event=h[1], address=h[2], detail=h[3])
                          for h in hist))

    def list(self, *, state: str | None = None, direction: str | None = None,
             limit: int = 100) -> list[MessageSummary]:
        """Messages, oldest first; ``state`` keeps those with a recipient in that state."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r} (one of {', '.join(STATES)})")
        if direction is not None and direction not in _DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}")
        where, params = [], []
        if direction is not None:
            where.append("m.direction = ?")
            params.append(direction)
        if state is not None:
            where.append("EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id "
                         "AND r.state = ?)")
            params.append(state)
        sql = ("SELECT m.id, m.direction, m.origin, m.sender, m.created, length(m.data), "
               "m.shunt_reason FROM messages m"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY m.created, m.id LIMIT ?")
        with self._read() as conn:
            rows = conn.execute(sql, (*params, limit)).fetchall()
            out = []
            for mid, dirn, origin, sender, created, size, reason in rows:
                counts = dict(conn.execute("SELECT state, count(*) FROM recipients WHERE "
                                           "message_id = ? GROUP BY state", (mid,)))
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
                by_dir[dirn][state] = n
            totals: dict[str, int] = {s: sum(by_dir[d][s] for d in _DIRECTIONS) for s in STATES}
            messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            depth = conn.execute("SELECT count(DISTINCT message_id) FROM recipients WHERE "
                                 "state IN ('pending', 'deferred')").fetchone()[0]
            dead = conn.execute("SELECT count(DISTINCT message_id) FROM recipients WHERE "
                                "state = 'dead'").fetchone()[0]
            in_flight = conn.execute("SELECT count(*) FROM recipients WHERE state IN "
                                     "('pending', 'deferred') AND lease_until > ?",
                                     (now,)).fetchone()[0]
            oldest = conn.execute("SELECT min(since) FROM recipients WHERE state IN "
                                  "('pending', 'deferred')").fetchone()[0]
            backing = tuple(f"{d}:{r}" for d, r in conn.execute(
                "SELECT direction, route FROM routes WHERE next_attempt > ? "
                "ORDER BY direction, route", (now,)))
        return QueueStats(
            messages=messages, recipients=totals, by_direction=by_dir, depth=depth,
            in_flight=in_flight, dead=dead,
            oldest_pending_age=None if oldest is None else max(0.0, now - oldest),
            routes_backing_off=backing)

    def verify(self) -> builtins.list[str]:
        """Consistency check for operators and the crash test: SQLite's
        ``PRAGMA integrity_check``, every message's data against its SHA-256, every message
        with all its recipients.  Returns the problems found (empty = healthy)."""
        problems: list[str] = []
        with self._read() as conn:
            for (line,) in conn.execute("PRAGMA integrity_check"):
                if line != "ok":
                    problems.append(f"sqlite: {line}")
            for mid, data, digest, nrcpt, meta in conn.execute(
                    "SELECT id, data, digest, nrcpt, meta FROM messages"):
                if hashlib.sha256(data).hexdigest() != digest:
                    problems.append(f"{mid}: data does not match its digest")
                n = conn.execute("SELECT count(*) FROM recipients WHERE message_id = ?",
                                 (mid,)).fetchone()[0]
                if n != nrcpt:
                    problems.append(f"{mid}: {n} of {nrcpt} recipients")
                try:
                    json.loads(meta)
                except ValueError:
                    problems.append(f"{mid}: meta is not JSON")
        return problems
