"""The asyncio shell around :class:`~bridge.x400.stack.Stack`: sockets, timers, the peer table.

* :class:`Responder` listens (default 127.0.0.1:1102; 102 in production, RFC 1006 §3), runs
  one :class:`Stack` per TCP connection, checks every MTA-bind against the
  :class:`~bridge.x400.peers.PeerTable` (wrong or missing credentials -> bind error, logged,
  association closed) and hands each received MTS-APDU to ``on_apdu``, an async callback that
  must have stored it durably when it returns: only then is the transfer confirmed (the
  S-ACTIVITY-END response).  If the callback raises, the association is aborted and the sender
  keeps its message.
* :class:`Association` is the initiator: connect, bind, any number of transfers, release.

Every phase has a timeout (:class:`Timeouts`); a peer that stalls, sends garbage or breaks the
protocol gets its association aborted and its connection closed -- never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bridge.codec.ber import MAX_LENGTH
from bridge.codec.rtpdu import MTABind
from bridge.errors import AssociationError, BridgeError, ProtocolError
from bridge.throttle import FailureTracker, LogLimiter
from bridge.x400.mta import (
    Aborted,
    AbortRequest,
    BindAccept,
    BindIndication,
    BindReject,
    BindRequest,
    GiveTurn,
    MTAPrimitive,
    Release,
    ReleaseConfirm,
    Transfer,
    TransferAccept,
    TransferConfirm,
    TransferFailed,
    TurnRequested,
)
from bridge.x400.peers import LocalMTA, Peer, PeerTable
from bridge.x400.stack import PRE_BIND_LIMIT, Stack

log = logging.getLogger("x400bridge.x400")

OnAPDU = Callable[[bytes, Peer], Awaitable[None]]

_READ_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Seconds allowed for each phase of an association."""

    connect: float = 30.0
    bind: float = 30.0
    transfer: float = 300.0     # one whole APDU, including the peer's durable store
    idle: float = 600.0         # responder: between transfers
    release: float = 30.0


