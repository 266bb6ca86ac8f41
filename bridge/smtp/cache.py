"""Idle SMTP sessions kept for the next message to the same host (the idea of Postfix's
connection cache, scache(8)): a gateway relaying a stream of X.400 messages to one smarthost
or MX would otherwise pay a TCP connection, a greeting, EHLO (and STARTTLS) per message, on
both sides.

RFC 5321 §4.1.4 lets a client send several transactions in one session; before each reused
one the client sends RSET (§4.1.1.5) -- that also finds a session the server has closed
meanwhile, and the message then goes over a new connection (:mod:`bridge.smtp.client`).  A
session is kept at most ``idle_time`` seconds without use and for at most ``max_uses``
transactions, and at most ``per_host`` sessions per host (the number of workers that deliver
at once is a good value).  Sessions are keyed by what they were opened with: address, port
and TLS mode.

No I/O of its own apart from closing: the client takes and gives sessions; the owner calls
:meth:`SessionCache.sweep` now and then and :meth:`SessionCache.close` at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiosmtplib

Key = tuple[str, int, str]          # (address, port, TLS mode)


@dataclass(slots=True)
class _Idle:
    client: aiosmtplib.SMTP
    since: float
    uses: int


class SessionCache:
    """Open, idle SMTP sessions by next hop; see the module docstring."""

    def __init__(self, *, per_host: int = 8, idle_time: float = 5.0, max_uses: int = 100,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_host = per_host
        self.idle_time = idle_time
        self.max_uses = max_uses
        self._clock = clock
        self._idle: dict[Key, list[_Idle]] = {}
        self._uses: dict[int, int] = {}         # id(client) -> transactions, while taken
        self._closing: set[asyncio.Task[None]] = set()

    def take(self, key: Key) -> aiosmtplib.SMTP | None:
        """The most recently used idle session to ``key``, or None."""
        self.sweep()
        idle = self._idle.get(key)
        while idle:
            entry = idle.pop()
            if entry.client.is_connected:
                self._uses[id(entry.client)] = entry.uses
                return entry.client
        return None

    def give(self, key: Key, client: aiosmtplib.SMTP) -> None:
        """``client`` has finished a transaction: keep it for the next one, or end it."""
        uses = self._uses.pop(id(client), 0) + 1
        idle = self._idle.setdefault(key, [])
        if not client.is_connected or uses >= self.max_uses or len(idle) >= self.per_host:
            self._end(client)
            return
        idle.append(_Idle(client, self._clock(), uses))

    def forget(self, client: aiosmtplib.SMTP) -> None:
        """A taken session that is not given back (it failed and was closed)."""
        self._uses.pop(id(client), None)

    def sweep(self) -> None:
        """End the sessions idle for longer than ``idle_time``."""
        limit = self._clock() - self.idle_time
        for key, idle in list(self._idle.items()):
            keep = [e for e in idle if e.since >= limit and e.client.is_connected]
            for entry in idle:
                if entry not in keep:
                    self._end(entry.client)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    def __len__(self) -> int:
        return sum(len(idle) for idle in self._idle.values())

    async def close(self) -> None:
        """End every idle session (QUIT, RFC 5321 §4.1.1.10) and wait for that."""
        for idle in self._idle.values():
            for entry in idle:
                self._end(entry.client)
        self._idle.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _end(self, client: aiosmtplib.SMTP) -> None:
        if not client.is_connected:
            return
        try:
            task = asyncio.get_running_loop().create_task(_quit(client))
        except RuntimeError:                    # no loop (closing down): drop the socket
            client.close()
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        with contextlib.suppress(Exception):
            client.close()
