"""Extra SMTP intake processes: more CPUs for taking mail in (``[smtp.in] processes``).

Python runs one thread at a time, and SMTP intake (aiosmtpd parsing, RCPT mapping, the queue
commit) is most of the gateway's CPU per message.  With ``processes = N`` the gateway process
listens with SO_REUSEPORT and spawns N - 1 processes that listen on the same port (the kernel
spreads connections between them).  Each runs the same aiosmtpd handler with its own address
mapper and routes, and commits into the same SQLite queue (WAL: one writer at a time, readers
never blocked; ``busy_timeout`` waits for the lock) -- "250" still only after the commit.  After
each message it queued it sends one datagram to the gateway process, which wakes its delivery
workers and counts the message in its metrics.
They never claim or deliver: the gateway process alone does (so its start-up lease release
stays safe).  They die with the gateway (PR_SET_PDEATHSIG), stop on SIGTERM after the
transactions in flight, and reload the tables on SIGHUP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from bridge.config import Config
from bridge.errors import BridgeError
from bridge.gateway.commit import QueueWriter
from bridge.gateway.routing import rcpt_decision
from bridge.gateway.wiring import inbound_settings, router_for
from bridge.queue.api import open_queue
from bridge.queue.model import Submission
from bridge.smtp.server import RcptDecision

log = logging.getLogger("x400bridge.intake")

_DIRECTIONS = {b"x": "to-x400", b"s": "to-smtp"}


def picklable(config: Config) -> Config:
    """The config with its read-only mapping proxies turned into dicts (for spawn)."""
    return dataclasses.replace(
        config, smtp_in=dataclasses.replace(config.smtp_in, auth=dict(config.smtp_in.auth)),
        x400=dataclasses.replace(config.x400, peers=dict(config.x400.peers)))


class Intake:
    """One intake process: handler, router, queue writer (no delivery)."""

    def __init__(self, config: Config, notify_port: int) -> None:
        self.config = config
        self.queue = open_queue(config.queue.backend, path=config.queue.path, create=False)
        self.writer = QueueWriter(self.queue, log)
        self.router = router_for(config)
        self._notify = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._notify_to = ("127.0.0.1", notify_port)

    async def check_recipient(self, address: str) -> RcptDecision:
        return await rcpt_decision(self.router, address)

    async def submit(self, sub: Submission) -> str:
        # which process took it (logs, `queue show`)
        sub = dataclasses.replace(sub, meta={**sub.meta, "intake": os.getpid()})
        message_id = await self.writer.submit(sub)                # logs "queued ..."
        try:
            self._notify.sendto(b"x" if sub.direction == "to-x400" else b"s", self._notify_to)
        except OSError:
            pass                          # the gateway polls the queue anyway
        return message_id

    def reload(self) -> None:
        try:
            self.router = router_for(self.config)
        except BridgeError as exc:
            log.error("reload failed, keeping the old tables: %s", exc)


async def _serve(config: Config, port: int, notify_port: int) -> None:
    from bridge.smtp.server import InboundHandler, start_server

    intake = Intake(config, notify_port)
    handler = InboundHandler(inbound_settings(config), check_recipient=intake.check_recipient,
                             submit=intake.submit,
                             message_limits=config.gateway.message_limits)
    server = await start_server(handler, config.smtp_in.listen.host, port, reuse_port=True)
    intake._notify.sendto(b"r", intake._notify_to)          # listening: tell the gateway
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, intake.reload)
    await stop.wait()
    await server.close()
    intake.writer.close()
    intake.queue.close()


def intake_main(config: Config, port: int, notify_port: int) -> None:
    """Entry point of a spawned intake process."""
    from bridge.gateway.logs import setup_logging
    from bridge.procutil import die_with_parent

    die_with_parent()
    setup_logging(config)
    asyncio.run(_serve(config, port, notify_port))


class Notifications(asyncio.DatagramProtocol):
    """The gateway side: a datagram per message an intake process queued wakes its workers
    and is counted by ``accepted(direction)`` (the gateway's accepted-messages metric; a
    datagram on loopback, so a count, not a record: the queue is the record)."""

    def __init__(self, wake: dict[str, asyncio.Event], expected: int,
                 accepted: Callable[[str], None] = lambda direction: None) -> None:
        self.wake = wake
        self.expected = expected
        self.accepted = accepted
        self.all_ready = asyncio.Event()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if data[:1] == b"r":                  # an intake process is listening
            self.expected -= 1
            if self.expected <= 0:
                self.all_ready.set()
            return
        direction = _DIRECTIONS.get(data[:1])
        if direction is not None:
            self.wake[direction].set()
            self.accepted(direction)


def spawn(config: Config, port: int, notify_port: int, count: int) -> list[BaseProcess]:
    """Start ``count`` intake processes on ``port``."""
    ctx = multiprocessing.get_context("spawn")
    procs: list[BaseProcess] = []
    for n in range(count):
        proc = ctx.Process(target=intake_main, args=(picklable(config), port, notify_port),
                           name=f"x400bridge-intake-{n + 1}", daemon=True)
        proc.start()
        procs.append(proc)
    return procs
