"""``x400bridge serve``: the gateway process -- wiring, lifecycle, signals.

Built from one :class:`~bridge.config.Config` (no globals): the queue, the address mapper and
routes, the conversion context, the SMTP server (aiosmtpd handler) and client, the P1 responder,
the file spool, the delivery and report workers, the metrics endpoint.

Lifecycle: SIGTERM/SIGINT drain -- stop accepting (SMTP server and P1 responder close), finish
the transfers in flight, give unstarted claims back to the queue, release associations;
SIGHUP reloads the mapping tables and the X.400 routes without a restart (and drops the
mapper's memo, so RFC 2163 DNS answers are looked up afresh).

Nodes (issue 15, docs/deployment.md): every claim names this node (``[gateway] node-id``);
at start the node gives back what an earlier run of it had claimed -- on SQLite every lease
(one gateway per file, held by an flock), on PostgreSQL only its own, under its node id's
advisory lock (:mod:`bridge.gateway.nodes`), while other nodes' leases run out by
themselves.  The workers wake on the queue's notifications (:mod:`bridge.gateway.wakeup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import IO

from bridge.codec import decode_apdu
from bridge.config import Config
from bridge.errors import BridgeError, ConfigError
from bridge.gateway.convertpool import Converter
from bridge.gateway.core import POLL, Gateway
from bridge.gateway.intake import Notifications, spawn
from bridge.gateway.metrics import Metrics
from bridge.gateway.nodes import NodeLock
from bridge.gateway.wakeup import Doorbell
from bridge.gateway.wiring import (
    context_for,
    conversion_context,
    inbound_settings,
    mapper_for,
    router_for,
    tables_digest,
)
from bridge.queue.api import open_queue
from bridge.queue.types import QueueGone
from bridge.smtp.cache import SessionCache
from bridge.smtp.client import OutboundSettings, deliver
from bridge.smtp.server import SMTPServer
from bridge.x400.peers import Peer
from bridge.x400.shell import Responder
from bridge.x400.spool import Spool

log = logging.getLogger("x400bridge.gateway")

_SPOOL_PEER = Peer(key="spool", mta_name="spool")
_STATS_EVERY = 5.0
_KEEP_FINISHED = 7 * 86400.0        # seconds a finished message stays for `queue show`


#: the longest time between two scans of the queue when nothing woke the workers (a dead
#: node's lease that ran out sends no notification)
MAX_RESCAN = 30.0


def rescan_interval(config: Config) -> float:
    """Seconds between the workers' scans when no notification woke them.

    PostgreSQL: notifications wake the workers; a scan only finds what comes due without one
    -- a lease of a dead node that ran out (so a take-over starts at most lease / 4 late) and
    a deferred recipient's next attempt (at most ``retry-initial`` late) -- at most every
    :data:`MAX_RESCAN` seconds.  SQLite: every :data:`~bridge.gateway.core.POLL` second, as
    before (no notifications between processes: ``x400bridge queue retry`` is found so)."""
    q = config.queue
    if q.backend.backend == "sqlite":
        return POLL
    return min(q.lease / 4, MAX_RESCAN, q.retry_initial)


@contextlib.contextmanager
def _listening(key: str, host: str, port: int) -> Iterator[None]:
    """A listener that cannot be opened (port taken, address not ours, name unknown) is a
    configuration error naming its key -- one line, not a traceback (issue 12 item 8)."""
    try:
        yield
    except OSError as exc:
        raise ConfigError(f"{key}: cannot listen on {host}:{port}: "
                          f"{exc.strerror or exc}") from exc


class App:
    """One running gateway."""

    def __init__(self, config: Config) -> None:
        self.config = config
        q = config.queue
        if q.backend.backend == "sqlite":
            try:
                q.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"queue.path: cannot create {q.path.parent}: "
                                  f"{exc.strerror or exc}") from exc
        self.queue = open_queue(q.backend, path=q.path, retry=q.retry_policy)
        self.node = config.gateway.node_id
        self.metrics = Metrics(self.node)
        mapper = mapper_for(config.gateway)
        self.peers = config.x400.peer_table
        self.router = router_for(config, mapper)
        out = config.smtp_out
        outbound = OutboundSettings(
            mt_priority_policy=config.smtp_in.mt_priority_policy,
            smarthost=(out.smarthost.host, out.smarthost.port) if out.smarthost else None,
            port=out.port, timeout=out.timeout, helo=out.helo,
            tls=out.tls)  # type: ignore[arg-type]
        context = context_for(config.gateway, mapper)
        self.converter = Converter(functools.partial(conversion_context, config.gateway),
                                   context, processes=config.queue.convert_processes,
                                   memory_limit=config.queue.convert_memory,
                                   max_crashes=config.queue.convert_max_failures)
        # sessions to the smarthost / MX hosts kept for the next message (bridge.smtp.cache),
        # at most one idle per delivery worker
        self.smtp_sessions = SessionCache(per_host=q.workers)
        self.gateway = Gateway(queue=self.queue, router=self.router,
                               context=context, peers=self.peers, converter=self.converter,
                               spool=Spool(config.x400.spool), smtp_out=outbound,
                               deliver_smtp=functools.partial(deliver,
                                                              cache=self.smtp_sessions),
                               reporting_mta=config.smtp_in.hostname,
                               metrics=self.metrics, node=self.node, lease=q.lease,
                               rescan=rescan_interval(config))
        # the doorbell brings work other nodes made due (PostgreSQL NOTIFY); this process's
        # own writes wake its workers directly, so a SQLite queue needs none.  It wakes the
        # delivery workers only: a node reports what it recorded itself (its own wake-up) --
        # waking every report loop on every NOTIFY made each node scan for reports per message
        self.doorbell = (Doorbell(self.queue, [self.gateway.wake[k]
                                               for k in ("to-x400", "to-smtp")])
                         if q.backend.backend == "postgresql" else None)
        self.smtp: SMTPServer | None = None
        self.responder: Responder | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.smtp_port = 0
        self.p1_port = 0
        self.metrics_port = 0
        self._lock_file: IO[str] | None = None
        self.node_lock: NodeLock | None = None
        self.intake: list[BaseProcess] = []
        self._notify: asyncio.DatagramTransport | None = None

    async def _lock_queue(self) -> None:
        """What makes the start-up lease release safe.  SQLite: one gateway per queue, an
        exclusive flock on ``<queue>.lock`` held for the life of the process (the kernel drops
        it on kill -9).  PostgreSQL: several nodes, one gateway per node id
        (:class:`~bridge.gateway.nodes.NodeLock`)."""
        import fcntl

        if self.config.queue.backend.backend != "sqlite":
            self.node_lock = NodeLock(self.config.queue.backend, self.node)
            await asyncio.to_thread(self.node_lock.take)
            return
        path = Path(f"{self.config.queue.path}.lock")
        self._lock_file = path.open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise ConfigError(f"{self.config.queue.path}: another x400bridge serve uses this "
                              "queue") from None

    async def start(self) -> None:
        from bridge.codec.asn1 import compile_now
        from bridge.config import advice
        from bridge.smtp.server import InboundHandler, start_server

        c = self.config
        for line in advice(c):
            log.warning("config: %s", line)
        await self._lock_queue()
        compile_now()                       # the P1 endpoint's codecs, before we serve
        await self.converter.start()
        # what a previous run of this node had claimed is its own (the locks above): on SQLite
        # every lease (one gateway per file, whatever its node id was), on a shared PostgreSQL
        # queue this node's -- the leases of other nodes run out by themselves
        released = await asyncio.to_thread(
            self.queue.release_leases, None if c.queue.backend.backend == "sqlite" else self.node)
        if released:
            log.warning("released %d claim(s) left by a previous run of node %s; they go out "
                        "again now (a transfer that was confirmed but not recorded is sent "
                        "twice)", released, self.node)
        s = c.smtp_in
        handler = InboundHandler(inbound_settings(c), message_limits=c.gateway.message_limits,
                                 check_recipient=self.gateway.check_recipient,
                                 submit=self.gateway.submit)
        with _listening("smtp.in.listen", s.listen.host, s.listen.port):
            self.smtp = await start_server(handler, s.listen.host, s.listen.port,
                                           reuse_port=s.processes > 1)
        self.smtp_port = self.smtp.port
        if s.processes > 1:
            await self._start_intake(s.processes - 1)
        self.responder = Responder(self.peers, self.gateway.on_apdu, limits=c.x400.limits)
        with _listening("x400.listen", c.x400.listen.host, c.x400.listen.port):
            await self.responder.start(c.x400.listen.host, c.x400.listen.port)
        self.p1_port = self.responder.port
        if c.metrics.listen is not None:
            with _listening("metrics.listen", c.metrics.listen.host, c.metrics.listen.port):
                self.metrics_port = self.metrics.serve(c.metrics.listen.host,
                                                       c.metrics.listen.port)
        loop = asyncio.get_running_loop()
        for slot in range(max(1, c.queue.workers)):
            self.tasks.append(loop.create_task(self.gateway.run("to-x400", slot)))
            self.tasks.append(loop.create_task(self.gateway.run("to-smtp")))
        self.tasks.append(loop.create_task(self.gateway.run_reports()))
        if self.doorbell is not None:
            self.tasks.append(loop.create_task(self.doorbell.run(self.gateway.wake_stop)))
        self.tasks.append(loop.create_task(self._spool_in()))
        self.tasks.append(loop.create_task(self._stats()))
        log.info("gateway up: node %s, SMTP %s:%d, P1 %s:%d, queue %s, tables %s", self.node,
                 s.listen.host, self.smtp_port, c.x400.listen.host, self.p1_port,
                 c.queue.path if c.queue.backend.backend == "sqlite" else "postgresql",
                 self._digest())

    async def _start_intake(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        notes = Notifications(self.gateway.wake, count,
                              accepted=lambda direction: self.metrics.accepted(direction, "smtp"))
        transport, _ = await loop.create_datagram_endpoint(lambda: notes,
                                                           local_addr=("127.0.0.1", 0))
        self._notify = transport
        notify_port = transport.get_extra_info("sockname")[1]
        self.intake = await asyncio.to_thread(spawn, self.config, self.smtp_port, notify_port,
                                              count)
        try:                                    # "serving" only once every one listens
            await asyncio.wait_for(notes.all_ready.wait(), 60)
        except TimeoutError:
            log.error("intake processes did not start listening; serving without them")

    async def _stop_intake(self, drain: float) -> None:
        for proc in self.intake:
            if proc.is_alive():
                proc.terminate()                # SIGTERM: finish the transactions in flight
        for proc in self.intake:
            await asyncio.to_thread(proc.join, drain)
            if proc.is_alive():
                proc.kill()
        self.intake = []
        if self._notify is not None:
            self._notify.close()
            self._notify = None

    async def stop(self, *, drain: float = 30.0) -> None:
        """Stop accepting, finish what is in flight (bounded by ``drain`` seconds)."""
        await self._stop_intake(drain)
        if self.smtp is not None:
            await self.smtp.close()
        if self.responder is not None:
            await self.responder.close(drain=drain)
        await self.gateway.stop()
        if self.tasks:
            _, late = await asyncio.wait(self.tasks, timeout=drain)
            for task in late:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.gateway.stop()           # associations opened by the last jobs
        await self.smtp_sessions.close()
        await asyncio.to_thread(self.gateway.writer.close)
        self.metrics.close()
        await self.converter.aclose()
        self.queue.close()
        if self._lock_file is not None:
            self._lock_file.close()
        if self.node_lock is not None:
            await asyncio.to_thread(self.node_lock.close)
        log.info("gateway stopped")

    def reload(self, *, quiet: bool = False) -> None:
        """SIGHUP: reload mapping tables and X.400 routes (a fresh mapper memo)."""
        try:
            router = router_for(self.config)
        except BridgeError as exc:
            log.error("reload failed, keeping the old tables: %s", exc)
            return
        self.router = self.gateway.router = router
        self.gateway.context = context_for(self.config.gateway, router.mapper)
        self.converter.reload(self.gateway.context)
        for proc in self.intake:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGHUP)
        (log.debug if quiet else log.info)("mapping tables and routes reloaded: tables %s",
                                           self._digest())

    def _digest(self) -> str:
        """:func:`~bridge.gateway.wiring.tables_digest`, or why there is none."""
        try:
            return tables_digest(self.config)
        except OSError as exc:
            return f"(no digest: {exc.strerror or exc})"

    async def _spool_in(self) -> None:
        """Files an MTA (or `x400bridge x400 listen`) left in the spool's in/ folder."""
        spool = self.gateway.spool
        while not self.gateway.stopping:
            claimed = await asyncio.to_thread(lambda: list(spool.claim("in",
                                                                       validate=decode_apdu)))
            for item in claimed:
                try:
                    await self.gateway.on_apdu(item.data, _SPOOL_PEER)
                except BridgeError as exc:
                    await asyncio.to_thread(spool.reject, item, str(exc))
                    continue
                await asyncio.to_thread(spool.done, item)
            if not claimed:
                await self.gateway.sleep("spool", POLL)

    async def _stats(self) -> None:
        rounds = 0
        while not self.gateway.stopping:
            try:
                self.queue.check_file()           # every 5 s, even when nothing is sent
            except QueueGone as exc:
                if rounds % 12 == 0:              # once a minute, loudly
                    log.critical("%s -- SMTP answers 451 and P1 transfers are refused; "
                                 "restore the state directory and restart", exc)
            with contextlib.suppress(BridgeError):
                stats = await asyncio.to_thread(self.queue.stats)
                self.metrics.depth({(d, state): n for d, states in stats.by_direction.items()
                                    for state, n in states.items()})
                self.metrics.leases(stats.leases_by_node)
                if rounds % 720 == 0:             # hourly: forget finished messages after 7 d
                    await asyncio.to_thread(self.queue.purge, older_than=_KEEP_FINISHED)
            if rounds and rounds % 60 == 0 and self.config.gateway.dns_server is not None:
                # every 5 minutes: the mapper memoises, so RFC 2163 answers would otherwise
                # outlive their DNS TTL -- a fresh mapper looks them up again
                self.reload(quiet=True)
            self.smtp_sessions.sweep()            # SMTP sessions idle too long: QUIT
            if self.node_lock is not None:        # the database restarted: take it again
                await asyncio.to_thread(self.node_lock.check)
            rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gateway.wake_stop.wait(), _STATS_EVERY)


async def serve(config: Config, *, ready: Callable[[App], None] | None = None) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads the tables."""
    app = App(config)
    try:
        await app.start()
    except BaseException:
        await app.stop(drain=1.0)       # what did start (converters, listeners) ends again
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, app.reload)
    print(f"x400bridge serving: SMTP {config.smtp_in.listen.host}:{app.smtp_port} "
          f"P1 {config.x400.listen.host}:{app.p1_port}"
          + (f" metrics :{app.metrics_port}" if app.metrics_port else ""), flush=True)
    if ready is not None:
        ready(app)
    await stop.wait()
    await app.stop()
    return 0
