"""The gateway as users run it: ``x400bridge serve`` in a separate process (issue 6).

* kill -9 under load, N times at random points, restart on the same queue: every message the
  gateway accepted (SMTP "250"; a P1 transfer confirmed) reaches the far end (the remote MTA;
  the smarthost) with its content (SHA-256 of the body), and the only duplicates are those of
  the documented window (docs/queue.md, "The duplicate window");
* SIGTERM drains: SMTP and P1 stop accepting, the transfer in flight is finished, exit 0,
  and what was accepted but not yet sent goes out after the restart -- exactly once;
* SIGHUP reloads the RFC 2156 App F tables without a restart (and keeps the old ones when the
  new ones do not load);
* the Prometheus endpoint counts accepted messages and shows the queue depth.

The remote X.400 MTA is our own P1 responder in this process (tests/gateway_proc.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bridge.codec import decode_apdu, encode_apdu
from bridge.config import default_node_id, load_config
from bridge.convert.context import Context
from bridge.convert.to_x400 import mime_to_x400
from bridge.errors import BridgeError
from bridge.gateway.wiring import context_for, mapper_for
from bridge.model.apdu import Message
from bridge.queue import Queue
from bridge.x400.peers import LocalMTA, Peer
from bridge.x400.shell import Association, Timeouts
from tests.gateway_proc import (
    INTERNET_RECIPIENT,
    TABLE2,
    X400_SENDER,
    GatewayProcess,
    Ports,
    RemoteMTA,
    SMTPSink,
    fingerprint,
    make_message,
    metrics_samples,
    mime_fingerprint,
    rcpt_reply,
    send_message,
    sent_fingerprint,
    wait_until,
    write_config,
    write_tables,
)

KILLS = 6
WORKERS = 2
SEED = 20260611


def _world(tmp_path: Path, remote: RemoteMTA, *, workers: int = 2, metrics: bool = False,
           relay_networks: Sequence[str] = ("127.0.0.0/8",)) -> GatewayProcess:
    cfg = write_config(tmp_path, remote_port=remote.port, workers=workers, metrics=metrics,
                       relay_networks=relay_networks)
    return GatewayProcess(cfg, tmp_path / "serve.log")


def _tokens(remote: RemoteMTA) -> collections.Counter[str]:
    return collections.Counter(fingerprint(a)[0] for a in remote.snapshot())


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


# ------------------------------------------------------------------------------ kill -9

class Load(threading.Thread):
    """A client sending one message after another, each with a unique token and body.

    A message counts as accepted only when the gateway said so (SMTP: 250 to DATA; P1: the
    transfer confirmed); anything else (refused, connection reset by the kill, nobody
    listening) makes it *uncertain*: it may or may not arrive, as the gateway may have queued
    it before it died (docs/queue.md, "Crash safety")."""

    def __init__(self, seed: int) -> None:
        super().__init__(name=type(self).__name__, daemon=True)
        self.rng = random.Random(seed)
        self.accepted: dict[str, str] = {}          # token -> body hash
        self.uncertain: set[str] = set()
        self.port = 0
        self.up = threading.Event()                 # the gateway is listening on self.port
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def accepted_count(self) -> int:
        with self.lock:
            return len(self.accepted)

    def more(self, n: int, *, what: str, timeout: float = 60.0) -> None:
        """Wait (bounded) until ``n`` more messages have been accepted."""
        floor = self.accepted_count() + n
        wait_until(lambda: self.accepted_count() >= floor, timeout=timeout, what=what)

    def attempt(self, token: str, payload: str) -> bool:
        raise NotImplementedError

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            if not self.up.wait(0.2):
                continue
            token = f"m{n}-{self.rng.getrandbits(32):08x}"
            n += 1
            raw = self.rng.randbytes(self.rng.choice((0, 40, 600, 5000))).hex()
            payload = "\n".join(raw[i:i + 76] for i in range(0, len(raw), 76))
            ok = self.attempt(token, payload)
            with self.lock:
                if ok:
                    self.accepted[token] = sent_fingerprint(token, payload)
                else:
                    self.uncertain.add(token)


class SMTPLoad(Load):
    """smtplib, one transaction per message, to an X.400 recipient."""

    def attempt(self, token: str, payload: str) -> bool:
        return send_message(self.port, make_message(token, payload=payload), timeout=10)


class P1Load(Load):
    """A remote MTA transferring X.400 messages for an Internet recipient over one association
    (opened again after a failure)."""

    def __init__(self, seed: int, ctx: Context) -> None:
        super().__init__(seed)
        self.ctx = ctx
        self.runner: asyncio.Runner | None = None
        self.assoc: Association | None = None

    def run(self) -> None:
        with asyncio.Runner() as runner:
            self.runner = runner
            try:
                super().run()
            finally:
                runner.run(self._drop())

    def attempt(self, token: str, payload: str) -> bool:
        data = make_message(token, sender=X400_SENDER, to=INTERNET_RECIPIENT, payload=payload)
        apdu = mime_to_x400(data, X400_SENDER, [INTERNET_RECIPIENT], self.ctx).apdu
        assert self.runner is not None
        return self.runner.run(self._transfer(encode_apdu(apdu)))

    async def _transfer(self, apdu: bytes) -> bool:
        try:
            if self.assoc is None:
                self.assoc = await Association.open(
                    Peer(key="gateway", mta_name="gateway", password="gwpw", host="127.0.0.1",
                         port=self.port), LocalMTA(name="remote", password="rpw"),
                    timeouts=Timeouts(connect=5, bind=10, transfer=10, release=5))
            await self.assoc.transfer(apdu)
        except (BridgeError, OSError, EOFError, TimeoutError):
            await self._drop()
            return False
        return True

    async def _drop(self) -> None:
        assoc, self.assoc = self.assoc, None
        if assoc is not None:
            with contextlib.suppress(BridgeError, OSError, EOFError, TimeoutError):
                await assoc.abort()


def _leases_held(db: Path) -> int:
    """How many recipients the killed process held (the restarted gateway releases them at
    start, ``Queue.release_leases``): reported, and the bound on duplicates."""
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        row = conn.execute("SELECT count(*) FROM recipients WHERE lease_until IS NOT NULL "
                           "AND state IN ('pending', 'deferred')").fetchone()
        return int(row[0])


def _kill_under_load(gw: GatewayProcess, load: Load, port_of: Callable[[Ports], int],
                     db: Path) -> int:
    """Start the gateway and the load; KILLS times: kill -9 at a random point, restart on the
    same queue; then stop the load.  Returns how many leases the killed processes held."""
    rng = random.Random(SEED)
    stranded = 0
    try:
        load.port = port_of(gw.start())
        load.up.set()
        load.start()
        for kill in range(KILLS):
            load.more(3, what=f"traffic before kill {kill}")    # kills under load
            time.sleep(rng.uniform(0.0, 1.5))       # the random kill point, not a sync
            load.up.clear()
            gw.kill()
            stranded += _leases_held(db)
            load.port = port_of(gw.start())
            load.up.set()
        load.more(10, what="traffic after the last restart")
    finally:
        load.stop.set()
        load.join(60)
    assert not load.is_alive()
    return stranded


def _drain(gw: GatewayProcess, far_end: RemoteMTA | SMTPSink, accepted: Iterable[str],
           read: Callable[[bytes], tuple[str, str]], db: Path) -> None:
    """Wait (bounded) for the accepted tokens at the far end and an empty queue; SIGTERM."""
    wanted = set(accepted)
    arrived: set[str] = set()
    decoded = [0]

    def all_arrived(end: RemoteMTA | SMTPSink) -> bool:
        items = end.apdus if isinstance(end, RemoteMTA) else end.messages
        arrived.update(read(x)[0] for x in items[decoded[0]:])      # each one decoded once
        decoded[0] = len(items)
        return wanted <= arrived
    far_end.wait(all_arrived, timeout=120, what="every accepted message at the far end")
    with Queue(db, create=False) as q:
        wait_until(lambda: q.stats().depth == 0, timeout=60, what="the queue to drain")
    gw.send_signal(signal.SIGTERM)
    assert gw.wait(60) == 0, gw.log_text()


def _check(load: Load, delivered: list[tuple[str, str]], db: Path, stranded: int) -> None:
    """Every accepted message delivered with its own content; nothing invented; duplicates
    only from the window between the next hop's acknowledgement and record()."""
    copies: dict[str, list[str]] = collections.defaultdict(list)
    for token, digest in delivered:
        copies[token].append(digest)
    missing = set(load.accepted) - set(copies)
    assert not missing, f"accepted but never delivered: {sorted(missing)[:10]}"
    for token, digest in load.accepted.items():
        assert set(copies[token]) == {digest}, f"{token}: body changed"
    assert set(copies) <= set(load.accepted) | load.uncertain
    # at most one transfer per worker in flight at each kill
    extra = sum(len(d) - 1 for d in copies.values())
    assert extra <= KILLS * WORKERS, f"{extra} duplicate deliveries after {KILLS} kills"
    with Queue(db, create=False) as q:
        assert q.verify() == []
        assert q.stats().depth == 0
    print(f"\n{KILLS} kills: {len(load.accepted)} accepted, {len(load.uncertain)} uncertain "
          f"({sum(t in copies for t in load.uncertain)} of them delivered), "
          f"{extra} duplicates, {stranded} leases of killed workers")


