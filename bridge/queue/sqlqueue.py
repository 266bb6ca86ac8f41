"""What both queue backends do the same way: :class:`SqlQueue`, their common base.

Everything here is one text per statement (:mod:`bridge.queue.sql`, rendered by the backend's
:class:`~bridge.queue.sql.Dialect`) and one piece of row -> value logic: submitting, recording
outcomes (backoff, expiry, the per-destination backoff, stale claims), reports, the operator
verbs, the views.  A backend (:class:`bridge.queue.store.Queue` for SQLite,
:class:`bridge.queue.pg.PgQueue` for PostgreSQL) brings its connection and transactions
(``_read`` / ``_write``), its claim, and its wake-ups (``_made_due``).  The states,
transitions, leases, backoff, expiry and reports are described in ``docs/queue.md``.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from bridge.queue.model import Deferred, Delivered, Direction, Failed, Outcome, Submission
from bridge.queue.rows import dumps, recipient_from_row, recipient_info, report_kind
from bridge.queue.sql import (
    LEASE,
    RCPT_COLUMNS,
    ROUTE_ANSWERED,
    ROUTE_FAILED,
    ROUTE_NEXT,
    SELECT_JOB_MESSAGE,
    SELECT_RECIPIENTS,
    Dialect,
    delay_due,
    final_report_due,
)
from bridge.queue.types import (
    ACTIVE,
    REPORT_KINDS,
    STATES,
    HistoryEvent,
    Job,
    MessageInfo,
    MessageSummary,
    NoSuchMessage,
    QueueStats,
    ReportItem,
    ReportTask,
    RetryPolicy,
)

DIRECTIONS: tuple[Direction, ...] = ("to-x400", "to-smtp")
#: rows a claim reads per job it may return (a job is one message's recipients on one route;
#: a batch of messages with more recipients than this per route is just smaller)
ROWS_PER_JOB = 16


def submitted_detail(sub: Submission, data: bytes) -> str:
    """The detail of a message's "submitted" history event."""
    return f"{sub.origin}, {len(data)} octets, {len(sub.recipients)} recipient(s)"


@dataclass(frozen=True, slots=True)
class Change:
    """What recording an outcome changes of one recipient (``SqlQueue._record_in``): its
    columns (besides the lease, cleared, and ``last_at``) and its history event."""

    idx: int
    address: str
    attempts: int
    fields: dict[str, Any]
    event: str
    detail: str


