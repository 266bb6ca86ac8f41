"""The queue's SQL, written once for both backends, and the :class:`Dialect` that renders it.

Statements are written in SQLite's placeholder styles -- ``?`` positional, ``:name`` named --
and :meth:`Dialect.sql` renders them for psycopg (``%s``, ``%(name)s``, a literal ``%``
doubled).  The rest of what differs between SQLite and PostgreSQL in the statements both
backends share is a field of :class:`Dialect`:

* the position of a substring (``instr`` / ``strpos``) and a member of a JSON text column
  (``json_extract`` / ``::jsonb ->>``);
* the row locks a read-modify-write takes (none in SQLite, whose write transaction already
  holds the database lock -- ``BEGIN IMMEDIATE``; ``FOR UPDATE`` in PostgreSQL);
* the order a message's history was written in (SQLite's ``rowid``, PostgreSQL's identity).

What is not a matter of text stays in the backends: connections and transactions, the claim
strategy (SQLite's per-priority index seeks with ``INDEXED BY``, PostgreSQL's ``SKIP
LOCKED``), the wake-ups (an event, ``NOTIFY``).  Upserts and ``RETURNING`` are the same text
in both (SQLite >= 3.35; the schema's STRICT tables already need 3.37).

The times of a :class:`~bridge.queue.types.RetryPolicy` enter the SQL as literals of our
own validated floats, per RFC 6710 priority (:func:`priority_case`, docs/queue.md "Times per
priority").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridge.queue.types import RetryPolicy

#: a named placeholder (``:now``) -- not a cast (``::jsonb``)
_NAMED = re.compile(r"(?<![:\w]):([a-z_]+)\b")


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one database spells what the shared statements need."""

    name: Literal["sqlite", "postgresql"]
    pyformat: bool             # psycopg's placeholders: %s, %(name)s
    find: str                  # find(haystack, needle) > 0 when it occurs
    json_report: str           # the "report" member of the recipient's ``extra`` as text
    lock: str                  # appended to a SELECT whose rows are then updated
    history_order: str         # a message's history in the order it was written
    final_due_hint: str        # after "FROM recipients": use recipients_final_due (SQLite)

    def sql(self, text: str) -> str:
        """``text`` (``?`` and ``:name`` placeholders) in this dialect."""
        return _render(self.pyformat, text) if self.pyformat else text


@functools.lru_cache(maxsize=1024)
def _render(pyformat: bool, text: str) -> str:
    del pyformat                                     # part of the cache key only
    return _NAMED.sub(r"%(\1)s", text.replace("%", "%%").replace("?", "%s"))


SQLITE = Dialect(name="sqlite", pyformat=False, find="instr",
                 json_report="json_extract(extra, '$.report')", lock="",
                 history_order="rowid", final_due_hint=" INDEXED BY recipients_final_due")
POSTGRESQL = Dialect(name="postgresql", pyformat=True, find="strpos",
                     json_report="(extra::jsonb ->> 'report')", lock=" FOR UPDATE",
                     history_order="id", final_due_hint="")

#: The recipient columns :func:`bridge.queue.rows.recipient_info` reads, in its order.
RCPT_COLUMNS = ("idx, address, route, notify, orcpt, extra, state, attempts, since, "
                "next_attempt, lease_until, claim, last_kind, last_at, last_status, "
                "last_diagnostic, last_detail, last_x400, reported, node")

#: A message's recipients as :func:`bridge.queue.rows.recipient_info` reads them
SELECT_RECIPIENTS = f"SELECT {RCPT_COLUMNS} FROM recipients WHERE message_id = ? ORDER BY idx"
#: What a job carries of its message
SELECT_JOB_MESSAGE = "SELECT origin, sender, data, meta, created FROM messages WHERE id = ?"
#: What a job carries of each recipient (after the recipient columns: its attempts)
JOB_RCPT_COLUMNS = "r.idx, r.address, r.notify, r.orcpt, r.extra, r.attempts"
#: A claim's lease on one recipient
LEASE = ("UPDATE recipients SET lease_until = ?, claim = ?, node = ? "
         "WHERE message_id = ? AND idx = ?")