def test_kill_9_under_smtp_load_loses_nothing_accepted(tmp_path: Path) -> None:
    """Issue 6 "Done when": SMTP -> X.400, kill -9 at random points, restart, every accepted
    message delivered (count and content hashes), duplicates only within the window."""
    load = SMTPLoad(SEED + 1)
    db = tmp_path / "var" / "queue.sqlite"
    with RemoteMTA() as remote, _world(tmp_path, remote, workers=WORKERS) as gw:
        stranded = _kill_under_load(gw, load, lambda p: p.smtp, db)
        _drain(gw, remote, load.accepted, fingerprint, db)
    _check(load, [fingerprint(a) for a in remote.snapshot()], db, stranded)


def test_kill_9_under_p1_load_loses_nothing_accepted(tmp_path: Path) -> None:
    """The same from X.400 to the Internet: a transfer the P1 responder confirmed (X.411
    §12.2.1.1) reaches the smarthost, whatever happened to the gateway in between."""
    load: P1Load
    db = tmp_path / "var" / "queue.sqlite"
    with RemoteMTA() as remote, SMTPSink() as sink:
        cfg = write_config(tmp_path, remote_port=remote.port, workers=WORKERS,
                           smarthost_port=sink.port)
        config = load_config(cfg)
        load = P1Load(SEED + 2, context_for(config.gateway, mapper_for(config.gateway)))
        with GatewayProcess(cfg, tmp_path / "serve.log") as gw:
            stranded = _kill_under_load(gw, load, lambda p: p.p1, db)
            _drain(gw, sink, load.accepted, mime_fingerprint, db)
    _check(load, [mime_fingerprint(m) for m in sink.snapshot()], db, stranded)