class SqlQueue:
    """The shared part of a queue backend (see the module docstring).  Public methods are
    those of :class:`bridge.queue.api.MessageQueue`."""

    dialect: ClassVar[Dialect]
    #: transactions of several threads run at once (a connection each): the gateway's queue
    #: writer then gives its lanes a thread each (:mod:`bridge.gateway.commit`)
    concurrent_writes: ClassVar[bool] = False
    retry_policy: RetryPolicy
    _clock: Callable[[], float]

    # -- what a backend provides ----------------------------------------------------------

    def _read(self) -> AbstractContextManager[Any]:
        """A read transaction (inside ``batch()``: the batch's)."""
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        """A write transaction (inside ``batch()``: a savepoint of it)."""
        raise NotImplementedError

    def _made_due(self, conn: Any, directions: Iterable[str]) -> None:
        """Work of ``directions`` became due in the transaction on ``conn``: wake the
        waiting workers (when it commits)."""
        raise NotImplementedError

    def _stream(self, conn: Any, text: str) -> AbstractContextManager[Iterable[Any]]:
        """The rows of a large query, not all in memory at once."""
        return contextlib.nullcontext(self._x(conn, text))

    def close(self) -> None:
        """Close the connection(s) (idempotent)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def batch(self) -> AbstractContextManager[None]:
        """Several operations in ONE transaction (each a savepoint; see the backends)."""
        raise NotImplementedError

    def run_batch(self, calls: Sequence[Callable[[], Any]]
                  ) -> builtins.list[tuple[bool, Any]]:
        """Each call (an operation of this queue) in ONE :meth:`batch`, in order: per call
        ``(True, result)`` or ``(False, exception)`` -- a failed call is undone alone (its
        savepoint), the others are durable when this returns.  Raises when the COMMIT
        failed: then none is.  The queue writer's group commit (:mod:`bridge.gateway.commit`);
        PostgreSQL sends such a batch without a savepoint per call first
        (:meth:`bridge.queue.pg.PgQueue.run_batch`)."""
        done: list[tuple[bool, Any]] = []
        with self.batch():
            for call in calls:
                try:
                    done.append((True, call()))
                except Exception as exc:  # noqa: BLE001 - it goes to its caller
                    done.append((False, exc))
        return done

    def _changed(self, cur: Any) -> int:
        """How many rows the statement of cursor ``cur`` changed."""
        return int(cur.rowcount)

    def _integrity(self, conn: Any) -> builtins.list[str]:
        """The database's own consistency check (SQLite's ``integrity_check``)."""
        del conn
        return []

    # -- statements -----------------------------------------------------------------------

    def _x(self, conn: Any, text: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Execute one shared statement in the backend's dialect; its cursor."""
        return conn.execute(self.dialect.sql(text), params)

    def _many(self, conn: Any, text: str, rows: Sequence[Sequence[Any]]) -> None:
        with contextlib.closing(conn.cursor()) as cur:
            cur.executemany(self.dialect.sql(text), rows)

    def _count(self, conn: Any, text: str, params: Sequence[Any] = ()) -> int:
        return int(self._x(conn, text, params).fetchone()[0])

    def _require(self, conn: Any, message_id: str) -> str:
        """The message's direction; :class:`NoSuchMessage` if there is none."""
        row = self._x(conn, "SELECT direction FROM messages WHERE id = ?",
                      (message_id,)).fetchone()
        if row is None:
            raise NoSuchMessage(f"no message {message_id!r} in the queue")
        return str(row[0])

    def _set(self, conn: Any, message_id: str, idx: int, **fields: Any) -> None:
        names = ", ".join(f"{k} = ?" for k in fields)    # keys are our own literals, not input
        self._x(conn, f"UPDATE recipients SET {names} WHERE message_id = ? AND idx = ?",
                (*fields.values(), message_id, idx))

    def _history(self, conn: Any, message_id: str, at: float, event: str, address: str = "",
                 detail: str = "") -> None:
        self._x(conn, "INSERT INTO history (message_id, at, event, address, detail) "
                "VALUES (?, ?, ?, ?, ?)", (message_id, at, event, address, detail))

    def _lease(self, conn: Any, message_id: str, rows: Sequence[Sequence[Any]], *,
               until: float, token: str, node: str) -> None:
        """Lease the claimed recipients ``rows`` (by their first column, ``idx``)."""
        self._many(conn, LEASE, [(until, token, node, message_id, row[0]) for row in rows])

    def _job(self, conn: Any, messages: dict[str, tuple[Any, ...]], direction: Direction,
             message_id: str, route: str, rows: Sequence[Sequence[Any]], token: str) -> Job:
        """The :class:`Job` of a claimed group (``rows``: ``sql.JOB_RCPT_COLUMNS``);
        ``messages`` caches what the claim already read of each message."""
        if message_id not in messages:
            messages[message_id] = tuple(
                self._x(conn, SELECT_JOB_MESSAGE, (message_id,)).fetchone())
        origin, sender, data, meta, created = messages[message_id]
        return Job(message_id=message_id, direction=direction, origin=origin, sender=sender,
                   data=bytes(data), meta=json.loads(meta), route=route,
                   recipients=tuple(recipient_from_row(row[1], route, row[2], row[3], row[4])
                                    for row in rows),
                   attempts=max(row[5] for row in rows), first_seen=created, claim=token)

    # -- the way in -----------------------------------------------------------------------

    def submit(self, sub: Submission) -> str:
        """Store ``sub`` durably and return its message (tracking) id.

        The id is ``YYYYMMDDTHHMMSSZ-<8 hex>`` (UTC).  Every recipient starts ``pending`` and
        due now.  The COMMIT is durable when this returns (RFC 5321 §6.1: the 250 reply means
        the server has taken responsibility for the message).
        """
        return self.submit_many([sub])[0]

    def submit_many(self, subs: Sequence[Submission]) -> builtins.list[str]:
        """Store several submissions in ONE transaction (group commit): all or none are
        durable when this returns; the ids in order.  (The gateway shares commits between
        all its writes with ``batch()`` instead.)"""
        prepared = []
        for sub in subs:
            if sub.direction not in DIRECTIONS:
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
                while True:                          # 32 random bits: a clash is rare
                    message_id = f"{stamp}-{secrets.token_hex(4)}"
                    if self._insert(conn, message_id, sub, data, meta, digest, rows, now):
                        break
                ids.append(message_id)
            if not self.insert_notifies:
                self._made_due(conn, sorted({sub.direction for sub, *_ in prepared}))
        return ids

    #: :meth:`_insert` already wakes the workers (``_made_due``) of the message's direction
    insert_notifies: ClassVar[bool] = False

    def _insert(self, conn: Any, message_id: str, sub: Submission, data: bytes, meta: str,
                digest: str, rows: Sequence[tuple[Any, ...]], now: float) -> bool:
        """Insert one submission (message, recipients ``rows``, its "submitted" history) as
        ``message_id``; False, with nothing written, when that id is taken."""
        if self._x(conn, "INSERT INTO messages (id, direction, origin, sender, meta, data, "
                   "digest, nrcpt, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (id) DO NOTHING RETURNING id",
                   (message_id, sub.direction, sub.origin, sub.sender, meta, data, digest,
                    len(rows), now)).fetchone() is None:
            return False
        self._many(conn, "INSERT INTO recipients (message_id, idx, address, route, notify, "
                   "orcpt, extra, priority, state, since, next_attempt) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                   [(message_id, i, *row, now, now) for i, row in enumerate(rows)])
        self._history(conn, message_id, now, "submitted", detail=submitted_detail(sub, data))
        return True

    # -- workers --------------------------------------------------------------------------

    def record(self, job: Job, outcomes: Mapping[str, Outcome]) -> None:
        """Record the outcome of an attempt, per recipient address.

        Delivered / Failed are final.  Deferred schedules the next attempt after the
        backoff of the recipient's priority; a recipient deferred ``expire_after`` (of its
        priority) after it was queued becomes ``expired`` instead (final, reported as a
        failure).  When every outcome of the job is Deferred, the destination (route) backs
        off too; any Delivered or Failed clears its backoff (the destination answered).  A
        recipient of the job without an outcome is released: lease cleared, no attempt
        counted.  A stale claim (docs/queue.md "Nodes") only records final outcomes.
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

    def _record_in(self, conn: Any, job: Job, outcomes: Mapping[str, Outcome],
                   now: float) -> None:
        addresses = {r.address for r in job.recipients}
        policy = self.retry_policy
        rows = self._x(conn, "SELECT idx, address, state, attempts, since, claim, priority "
                       "FROM recipients WHERE message_id = ? AND route = ? "
                       f"ORDER BY idx{self.dialect.lock}",
                       (job.message_id, job.route)).fetchall()
        released: list[int] = []
        changes: list[Change] = []
        for idx, address, state, attempts, since, claim, priority in rows:
            if address not in addresses or state not in ACTIVE:
                continue          # not ours, or already final / dead-lettered
            outcome = outcomes.get(address)
            # a stale claim (its lease ran out and another claim took the recipient, or
            # that claim already recorded) neither defers nor releases: only the holder does
            ours = claim == job.claim
            if outcome is None:
                if ours:
                    released.append(idx)
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
                times = policy.for_priority(priority)       # issue 14: its own times
                expired = now - since >= times.expire_after
                event = "expired" if expired else "deferred"
                fields = dict(state=event, last_kind=event, last_status=outcome.status,
                              last_diagnostic=outcome.diagnostic, last_detail="",
                              last_x400=None, next_attempt=now + times.backoff(attempts))
                detail = f"{outcome.status} {outcome.diagnostic}".strip()
            changes.append(Change(idx=idx, address=address, attempts=attempts, fields=fields,
                                  event=event, detail=detail))
        given = list(outcomes.values())
        answered = bool(given) and not all(isinstance(o, Deferred) for o in given)
        self._store_record(conn, job, released, changes, now, answered=answered)
        if given and not answered:
            # the destination keeps the base schedule; sql.route_hold caps it per priority
            failures = int(self._x(conn, ROUTE_FAILED, (job.direction, job.route,
                                                        now + policy.backoff(1), now)
                                   ).fetchone()[0])
            self._x(conn, ROUTE_NEXT, (now + policy.backoff(failures), job.direction,
                                       job.route))

    def _store_record(self, conn: Any, job: Job, released: Sequence[int],
                      changes: Sequence[Change], now: float, *, answered: bool) -> None:
        """Write what :meth:`_record_in` decided for ``job``: the recipients ``released``
        (lease cleared), the ``changes`` with their history, and -- when the destination
        ``answered`` (a Delivered or Failed among the outcomes) -- the end of its backoff."""
        for idx in released:
            self._set(conn, job.message_id, idx, lease_until=None, claim=None, node=None)
        for c in changes:
            self._set(conn, job.message_id, c.idx, attempts=c.attempts, lease_until=None,
                      claim=None, node=None, last_at=now, **c.fields)
            self._history(conn, job.message_id, now, c.event, c.address, c.detail)
        if answered:
            self._x(conn, ROUTE_ANSWERED, (job.direction, job.route))

    def release_leases(self, node: str | None = None) -> int:
        """Give back the claims of ``node`` (None: every claim, one gateway alone) -- the
        start-up of a node after a crash: what its killed workers held is due again at once
        instead of after the lease; the other nodes' leases are theirs.  How many."""
        with self._write() as conn:
            released = self._changed(self._x(
                conn, "UPDATE recipients SET lease_until = NULL, claim = NULL, node = NULL "
                "WHERE lease_until IS NOT NULL AND state IN ('pending', 'deferred') "
                "AND (CAST(:node AS TEXT) IS NULL OR node = :node)", {"node": node}))
            self._made_due(conn, DIRECTIONS)
        return released

    def release(self, job: Job) -> None:
        """Give the claim back untouched (shutdown): no attempt counted, due as before."""
        with self._write() as conn:
            self._x(conn, "UPDATE recipients SET lease_until = NULL, claim = NULL, node = NULL "
                    "WHERE message_id = ? AND claim = ?", (job.message_id, job.claim))
            self._made_due(conn, (job.direction,))

    def shunt(self, message_id: str, reason: str) -> None:
        """Dead-letter a message: its active recipients become ``dead`` until an operator
        retries or drops it (a message that cannot be handled is never dropped, STYLE.md §10).
        """
        now = self._clock()
        with self._write() as conn:
            self._require(conn, message_id)
            self._x(conn, "UPDATE recipients SET state = 'dead', lease_until = NULL, "
                    "claim = NULL, node = NULL WHERE message_id = ? AND state IN "
                    "('pending', 'deferred')", (message_id,))
            self._x(conn, "UPDATE messages SET shunt_reason = ? WHERE id = ?",
                    (reason, message_id))
            self._history(conn, message_id, now, "shunted", detail=reason)

    # -- reports --------------------------------------------------------------------------

    def reports_due(self, *, limit: int = 100) -> builtins.list[ReportTask]:
        """Messages with recipients needing a report, not yet reported.

        * ``failed`` / ``expired``: always (the caller applies NOTIFY=NEVER, RFC 3461 §4.1,
          or the X.400 report request, X.411 §8.2.1.1.1.34);
        * ``delivered``: when NOTIFY contains SUCCESS or ``extra["report"] == "delivery"``;
        * ``deferred`` for at least the ``delay_warning`` of its priority with NOTIFY
          containing DELAY: once.

        A shunted message gets no reports until an operator retries it (its report may be
        what failed).
        """
        now = self._clock()
        find = self.dialect.find
        tasks: list[ReportTask] = []
        with self._read() as conn:
            # two queries: the final reports through the partial index recipients_final_due
            # (its predicate word for word), the delay warnings among the deferred rows
            not_shunted = ("message_id NOT IN "
                           "(SELECT id FROM messages WHERE shunt_reason IS NOT NULL)")
            final = self._x(
                conn, f"SELECT message_id, {RCPT_COLUMNS} FROM recipients"
                f"{self.dialect.final_due_hint} WHERE "
                f"{final_report_due(self.dialect)} AND {not_shunted}").fetchall()
            delayed = self._x(
                conn, f"SELECT message_id, {RCPT_COLUMNS} FROM recipients WHERE "
                f"state = 'deferred' AND {find}(reported, 'D') = 0 "
                f"AND {delay_due(self.retry_policy)} <= ? "
                f"AND {find}(upper(notify), '\"DELAY\"') > 0 AND {not_shunted}",
                (now,)).fetchall()
            candidates = sorted([*final, *delayed], key=lambda row: (row[0], row[1]))
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
                m = self._x(conn, "SELECT direction, origin, sender, created, data, meta "
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
            self._require(conn, message_id)
            for idx, address, reported in self._x(
                    conn, "SELECT idx, address, reported FROM recipients WHERE message_id = ? "
                    f"ORDER BY idx{self.dialect.lock}", (message_id,)).fetchall():
                if address in wanted and flag not in reported:
                    self._set(conn, message_id, idx, reported=reported + flag)
                    self._history(conn, message_id, now, f"reported {kind}", address)

    # -- operators ------------------------------------------------------------------------

    def retry(self, message_id: str) -> int:
        """Make the message's dead / deferred / expired / failed recipients pending and due
        now, with a fresh expiry clock and attempt count; their destinations' backoff is
        cleared.  Recipients under a live lease are left alone.  Returns how many changed."""
        now = self._clock()
        with self._write() as conn:
            direction = self._require(conn, message_id)
            rows = self._x(
                conn, "SELECT idx, address, route FROM recipients WHERE message_id = ? AND "
                "state IN ('dead', 'deferred', 'expired', 'failed') AND (lease_until IS NULL "
                f"OR lease_until <= ?) ORDER BY idx{self.dialect.lock}",
                (message_id, now)).fetchall()
            for idx, address, route in rows:
                self._set(conn, message_id, idx, state="pending", attempts=0, since=now,
                          next_attempt=now, lease_until=None, claim=None, node=None,
                          reported="")
                self._x(conn, ROUTE_ANSWERED, (direction, route))
                self._history(conn, message_id, now, "retried", address)
            self._x(conn, "UPDATE messages SET shunt_reason = NULL WHERE id = ? AND NOT EXISTS "
                    "(SELECT 1 FROM recipients WHERE message_id = ? AND state = 'dead')",
                    (message_id, message_id))
            if rows:
                self._made_due(conn, (direction,))
        return len(rows)

    def purge(self, *, older_than: float) -> int:
        """Delete finished messages: every recipient final, every report due made, and no
        change for ``older_than`` seconds.  The gateway calls it now and then; returns how
        many messages went."""
        cutoff = self._clock() - older_than
        with self._write() as conn:
            return self._changed(self._x(
                conn, "DELETE FROM messages WHERE created <= :cutoff AND NOT EXISTS (SELECT 1 "
                "FROM recipients WHERE message_id = messages.id AND (state NOT IN "
                "('delivered', 'failed', 'expired') OR coalesce(last_at, 0) > :cutoff "
                f"OR {final_report_due(self.dialect)}))", {"cutoff": cutoff}))

    def drop(self, message_id: str) -> bool:
        """Delete a message and everything about it; False if there was none."""
        with self._write() as conn:
            return self._changed(self._x(conn, "DELETE FROM messages WHERE id = ?",
                                         (message_id,))) > 0

    def get(self, message_id: str) -> MessageInfo | None:
        """Everything about one message, or None."""
        with self._read() as conn:
            m = self._x(conn, "SELECT direction, origin, sender, created, data, meta, "
                        "shunt_reason FROM messages WHERE id = ?", (message_id,)).fetchone()
            if m is None:
                return None
            rcpts = self._x(conn, SELECT_RECIPIENTS, (message_id,)).fetchall()
            hist = self._x(conn, "SELECT at, event, address, detail FROM history WHERE "
                           f"message_id = ? ORDER BY {self.dialect.history_order}",
                           (message_id,)).fetchall()
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
        if direction is not None and direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}")
        where: list[str] = []
        params: list[Any] = []
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
            rows = self._x(conn, sql, (*params, limit)).fetchall()
            out = []
            for mid, dirn, origin, sender, created, size, reason in rows:
                counts = {s: int(n) for s, n in self._x(
                    conn, "SELECT state, count(*) FROM recipients WHERE message_id = ? "
                    "GROUP BY state", (mid,))}
                out.append(MessageSummary(
                    message_id=mid, direction=dirn, origin=origin, sender=sender,
                    created=created, size=size, states=counts, shunt_reason=reason))
        return out

    def stats(self) -> QueueStats:
        """Counts by state and direction, depth, in-flight, dead, oldest active age, the
        destinations backing off, the leases per node."""
        now = self._clock()
        with self._read() as conn:
            by_dir: dict[str, dict[str, int]] = {d: {s: 0 for s in STATES} for d in DIRECTIONS}
            for dirn, state, n in self._x(
                    conn, "SELECT m.direction, r.state, count(*) FROM recipients r "
                    "JOIN messages m ON m.id = r.message_id GROUP BY m.direction, r.state"):
                by_dir[dirn][state] = int(n)
            totals: dict[str, int] = {s: sum(by_dir[d][s] for d in DIRECTIONS) for s in STATES}
            messages = self._count(conn, "SELECT count(*) FROM messages")
            depth = self._count(conn, "SELECT count(DISTINCT message_id) FROM recipients "
                                "WHERE state IN ('pending', 'deferred')")
            dead = self._count(conn, "SELECT count(DISTINCT message_id) FROM recipients "
                               "WHERE state = 'dead'")
            in_flight = self._count(conn, "SELECT count(*) FROM recipients WHERE state IN "
                                    "('pending', 'deferred') AND lease_until > ?", (now,))
            oldest = self._x(conn, "SELECT min(since) FROM recipients WHERE state IN "
                             "('pending', 'deferred')").fetchone()[0]
            backing = tuple(f"{d}:{r}" for d, r in self._x(
                conn, "SELECT direction, route FROM routes WHERE next_attempt > ? "
                "ORDER BY direction, route", (now,)))
            by_node = {str(n): int(c) for n, c in self._x(
                conn, "SELECT coalesce(node, ''), count(*) FROM recipients WHERE state IN "
                "('pending', 'deferred') AND lease_until > ? GROUP BY 1 ORDER BY 1", (now,))}
        return QueueStats(
            messages=messages, recipients=totals, by_direction=by_dir, depth=depth,
            in_flight=in_flight, dead=dead,
            oldest_pending_age=None if oldest is None else max(0.0, now - oldest),
            routes_backing_off=backing, leases_by_node=by_node)

    def verify(self) -> builtins.list[str]:
        """Consistency check for operators and the crash test: the database's own check
        (SQLite), every message's data against its SHA-256, every message with all its
        recipients, meta is JSON.  Returns the problems found (empty = healthy)."""
        with self._read() as conn:
            problems = self._integrity(conn)
            counts = {mid: int(n) for mid, n in self._x(
                conn, "SELECT message_id, count(*) FROM recipients GROUP BY message_id")}
            with self._stream(conn, "SELECT id, data, digest, nrcpt, meta FROM messages") \
                    as rows:
                problems += self._check_messages(rows, counts)
        return problems

    @staticmethod
    def _check_messages(rows: Iterable[Any], counts: Mapping[str, int]) -> Iterator[str]:
        for mid, data, digest, nrcpt, meta in rows:
            if hashlib.sha256(data).hexdigest() != digest:
                yield f"{mid}: data does not match its digest"
            n = counts.get(mid, 0)
            if n != nrcpt:
                yield f"{mid}: {n} of {nrcpt} recipients"
            try:
                json.loads(meta)
            except ValueError:
                yield f"{mid}: meta is not JSON"