class _Conn:
    """A Stack bound to one TCP connection."""

    def __init__(self, stack: Stack, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.stack = stack
        self.reader = reader
        self.writer = writer
        self.eof = False

    async def flush(self) -> None:
        data = self.stack.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def feed(self, timeout: float) -> None:
        """Read once (or see EOF) and feed the stack; ProtocolError propagates."""
        async with asyncio.timeout(timeout):   # no task per read, unlike wait_for
            data = await self.reader.read(_READ_SIZE)
        if not data:
            self.eof = True
        self.stack.receive_data(data)
        await self.flush()

    async def event(self, timeout: float) -> MTAPrimitive:
        """The next P1 event, reading as needed; AssociationError on EOF or timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (ev := self.stack.next_event()) is None:
            if self.eof:
                raise AssociationError("the peer closed the connection")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssociationError(f"no answer within {timeout:g} s")
            try:
                await self.feed(remaining)
            except TimeoutError:
                raise AssociationError(f"no answer within {timeout:g} s") from None
        return ev

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


# ------------------------------------------------------------------------------ responder

@dataclass(slots=True)
class _Seen:
    """What one inbound association got to, for the log line that ends it."""

    peer: Peer | None = None
    taken: int = 0

    def who(self) -> str:
        return f" ({self.peer.mta_name})" if self.peer is not None else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponderLimits:
    """What unauthenticated and misbehaving peers may cost (docs/security.md).

    ``max_associations`` / ``max_per_address``: TCP connections at once (total / from one IP
    address); more are closed at once.  ``pre_bind_octets``: what a peer may have buffered
    before its MTA-bind succeeded.  A refused bind is answered after a delay that starts at
    ``bind_failure_delay`` and doubles with each recent failure from the same address, up to
    ``bind_failure_delay_max``; refusals are logged once a minute per address.
    """

    max_associations: int = 100
    max_per_address: int = 10
    pre_bind_octets: int = PRE_BIND_LIMIT
    bind_failure_delay: float = 1.0
    bind_failure_delay_max: float = 30.0


class Responder:
    """Accept associations from the MTAs of a peer table and take their MTS-APDUs."""

    def __init__(self, table: PeerTable, on_apdu: OnAPDU, *, timeouts: Timeouts = Timeouts(),
                 max_apdu: int = MAX_LENGTH, limits: ResponderLimits = ResponderLimits(),
                 timings: dict[str, float] | None = None) -> None:
        self.table = table
        self.timings = timings
        self.on_apdu = on_apdu
        self.timeouts = timeouts
        self.max_apdu = max_apdu
        self.limits = limits
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.associations = 0
        self._per_address: dict[str, int] = {}
        self._failures = FailureTracker(base_delay=limits.bind_failure_delay,
                                        max_delay=limits.bind_failure_delay_max)
        self._log_limit = LogLimiter(interval=60.0)

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        """Listen; ``port`` 0 picks a free port (see :attr:`port`)."""
        self._server = await asyncio.start_server(
            self._accept, host or self.table.local.listen_host,
            self.table.local.listen_port if port is None else port)

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self, *, drain: float = 10.0) -> None:
        """Stop accepting; give associations in flight ``drain`` seconds, then abort them."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=drain)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = str((writer.get_extra_info("peername") or ("?",))[0])
        busy = len(self._tasks) >= self.limits.max_associations
        if busy or self._per_address.get(address, 0) >= self.limits.max_per_address:
            what = "associations" if busy else f"associations from {address}"
            self._log_limited(f"limit:{address}", logging.WARNING,
                              "x400 connection from %s closed: the limit of %d %s is reached",
                              address, self.limits.max_associations if busy
                              else self.limits.max_per_address, what)
            writer.close()
            return
        self._per_address[address] = self._per_address.get(address, 0) + 1
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer, address))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _log_limited(self, key: str, level: int, msg: str, *args: object) -> None:
        self._log_limit.log(log, level, key, asyncio.get_running_loop().time(), msg, *args)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     address: str) -> None:
        conn = _Conn(Stack("responder", mode=None, max_apdu=self.max_apdu,
                           pre_bind_limit=self.limits.pre_bind_octets, timings=self.timings),
                     reader, writer)
        self.associations += 1
        seen = _Seen()
        try:
            await self._run(conn, address, seen)
        except ProtocolError as exc:
            log.warning("x400 association from %s%s: protocol error after %d transfer(s); "
                        "a transfer in progress stays with the peer: %s", address,
                        seen.who(), seen.taken, exc)
        except AssociationError as exc:
            # a bound peer that goes away without a release may believe it delivered what
            # was in progress (PP 6.0 reports such transfers as done): say so, loudly
            level = logging.WARNING if seen.peer is not None else logging.INFO
            log.log(level, "x400 association from %s%s ended without a release after %d "
                    "transfer(s): %s", address, seen.who(), seen.taken, exc)
        except (OSError, asyncio.IncompleteReadError) as exc:
            log.warning("x400 association from %s%s: connection error after %d transfer(s): "
                        "%s", address, seen.who(), seen.taken, exc)
        finally:
            conn.close()
            left = self._per_address.get(address, 1) - 1
            if left:
                self._per_address[address] = left
            else:
                self._per_address.pop(address, None)

    async def _run(self, conn: _Conn, address: str, seen: _Seen) -> None:
        peer: Peer | None = None
        t = self.timeouts
        while True:
            ev = await conn.event(t.idle if peer is not None else t.bind)
            if isinstance(ev, BindIndication):
                # an address with failed binds has one check per delay, in turn: guessing
                # over parallel associations is no faster than over one (bridge.throttle)
                turn = self._failures.gate(address, asyncio.get_running_loop().time())
                if turn:
                    await asyncio.sleep(turn)
                decision = self.table.check_bind(ev.initiator, address, ev.mode)
                if decision.peer is None:
                    now = asyncio.get_running_loop().time()
                    delay = self._failures.fail(address, now)
                    self._log_limited(f"bind:{address}", logging.WARNING,
                                      "x400 bind from %s as %r refused: %s", address,
                                      ev.initiator.name, decision.reason)
                    await asyncio.sleep(delay)     # a guessing run costs the guesser time
                    conn.stack.send(BindReject(error=decision.error, reason=decision.reason))
                    await conn.flush()
                    return
                self._failures.succeed(address)
                peer = seen.peer = decision.peer
                local = self.table.local
                conn.stack.send(BindAccept(responder=MTABind(name=local.name,
                                                             password=local.password)))
                log.info("x400 bind from %s as %r (%s mode)", address, ev.initiator.name,
                         ev.mode)
            elif isinstance(ev, Transfer):
                if peer is None:
                    raise ProtocolError("transfer before the bind", layer="p1")
                try:
                    async with asyncio.timeout(t.transfer):
                        await self.on_apdu(ev.apdu, peer)
                except (BridgeError, OSError, TimeoutError) as exc:
                    log.error("x400 transfer from %r not stored, aborting: %s",
                              peer.mta_name, exc)
                    conn.stack.send(AbortRequest())
                    await conn.flush()
                    return
                conn.stack.send(TransferAccept())
                seen.taken += 1
            elif isinstance(ev, Release):
                conn.stack.send(ReleaseConfirm())
                await conn.flush()
                return
            elif isinstance(ev, TurnRequested):
                conn.stack.send(GiveTurn())
            elif isinstance(ev, Aborted):
                raise AssociationError(ev.reason)
            await conn.flush()


