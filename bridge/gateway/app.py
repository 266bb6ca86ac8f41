"""``x400bridge serve``: the gateway process -- wiring, lifecycle, signals.

Built from one :class:`~bridge.config.Config` (no globals): the queue, the address mapper and
routes, the conversion context, the SMTP server (aiosmtpd handler) and client, the P1 responder,
the file spool, the delivery and report workers, the metrics endpoint.

Lifecycle: SIGTERM/SIGINT drain -- stop accepting (SMTP server and P1 responder close), finish
the transfers in flight, give unstarted claims back to the queue, release associations;
SIGHUP reloads the mapping tables and the X.400 routes without a restart (and drops the
mapper's memo, so RFC 2163 DNS answers are looked up afresh).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.codec import decode_apdu
from bridge.config import Config, GatewayConfig
from bridge.convert.context import Context
from bridge.errors import BridgeError, ConfigError
from bridge.gateway.core import Gateway
from bridge.gateway.metrics import Metrics
from bridge.gateway.routing import Router, X400Routes
from bridge.mapping.address import AddressMapper, GatewayIdentity
from bridge.mapping.tables import mapping_source
from bridge.model.common import GlobalDomainIdentifier
from bridge.queue.types import QueueGone
from bridge.x400.peers import Peer
from bridge.x400.shell import Responder

log = logging.getLogger("x400bridge.gateway")

_SPOOL_PEER = Peer(key="spool", mta_name="spool")
_STATS_EVERY = 5.0
_KEEP_FINISHED = 7 * 86400.0        # seconds a finished message stays for `queue show`


def mapper_for(g: GatewayConfig) -> AddressMapper:
    """RFC 2156 App F tables (+ RFC 2163 DNS when configured) and the gateway identity."""
    dns = (g.dns_server.host, g.dns_server.port) if g.dns_server is not None else None
    source = mapping_source(g.tables_dir, dns)
    return AddressMapper(source, GatewayIdentity(domain=g.domain, or_address=g.or_address))


def context_for(g: GatewayConfig, mapper: AddressMapper) -> Context:
    """The conversion context of the gateway described by ``[gateway]``."""
    o = g.or_address
    return Context(mapper=mapper, now=datetime.now(UTC), postmaster=g.postmaster,
                   mta_name=g.domain,
                   domain_id=GlobalDomainIdentifier(country=o.country or "XX",
                                                    admd=o.admd if o.admd is not None else " ",
                                                    prmd=o.prmd),
                   policy=g.mapping_policy, limits=g.message_limits)


def router_for(config: Config, mapper: AddressMapper | None = None) -> Router:
    """RCPT decisions and X.400 routes from the configured tables (read now)."""
    return Router(mapper or mapper_for(config.gateway), X400Routes.load(config.x400.routes_file),
                  peers=frozenset(config.x400.peers))


def inbound_settings(config: Config) -> Any:
    """The SMTP server settings of ``[smtp.in]`` (every key, limits included)."""
    from bridge.smtp.server import InboundSettings

    return InboundSettings.from_config(config.smtp_in)


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
        from bridge.queue.api import open_queue
        from bridge.queue.types import RetryPolicy
        from bridge.smtp.client import OutboundSettings, deliver
        from bridge.x400.spool import Spool

        self.config = config
        q = config.queue
        if q.backend.backend == "sqlite":
            try:
                q.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"queue.path: cannot create {q.path.parent}: "
                                  f"{exc.strerror or exc}") from exc
        self.queue = open_queue(q.backend, path=q.path, retry=RetryPolicy(
            initial=q.retry_initial, factor=q.retry_factor, maximum=q.retry_max,
            expire_after=q.expire_after, delay_warning=q.delay_warning or None))
        self.metrics = Metrics()
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
        from bridge.gateway.convertpool import Converter

        self.converter = Converter(config.gateway, context,
                                   processes=config.queue.convert_processes,
                                   memory_limit=config.queue.convert_memory,
                                   max_crashes=config.queue.convert_max_failures)
        self.gateway = Gateway(queue=self.queue, router=self.router,
                               context=context, peers=self.peers, converter=self.converter,
                               spool=Spool(config.x400.spool), smtp_out=outbound,
                               deliver_smtp=deliver, reporting_mta=config.smtp_in.hostname,
                               metrics=self.metrics)
        self.smtp: Any = None
        self.responder: Responder | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.smtp_port = 0
        self.p1_port = 0
        self.metrics_port = 0
        self._lock_file: Any = None
        self.intake: list[Any] = []
        self._notify: Any = None

    def _lock_queue(self) -> None:
        """One gateway per queue (it releases every lease at start): an exclusive flock on
        ``<queue>.lock``, held for the life of the process (the kernel drops it on kill -9)."""
        import fcntl

        if self.config.queue.backend.backend != "sqlite":
            return          # a shared database: several gateways are the point (issue 15)
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
        self._lock_queue()
        compile_now()                       # the P1 endpoint's codecs, before we serve
        await self.converter.start()
        # one gateway per SQLite file (the lock above): what it had claimed is its own.  On a
        # shared PostgreSQL queue the leases of other nodes are not ours: they expire instead
        released = await asyncio.to_thread(self.queue.release_leases) \
            if c.queue.backend.backend == "sqlite" else 0
        if released:
            log.warning("released %d claim(s) left by a previous run; they go out again now "
                        "(a transfer that was confirmed but not recorded is sent twice)",
                        released)
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
        self.tasks.append(loop.create_task(self._spool_in()))
        self.tasks.append(loop.create_task(self._stats()))
        log.info("gateway up: SMTP %s:%d, P1 %s:%d, queue %s", s.listen.host, self.smtp_port,
                 c.x400.listen.host, self.p1_port, c.queue.path)

    async def _start_intake(self, count: int) -> None:
        from bridge.gateway.intake import Notifications, spawn

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
        await asyncio.to_thread(self.gateway.writer.close)
        self.metrics.close()
        await self.converter.aclose()
        self.queue.close()
        if self._lock_file is not None:
            self._lock_file.close()
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
        (log.debug if quiet else log.info)("mapping tables and routes reloaded")

    async def _spool_in(self) -> None:
        """Files an MTA (or `x400bridge x400 listen`) left in the spool's in/ folder."""
        spool = self.gateway.spool
        while not self.gateway._stopping:
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
                await self.gateway._sleep("spool")

    async def _stats(self) -> None:
        rounds = 0
        while not self.gateway._stopping:
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
                if rounds % 720 == 0:             # hourly: forget finished messages after 7 d
                    await asyncio.to_thread(self.queue.purge, older_than=_KEEP_FINISHED)
            if rounds and rounds % 60 == 0 and self.config.gateway.dns_server is not None:
                # every 5 minutes: the mapper memoises, so RFC 2163 answers would otherwise
                # outlive their DNS TTL -- a fresh mapper looks them up again
                self.reload(quiet=True)
            rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gateway.wake_stop.wait(), _STATS_EVERY)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (the message id is in it)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"time": self.formatTime(record), "level": record.levelname.lower(),
                           "logger": record.name, "message": record.getMessage()})


def setup_logging(config: Config) -> None:
    """Our handler and level on the ``x400bridge`` loggers.  The log records need no caller,
    thread or process fields (the formats above use none), so they are not collected: the
    logging HOWTO's "Optimization" switches -- a gateway logs a line or two per message."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if config.log.format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("x400bridge")
    root.handlers[:] = [handler]
    root.setLevel(config.log.level.upper())


async def serve(config: Config, *, ready: Any = None) -> int:
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
