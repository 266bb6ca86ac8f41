"""The queue's doorbell: work made due elsewhere wakes this gateway's workers (issue 15).

On PostgreSQL a transaction that makes work due sends ``NOTIFY`` and every node LISTENs
(:meth:`bridge.queue.pg.PgQueue.wait_for_work`): a message submitted through one node starts
on another within a round trip, not at its next scan.  One thread per gateway process waits
for the notifications (a worker per direction and slot would each hold a thread); when one
comes it sets the wake events the delivery workers sleep on (not the report loop's: a node
reports what it recorded itself, and the report loop's rescan finds a dead node's).  It
listens for other handles' notifications only (``wait_for_work(foreign=True)``): this
process's own submissions wake the workers of their direction directly, and their echo rang
every worker of both directions once more -- each of which then claimed (bench/gateway.py on
PostgreSQL).  The gateway runs it on PostgreSQL only: on SQLite ``wait_for_work`` wakes only
for this handle's own writes, which wake the workers directly anyway
(:mod:`bridge.gateway.app`).

The wait is cut into slices of ``slice_`` seconds so that a stopping gateway waits at most
that long for the thread (``asyncio.to_thread`` cannot be cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from bridge.errors import BridgeError
from bridge.queue.api import MessageQueue
from bridge.throttle import LogLimiter

log = logging.getLogger("x400bridge.gateway")

#: seconds one wait lasts at most: a notification still wakes at once; this only bounds
#: how long a stopping gateway waits for the waiting thread
SLICE = 1.0


class Doorbell:
    """Rings ``events`` whenever the queue says work may be due."""

    def __init__(self, queue: MessageQueue, events: Sequence[asyncio.Event], *,
                 slice_: float = SLICE) -> None:
        self.queue = queue
        self.events = tuple(events)
        self.slice = slice_
        self.rings = 0                  # how often it woke the workers (tests, debugging)
        self._log_limit = LogLimiter(interval=60.0)

    async def run(self, stopping: asyncio.Event) -> None:
        """Wait and ring until ``stopping`` is set.  A queue that does not answer (the
        database is down) is logged once a minute and asked again a slice later; the workers'
        own rescan goes on meanwhile."""
        while not stopping.is_set():
            try:
                rang = await asyncio.to_thread(self.queue.wait_for_work, self.slice,
                                               foreign=True)
            except BridgeError as exc:
                self._log_limit.log(log, logging.WARNING, "doorbell", time.monotonic(),
                                    "queue notifications: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.slice)
                continue
            if rang:
                self.rings += 1
                for event in self.events:
                    event.set()
