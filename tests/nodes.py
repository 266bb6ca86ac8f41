"""Several ``x400bridge serve`` nodes on one PostgreSQL queue (issue 15): the rig of
tests/test_failover.py and tests/test_pg_restart.py.

* :func:`accepts_key` tells whether this gateway knows a config key (``[gateway] node-id``,
  ``[queue] lease`` arrive with other slices of issue 15): the config is loaded in this
  process and an "unknown key" error for exactly that key means no.
* :class:`Nodes` runs N gateways (tests/gateway_proc.py :class:`GatewayProcess`) with the
  same config apart from their folders, ports and node ids, all on one queue database; each
  can be killed (kill -9) and started again.  Every process is killed on the way out.
* :func:`internet_side` is where mail for the Internet goes: a real Postfix delivering to a
  Maildir (PEERS.md), or our SMTP sink when Postfix is missing here (in CI, where
  ``X400BRIDGE_REQUIRE_ORACLES=1``, a missing Postfix fails the test instead).
* :class:`Traffic` is one SMTP load (to an X.400 recipient) and one P1 load (a remote MTA
  transferring X.400 messages for an Internet recipient) per node, the load threads of
  tests/test_gateway_process.py; a message counts as accepted only on a "250" to DATA or a
  confirmed transfer (X.411 §12.2.1.1).
* :class:`QueueView` reads the shared queue beside the nodes (leases, depth);
  :func:`check_deliveries` is the verdict: every accepted message delivered with its own
  content, nothing invented, duplicates counted.

Every wait is bounded; servers listen on loopback only.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import smtplib
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg

from bridge.codec import encode_apdu
from bridge.config import load_config
from bridge.convert.context import Context
from bridge.convert.to_x400 import mime_to_x400
from bridge.errors import BridgeError, ConfigError
from bridge.gateway.wiring import context_for, mapper_for
from bridge.x400.peers import LocalMTA, Peer
from bridge.x400.shell import Association, Timeouts
from tests.gateway_proc import (
    INTERNET_RECIPIENT,
    RECIPIENT,
    SENDER,
    X400_SENDER,
    GatewayProcess,
    Ports,
    RemoteMTA,
    SMTPSink,
    fingerprint,
    make_message,
    mime_fingerprint,
    wait_until,
    write_config,
)
from tests.oracle import fail_in_ci
from tests.postfix import Postfix, free_port, instance_root, postfix_unavailable
from tests.test_gateway_process import Load, P1Load, SMTPLoad

NAMES = "abcdefgh"


@functools.cache
def accepts_key(section: str, key: str, value: str | int) -> bool:
    """Does this gateway's config know ``[section] key`` (with ``value``)?"""
    with tempfile.TemporaryDirectory(prefix="x400bridge-keyprobe-") as tmp:
        config = write_config(Path(tmp), remote_port=1, extra={section: {key: value}})
        try:
            load_config(config)
        except ConfigError as exc:
            if f"{section}.{key}" in str(exc):
                return False
            raise
    return True


# ------------------------------------------------------------------------------ the nodes

class Nodes:
    """``count`` gateways on the PostgreSQL queue ``dsn``, in ``base``/node-a, node-b, ...

    ``lease`` (seconds) goes to ``[queue] lease`` when the gateway knows the key
    (:attr:`lease` is then that figure, else None: the default lease of 600 s applies).
    """

    def __init__(self, base: Path, *, dsn: str, remote_port: int, smarthost_port: int,
                 count: int = 2, workers: int = 2, lease: float | None = None) -> None:
        self.names = NAMES[:count]
        self.workers = workers
        self.lease = lease if lease is not None and accepts_key("queue", "lease",
                                                               f"{lease:g}s") else None
        self.node_ids = accepts_key("gateway", "node-id", "a")
        self.procs: dict[str, GatewayProcess] = {}
        self.ports: dict[str, Ports] = {}
        for name in self.names:
            queue: dict[str, object] = {"backend": "postgresql", "dsn": dsn}
            if self.lease is not None:
                queue["lease"] = f"{self.lease:g}s"
            extra: dict[str, Mapping[str, object]] = {"queue": queue}
            if self.node_ids:
                extra["gateway"] = {"node-id": name}
            folder = base / f"node-{name}"
            folder.mkdir(parents=True)
            config = write_config(folder, remote_port=remote_port, workers=workers,
                                  smarthost_port=smarthost_port, extra=extra)
            self.procs[name] = GatewayProcess(config, folder / "serve.log")

    def __enter__(self) -> Nodes:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            proc.kill()

    def context(self) -> Context:
        """The conversion context of the nodes (a P1 load makes its messages with it)."""
        config = load_config(next(iter(self.procs.values())).config)
        return context_for(config.gateway, mapper_for(config.gateway))

    def start(self, name: str) -> Ports:
        self.ports[name] = self.procs[name].start()
        return self.ports[name]

    def start_all(self) -> dict[str, Ports]:
        """Start every node at once (each start is bounded)."""
        with ThreadPoolExecutor(max_workers=len(self.names)) as pool:
            return dict(zip(self.names, pool.map(self.start, self.names), strict=True))

    def kill(self, name: str) -> None:
        """kill -9 (and reap)."""
        self.procs[name].kill()
        self.ports.pop(name, None)

    def logs(self) -> str:
        return "\n".join(f"--- node {n} ---\n{p.log_text()}" for n, p in self.procs.items())