def test_restart_after_kill_resends_the_transfer_in_flight_promptly(tmp_path: Path) -> None:
    with RemoteMTA() as remote, _world(tmp_path, remote, workers=1) as gw:
        remote.hold()
        port = gw.start().smtp
        assert send_message(port, make_message("in-flight"))
        remote.wait(lambda r: r.held >= 1, timeout=30, what="the transfer to reach the MTA")
        gw.kill()                  # mid-transfer: the remote MTA has not confirmed it
        remote.refuse()            # ... and does not keep it
        gw.start()
        remote.wait(lambda r: len(r.apdus) >= 1, timeout=20,
                    what="the message claimed by the killed gateway")
        assert _tokens(remote) == {"in-flight": 1}


# ------------------------------------------------------------------------------ SIGTERM

def test_sigterm_drains_and_exits_0(tmp_path: Path) -> None:
    tokens = [f"drain-{i}" for i in range(5)]
    with RemoteMTA() as remote, _world(tmp_path, remote) as gw:
        ports = gw.start()
        remote.hold()
        for token in tokens:
            assert send_message(ports.smtp, make_message(token))
        remote.wait(lambda r: r.held >= 1, timeout=30, what="a transfer in flight")
        gw.send_signal(signal.SIGTERM)
        wait_until(lambda: _refuses_connections(ports.smtp) and _refuses_connections(ports.p1),
                   timeout=30, what="SMTP and P1 to stop accepting")
        assert gw.running                         # still draining: a transfer is in flight
        remote.let_go()
        started = time.monotonic()
        assert gw.wait(45) == 0, gw.log_text()
        assert time.monotonic() - started < 30    # within the drain time (30 s)
        first = _tokens(remote)
        assert first and set(first) <= set(tokens)     # the transfer in flight was finished
        assert max(first.values()) == 1

        gw.start()
        remote.wait(lambda r: len(r.apdus) >= len(tokens), timeout=60,
                    what="the rest after the restart")
        gw.send_signal(signal.SIGTERM)
        assert gw.wait(45) == 0, gw.log_text()
    # every accepted message exactly once: the drained one was recorded before the exit
    assert _tokens(remote) == {t: 1 for t in tokens}


