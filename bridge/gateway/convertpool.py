"""Message conversion (RFC 2156 §5) for the delivery workers, in this process or in others.

Conversion is the delivery side's biggest CPU cost (≈1.5 ms for a 4 KB message) and Python
runs one thread at a time, so with ``[queue] convert-processes = N`` (default 1) it runs in a
pool of N processes (``spawn``ed: no fork of a threaded asyncio process), each with its own
address mapper and tables built once from the same :class:`~bridge.config.Config`, while the
gateway process keeps the SMTP and P1 endpoints and the queue.  The functions here are pure
(bytes and plain values in, bytes out); a conversion failure comes back as a
:class:`Refusal` value, not an exception, so nothing depends on pickling exceptions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from bridge.errors import BridgeError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A conversion that failed: the RFC 3463 status and the reason."""

    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class MimeOut:
    """An X.400 message converted for SMTP: the message, MAIL FROM, ENVID and RET."""

    message: bytes
    mail_from: str
    envid: str | None = None
    ret: str | None = None


_CONTEXT: Any = None


def _die_with_parent() -> None:
    """A conversion process must not outlive the gateway (kill -9 included): Linux
    PR_SET_PDEATHSIG (prctl(2) option 1) makes the kernel kill it when its parent dies."""
    import ctypes
    import os
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        return                                 # not Linux: the pool's own shutdown only
    if os.getppid() == 1:                      # the parent died before prctl took effect
        os._exit(0)


def _init(gateway: Any) -> None:
    """Pool initializer: the conversion context of this gateway (its ``[gateway]`` section:
    tables, identity, policy), built once per process."""
    global _CONTEXT
    _die_with_parent()
    from bridge.gateway.app import context_for, mapper_for

    _CONTEXT = context_for(gateway, mapper_for(gateway))


def _ctx(ctx: Any = None) -> Any:
    return dataclasses.replace(ctx if ctx is not None else _CONTEXT, now=datetime.now(UTC))


def to_x400(data: bytes, sender: str, rcpts: Sequence[str], smtp: Any,
            ctx: Any = None) -> list[bytes] | Refusal:
    """RFC 5322 message + SMTP envelope -> the BER MTS-APDUs to transfer (§5.1; a DSN -> a
    report, §5.1.8)."""
    from bridge.codec import encode_apdu
    from bridge.convert.reports import internet_to_x400

    try:
        res = internet_to_x400(data, sender, list(rcpts), _ctx(ctx), smtp=smtp)
        return [encode_apdu(res.apdu), *(encode_apdu(x) for x in res.extra)]
    except BridgeError as exc:
        return Refusal(status=exc.smtp.enhanced, reason=str(exc))


def to_mime(apdu: bytes, ctx: Any = None) -> MimeOut | Refusal:
    """A BER MTS-APDU message -> the RFC 5322 message and SMTP envelope (§5.3)."""
    from bridge.codec import decode_apdu
    from bridge.convert.to_mime import x400_to_mime
    from bridge.model.apdu import Message

    try:
        message = decode_apdu(apdu)
        if not isinstance(message, Message):
            return Refusal(status="5.6.0", reason="not an X.400 message")
        res = x400_to_mime(message, _ctx(ctx))
    except BridgeError as exc:
        return Refusal(status=exc.smtp.enhanced, reason=str(exc))
    smtp = res.smtp
    return MimeOut(message=res.message, mail_from=res.mail_from,
                   envid=getattr(smtp, "envid", None), ret=getattr(smtp, "ret", None))


class Converter:
    """Runs :func:`to_x400` / :func:`to_mime` in a process pool, or in a thread of this
    process when ``processes`` is 0."""

    def __init__(self, gateway: Any, context: Any, *, processes: int) -> None:
        self.gateway = gateway            # the [gateway] config section (picklable)
        self.context = context            # used here when processes == 0
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init, initargs=(self.gateway,))
        return self._pool

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self.processes <= 0:
            return await asyncio.to_thread(fn, *args, self.context)
        loop = asyncio.get_running_loop()
        result: T = await loop.run_in_executor(self._executor(), fn, *args)
        return result

    def reload(self, context: Any) -> None:
        """New tables (SIGHUP): new processes build new mappers."""
        self.context = context
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