# ------------------------------------------------------------------------------ far ends

class FarEnd(Protocol):
    """Where delivered mail arrives: (token, body hash) of every delivered copy."""

    def delivered(self) -> list[tuple[str, str]]: ...


class Inbox(FarEnd, Protocol):
    """The Internet side, listening for SMTP on ``port``."""

    port: int


class _Received:
    """What one of our servers received, in order (``snapshot``), each item decoded once by
    ``read`` into (token, body hash)."""

    def __init__(self, snapshot: Callable[[], list[bytes]],
                 read: Callable[[bytes], tuple[str, str]], port: int = 0) -> None:
        self.snapshot = snapshot
        self.read = read
        self.port = port
        self._seen: list[tuple[str, str]] = []

    def delivered(self) -> list[tuple[str, str]]:
        items = self.snapshot()
        self._seen += [self.read(item) for item in items[len(self._seen):]]
        return list(self._seen)


def x400_inbox(remote: RemoteMTA) -> FarEnd:
    """(token, body hash) of every transfer the remote MTA confirmed."""
    return _Received(remote.snapshot, fingerprint)


class _PostfixInbox:
    """A Postfix destination instance: every recipient into the Maildir ``catchall``."""

    def __init__(self, postfix: Postfix) -> None:
        self.postfix = postfix
        self.port = postfix.smtpd_port
        self._seen: dict[str, tuple[str, str]] = {}

    def delivered(self) -> list[tuple[str, str]]:
        maildir = self.postfix.maildir_base / "catchall"
        for sub in ("new", "cur"):
            with contextlib.suppress(FileNotFoundError):
                for path in (maildir / sub).iterdir():
                    if path.name not in self._seen:
                        with contextlib.suppress(FileNotFoundError):   # moved meanwhile
                            self._seen[path.name] = mime_fingerprint(path.read_bytes())
        return list(self._seen.values())


@contextlib.contextmanager
def internet_side() -> Iterator[Inbox]:
    """A real Postfix on loopback, or the SMTP sink when Postfix cannot run here (not in CI)."""
    reason = postfix_unavailable()
    if reason is None:
        with instance_root() as root, \
                Postfix(root / "dst", name="dst", smtpd_port=free_port()) as postfix:
            yield _PostfixInbox(postfix)
        return
    fail_in_ci("Postfix", reason)
    with SMTPSink() as sink:
        yield _Received(sink.snapshot, mime_fingerprint, sink.port)


# ------------------------------------------------------------------------------ traffic

class Traffic:
    """An SMTP load and a P1 load for every node (unique token and body per message)."""

    def __init__(self, nodes: Nodes, seed: int) -> None:
        ctx = nodes.context()
        self.smtp = {n: SMTPLoad(seed + 2 * i) for i, n in enumerate(nodes.names)}
        self.p1 = {n: P1Load(seed + 2 * i + 1, ctx) for i, n in enumerate(nodes.names)}

    def loads(self, name: str | None = None) -> list[Load]:
        names = list(self.smtp) if name is None else [name]
        return [load for n in names for load in (self.smtp[n], self.p1[n])]

    def up(self, name: str, ports: Ports) -> None:
        self.smtp[name].port, self.p1[name].port = ports.smtp, ports.p1
        for load in self.loads(name):
            load.up.set()

    def down(self, name: str) -> None:
        for load in self.loads(name):
            load.up.clear()

    def start(self) -> None:
        for load in self.loads():
            load.start()

    def more(self, n: int, *, what: str, timeout: float = 60.0) -> None:
        """Wait (bounded) until every load whose node is up has ``n`` more accepted."""
        for load in self.loads():
            if load.up.is_set():
                load.more(n, what=what, timeout=timeout)

    def refused(self, n: int, *, what: str, timeout: float = 60.0) -> None:
        """Wait (bounded) until every load whose node is up had ``n`` more attempts that were
        not accepted."""
        def count(load: Load) -> int:
            with load.lock:
                return len(load.uncertain)
        for load in self.loads():
            if load.up.is_set():
                floor = count(load) + n
                wait_until(lambda: count(load) >= floor,  # noqa: B023 (called at once)
                           timeout=timeout, what=what)

    def stop(self) -> None:
        for load in self.loads():
            load.stop.set()
        for load in self.loads():
            if load.is_alive():
                load.join(60)
            assert not load.is_alive(), f"{load.name} did not stop"

    def accepted(self, direction: str) -> dict[str, str]:
        loads = self.smtp if direction == "to-x400" else self.p1
        return {t: h for load in loads.values() for t, h in load.accepted.items()}

    def uncertain(self, direction: str) -> set[str]:
        loads = self.smtp if direction == "to-x400" else self.p1
        return {t for load in loads.values() for t in load.uncertain}


