"""Versioned schema migrations, shared by both queue backends.

A queue's schema has one version number.  Each backend keeps an ordered tuple of
:class:`Migration` steps, version 1 being the initial schema; a step ``n`` turns a version
``n - 1`` queue into a version ``n`` queue, in the same transaction that records the new
version (SQLite: the ``info`` row ``schema_version``; PostgreSQL: a row per step in the
``schema_version`` table).  A queue written by a newer x400bridge (a version this code has no
step for) is refused with :class:`~bridge.queue.types.QueueError` and left untouched: older
code must not write into a schema it does not know.

When steps run: an SQLite queue is one file owned by one gateway and is brought up to date
when it is opened (as the ``recipients_active`` index always was); a PostgreSQL queue is
shared by several nodes, so an older schema is refused at open and brought up to date only by
an explicit ``migrate()`` (``open_queue(..., migrate=True)``; ``x400bridge queue migrate``
later), under an advisory lock -- see ``docs/queue.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.queue.types import QueueCorrupt, QueueError


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One schema step: ``statements`` run in order, in one transaction."""

    version: int
    description: str
    statements: tuple[str, ...]


def statements(ddl: str) -> tuple[str, ...]:
    """The statements of a DDL script (``;``-separated; no ``;`` inside a statement)."""
    return tuple(s.strip() for s in ddl.split(";") if s.strip())


def latest(steps: Sequence[Migration]) -> int:
    """The version the steps lead to (checking they are numbered 1, 2, 3, ...)."""
    for expected, step in enumerate(steps, start=1):
        if step.version != expected:
            raise AssertionError(f"migration {step.version} out of order (expected {expected})")
    return steps[-1].version if steps else 0


def pending(found: int, steps: Sequence[Migration], where: str) -> list[Migration]:
    """The steps from version ``found`` to the latest; refuses a newer schema."""
    top = latest(steps)
    if found > top:
        raise QueueError(f"{where}: queue schema {found} is newer than this x400bridge "
                         f"({top}); use the x400bridge that wrote it, or a newer one")
    if found < 0:
        raise QueueCorrupt(f"{where}: queue schema version {found} is not valid")
    return [s for s in steps if s.version > found]
