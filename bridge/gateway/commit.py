"""Group commit into the queue: the one gate (STYLE.md §10), shared by the gateway process and
its SMTP intake processes.

Submissions that arrive while a commit is running wait for the next one and share it
(``Queue.submit_many``, one transaction, one fsync), so concurrent SMTP sessions and P1
associations do not queue up behind one fsync each.  Each caller gets its message id only once
its transaction is on disk (RFC 5321 §6.1); one bad submission does not fail the others.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.errors import BridgeError
from bridge.queue.model import Submission


class Committer:
    """Batches ``submit`` calls of one event loop into shared transactions."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self._pending: list[tuple[Submission, asyncio.Future[str]]] = []
        self._committing = False

    async def submit(self, sub: Submission) -> str:
        """Queue ``sub`` durably; its message id once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._pending.append((sub, future))
        if not self._committing:
            self._committing = True
            loop.create_task(self._commit())
        return await future

    async def _commit(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    ids = await asyncio.to_thread(self.queue.submit_many,
                                                  [sub for sub, _ in batch])
                except (BridgeError, ValueError, OSError):
                    for sub, future in batch:         # one by one: isolate the bad one
                        try:
                            one = await asyncio.to_thread(self.queue.submit, sub)
                        except (BridgeError, ValueError, OSError) as exc:
                            if not future.done():
                                future.set_exception(exc)
                        else:
                            if not future.done():
                                future.set_result(one)
                    continue
                for (_, future), message_id in zip(batch, ids, strict=True):
                    if not future.done():
                        future.set_result(message_id)
        finally:
            self._committing = False