def x400_apdu(ctx: Context, token: str) -> bytes:
    """A P1 message for the Internet recipient whose body carries ``token``."""
    data = make_message(token, sender=X400_SENDER, to=INTERNET_RECIPIENT)
    return encode_apdu(mime_to_x400(data, X400_SENDER, [INTERNET_RECIPIENT], ctx).apdu)


def p1_transfer(port: int, apdu: bytes, *, timeout: float = 10.0) -> bool:
    """One association, one transfer: True only if the gateway confirmed it."""
    async def transfer() -> bool:
        peer = Peer(key="gateway", mta_name="gateway", password="gwpw", host="127.0.0.1",
                    port=port)
        times = Timeouts(connect=timeout, bind=timeout, transfer=timeout, release=timeout)
        try:
            assoc = await Association.open(peer, LocalMTA(name="remote", password="rpw"),
                                           timeouts=times)
        except (BridgeError, OSError, EOFError, TimeoutError):
            return False
        try:
            await assoc.transfer(apdu)
        except (BridgeError, OSError, EOFError, TimeoutError):
            with contextlib.suppress(BridgeError, OSError, EOFError, TimeoutError):
                await assoc.abort()
            return False
        with contextlib.suppress(BridgeError, OSError, EOFError, TimeoutError):
            await assoc.release()
        return True
    return asyncio.run(transfer())


def smtp_reply(port: int, data: bytes, *, timeout: float = 30.0) -> tuple[int, str]:
    """The first reply of an SMTP transaction that is not a success (or DATA's 250)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
        for code, text in (client.ehlo("client.test"), client.mail(SENDER),
                           client.rcpt(RECIPIENT)):
            if code >= 300:
                return code, text.decode(errors="replace")
        code, text = client.data(data)
        return code, text.decode(errors="replace")


# ------------------------------------------------------------------------------ the queue

class QueueView:
    """The shared queue read beside the nodes (one short connection per question)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def _rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def leased(self, node: str | None = None) -> set[tuple[str, int]]:
        """Recipients under a live lease (claimed, not yet recorded); of ``node`` only, when
        given (the queue names the holder once the gateway has ``[gateway] node-id``)."""
        mine = "" if node is None else " AND node = %s"
        return {(m, i) for m, i in self._rows(
            "SELECT message_id, idx FROM recipients WHERE lease_until > %s "
            f"AND state IN ('pending', 'deferred'){mine}",
            time.time(), *(() if node is None else (node,)))}

    def unfinished(self, keys: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Those of ``keys`` not delivered yet."""
        done = {(m, i) for m, i in self._rows(
            "SELECT message_id, idx FROM recipients WHERE state = 'delivered'")}
        return keys - done

    def depth(self) -> int:
        """Recipients still to deliver."""
        [(n,)] = self._rows("SELECT count(*) FROM recipients "
                            "WHERE state IN ('pending', 'deferred')")
        return int(n)

    def states(self) -> dict[str, int]:
        return {s: int(n) for s, n in self._rows(
            "SELECT state, count(*) FROM recipients GROUP BY state")}


def wait_delivered(inboxes: Mapping[str, FarEnd], wanted: Mapping[str, set[str]],
                   view: QueueView, *, timeout: float, logs: Callable[[], str]) -> None:
    """Wait (bounded) until every wanted token is at its far end and the queue is empty."""
    deadline = time.monotonic() + timeout

    def missing() -> dict[str, set[str]]:
        return {d: wanted[d] - {t for t, _ in inboxes[d].delivered()} for d in wanted}
    while any(missing().values()) or view.depth():
        if time.monotonic() > deadline:
            lost = {d: sorted(m)[:5] for d, m in missing().items() if m}
            raise AssertionError(f"not delivered after {timeout:g} s: {lost}; queue "
                                 f"{view.states()}\n{logs()}")
        time.sleep(0.2)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    accepted: int
    uncertain: int
    uncertain_delivered: int
    duplicates: int


def check_deliveries(accepted: Mapping[str, str], uncertain: set[str],
                     delivered: list[tuple[str, str]]) -> Verdict:
    """Every accepted message delivered with its own body; nothing that was never sent;
    the duplicates counted (the caller bounds them)."""
    copies: dict[str, list[str]] = collections.defaultdict(list)
    for token, digest in delivered:
        copies[token].append(digest)
    missing = set(accepted) - set(copies)
    assert not missing, f"accepted but never delivered: {sorted(missing)[:10]}"
    for token, digest in accepted.items():
        assert set(copies[token]) == {digest}, f"{token}: body changed"
    invented = set(copies) - set(accepted) - uncertain
    assert not invented, f"delivered but never sent: {sorted(invented)[:10]}"
    return Verdict(accepted=len(accepted), uncertain=len(uncertain),
                   uncertain_delivered=sum(t in copies for t in uncertain),
                   duplicates=sum(len(d) - 1 for d in copies.values()))
