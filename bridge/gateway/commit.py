"""Group commit into the queue: the one gate (STYLE.md §10), shared by the gateway process and
its SMTP intake processes.

Submissions made while the event loop runs one round of callbacks (several SMTP sessions
finishing DATA, P1 transfers ending) are committed together in the next round
(``Queue.submit_many``: one transaction, one fsync).  The commit runs on the event loop itself,
not in a thread: it is a short transaction (~0.2 ms with its fsync here), and handing it to a
thread and back costs more CPU than that (the gateway is CPU-bound under load).  Each caller
gets its message id only once its transaction is on disk (RFC 5321 §6.1); one bad submission
does not fail the others.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bridge.errors import BridgeError
from bridge.queue.model import Submission


class Committer:
    """Batches ``submit`` calls of one event loop into shared transactions; logs each message
    queued on ``log`` (one line: the queue id, tied to the id the other side knows it by)."""

    def __init__(self, queue: Any, log: logging.Logger) -> None:
        self.queue = queue
        self.log = log
        self._pending: list[tuple[Submission, asyncio.Future[str]]] = []
        self._scheduled = False

    async def submit(self, sub: Submission) -> str:
        """Queue ``sub`` durably; its message id once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._pending.append((sub, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._commit)    # after this round: its submissions join the batch
        message_id = await future
        # the queue id names the message in every later log line; here it is tied to the id
        # the other side knows it by (the SMTP Received: id, or the X.400 MTS identifier)
        meta = sub.meta
        self.log.info("queued %s %s from %s origin=%s client=%s rcpts=%d known-as=%s",
                      message_id, sub.direction, sub.sender or "<>", sub.origin,
                      meta.get("client") or meta.get("peer") or "-", len(sub.recipients),
                      meta.get("tracking") or meta.get("mts_id") or "-")
        return message_id

    def _commit(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        try:
            ids = self.queue.submit_many([sub for sub, _ in batch])
        except (BridgeError, ValueError, OSError):
            for sub, future in batch:               # one by one: isolate the bad one
                try:
                    one = self.queue.submit(sub)
                except (BridgeError, ValueError, OSError) as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(one)
            return
        except Exception as exc:  # noqa: BLE001 - a bug: every waiting caller hears of it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), message_id in zip(batch, ids, strict=True):
            if not future.done():
                future.set_result(message_id)