#: The next attempt of a destination that backs off (after :data:`ROUTE_FAILED` counted it)
ROUTE_NEXT = "UPDATE routes SET next_attempt = ? WHERE direction = ? AND route = ?"
#: One more consecutive failure of a destination, in one statement (two nodes deferring it
#: at once count two); the count after it
ROUTE_FAILED = (
    "INSERT INTO routes (direction, route, failures, next_attempt, failed_at) "
    "VALUES (?, ?, 1, ?, ?) ON CONFLICT (direction, route) DO UPDATE "
    "SET failures = routes.failures + 1, failed_at = excluded.failed_at RETURNING failures")
ROUTE_ANSWERED = "DELETE FROM routes WHERE direction = ? AND route = ?"


def final_report_due(d: Dialect) -> str:
    """A final recipient whose report is still to be made (see ``reports_due``)."""
    return (f"((state IN ('failed', 'expired') AND {d.find}(reported, 'F') = 0) "
            f"OR (state = 'delivered' AND {d.find}(reported, 'F') = 0 AND "
            f"({d.find}(upper(notify), '\"SUCCESS\"') > 0 "
            f"OR {d.json_report} = 'delivery')))")


def final_due_index(d: Dialect) -> str:
    """Schema version 5: a partial index of exactly the rows :func:`final_report_due` selects,
    so finding the reports due is a walk of the few rows still to report -- not a scan of
    every finished recipient the queue still keeps (4 ms at 10,000 finished messages before,
    run once a second by the report loop)."""
    return (f"CREATE INDEX recipients_final_due ON recipients (message_id, idx) "
            f"WHERE {final_report_due(d)}")


def claim_eligible(policy: RetryPolicy) -> str:
    """A recipient ``r`` of message ``m`` that a claim of direction ``:dir`` at ``:now`` may
    take: active, due, not under a live lease, its destination not backing off for it."""
    return ("r.state IN ('pending', 'deferred') AND r.next_attempt <= :now "
            "AND (r.lease_until IS NULL OR r.lease_until <= :now) AND m.direction = :dir "
            "AND NOT EXISTS (SELECT 1 FROM routes b WHERE b.direction = m.direction "
            f"AND b.route = r.route AND b.next_attempt > :now{route_hold(policy)})")


def priority_case(column: str, values: Sequence[tuple[int, float | None]],
                  default: float | None) -> str:
    """An SQL ``CASE`` giving ``value`` for the first ``(at_least, value)`` (highest first)
    that ``column`` reaches, else ``default`` -- a time per RFC 6710 priority as one
    expression, the same in both dialects.  The values are our own floats (the validated
    :class:`~bridge.queue.types.RetryPolicy`), written as literals; None is NULL."""
    def literal(value: float | None) -> str:
        return "NULL" if value is None else repr(float(value))

    if not values:
        return literal(default)
    whens = " ".join(f"WHEN {column} >= {int(level)} THEN {literal(value)}"
                     for level, value in values)
    return f"CASE {whens} ELSE {literal(default)} END"


def route_hold(policy: RetryPolicy) -> str:
    """The extra condition under which a destination's backoff (``b``) holds a recipient
    ``r`` at ``:now``: at most its own retry-max after the destination's last failure, when
    some priority has a shorter one than the base (docs/queue.md, "Times per priority")."""
    bands = policy.bands()
    if all(times.maximum >= policy.maximum for _, times in bands):
        return ""
    return (" AND b.failed_at + "
            + priority_case("r.priority", [(level, t.maximum) for level, t in bands],
                            policy.maximum) + " > :now")


def delay_due(policy: RetryPolicy) -> str:
    """``since`` plus the delay warning of the recipient's priority (NULL: never), the time
    its delay report is due."""
    return "since + " + priority_case(
        "priority", [(level, t.delay_warning) for level, t in policy.bands()],
        policy.delay_warning)
