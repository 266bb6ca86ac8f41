"""One node id, one running gateway, on a shared PostgreSQL queue (issue 15).

A node releases its own leases when it starts (``release_leases(node=...)``): what a previous
run of it had claimed goes out again at once instead of waiting out the lease.  Two gateways
started with the same ``[gateway] node-id`` would release each other's leases -- and send
the transfers in flight twice.  So a node holds its id while it runs: a *session-level
advisory lock* (PostgreSQL manual, "Explicit Locking", §13.3.5 "Advisory Locks") on a
connection of its own, keyed by a hash of the id.  A second gateway with the same id does not
get the lock and does not start (:class:`~bridge.errors.ConfigError` naming
``gateway.node-id`` and, where the database shows it, the address of the holder).

The lock ends with its session: at once when the process ends (its socket closes); when the
host dies or is cut off, once the server notices the dead connection.  That connection asks
the server for TCP keepalives (``tcp_keepalives_idle`` = 10 s, interval 5 s, 3 probes: the
server ends the session about 25 s after the host went silent), and a starting node waits up
to :data:`WAIT` seconds for the lock -- a node restarted after a crash of its host gets its
own id back.  A lock lost while the gateway runs (the database restarted) is taken again by
:meth:`NodeLock.check`; if another gateway took the id meanwhile, that is logged as critical.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from bridge.errors import ConfigError
from bridge.queue.settings import BackendSettings

log = logging.getLogger("x400bridge.gateway")

#: seconds a starting node waits for its id: longer than the ~25 s the server needs to end
#: the session of a node whose host died (keepalive 10 s + 3 x 5 s)
WAIT = 40.0
_KEEPALIVE = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5",
              "SET tcp_keepalives_count = 3")


def lock_key(node: str) -> int:
    """The advisory lock's bigint key for ``node``: the first 8 octets of SHA-256 over a
    prefix and the id, as a signed 64-bit integer (collisions between node ids: ~2**-64)."""
    digest = hashlib.sha256(f"x400bridge-node:{node}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class NodeLock:
    """``node``'s advisory lock, held on a connection of its own for the gateway's life."""

    def __init__(self, settings: BackendSettings, node: str) -> None:
        if settings.dsn is None:
            raise ValueError("the node lock needs a PostgreSQL queue")
        self.settings = settings
        self.node = node
        self.key = lock_key(node)
        self._password = settings.read_password()
        self._conn: Any = None          # psycopg.Connection, imported only when used

    def take(self, *, wait: float | None = None, every: float = 1.0) -> None:
        """Take the lock, trying every ``every`` seconds for up to ``wait`` seconds (default
        :data:`WAIT`); raise :class:`ConfigError` if another gateway still holds it then."""
        deadline = time.monotonic() + (WAIT if wait is None else wait)
        while not self._try():
            if time.monotonic() >= deadline:
                holder = self._holder()
                self.close()
                raise ConfigError(
                    f"gateway.node-id: {self.node!r} is in use by another gateway on this "
                    f"queue{holder}; every node needs an id of its own")
            time.sleep(every)
        log.info("node id %s held on the queue's database", self.node)

    def check(self) -> bool:
        """Whether the lock is still ours; a lost session (the database restarted) is
        reconnected and the lock taken again when free.  Never raises."""
        import psycopg

        try:
            if self._conn is not None and not self._conn.closed and not self._conn.broken:
                self._conn.execute("SELECT 1")
                return True
            if self._try():
                log.warning("node id %s held again on the queue's database", self.node)
                return True
            log.critical("node id %s is held by another gateway on this queue%s: two nodes "
                         "with one id release each other's leases", self.node, self._holder())
        except psycopg.Error as exc:
            self._drop()
            log.debug("node lock check: %s", exc)
        return False

    def close(self) -> None:
        """End the session: the lock goes with it."""
        self._drop()

    # ------------------------------------------------------------------ the session

    def _connect(self) -> Any:
        import psycopg

        extra: dict[str, Any] = {"application_name": f"x400bridge node {self.node}"[:63],
                                 "connect_timeout": 10}
        if self._password is not None:
            extra["password"] = self._password
        conn = psycopg.connect(self.settings.dsn or "", autocommit=True, **extra)
        for statement in _KEEPALIVE:            # ignored on a Unix-domain socket
            conn.execute(statement)
        return conn

    def _try(self) -> bool:
        """One attempt: connect if needed, ``pg_try_advisory_lock``.  A database that does
        not answer is the queue's problem (the queue reports it): False here."""
        import psycopg

        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._drop()
                self._conn = self._connect()
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.Error as exc:
            self._drop()
            log.warning("node lock: %s", exc)
            return False
        return bool(row and row[0])

    def _holder(self) -> str:
        """Where the session holding the lock comes from, as the database shows it (a
        bigint advisory lock: classid = high 32 bits, objid = low 32 bits, objsubid 1)."""
        import psycopg

        high, low = (self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF
        try:
            if self._conn is None or self._conn.closed:
                return ""
            row = self._conn.execute(
                "SELECT a.client_addr::text, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
                (high, low)).fetchone()
        except psycopg.Error:
            return ""
        if row is None:
            return ""
        addr, since = row
        return f" (connected from {addr or 'a local socket'} since {since:%Y-%m-%d %H:%M:%S})"

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection: nothing to do
                pass
            self._conn = None
