"""Message conversion (RFC 2156 §5) for the delivery workers, in this process or in others.

Conversion is the delivery side's biggest CPU cost (≈1.5 ms for a 4 KB message) and Python
runs one thread at a time, so with ``[queue] convert-processes = N`` (default 1) it runs in a
pool of N processes (``spawn``ed: no fork of a threaded asyncio process), each with its own
address mapper and tables built once from the same :class:`~bridge.config.Config`, while the
gateway process keeps the SMTP and P1 endpoints and the queue.  A process builds its context
with the ``setup`` it is given (:func:`bridge.gateway.wiring.conversion_context` for the
``[gateway]`` section): this module imports no other part of the gateway.  The functions
here are pure (bytes and plain values in, bytes out); a conversion failure comes back as a
:class:`Refusal` value, not an exception, so nothing depends on pickling exceptions.  The
processes are fed over pipes by the event loop (:class:`Converter`): pickles of module-level
functions and plain values only, between processes of the same gateway.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import multiprocessing
import os
import pickle
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, TypeVar

from bridge.errors import BridgeError, SMTPReply
from bridge.memo import Memo
from bridge.procutil import die_with_parent

if TYPE_CHECKING:
    from bridge.convert.context import Context
    from bridge.convert.notary import SmtpEnvelope
    from bridge.x400.profile import PeerProfile

T = TypeVar("T")
log = logging.getLogger("x400bridge.convert")

#: RLIMIT_AS of a conversion process: it needs ≈55 MB (measured), a 25 MB message a few
#: hundred more; above this a conversion gets a MemoryError, not the machine
DEFAULT_MEMORY_LIMIT = 1024 * 1024 * 1024
#: failures of one message, alone in a process, before it is refused for good
DEFAULT_MAX_CRASHES = 3


@dataclass(frozen=True, slots=True)
class Refusal:
    """A conversion that failed: the RFC 3463 status and the reason."""

    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class MimeOut:
    """An X.400 message converted for SMTP: the message, MAIL FROM, ENVID and RET, and what
    its MT-PRIORITY comes from (RFC 6710 §4.5): the X.411 ``priority`` and, for P772, the
    A1.8 primary ``precedence`` level."""

    message: bytes
    mail_from: str
    envid: str | None = None
    ret: str | None = None
    priority: int = 0
    precedence: int | None = None


#: builds a conversion process's context (tables, identity, policy); picklable (a
#: module-level function, or a ``functools.partial`` of one with picklable arguments)
ContextSetup = Callable[[], "Context"]

_CONTEXT: Context | None = None


def _init(setup: ContextSetup) -> None:
    """Process initializer: the conversion context of this gateway, built once per
    process."""
    global _CONTEXT
    die_with_parent()
    from bridge.codec.asn1 import compile_now

    _CONTEXT = setup()
    compile_now()


def _ctx(ctx: Context | None = None) -> Context:
    base = ctx if ctx is not None else _CONTEXT
    if base is None:
        raise RuntimeError("no conversion context: not in a conversion process")
    return dataclasses.replace(base, now=datetime.now(UTC))


def to_x400(data: bytes, sender: str, rcpts: Sequence[str], smtp: SmtpEnvelope | None,
            peer: tuple[PeerProfile, str] | None = None,
            ctx: Context | None = None) -> list[bytes] | Refusal:
    """RFC 5322 message + SMTP envelope -> the BER MTS-APDUs to transfer (§5.1; a DSN -> a
    report, §5.1.8).  ``peer``: the (PeerProfile, our MTA name) of the P1 peer they go to,
    applied by :func:`bridge.x400.profile.encode_for`; None (the spool) sends them as made."""
    from bridge.codec import encode_apdu
    from bridge.convert.reports import internet_to_x400
    from bridge.x400.profile import encode_for

    try:
        c = _ctx(ctx)
        res = internet_to_x400(data, sender, list(rcpts), c, smtp=smtp)
        if peer is None:
            return [encode_apdu(res.apdu), *(encode_apdu(x) for x in res.extra)]
        profile, mta_name = peer
        return [encode_for(x, profile, mta_name=mta_name, now=c.now)[0]
                for x in (res.apdu, *res.extra)]
    except BridgeError as exc:
        return Refusal(status=exc.smtp.enhanced, reason=str(exc))


#: messages :func:`inspect_arrival` decoded, by their octets, for the :func:`to_mime` of the
#: same octets (the delivery, moments later, in this process when there is one conversion
#: process): the MTS-APDU is then decoded once, not twice (the decode was a third of this
#: process's CPU per inbound message).  A decoded APDU is a frozen value that carries its
#: own repair notes, so the one kept is what a second decode would give.  Taken out when
#: used; bounded in entries and, per entry, in octets.
_ARRIVED: Memo[bytes, Any] = Memo(64)
ARRIVED_MAX_OCTETS = 128 * 1024


def to_mime(apdu: bytes, ctx: Context | None = None) -> MimeOut | Refusal:
    """A BER MTS-APDU message -> the RFC 5322 message and SMTP envelope (§5.3)."""
    from bridge.codec import decode_apdu
    from bridge.convert.priority import header_precedence
    from bridge.convert.to_mime import x400_to_mime
    from bridge.model.apdu import Message

    try:
        message = _ARRIVED.pop(apdu, None) or decode_apdu(apdu)
        if not isinstance(message, Message):
            return Refusal(status="5.6.0", reason="not an X.400 message")
        res = x400_to_mime(message, _ctx(ctx))
    except BridgeError as exc:
        return Refusal(status=exc.smtp.enhanced, reason=str(exc))
    smtp = res.smtp
    return MimeOut(message=res.message, mail_from=res.mail_from,
                   envid=getattr(smtp, "envid", None), ret=getattr(smtp, "ret", None),
                   priority=int(message.envelope.priority),
                   precedence=header_precedence(res.message))


@dataclass(frozen=True, slots=True)
class Arrival:
    """A message that came in over P1, as the gateway queues it (:func:`inspect_arrival`):
    its recipients mapped to RFC 822 (RFC 2156 §4.3.3; X.411 §12.2.1.1.1.16 for the delivery
    report), MAIL FROM, priority and MTS identifier, and the non-delivery report for the
    recipients that have no RFC 822 form (built by :func:`bridge.convert.gateway_reports.
    message_report`, None when nobody asked for one)."""

    recipients: tuple[tuple[int, str, bool], ...]      # number, address, wants a delivery report
    sender: str
    priority: Any                                       # bridge.model.common.Priority
    mts_id: str
    report: Any                                         # bridge.model.report.Report | None


@dataclass(frozen=True, slots=True)
class NotAMessage:
    """What :func:`inspect_arrival` leaves to the gateway process: a report or a probe (or an
    APDU that does not decode: ``reason``)."""

    reason: str = ""
    deferred: bool = False          # an address lookup could not answer now (RFC 2156 §4.2.1)


def inspect_arrival(apdu: bytes, ctx: Context | None = None) -> Arrival | NotAMessage:
    """Decode a P1 MTS-APDU that arrived and, for a message, map its responsible recipients
    (X.411 §12.2.1.1.1.4 responsibility: all of them when none is marked) -- the decode and
    the mapping are most of the CPU a transfer costs the gateway process, so they run here."""
    from bridge.codec import decode_apdu
    from bridge.convert.gateway_reports import (
        WANTS_DELIVERY_REPORT,
        RecipientFate,
        message_report,
    )
    from bridge.mapping.source import LookupDeferred
    from bridge.model.apdu import Message

    try:
        message = decode_apdu(apdu)
    except BridgeError as exc:
        return NotAMessage(reason=str(exc))
    if not isinstance(message, Message):
        return NotAMessage()
    if len(apdu) <= ARRIVED_MAX_OCTETS:
        _ARRIVED.keep(apdu, message)
    c = _ctx(ctx)
    env = message.envelope
    targets = [r for r in env.recipients if r.responsible] or list(env.recipients)
    recipients: list[tuple[int, str, bool]] = []
    fates: dict[int, RecipientFate] = {}
    for r in targets:
        try:
            address = c.mapper.to_rfc822(r.name).address
        except LookupDeferred:
            return NotAMessage(reason="address mapping lookup timed out", deferred=True)
        except BridgeError as exc:
            fates[r.number] = RecipientFate(status=exc.smtp.enhanced, diagnostic=str(exc))
            continue
        recipients.append((r.number, address, bool(r.indicators & WANTS_DELIVERY_REPORT)))
    report = message_report(message, fates, c) if fates else None
    return Arrival(recipients=tuple(recipients), sender=str(env.originator.address),
                   priority=env.priority, mts_id=str(env.identifier), report=report)


class ConversionCrash(BridgeError):
    """A conversion process died, or a conversion raised something other than a
    :class:`~bridge.errors.BridgeError` (a bug): the message is kept and tried again."""

    smtp = SMTPReply(code=451, enhanced="4.3.0", text="Conversion failed; will retry")


#: a frame on a conversion pipe: 4-octet length, then a pickle of (request id, payload)
_FRAME = struct.Struct("!I")


def _read_exactly(fd: int, n: int) -> bytes | None:
    parts, left = [], n
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None                        # EOF: the gateway closed the pipe or died
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _limit_memory(octets: int) -> None:
    """RLIMIT_AS (setrlimit(2)): a conversion that wants more address space gets a
    MemoryError instead of taking the machine (issue 12: one message grew a process past
    20 GB).  0 = no limit."""
    if octets > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (octets, octets))


def _serve(setup: ContextSetup, requests: Connection, replies: Connection,
           memory_limit: int = 0) -> None:
    """A conversion process: read (id, function, args) frames, answer (id, result) frames,
    until the request pipe ends.  A non-BridgeError exception is a bug: it is answered as a
    :class:`ConversionCrash` text, never allowed to end the process -- except a MemoryError,
    after which the process answers and exits (its heap may be in any state)."""
    _limit_memory(memory_limit)
    _init(setup)
    rfd, wfd = os.dup(requests.fileno()), os.dup(replies.fileno())
    requests.close()
    replies.close()
    while (head := _read_exactly(rfd, _FRAME.size)) is not None:
        body = _read_exactly(rfd, _FRAME.unpack(head)[0])
        if body is None:
            break
        ident, fn, args = pickle.loads(body)
        exhausted = False
        try:
            result = (True, fn(*args))
        except MemoryError:
            result, exhausted = (False, "MemoryError: over the conversion memory limit"), True
        except Exception as exc:  # noqa: BLE001 - a converter bug must not stop the process
            result = (False, f"{type(exc).__name__}: {exc}")
        out = pickle.dumps((ident, result, exhausted), pickle.HIGHEST_PROTOCOL)
        _write_all(wfd, _FRAME.pack(len(out)) + out)
        if exhausted:
            os._exit(3)


class _Replies(asyncio.Protocol):
    """The gateway's end of one process's reply pipe: frames -> the waiting futures."""

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= _FRAME.size:
            (n,) = _FRAME.unpack_from(self.buffer)
            if len(self.buffer) < _FRAME.size + n:
                return
            frame = bytes(self.buffer[_FRAME.size:_FRAME.size + n])
            del self.buffer[:_FRAME.size + n]
            ident, (ok, value), exiting = pickle.loads(frame)
            if exiting:                        # the process exits now: no new requests
                self.worker.alive = False
            future = self.worker.pending.pop(ident, None)
            if future is None or future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(ConversionCrash(f"conversion failed: {value}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.ended()


class _Worker:
    """One conversion process and its two pipes, driven by the event loop: requests are
    written without blocking (the transport buffers), replies arrive in :class:`_Replies`."""

    def __init__(self, setup: ContextSetup, memory_limit: int = 0) -> None:
        """Start the process (from the event loop); ``connected`` is done once the pipes are
        wired to the loop."""
        context = multiprocessing.get_context("spawn")   # no fork of a threaded process
        child_requests, self._requests = context.Pipe(duplex=False)
        self._replies, child_replies = context.Pipe(duplex=False)
        self.process = context.Process(target=_serve, name="x400bridge-convert", daemon=True,
                                       args=(setup, child_requests, child_replies,
                                             memory_limit))
        self.process.start()
        child_requests.close()
        child_replies.close()
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.alive = True
        self._ids = itertools.count()
        self._writer: asyncio.WriteTransport | None = None
        self._reader: asyncio.ReadTransport | None = None
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.connected: asyncio.Future[None] = asyncio.ensure_future(self._connect())

    async def stop(self, grace: float) -> None:
        """Let the process answer what it has and exit; killed after ``grace`` seconds."""
        self.finish()
        if not self.connected.done():
            self.connected.cancel()
            await asyncio.gather(self.connected, return_exceptions=True)
        if self._reader is None:                # never connected: nothing will report its end
            self.process.kill()
            self.process.join(timeout=5)
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.gone), grace)
        except TimeoutError:
            self.process.kill()                 # its reply pipe ends now: ended() runs
            await self.gone

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        rfd, wfd = os.dup(self._replies.fileno()), os.dup(self._requests.fileno())
        self._replies.close()
        self._requests.close()
        self._reader, _ = await loop.connect_read_pipe(
            lambda: _Replies(self), os.fdopen(rfd, "rb", buffering=0))
        self._writer, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(wfd, "wb", buffering=0))

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        if not self.alive or self._writer is None or self._writer.is_closing():
            raise ConversionCrash("the conversion process has ended")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        frame = pickle.dumps((ident, fn, args), pickle.HIGHEST_PROTOCOL)
        self._writer.write(_FRAME.pack(len(frame)) + frame)
        return future

    def finish(self) -> None:
        """No more requests: the process answers those it has, then sees EOF and exits."""
        self.alive = False
        if self._writer is not None:
            self._writer.close()

    def ended(self) -> None:
        """The reply pipe closed: the process exited (or was killed)."""
        self.alive = False
        if self._writer is not None:
            self._writer.close()
        if self._reader is not None:
            self._reader.close()
        if not self.gone.done():
            self.gone.set_result(None)
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConversionCrash("the conversion process ended"))
        self.pending.clear()
        self.process.join(timeout=5)           # it has closed its pipe: it is exiting


class Converter:
    """Runs :func:`to_x400` / :func:`to_mime` in ``processes`` conversion processes (a
    request goes to the one with the fewest outstanding), or in a thread of this process when
    ``processes`` is 0.

    Each process is fed over a pipe by the event loop itself -- no executor thread, no
    cross-thread wake-ups per message -- and started by :meth:`start` or on first use.  A
    process that dies fails its outstanding conversions with :class:`ConversionCrash` (a
    temporary error: the messages stay queued) and is replaced on the next request.

    Poison messages (issue 12): each process runs under ``memory_limit`` (RLIMIT_AS).  A
    request that names its message (``key``) and fails -- its process died, ran out of
    memory or raised a bug -- is at once tried again *alone*, in a fresh process of its own:
    so the innocent conversions that shared the dead process are converted after all, and a
    failure there is the message's own.  Such failures are counted per message; after
    ``max_crashes`` the message gets a :class:`Refusal` (5.6.0: it is non-delivered and its
    originator told), never another conversion.  The counts live in this process (a gateway
    restart starts them afresh).
    """

    def __init__(self, setup: ContextSetup | None, context: Context | None, *,
                 processes: int, memory_limit: int = DEFAULT_MEMORY_LIMIT,
                 max_crashes: int = DEFAULT_MAX_CRASHES) -> None:
        """``setup`` builds the context in each conversion process (None: ``processes`` is
        0); ``context`` is the one used in this process when ``processes`` is 0."""
        if processes > 0 and setup is None:
            raise ValueError("conversion processes need a context setup")
        self.setup = setup
        self.context = context
        self.processes = processes
        self.memory_limit = memory_limit
        self.max_crashes = max_crashes
        self._workers: list[_Worker] = []
        self._retired: list[_Worker] = []       # finishing after a reload
        self._crashes: dict[str, int] = {}      # message key -> conversions it failed alone

    async def _worker(self) -> _Worker:
        self._workers = [w for w in self._workers if w.alive]
        if len(self._workers) < self.processes:
            worker = _Worker(self._setup(), self.memory_limit)
            self._workers.append(worker)
        else:
            worker = min(self._workers, key=lambda w: len(w.pending))
        await asyncio.shield(worker.connected)    # callers that came meanwhile wait too
        return worker

    async def start(self) -> None:
        """Start the processes now rather than at the first conversion (they build their
        mappers and compile the codecs while the gateway starts)."""
        while len([w for w in self._workers if w.alive]) < self.processes:
            await self._worker()

    async def run(self, fn: Callable[..., T], *args: Any, key: str | None = None) -> T:
        """``fn(*args)`` in a conversion process.  ``key`` names the message (the queue id)
        for the poison handling described above; without it a failure is just raised."""
        if self.processes <= 0:
            return await asyncio.to_thread(fn, *args, self.context)
        if key is None:
            worker = await self._worker()
            result: T = await worker.call(fn, args)
            return result
        if self._crashes.get(key, 0) >= self.max_crashes:
            return self._poisoned(key)               # type: ignore[return-value]
        if key not in self._crashes:                 # not a suspect: the shared processes
            try:
                worker = await self._worker()
                result = await worker.call(fn, args)
                return result
            except ConversionCrash as exc:
                log.warning("conversion of %s failed (%s); trying it alone", key, exc)
        try:
            result = await self._alone(fn, args)
        except ConversionCrash as exc:
            self._crashes[key] = crashes = self._crashes.get(key, 0) + 1
            log.error("conversion of %s failed alone (%d of %d): %s", key, crashes,
                      self.max_crashes, exc)
            if crashes >= self.max_crashes:
                return self._poisoned(key)           # type: ignore[return-value]
            raise
        self._crashes.pop(key, None)
        return result

    def _poisoned(self, key: str) -> Refusal:
        """The refusal of a message that failed ``max_crashes`` times; what the failures
        were is in the log, not in the text the originator reads."""
        return Refusal(status="5.6.0", reason=(
            f"the message could not be converted: the conversion failed {self.max_crashes} "
            "times; not tried again"))

    async def _alone(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """One conversion in a process of its own, which then exits."""
        worker = _Worker(self._setup(), self.memory_limit)
        try:
            await worker.connected
            result: T = await worker.call(fn, args)
            return result
        finally:
            await worker.stop(grace=5.0)

    def _setup(self) -> ContextSetup:
        if self.setup is None:
            raise ConversionCrash("no conversion processes configured")
        return self.setup

    def reload(self, context: Context) -> None:
        """New tables (SIGHUP): the running processes finish what they have and exit; new
        ones, started on demand, build new mappers."""
        self.context = context
        for worker in self._workers:
            worker.finish()
        self._retired = [w for w in self._retired if not w.gone.done()] + self._workers
        self._workers = []

    async def aclose(self, grace: float = 10.0) -> None:
        """Stop every process (each answers what it has first, up to ``grace`` seconds)."""
        workers, self._workers = self._workers + self._retired, []
        self._retired = []
        await asyncio.gather(*(w.stop(grace) for w in workers))
