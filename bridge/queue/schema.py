"""The SQLite schema of the queue and opening a queue file safely.

Durability comes from SQLite itself: WAL journal with ``synchronous=FULL`` fsyncs the WAL at
every COMMIT (sqlite.org/pragma.html#pragma_synchronous: "FULL ... WAL mode: transactions are
durable across power loss"), so a COMMIT that returned survives kill -9 and a power cut.  Several
processes (``serve`` and the CLI) share the file through SQLite's locking; a writer waits up to
``busy_timeout`` for another one.

Tables (schema version 1; version 2 adds ``recipients.priority``, version 3
``recipients.node``, the node holding the lease; version 4 ``routes.failed_at``):

* ``info`` -- key/value, holds ``schema_version``.
* ``messages`` -- one row per message: direction, origin, sender, ``meta`` (JSON), ``data``
  (BLOB), ``digest`` (SHA-256 of ``data``, checked by ``Queue.verify``), ``created``,
  ``shunt_reason`` (set while dead-lettered).
* ``recipients`` -- one row per recipient: the :class:`~bridge.queue.model.Recipient` fields
  (``notify``/``extra`` as JSON), ``state``, ``attempts``, ``since`` (start of the expiry
  clock), ``next_attempt``, the lease (``lease_until``, ``claim``), the last outcome and the
  reports already made.
* ``routes`` -- the per-destination backoff: consecutive deferrals and when to try again.
* ``history`` -- what happened to each message, for ``x400bridge queue show``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bridge.queue.migrations import Migration, latest, pending, statements
from bridge.queue.sql import SQLITE, final_due_index
from bridge.queue.types import QueueCorrupt, QueueError

_DDL = """
CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('to-x400', 'to-smtp')),
    origin TEXT NOT NULL,
    sender TEXT NOT NULL,
    meta TEXT NOT NULL,
    data BLOB NOT NULL,
    digest TEXT NOT NULL,
    nrcpt INTEGER NOT NULL,
    created REAL NOT NULL,
    shunt_reason TEXT
) STRICT;
CREATE TABLE recipients (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    address TEXT NOT NULL,
    route TEXT NOT NULL,
    notify TEXT NOT NULL,
    orcpt TEXT,
    extra TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN
        ('pending', 'deferred', 'delivered', 'failed', 'expired', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    since REAL NOT NULL,
    next_attempt REAL NOT NULL,
    lease_until REAL,
    claim TEXT,
    last_kind TEXT,
    last_at REAL,
    last_status TEXT,
    last_diagnostic TEXT,
    last_detail TEXT,
    last_x400 TEXT,
    reported TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, idx)
) STRICT;
CREATE INDEX recipients_due ON recipients (state, next_attempt);
CREATE INDEX recipients_report ON recipients (state, reported);
CREATE TABLE routes (
    direction TEXT NOT NULL,
    route TEXT NOT NULL,
    failures INTEGER NOT NULL,
    next_attempt REAL NOT NULL,
    PRIMARY KEY (direction, route)
) STRICT;
CREATE TABLE history (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX history_message ON history (message_id);
"""

#: The schema's versions, oldest first (see :mod:`bridge.queue.migrations`): a new version
#: appends a step here, the DDL above stays version 1.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(version=1, description="initial schema", statements=statements(_DDL)),
    # RFC 6710 priority per recipient (all of a message's recipients share it); the active
    # index is made again at open with the priority first
    Migration(version=2, description="recipient priority (RFC 6710 MT-PRIORITY)",
              statements=("ALTER TABLE recipients ADD COLUMN priority INTEGER NOT NULL "
                          "DEFAULT 0", "DROP INDEX IF EXISTS recipients_active")),
    # several gateway nodes on one queue (issue 15): the node that holds a lease
    Migration(version=3, description="the node holding a recipient's lease",
              statements=("ALTER TABLE recipients ADD COLUMN node TEXT",)),
    # times per priority (issue 14): when a destination last failed, from which a recipient
    # with a shorter retry-max than the [queue] one is held at most that long; an existing
    # backoff keeps its old meaning (held until next_attempt)
    Migration(version=4, description="the time of a destination's last failure",
              statements=("ALTER TABLE routes ADD COLUMN failed_at REAL NOT NULL DEFAULT 0",
                          "UPDATE routes SET failed_at = next_attempt")),
    Migration(version=5, description="an index of the recipients whose report is due",
              statements=(final_due_index(SQLITE),)),
)
SCHEMA_VERSION = latest(MIGRATIONS)

_TABLES = {"info", "messages", "recipients", "routes", "history"}

#: The recipients still to deliver, by priority and then in due order: a claim seeks the
#: highest priority present, walks its due rows from the oldest and stops after a batch, then
#: the next priority down (created at open; schema version 2 put the priority first).
_ACTIVE_INDEX = ("CREATE INDEX IF NOT EXISTS recipients_active ON recipients "
                 "(priority, next_attempt) WHERE state IN ('pending', 'deferred')")


def connect(path: Path, *, busy_timeout: float, create: bool) -> sqlite3.Connection:
    """Open (and if new, initialise) the queue at ``path``.

    Raises :class:`QueueCorrupt` for a file that is not an SQLite database or not a queue,
    :class:`QueueError` for a missing file when ``create`` is false or a newer schema.
    """
    if not create and not path.exists():
        raise QueueError(f"{path}: no queue here")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise QueueError(f"{path}: cannot open the queue: {exc}") from exc
    try:
        _setup(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise QueueCorrupt(f"{path}: not a queue database ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _setup(conn: sqlite3.Connection, path: Path) -> None:
    # sqlite3.connect(timeout=...) already installed the busy handler (busy_timeout).
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise QueueError(f"{path}: cannot switch the queue to WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN IMMEDIATE")
    try:
        names = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not names:
            _apply(conn, pending(0, MIGRATIONS, str(path)))
            conn.execute(_ACTIVE_INDEX)
        elif not _TABLES <= names:
            raise QueueCorrupt(f"{path}: an SQLite database, but not an x400bridge queue")
        else:
            row = conn.execute(
                "SELECT value FROM info WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row and str(row[0]).isdigit() else None
            if version is None:
                raise QueueCorrupt(f"{path}: queue without a schema version")
            if version > SCHEMA_VERSION:
                raise QueueError(f"{path}: queue schema {version} is newer than this "
                                 f"x400bridge ({SCHEMA_VERSION})")
            _apply(conn, pending(version, MIGRATIONS, str(path)))   # one owner: at open
            conn.execute(_ACTIVE_INDEX)     # queues made before it existed get it now
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise



def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the queue (``info.schema_version``)."""
    row = conn.execute("SELECT value FROM info WHERE key = 'schema_version'").fetchone()
    return int(row[0])


def _apply(conn: sqlite3.Connection, steps: list[Migration]) -> None:
    """Run ``steps`` and record the last version, inside the caller's transaction."""
    for step in steps:
        for statement in step.statements:
            conn.execute(statement)
        conn.execute("INSERT OR REPLACE INTO info (key, value) VALUES ('schema_version', ?)",
                     (str(step.version),))


def migrate(conn: sqlite3.Connection, where: str) -> list[int]:
    """Bring the queue to :data:`SCHEMA_VERSION` inside the caller's transaction; the
    versions applied (none when it is current -- opening a queue already migrates it)."""
    steps = pending(schema_version(conn), MIGRATIONS, where)
    _apply(conn, steps)
    return [step.version for step in steps]
