"""Process-level harness for the gateway: ``x400bridge serve`` as a child process.

* :func:`write_config` writes a config file (TOML), its mapping tables and X.400 routes: the
  gateway's own domain ``gw.example``, ``x400.example`` mapped to an X.400 organisation routed to
  the peer ``remote`` (RFC 2156 App F ``table1`` / ``table2``), SMTP / P1 / metrics on port 0.
* :class:`RemoteMTA` plays the remote X.400 MTA: our own P1 responder
  (:class:`bridge.x400.shell.Responder`) on an event loop of its own thread, storing every MTS-APDU
  it confirms (X.411 §12.2.1.1: the transfer is confirmed only after the callback returned).
  It can *hold* transfers (the gateway is then mid-transfer) and let them go or refuse them.
* :class:`GatewayProcess` starts ``python -m bridge serve --config FILE``, learns its ports from
  the "x400bridge serving: ..." line, and signals or kills it.
* :func:`send_message` is the SMTP client (smtplib); :func:`fingerprint` turns a delivered
  MTS-APDU back into the test's token and a hash of the IPM body text.

Every wait is bounded: a deadline or a timeout, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import queue
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import default as DEFAULT_POLICY
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client.parser import text_string_to_metric_families

from bridge.codec import decode_apdu, decode_content
from bridge.model.apdu import Message
from bridge.model.ipm import IPM, IA5TextBodyPart
from bridge.x400.peers import LocalMTA, Peer, PeerTable
from bridge.x400.shell import Responder

ROOT = Path(__file__).resolve().parent.parent

SENDER = "alice@internet.example"
RECIPIENT = "John.Smith@x400.example"
X400_SENDER = RECIPIENT                    # the other way round: from X.400 to the Internet
INTERNET_RECIPIENT = SENDER
#: RFC 2156 App F tables: domain -> O/R (table2) and O/R -> domain (table1)
TABLE2 = "x400.example#O$acme.PRMD$acme.ADMD$ .C$gb#\n"
TABLE1 = "O$acme.PRMD$acme.ADMD$ .C$gb#x400.example#\n"
#: the whole PRMD goes to the peer "remote" (bridge/gateway/routing.py syntax)
ROUTES = "PRMD$acme.ADMD$ .C$gb#remote#\n"

_READY = re.compile(r"x400bridge serving: SMTP (\S+):(\d+) P1 (\S+):(\d+)(?: metrics :(\d+))?")
_TOKEN = re.compile(r"token=(\S+)")


def wait_until(cond: Callable[[], bool], *, timeout: float, what: str,
               interval: float = 0.05) -> None:
    """Poll ``cond`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------------------ config

def _toml(value: object) -> str:
    """A TOML value: JSON strings, booleans, integers and arrays are TOML too."""
    return json.dumps(value)


def write_tables(tables: Path, *, table2: str = TABLE2, table1: str = TABLE1) -> None:
    """Write the four App F tables, each atomically (a reload never sees half a file)."""
    tables.mkdir(parents=True, exist_ok=True)
    for name, text in (("table1", table1), ("table2", table2), ("gate1", ""), ("gate2", "")):
        tmp = tables / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, tables / name)


def write_config(folder: Path, *, remote_port: int, workers: int = 2, metrics: bool = False,
                 relay_networks: Sequence[str] = ("127.0.0.0/8",),
                 table2: str = TABLE2, smarthost_port: int = 1,
                 extra: Mapping[str, Mapping[str, object]] | None = None) -> Path:
    """The gateway's config file in ``folder`` (relative paths are relative to it).

    ``extra`` adds keys to sections, e.g. ``{"queue": {"backend": "postgresql"}}`` (a
    section this function does not write is appended)."""
    write_tables(folder / "tables", table2=table2)
    (folder / "routes.txt").write_text(ROUTES, encoding="utf-8")
    lines = [
        "[gateway]",
        'domain = "gw.example"',
        'or-address = "/O=gateway/PRMD=bridge/ADMD= /C=GB/"',
        'tables = "tables"',
        'state-dir = "var"',
        "[smtp.in]",
        'listen = "127.0.0.1:0"',
        f"relay-networks = {_toml(list(relay_networks))}",
        'timeout = "30s"',
        "[smtp.out]",
        f'smarthost = "127.0.0.1:{smarthost_port}"',
        "timeout = 5",
        "[x400]",
        'listen = "127.0.0.1:0"',
        'name = "gateway"',
        'password = "gwpw"',
        'routes = "routes.txt"',
        "[x400.peers.remote]",
        'mta-name = "remote"',
        'password = "rpw"',
        'host = "127.0.0.1"',
        f"port = {remote_port}",
        "timeout = 10",
        "[queue]",
        'retry-initial = "1s"',
        'retry-max = "2s"',
        f"workers = {workers}",
        "[metrics]",
        f"listen = {_toml('127.0.0.1:0' if metrics else '')}",
        "[log]",
        'level = "info"',
    ]
    for section, keys in (extra or {}).items():
        header = f"[{section}]"
        if header not in lines:
            lines.append(header)
        at = lines.index(header) + 1
        lines[at:at] = [f"{key} = {_toml(value)}" for key, value in keys.items()]
    path = folder / "gateway.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ the far ends

class _LoopServer:
    """A server on an event loop of its own thread; what it receives is kept under a
    condition variable so the test can wait for it (bounded) without sleeping."""

    name = "server"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._port = 0
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self._port

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._started.wait(30):
            raise AssertionError(f"{self.name} did not start")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:   # reported to __enter__ (or lost at shutdown)
            self._error = exc
            self._started.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._port = await self._listen()
        self._started.set()
        await self._stop.wait()
        await self._close()

    async def _listen(self) -> int:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    def _call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the server's loop and wait (bounded) until it ran."""
        assert self._loop is not None
        done = threading.Event()

        def run() -> None:
            fn()
            done.set()
        self._loop.call_soon_threadsafe(run)
        if not done.wait(10):
            raise AssertionError(f"{self.name} loop did not answer")

    def wait(self, cond: Callable[[Self], bool], *, timeout: float, what: str) -> None:
        """Wait (on the condition variable, bounded) until ``cond(self)`` holds."""
        with self._cond:
            if not self._cond.wait_for(lambda: cond(self), timeout):
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class RemoteMTA(_LoopServer):
    """The remote X.400 MTA (peer "remote", binding the gateway as "gateway"/"gwpw").

    ``apdus`` are the MTS-APDUs whose transfer it confirmed, in order.  :meth:`hold` makes the
    following transfers wait (``held`` counts those waiting) until :meth:`let_go`, which stores
    them, or :meth:`refuse`, which aborts them unstored (the association is aborted, X.228).
    """

    name = "remote-mta"

    def __init__(self) -> None:
        super().__init__()
        self.apdus: list[bytes] = []
        self.held = 0
        self._gate: asyncio.Event | None = None
        self._refuse = False
        self._responder: Responder | None = None

    async def _listen(self) -> int:
        table = PeerTable(local=LocalMTA(name="remote", password="rpw"), peers={
            "gateway": Peer(key="gateway", mta_name="gateway", password="gwpw")})
        self._responder = Responder(table, self._on_apdu)
        await self._responder.start("127.0.0.1", 0)
        return self._responder.port

    async def _close(self) -> None:
        if self._gate is not None:
            self._gate.set()
        assert self._responder is not None
        await self._responder.close(drain=2)

    async def _on_apdu(self, apdu: bytes, peer: Peer) -> None:
        gate = self._gate
        if gate is not None:
            with self._cond:
                self.held += 1
                self._cond.notify_all()
            await gate.wait()
            if self._refuse:
                raise OSError("remote MTA: transfer refused by the test")
        with self._cond:
            self.apdus.append(apdu)
            self._cond.notify_all()

    def hold(self) -> None:
        """Transfers from now on wait for :meth:`let_go` or :meth:`refuse`."""
        def arm() -> None:
            self._refuse = False
            self._gate = asyncio.Event()
        self._call(arm)

    def _open(self, refuse: bool) -> None:
        def go() -> None:
            self._refuse = refuse
            if self._gate is not None:
                self._gate.set()
                self._gate = None
        self._call(go)

    def let_go(self) -> None:
        """Store and confirm the held transfers (and take later ones at once)."""
        self._open(False)

    def refuse(self) -> None:
        """Abort the held transfers without storing them; later ones are taken at once."""
        self._open(True)

    def snapshot(self) -> list[bytes]:
        with self._cond:
            return list(self.apdus)


class SMTPSink(_LoopServer):
    """The Internet side (the gateway's smarthost): an aiosmtpd server that takes every
    message and keeps its octets (``messages``, in order of the 250 replies)."""

    name = "smtp-sink"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def _listen(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="sink.test", loop=loop), "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd handler hook: the message is "delivered" when we answer 250."""
        with self._cond:
            self.messages.append(envelope.original_content or b"")
            self._cond.notify_all()
        return "250 2.0.0 Ok"

    def snapshot(self) -> list[bytes]:
        with self._cond:
            return list(self.messages)


# ------------------------------------------------------------------------------ the gateway

@dataclass(frozen=True, slots=True, kw_only=True)
class Ports:
    smtp: int
    p1: int
    metrics: int | None


class GatewayProcess:
    """``x400bridge serve --config FILE`` as a child process (stderr appended to ``log``)."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.ports: Ports | None = None
        self.starts = 0
        self._stderr: IO[str] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.kill()

    def start(self, *, timeout: float = 60.0) -> Ports:
        """Start ``serve`` and wait (bounded) for its ready line."""
        assert self.proc is None, "already running"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
        self._stderr = self.log.open("a", encoding="utf-8")
        self._stderr.write(f"==== start {self.starts}\n")
        self._stderr.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve", "--config", str(self.config)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            cwd=self.config.parent, env=env, text=True)
        self.starts += 1
        lines: queue.Queue[str | None] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)
        self._reader = threading.Thread(target=read, name="serve-stdout", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(
                    f"serve not ready after {timeout:g} s\n{self.log_text()}") from None
            if line is None:
                rc = self.proc.wait(10)
                self._reap()
                raise AssertionError(f"serve exited with {rc} before it was ready\n"
                                     f"{self.log_text()}")
            match = _READY.search(line)
            if match:
                self.ports = Ports(smtp=int(match[2]), p1=int(match[4]),
                                   metrics=int(match[5]) if match[5] else None)
                return self.ports

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit (bounded); its exit status."""
        assert self.proc is not None
        rc = self.proc.wait(timeout)
        self._reap()
        return rc

    def kill(self) -> None:
        """SIGKILL (kill -9) and reap; nothing if not running."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        self._reap()

    def _reap(self) -> None:
        if self._reader is not None:
            self._reader.join(10)
            self._reader = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.proc = None

    def log_text(self, tail: int = 8000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(encoding="utf-8", errors="replace")[-tail:]
        return ""


# ------------------------------------------------------------------------------ traffic

def make_message(token: str, *, sender: str = SENDER, to: str = RECIPIENT,
                 payload: str = "") -> bytes:
    """An RFC 5322 message whose body carries ``token`` (its Message-ID is built from it)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"crash test {token}"
    msg["Message-ID"] = f"<{token}@client.test>"
    msg.set_content(f"token={token}\n{payload}\n")
    return msg.as_bytes(policy=SMTP_POLICY)


def body_hash(text: str) -> str:
    """SHA-256 of a body text with line ends normalised (CRLF on the X.400 side)."""
    return hashlib.sha256(text.replace("\r\n", "\n").strip().encode()).hexdigest()


def sent_fingerprint(token: str, payload: str = "") -> str:
    """The body hash :func:`fingerprint` finds for a message made by :func:`make_message`."""
    return body_hash(f"token={token}\n{payload}\n")


def send_message(port: int, data: bytes, *, to: str = RECIPIENT, timeout: float = 15.0) -> bool:
    """One SMTP transaction; True only when DATA got a 250 (the message is accepted)."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
            refused = client.sendmail(SENDER, [to], data)
    except (smtplib.SMTPException, OSError):
        return False          # refused, reset, timed out, or not listening: not accepted
    return not refused


def rcpt_reply(port: int, to: str, *, timeout: float = 15.0) -> tuple[int, bytes]:
    """The reply to ``RCPT TO:<to>`` (the transaction is then reset)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
        client.ehlo("client.test")
        client.mail(SENDER)
        reply = client.rcpt(to)
        client.rset()
        return reply


def fingerprint(apdu: bytes) -> tuple[str, str]:
    """(token, body hash) of a delivered MTS-APDU carrying an IPM (X.411 / X.420 §7)."""
    message = decode_apdu(apdu)
    assert isinstance(message, Message), f"not a message: {type(message).__name__}"
    ipm = decode_content(message.content)
    assert isinstance(ipm, IPM), f"not an IPM: {type(ipm).__name__}"
    text = "".join(p.text for p in ipm.body if isinstance(p, IA5TextBodyPart))
    match = _TOKEN.search(text)
    assert match is not None, f"no token in {text!r}"
    return match[1], body_hash(text)


def mime_fingerprint(data: bytes) -> tuple[str, str]:
    """(token, body hash) of a message the SMTP sink received (RFC 5322, text/plain body)."""
    msg = message_from_bytes(data, policy=DEFAULT_POLICY)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(("plain",))
    assert part is not None, f"no text/plain body in {data[:300]!r}"
    text = part.get_content()
    match = _TOKEN.search(text)
    assert match is not None, f"no token in {text!r}"
    return match[1], body_hash(text)


def metrics_samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics: sample name and sorted labels -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out