# ------------------------------------------------------------------------------ initiator

class Association:
    """An initiated association to one peer MTA (use :meth:`open`)."""

    def __init__(self, conn: _Conn, peer: Peer, timeouts: Timeouts) -> None:
        self._conn = conn
        self.peer = peer
        self.timeouts = timeouts
        self.responder: MTABind | None = None
        self.transferred = 0

    @classmethod
    async def open(cls, peer: Peer, local: LocalMTA, *, timeouts: Timeouts = Timeouts(),
                   timings: dict[str, float] | None = None) -> Association:
        """Connect to ``peer`` and bind (X.411 §12.1.1); AssociationError when refused."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(peer.host, peer.port), timeouts.connect)
        except (OSError, TimeoutError) as exc:
            raise AssociationError(f"cannot connect to {peer.host}:{peer.port}: {exc}") \
                from exc
        conn = _Conn(Stack("initiator", mode=peer.mode, timings=timings), reader, writer)
        self = cls(conn, peer, timeouts)
        try:
            conn.stack.send(BindRequest(
                name=local.name, password=local.password, calling=local.selectors,
                called=peer.selectors, checkpoint_size=peer.checkpoint_size,
                window_size=peer.window_size))
            await conn.flush()
            ev = await conn.event(timeouts.bind)
            if isinstance(ev, BindReject):
                raise AssociationError(f"{peer.mta_name} refused the bind: {ev.reason}")
            if not isinstance(ev, BindAccept):
                raise AssociationError(f"{peer.mta_name}: {ev}")
            for deviation in ev.deviations:
                log.warning("x400 association to %s: tolerated: %s", peer.mta_name, deviation)
            problem = PeerTable(local=local, peers={peer.key: peer}).check_result(
                peer, ev.responder)
            if problem is not None:
                conn.stack.send(AbortRequest())
                await conn.flush()
                raise AssociationError(problem)
            self.responder = ev.responder
        except (ProtocolError, OSError) as exc:
            conn.close()
            raise AssociationError(f"bind to {peer.mta_name} failed: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return self

    async def transfer(self, apdu: bytes) -> None:
        """Transfer one MTS-APDU; returns once the peer confirmed it (it is then theirs)."""
        try:
            self._conn.stack.send(Transfer(apdu=apdu))
            await self._conn.flush()
            while True:
                ev = await self._conn.event(self.timeouts.transfer)
                if isinstance(ev, TransferConfirm):
                    self.transferred += 1
                    return
                if isinstance(ev, TransferFailed):
                    raise AssociationError(f"transfer to {self.peer.mta_name} failed: "
                                           f"{ev.reason}")
                if isinstance(ev, Aborted):
                    raise AssociationError(f"{self.peer.mta_name} aborted: {ev.reason}")
                if isinstance(ev, TurnRequested):
                    continue                   # we keep the turn while we have mail
        except (ProtocolError, OSError) as exc:
            self._conn.close()
            raise AssociationError(f"transfer to {self.peer.mta_name} failed: {exc}") \
                from exc
        except AssociationError:
            self._conn.close()                 # the association is not usable any more
            raise

    async def release(self) -> None:
        """MTA-unbind (RT-CLOSE) and close the connection."""
        try:
            self._conn.stack.send(Release())
            await self._conn.flush()
            ev = await self._conn.event(self.timeouts.release)
            if not isinstance(ev, ReleaseConfirm):
                raise AssociationError(f"release of {self.peer.mta_name}: {ev}")
        except (ProtocolError, OSError) as exc:
            raise AssociationError(f"release of {self.peer.mta_name} failed: {exc}") from exc
        finally:
            self._conn.close()

    async def abort(self) -> None:
        """Abort (RT-U-ABORT) and close."""
        with contextlib.suppress(BridgeError, OSError):
            self._conn.stack.send(AbortRequest())
            await self._conn.flush()
        self._conn.close()