# ------------------------------------------------------------------------------ SIGHUP

NEWCO = "newco.example#O$newco.PRMD$acme.ADMD$ .C$gb#\n"


def test_sighup_reloads_the_tables(tmp_path: Path) -> None:
    """RFC 2156 §4.3.4: a domain that gets a table2 entry becomes an X.400 destination."""
    with RemoteMTA() as remote, \
            _world(tmp_path, remote, relay_networks=["192.0.2.0/24"]) as gw:
        port = gw.start().smtp
        code, text = rcpt_reply(port, "Jane.Doe@newco.example")
        assert (code, b"5.7.1" in text) == (550, True)       # not ours, and no relay for us
        write_tables(tmp_path / "tables", table2=TABLE2 + NEWCO)
        gw.send_signal(signal.SIGHUP)
        wait_until(lambda: rcpt_reply(port, "Jane.Doe@newco.example")[0] == 250,
                   timeout=30, interval=0.2, what="RCPT accepted after the reload")
        assert rcpt_reply(port, "John.Smith@x400.example")[0] == 250
        assert send_message(port, make_message("reloaded", to="Jane.Doe@newco.example"),
                            to="Jane.Doe@newco.example")
        remote.wait(lambda r: len(r.apdus) >= 1, timeout=30, what="the message via newco")
        message = decode_apdu(remote.snapshot()[0])
        assert isinstance(message, Message)
        [rcpt] = message.envelope.recipients
        assert rcpt.name.address is not None
        assert rcpt.name.address.organization == "newco"
        assert fingerprint(remote.snapshot()[0])[0] == "reloaded"

        # a table that does not load is refused; the gateway keeps what it had
        (tmp_path / "tables" / "table2").write_text("this is not a table\n", encoding="utf-8")
        gw.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in gw.log_text(tail=100_000), timeout=30,
                   what="the failed reload to be logged")
        assert rcpt_reply(port, "Jane.Doe@newco.example")[0] == 250
        assert gw.running
        gw.send_signal(signal.SIGTERM)
        assert gw.wait(45) == 0


# ------------------------------------------------------------------------------ metrics

def _sample(port: int, name: str, **labels: str) -> float | None:
    """A sample of the gateway's metrics; every one is labelled with the node id (the
    config here names none: the host name's first label)."""
    labels = {"node": default_node_id(), **labels}
    return metrics_samples(port).get((name, tuple(sorted(labels.items()))))


def test_metrics_count_accepted_messages_and_queue_depth(tmp_path: Path) -> None:
    with RemoteMTA() as remote, _world(tmp_path, remote, metrics=True) as gw:
        ports = gw.start()
        assert ports.metrics
        m = ports.metrics
        remote.hold()                                    # they stay in the queue for now
        for i in range(3):
            assert send_message(ports.smtp, make_message(f"metrics-{i}"))
        assert not send_message(ports.smtp, make_message("refused", to="nobody@gw.example"),
                                to="nobody@gw.example")   # 550 at RCPT: not accepted
        assert _sample(m, "x400bridge_messages_accepted_total",
                       direction="to-x400", origin="smtp") == 3
        wait_until(lambda: _sample(m, "x400bridge_queue_depth",
                                   direction="to-x400", state="pending") == 3,
                   timeout=30, interval=0.25, what="queue depth 3 pending")
        remote.let_go()
        remote.wait(lambda r: len(r.apdus) >= 3, timeout=30, what="the three messages")
        wait_until(lambda: (_sample(m, "x400bridge_queue_depth", direction="to-x400",
                                    state="pending"),
                            _sample(m, "x400bridge_queue_depth", direction="to-x400",
                                    state="delivered")) == (0, 3),
                   timeout=30, interval=0.25, what="queue depth 3 delivered")
        assert _sample(m, "x400bridge_deliveries_total",
                       direction="to-x400", outcome="delivered") == 3
        assert _sample(m, "x400bridge_messages_accepted_total",
                       direction="to-x400", origin="smtp") == 3
        gw.send_signal(signal.SIGTERM)
        assert gw.wait(45) == 0
