"""The rig of bench/gateway.py: a gateway process, the remote MTA it transfers to, the config.

* :func:`write_config` writes a strict TOML config (docs/config.md) with its own mapping tables
  (RFC 2156 App F: ``x400.example`` <-> ``O=acme PRMD=acme ADMD=" " C=gb``), an X.400 route of
  that prefix to the P1 peer ``remote``, SMTP and RFC 1006 on loopback ports chosen by the
  kernel (``listen = "127.0.0.1:0"``), no metrics endpoint.
* :class:`GatewayProcess` runs ``python -m bridge serve --config FILE`` and reads the ports from
  its ready line ``x400bridge serving: SMTP host:port P1 host:port``; stop() sends SIGTERM (the
  gateway drains) and kills it if the drain outlasts a bound.
* :class:`RemoteMTA` is the store callback of our own :class:`~bridge.x400.shell.Responder`
  playing the remote MTA: the responder calls it before it confirms the transfer (S-ACTIVITY-END
  response, X.228 §7.4 / X.411 §12.2.1.1), so the time it records is the time the P1 transfer was
  confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bridge.x400.peers import LocalMTA, Peer, PeerTable
from bridge.x400.shell import Responder, ResponderLimits

ROOT = Path(__file__).resolve().parent.parent

DOMAIN = "x400.example"
TABLE2 = f"{DOMAIN}#O$acme.PRMD$acme.ADMD$ .C$gb#\n"         # domain -> O/R (RFC 2156 App F)
TABLE1 = f"O$acme.PRMD$acme.ADMD$ .C$gb#{DOMAIN}#\n"         # O/R -> domain
ROUTES = "O$acme.PRMD$acme.ADMD$ .C$gb#remote#\n"            # O/R prefix -> P1 peer
GATEWAY_MTA = ("gateway", "gwpw")                              # (MTA name, password)
REMOTE_MTA = ("remote", "rpw")

READY = re.compile(r"x400bridge serving: SMTP (\S+):(\d+) P1 (\S+):(\d+)")
START_TIMEOUT = 60.0     # seconds for the gateway to print its ready line
STOP_TIMEOUT = 20.0      # seconds for SIGTERM's drain before SIGKILL


def write_config(directory: Path, *, remote_port: int, smarthost_port: int, workers: int,
                 log_level: str, smtp_processes: int = 1, dsn: str | None = None,
                 node_id: str | None = None) -> Path:
    """The gateway's config file (and its tables and routes) under ``directory``.

    ``smarthost_port``: where mail for the Internet goes (the X.400 -> SMTP phase's Postfix).
    ``dsn``: the queue on PostgreSQL (``[queue] backend = "postgresql"``), else SQLite in
    ``directory``/var; ``node_id``: ``[gateway] node-id`` (nodes sharing one queue).
    """
    node = f'node-id = "{node_id}"\n' if node_id else ""
    backend = f'backend = "postgresql"\ndsn = "{dsn}"\n' if dsn else ""
    tables = directory / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for name, text in (("table1", TABLE1), ("table2", TABLE2), ("gate1", ""), ("gate2", "")):
        (tables / name).write_text(text)
    (directory / "routes.txt").write_text(ROUTES)
    config = directory / "gateway.toml"
    config.write_text(f"""\
[gateway]
{node}domain = "gw.example"
or-address = "/O=gateway/PRMD=bridge/ADMD= /C=GB/"
tables = "tables"
state-dir = "var"

[smtp.in]
listen = "127.0.0.1:0"
relay-networks = ["127.0.0.0/8"]
processes = {smtp_processes}

[smtp.out]
smarthost = "127.0.0.1:{smarthost_port}"
timeout = 10

[x400]
listen = "127.0.0.1:0"
name = "{GATEWAY_MTA[0]}"
password = "{GATEWAY_MTA[1]}"
routes = "routes.txt"

[x400.peers.remote]
mta-name = "{REMOTE_MTA[0]}"
password = "{REMOTE_MTA[1]}"
host = "127.0.0.1"
port = {remote_port}
timeout = 30

[queue]
{backend}workers = {workers}

[metrics]
listen = ""

[log]
level = "{log_level}"
""")
    return config


class GatewayProcess:
    """``python -m bridge serve --config FILE`` as a child process (stderr to ``log_file``)."""

    def __init__(self, config: Path, log_file: Path) -> None:
        self.config = config
        self.log_file = log_file
        self.proc: asyncio.subprocess.Process | None = None
        self.smtp_port = 0
        self.p1_port = 0

    async def start(self) -> None:
        """Start it and wait for its ready line; RuntimeError (with its log) if none comes."""
        with self.log_file.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bridge", "serve", "--config", str(self.config),
                cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=log)
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            line = b""
        match = READY.search(line.decode(errors="replace"))
        if match is None:
            raise RuntimeError(f"the gateway did not come up (printed {line!r})\n"
                               f"--- gateway log (tail) ---\n{self.log_tail()}")
        self.smtp_port, self.p1_port = int(match[2]), int(match[4])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self) -> int | None:
        """SIGTERM, wait for the drain (bounded), SIGKILL if it outlasts it; the exit status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


def tree_cpu_seconds(pid: int, *, descendants: bool = True) -> float:
    """User + system CPU seconds of process ``pid`` and (unless not ``descendants``) its live
    descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue                      # gone meanwhile
        child = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(child)
        cpu[child] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    if not descendants:
        return cpu.get(pid, 0.0)
    while todo:
        current = todo.pop()
        total += cpu.get(current, 0.0)
        todo.extend(children.get(current, ()))
    return total


_FIRST = "SELECT MIN(created) FROM messages WHERE direction = 'to-x400' AND created >= ?"


def first_accept(queue_db: Path | str, *, since: float) -> float | None:
    """Wall-clock time of the first to-x400 message the gateway queued at or after ``since``.

    The queue stamps ``messages.created`` with time.time() inside the transaction that makes the
    entry durable, before the "250" (RFC 5321 §4.1.1.4); read-only, beside the running gateway
    (WAL readers do not block the writer).  ``queue_db``: the SQLite file, or the DSN
    (``postgresql://...``) of a queue on PostgreSQL.
    """
    if isinstance(queue_db, str):
        import psycopg

        with psycopg.connect(queue_db, autocommit=True, connect_timeout=10) as pg:
            got = pg.execute(_FIRST.replace("?", "%s"), (since,)).fetchone()
    else:
        conn = sqlite3.connect(f"file:{queue_db}?mode=ro", uri=True, timeout=10)
        try:
            got = conn.execute(_FIRST, (since,)).fetchone()
        finally:
            conn.close()
    return None if got is None or got[0] is None else float(got[0])


class RemoteMTA:
    """The store callback of the remote MTA: counts transfers and times the tagged ones.

    ``tag`` is a bytes regex with one group; a transfer whose bytes match it is recorded under
    that group (the tag survives RFC 2156 conversion because it is plain ASCII in the Subject,
    which becomes the IPM subject, X.420 §7.2.19).  Runs on the event loop's thread only.
    """

    def __init__(self, tag: re.Pattern[bytes]) -> None:
        self.tag = tag
        self.count = 0
        self.confirmed: list[float] = []            # time.time() of every transfer
        self.tagged: dict[str, float] = {}          # tag -> time.time()
        self.duplicates = 0
        self.sample: bytes | None = None
        self.changed = asyncio.Event()

    async def __call__(self, apdu: bytes, peer: Peer) -> None:
        now = time.time()
        self.count += 1
        self.confirmed.append(now)
        if self.sample is None:
            self.sample = apdu
        match = self.tag.search(apdu)
        if match is not None:
            key = match[1].decode("ascii")
            if key in self.tagged:
                self.duplicates += 1
            else:
                self.tagged[key] = now
        self.changed.set()

    async def wait(self, done: Callable[[], bool], timeout: float,
                   abort: Callable[[], str | None] = lambda: None) -> None:
        """Until ``done()``; TimeoutError after ``timeout`` s, RuntimeError when ``abort()``
        names a reason (checked at least every second)."""
        deadline = time.monotonic() + timeout
        while not done():
            reason = abort()
            if reason is not None:
                raise RuntimeError(reason)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.count} transfers after {timeout:.0f} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))


async def remote_responder(store: Callable[[bytes, Peer], Awaitable[None]]) -> Responder:
    """Our P1 responder on a free loopback port, accepting the gateway's MTA-bind only."""
    table = PeerTable(local=LocalMTA(name=REMOTE_MTA[0], password=REMOTE_MTA[1]), peers={
        "gateway": Peer(key="gateway", mta_name=GATEWAY_MTA[0], password=GATEWAY_MTA[1])})
    # every gateway of a run (up to four) connects from 127.0.0.1 with one association per
    # worker: more than the default limit per address
    responder = Responder(table, store, limits=ResponderLimits(max_per_address=200,
                                                               max_associations=200))
    await responder.start("127.0.0.1", 0)
    return responder
