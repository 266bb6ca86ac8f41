"""Row <-> value helpers of the queue backends: JSON columns, recipient rows, report kinds,
SQLite errors.  The SQL itself is in :mod:`bridge.queue.sql`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from bridge.queue.model import Recipient
from bridge.queue.types import (
    LastOutcome,
    QueueCorrupt,
    QueueError,
    QueueFull,
    RecipientInfo,
    ReportKind,
    State,
)


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


def recipient_from_row(address: str, route: str, notify: str, orcpt: str | None,
               extra: str) -> Recipient:
    return Recipient(address=address, route=route, notify=tuple(json.loads(notify)),
                     orcpt=orcpt, extra=json.loads(extra))


def recipient_info(row: tuple[Any, ...] | sqlite3.Row) -> RecipientInfo:
    (_idx, address, route, notify, orcpt, extra, state, attempts, since, next_attempt,
     lease_until, _claim, last_kind, last_at, last_status, last_diagnostic, last_detail,
     last_x400, reported, node) = row
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
        last=last, reported=tuple(kinds), node=node)


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
