"""The PostgreSQL schema of the queue, its migrations, and checking a database at open.

The same concepts as the SQLite schema (:mod:`bridge.queue.schema`): ``messages``, one row per
recipient in ``recipients`` with its state, lease, last outcome and reports made, the
per-destination backoff in ``routes``, the ``history``.  Differences, all of representation:

* times stay seconds since the epoch (``double precision``) from the queue's injected clock,
  not ``now()``: the backends share the tests' fake clock and the nodes' clocks are the ones
  that decided a lease (keep them in NTP sync);
* ``recipients.seq`` (an identity) orders recipients due at the same moment by arrival, as
  the rowid does in SQLite; ``history.id`` orders a message's history;
* JSON columns (``meta``, ``notify``, ``extra``) stay text, read by the same row helpers
  (:mod:`bridge.queue.rows`);
* the version is a row per applied step in ``schema_version`` (version, description, when).

Two nodes that start at once on an empty database must not both create the schema: the
check-and-create runs under a transaction-level advisory lock (:data:`LOCK_KEY`).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bridge.queue.migrations import Migration, latest, pending, statements
from bridge.queue.sql import POSTGRESQL, final_due_index
from bridge.queue.types import QueueCorrupt, QueueError

_V1 = """
CREATE TABLE messages (
    id text PRIMARY KEY,
    direction text NOT NULL CHECK (direction IN ('to-x400', 'to-smtp')),
    origin text NOT NULL,
    sender text NOT NULL,
    meta text NOT NULL,
    data bytea NOT NULL,
    digest text NOT NULL,
    nrcpt integer NOT NULL,
    created double precision NOT NULL,
    shunt_reason text
);
CREATE TABLE recipients (
    message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    idx integer NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    address text NOT NULL,
    route text NOT NULL,
    notify text NOT NULL,
    orcpt text,
    extra text NOT NULL,
    state text NOT NULL CHECK (state IN
        ('pending', 'deferred', 'delivered', 'failed', 'expired', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    since double precision NOT NULL,
    next_attempt double precision NOT NULL,
    lease_until double precision,
    claim text,
    last_kind text,
    last_at double precision,
    last_status text,
    last_diagnostic text,
    last_detail text,
    last_x400 text,
    reported text NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, idx)
);
CREATE INDEX recipients_active ON recipients (next_attempt, seq)
    WHERE state IN ('pending', 'deferred');
CREATE INDEX recipients_report ON recipients (state, reported);
CREATE TABLE routes (
    direction text NOT NULL,
    route text NOT NULL,
    failures integer NOT NULL,
    next_attempt double precision NOT NULL,
    PRIMARY KEY (direction, route)
);
CREATE TABLE history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    at double precision NOT NULL,
    event text NOT NULL,
    address text NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT ''
);
CREATE INDEX history_message ON history (message_id)
"""

#: Version 2: the RFC 6710 priority per recipient, first in the claim order (highest first).
#: The ordered walk filters rows not yet due at the higher levels (PostgreSQL has no seek per
#: level as the SQLite claim does); with at most 19 levels and few in use that stays small.
_V2 = """
ALTER TABLE recipients ADD COLUMN priority integer NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS recipients_active;
CREATE INDEX recipients_active ON recipients (priority DESC, next_attempt, seq)
    WHERE state IN ('pending', 'deferred')
"""

#: Version 3: the node holding a recipient's lease (several nodes on one queue, issue 15).
_V3 = "ALTER TABLE recipients ADD COLUMN node text"

#: Version 4: when a destination last failed (times per priority, issue 14; as in SQLite).
_V4 = """
ALTER TABLE routes ADD COLUMN failed_at double precision NOT NULL DEFAULT 0;
UPDATE routes SET failed_at = next_attempt
"""

#: The schema's versions, oldest first: a new version appends a step, version 1 stays.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(version=1, description="initial schema", statements=statements(_V1)),
    Migration(version=2, description="recipient priority (RFC 6710 MT-PRIORITY)",
              statements=statements(_V2)),
    Migration(version=3, description="the node holding a recipient's lease",
              statements=(_V3,)),
    Migration(version=4, description="the time of a destination's last failure",
              statements=statements(_V4)),
    Migration(version=5, description="an index of the recipients whose report is due",
              statements=(final_due_index(POSTGRESQL),)),
)
SCHEMA_VERSION = latest(MIGRATIONS)

#: pg_advisory_xact_lock key serialising schema checks and migrations between nodes
#: (any constant no other application uses: "x4b" + "q" as bytes, 0x78346271)
LOCK_KEY = 0x78346271

_VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                  "description text NOT NULL, applied double precision NOT NULL)")


def setup(conn: psycopg.Connection[Any], where: str, *, create: bool, migrate: bool,
          steps: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Check (and if allowed, create or migrate) the queue schema in ``conn``'s database.

    An empty database gets the latest schema when ``create``; a queue at an older version is
    migrated only when ``migrate`` (else :class:`QueueError` saying how); a newer one is
    refused; a database with tables of its own but no queue is :class:`QueueCorrupt`.
    Returns the versions applied.  ``steps`` is for the tests.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        names = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()")}
        if "schema_version" in names:
            found = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            version = found[0] if found and found[0] is not None else None
            if version is None:
                raise QueueCorrupt(f"{where}: queue without a schema version")
        elif names:                             # its own tables, none of ours
            raise QueueCorrupt(f"{where}: a PostgreSQL database, but not an x400bridge queue")
        elif not create:
            raise QueueError(f"{where}: no queue here")
        else:
            version = 0
        todo = pending(version, steps, where)
        if todo and version > 0 and not migrate:
            raise QueueError(f"{where}: queue schema {version} is older than this x400bridge "
                             f"({latest(steps)}): run `x400bridge queue migrate` first")
        conn.execute(_VERSION_TABLE)
        for step in todo:
            for statement in step.statements:
                conn.execute(statement)         # our own literals
            conn.execute("INSERT INTO schema_version (version, description, applied) "
                         "VALUES (%s, %s, %s)", (step.version, step.description, time.time()))
    return [step.version for step in todo]


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The highest version recorded in ``schema_version``."""
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
