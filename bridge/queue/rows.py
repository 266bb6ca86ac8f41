"""Row <-> value helpers of the queue store: SQL fragments, JSON columns, recipient rows.

Used only by :mod:`bridge.queue.store`; kept apart to keep that module readable.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from bridge.queue.model import Recipient
from bridge.queue.types import (
    LastOutcome,
    NoSuchMessage,
    QueueCorrupt,
    QueueError,
    QueueFull,
    RecipientInfo,
    ReportKind,
    State,
)

#: A final recipient whose report is still to be made (see ``Queue.reports_due``).
FINAL_REPORT_DUE = (
    "((state IN ('failed', 'expired') AND instr(reported, 'F') = 0) "
    "OR (state = 'delivered' AND instr(reported, 'F') = 0 AND "
    "(instr(upper(notify), '\"SUCCESS\"') > 0 "
    "OR json_extract(extra, '$.report') = 'delivery')))")
#: The recipient columns ``recipient_info`` reads, in its order.
RCPT_COLUMNS = ("idx, address, route, notify, orcpt, extra, state, attempts, since, "
                "next_attempt, lease_until, claim, last_kind, last_at, last_status, "
                "last_diagnostic, last_detail, last_x400, reported")


def wrap_error(path: Path, exc: sqlite3.DatabaseError) -> QueueError:
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return QueueFull(f"{path}: {exc}")           # the disk is full: 452 4.3.1
    if isinstance(exc, sqlite3.OperationalError):
        return QueueError(f"{path}: {exc}")          # locked too long, I/O error
    return QueueCorrupt(f"{path}: {exc}")


def dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value if not isinstance(value, Mapping) else dict(value),
                          sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"submission {what} is not JSON-able: {exc}") from exc


def require_message(conn: sqlite3.Connection, message_id: str) -> None:
    if conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone() is None:
        raise NoSuchMessage(f"no message {message_id!r} in the queue")


def set_recipient(conn: sqlite3.Connection, message_id: str, idx: int, **fields: Any) -> None:
    names = ", ".join(f"{k} = ?" for k in fields)    # keys are our own literals, not input
    conn.execute(f"UPDATE recipients SET {names} WHERE message_id = ? AND idx = ?",
                 (*fields.values(), message_id, idx))


def add_history(conn: sqlite3.Connection, message_id: str, at: float, event: str,
             address: str = "", detail: str = "") -> None:
    conn.execute("INSERT INTO history (message_id, at, event, address, detail) "
                 "VALUES (?, ?, ?, ?, ?)", (message_id, at, event, address, detail))


def recipient_from_row(address: str, route: str, notify: str, orcpt: str | None,
               extra: str) -> Recipient:
    return Recipient(address=address, route=route, notify=tuple(json.loads(notify)),
                     orcpt=orcpt, extra=json.loads(extra))


def recipient_info(row: tuple[Any, ...] | sqlite3.Row) -> RecipientInfo:
    (_idx, address, route, notify, orcpt, extra, state, attempts, since, next_attempt,
     lease_until, _claim, last_kind, last_at, last_status, last_diagnostic, last_detail,
     last_x400, reported) = row
    last = None
    if last_kind is not None:
        x400 = json.loads(last_x400) if last_x400 else None
        last = LastOutcome(kind=last_kind, at=last_at, status=last_status or "",
                           diagnostic=last_diagnostic or "", detail=last_detail or "",
                           x400=None if x400 is None else (int(x400[0]), x400[1]))
    kinds: list[ReportKind] = []
    if "F" in reported:
        kinds.append("delivery" if state == "delivered" else "failure")
    if "D" in reported:
        kinds.append("delay")
    return RecipientInfo(
        recipient=recipient_from_row(address, route, notify, orcpt, extra),
        state=cast(State, state),
        attempts=attempts, next_attempt=next_attempt, since=since, leased_until=lease_until,
        last=last, reported=tuple(kinds))


def report_kind(info: RecipientInfo) -> ReportKind | None:
    notify = {n.upper() for n in info.recipient.notify}
    if info.state in ("failed", "expired"):
        return "failure"
    if info.state == "delivered":
        wants = "SUCCESS" in notify or info.recipient.extra.get("report") == "delivery"
        return "delivery" if wants else None
    if info.state == "deferred" and "DELAY" in notify:
        return "delay"
    return None
