"""Several gateway nodes on one queue (issue 15): the node id (config, log lines, metrics,
leases), one gateway per node id, the start-up release of a node's own leases, and workers
woken by the queue's notifications (PostgreSQL LISTEN/NOTIFY) with a bounded rescan for what
comes due without one (a dead node's lease that ran out)."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Config, parse_config, render_config
from bridge.errors import ConfigError
from bridge.gateway import nodes
from bridge.gateway.app import App, rescan_interval
from bridge.gateway.core import POLL, Gateway
from bridge.gateway.logs import setup_logging
from bridge.gateway.metrics import Metrics
from bridge.gateway.nodes import NodeLock
from bridge.gateway.wakeup import Doorbell
from bridge.gateway.wiring import context_for, mapper_for, router_for, tables_digest
from bridge.queue.api import MessageQueue, open_queue
from bridge.queue.model import Delivered, Outcome, Recipient, Submission
from bridge.smtp.client import OutboundSettings
from bridge.x400.spool import Spool
from tests.pgserver import require_postgres, shared_cluster
from tests.test_gateway import ROUTES, TABLE1, make_config, mime, run, wait_for, world

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ the node id in the config

def test_node_id_defaults_to_the_host_names_first_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "gw1.example.net")
    assert parse_config({}).gateway.node_id == "gw1"
    monkeypatch.setattr(socket, "gethostname", lambda: "")
    assert parse_config({}).gateway.node_id == "x400bridge"


@pytest.mark.parametrize("value", ["gw-1", "a", "node_2.dc-east", "x" * 63])
def test_node_id_accepts_its_syntax_and_renders_back(value: str) -> None:
    config = parse_config({"gateway": {"node-id": value}})
    assert config.gateway.node_id == value
    import tomllib

    again = parse_config(tomllib.loads(render_config(config)))
    assert again.gateway.node_id == value


@pytest.mark.parametrize("value", ["", "gw 1", "x" * 64, "gw/1", "nöde", 7])
def test_a_bad_node_id_is_an_error_naming_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match=r"gateway\.node-id"):
        parse_config({"gateway": {"node-id": value}})


# ------------------------------------------------------------------ log lines and metrics

def _logged(config: Config, capsys: pytest.CaptureFixture[str]) -> str:
    root = logging.getLogger("x400bridge")
    saved = (root.handlers[:], root.level)
    try:
        setup_logging(config)
        logging.getLogger("x400bridge.gateway").warning("a line from %s", "the gateway")
        logging.getLogger("x400bridge.intake").warning("a line from an intake")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    return capsys.readouterr().err


def test_every_log_line_names_the_node(capsys: pytest.CaptureFixture[str]) -> None:
    text = _logged(parse_config({"gateway": {"node-id": "gw-7"}}), capsys)
    lines = text.splitlines()
    assert len(lines) == 2
    assert all(" WARNING gw-7 x400bridge." in line for line in lines), lines
    as_json = _logged(parse_config({"gateway": {"node-id": "gw-8"},
                                    "log": {"format": "json"}}), capsys)
    records = [json.loads(line) for line in as_json.splitlines()]
    assert [r["node"] for r in records] == ["gw-8", "gw-8"]
    assert records[0]["message"] == "a line from the gateway"


def test_every_metric_carries_the_node_label() -> None:
    metrics = Metrics("gw-3")
    metrics.accepted("to-x400", "smtp:127.0.0.1")
    metrics.outcome("to-smtp", "delivered", 0.2)
    metrics.depth({("to-x400", "pending"): 4})
    metrics.leases({"gw-3": 2, "gw-4": 1})
    metrics.leases({"gw-3": 1})                      # gw-4's leases ended
    samples = [s for family in metrics.registry.collect() for s in family.samples]
    assert {f.name for f in metrics.registry.collect()} >= {
        "x400bridge_messages_accepted", "x400bridge_deliveries",
        "x400bridge_delivery_seconds", "x400bridge_queue_depth", "x400bridge_leases"}
    assert samples and all(s.labels.get("node") == "gw-3" for s in samples)
    leases = {s.labels["holder"]: s.value for s in samples if s.name == "x400bridge_leases"}
    assert leases == {"gw-3": 1, "gw-4": 0}


def test_the_tables_digest_tells_whether_two_nodes_map_alike(tmp_path: Path) -> None:
    one = make_config(tmp_path / "one", remote_port=1, sink_port=2)
    two = make_config(tmp_path / "two", remote_port=1, sink_port=2)
    assert tables_digest(one) == tables_digest(two)          # same files, other folders
    (tmp_path / "two" / "tables" / "table1").write_text(
        TABLE1 + "O$other.PRMD$acme.ADMD$ .C$gb#other.example#\n")
    changed = tables_digest(two)
    assert changed != tables_digest(one)
    (tmp_path / "two" / "routes.txt").write_text(ROUTES + "C$de#spool#\n")
    assert tables_digest(two) not in (changed, tables_digest(one))


# ------------------------------------------------------------------ the modules' layering

def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_the_gateway_modules_import_each_other_without_a_circle() -> None:
    """Every import (lazy ones too) between bridge/gateway modules points one way: the
    wiring helpers live in bridge.gateway.wiring, which no lower module needs app for."""
    folder = ROOT / "bridge" / "gateway"
    names = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    graph = {name: {m.rsplit(".", 1)[-1] for m in _imports(folder / f"{name}.py")
                    if m.startswith("bridge.gateway.") and m.rsplit(".", 1)[-1] in names}
             - {name} for name in names}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import circle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for dep in graph[name]:
            visit(dep, (*path, name))
        done.add(name)

    for name in sorted(names):
        visit(name, ())
    assert "app" not in set().union(*graph.values())        # nothing takes wiring from app


# ------------------------------------------------------------------ scan intervals

def test_rescan_interval_is_bounded_by_lease_retry_and_30_seconds() -> None:
    def interval(**queue: Any) -> float:
        return rescan_interval(parse_config({"queue": queue}))

    pg = {"backend": "postgresql", "dsn": "postgresql://gw@db.example/q"}
    assert interval(**pg) == 30.0                                    # lease 10 min, retry 60 s
    assert interval(**pg, lease="40s") == 10.0                       # lease / 4
    assert interval(**pg, **{"retry-initial": "5s"}) == 5.0          # a retry comes due
    assert interval() == POLL                                        # SQLite: as before


# ------------------------------------------------------------------ PostgreSQL: two nodes

class Recorder:
    """deliver_smtp for a Gateway built here: records what it sends and who held it."""

    def __init__(self, queue: MessageQueue) -> None:
        self.queue = queue
        self.sent: list[str] = []
        self.holders: list[dict[str, int]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, *, sender: str, recipients: Sequence[Recipient], data: bytes,
                       settings: OutboundSettings, envid: str | None = None,
                       ret: str | None = None,
                       mt_priority: int | None = None) -> dict[str, Outcome]:
        stats = await asyncio.to_thread(self.queue.stats)     # while the lease is held
        self.holders.append(dict(stats.leases_by_node))
        self.sent += [r.address for r in recipients]
        self.arrived.set()
        return {r.address: Delivered(detail="test") for r in recipients}


class Watched(Gateway):
    """A Gateway that says when a worker goes to sleep (so a test submits only then)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.asleep = asyncio.Event()

    async def sleep(self, key: str, interval: float | None = None) -> None:
        if key == "to-smtp":
            self.asleep.set()
        await super().sleep(key, interval)


def _submission(subject: str) -> Submission:
    return Submission(direction="to-smtp", origin="cli", sender="alice@internet.example",
                      recipients=(Recipient(address="bob@internet.example",
                                            route="internet.example"),),
                      data=mime("alice@internet.example", "bob@internet.example", subject),
                      meta={"format": "mime"})


def _pg_config(tmp: Path, dsn: str, **over: Any) -> Config:
    """A test gateway's config on the PostgreSQL queue ``dsn`` (no reachable peers)."""
    return make_config(tmp, remote_port=1, sink_port=2, queue__backend="postgresql",
                       queue__dsn=dsn, **over)


def _handle(tmp: Path, dsn: str) -> MessageQueue:
    """A queue handle of its own: another node, or one that dies."""
    return open_queue(_pg_config(tmp, dsn).queue.backend)


@asynccontextmanager
async def node(tmp: Path, dsn: str, name: str, *, rescan: float, doorbell: bool = True,
               queue: MessageQueue | None = None, workers: int = 1
               ) -> AsyncIterator[tuple[Watched, Recorder, Doorbell]]:
    """A Gateway on the PostgreSQL queue ``dsn`` (through ``queue`` when given) with its
    to-smtp workers (and doorbell)."""
    config = _pg_config(tmp, dsn)
    queue = queue if queue is not None else open_queue(config.queue.backend)
    mapper = mapper_for(config.gateway)
    recorder = Recorder(queue)
    gateway = Watched(queue=queue, router=router_for(config, mapper),
                      context=context_for(config.gateway, mapper),
                      peers=config.x400.peer_table, spool=Spool(config.x400.spool),
                      smtp_out=OutboundSettings(), deliver_smtp=recorder,
                      reporting_mta="gw.example", node=name, rescan=rescan)
    bell = Doorbell(queue, [gateway.wake["to-smtp"]], slice_=0.2)
    tasks = [asyncio.ensure_future(gateway.run("to-smtp", slot)) for slot in range(workers)]
    if doorbell:
        tasks.append(asyncio.ensure_future(bell.run(gateway.wake_stop)))
    try:
        yield gateway, recorder, bell
    finally:
        await gateway.stop()
        await asyncio.gather(*tasks)
        await asyncio.to_thread(gateway.writer.close)
        queue.close()


def test_work_submitted_on_one_node_wakes_another_nodes_worker(tmp_path: Path) -> None:
    """Node B scans only once an hour: the message another handle submits is claimed by B
    at once because PostgreSQL's NOTIFY rang B's doorbell -- and B's lease names B."""
    require_postgres()
    dsn = shared_cluster().create_database()

    async def main() -> None:
        async with node(tmp_path, dsn, "node-b", rescan=3600.0) as (gateway, recorder, bell):
            await asyncio.wait_for(gateway.asleep.wait(), 30)      # first scan done, idle
            rings = bell.rings
            other = _handle(tmp_path / "a", dsn)
            try:
                await asyncio.to_thread(other.submit, _submission("across nodes"))
                # far sooner than B's next scan (an hour): woken by the notification
                await wait_for(lambda: bool(recorder.sent), recorder.arrived, timeout=30)
            finally:
                other.close()
            assert recorder.sent == ["bob@internet.example"]
            assert recorder.holders == [{"node-b": 1}]
            assert bell.rings > rings
    run(main)


def test_a_dead_nodes_lease_is_taken_over_by_the_rescan(tmp_path: Path) -> None:
    """A lease that runs out sends no notification: the worker's bounded rescan finds it
    (no doorbell here at all)."""
    require_postgres()
    dsn = shared_cluster().create_database()

    async def main() -> None:
        dead = _handle(tmp_path / "dead", dsn)
        try:
            dead.submit(_submission("orphaned"))
            (job,) = dead.claim("to-smtp", lease=1.0, node="node-dead")
            assert dead.stats().leases_by_node == {"node-dead": 1}
        finally:
            dead.close()                            # the node dies holding the lease
        async with node(tmp_path, dsn, "node-b", rescan=0.2, doorbell=False) \
                as (_, recorder, _bell):
            await wait_for(lambda: bool(recorder.sent), recorder.arrived, timeout=30)
        assert recorder.sent == ["bob@internet.example"]
        assert recorder.holders == [{"node-b": 1}]
    run(main)


def test_a_node_releases_its_own_leases_at_start_and_no_others(tmp_path: Path) -> None:
    """What node-a claimed before it restarted goes out at once; node-c's claim stays
    node-c's until its lease runs out."""
    require_postgres()
    dsn = shared_cluster().create_database()

    async def main() -> None:
        before = _handle(tmp_path / "before", dsn)
        try:
            before.submit(_submission("claimed by a"))
            assert len(before.claim("to-smtp", limit=1, lease=3600.0, node="node-a")) == 1
            before.submit(_submission("claimed by c"))
            assert len(before.claim("to-smtp", limit=1, lease=3600.0, node="node-c")) == 1
        finally:
            before.close()
        async with world(tmp_path, queue__backend="postgresql", queue__dsn=dsn,
                         gateway__node_id="node-a") as (app, _remote, sink):
            await wait_for(lambda: len(sink.messages) >= 1, sink.arrived)
            assert b"Subject: claimed by a" in (sink.messages[0].original_content or b"")
            stats = await asyncio.to_thread(app.queue.stats)
            assert stats.leases_by_node.get("node-c") == 1
            assert len(sink.messages) == 1
    run(main)


def test_one_node_id_one_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second gateway with a node id in use does not start (it would release the first
    one's leases); another id does; the id is free again once its gateway stopped."""
    require_postgres()
    dsn = shared_cluster().create_database()
    monkeypatch.setattr(nodes, "WAIT", 0.3)
    backend = _pg_config(tmp_path / "cfg", dsn).queue.backend

    async def main() -> None:
        async with world(tmp_path / "one", queue__backend="postgresql", queue__dsn=dsn,
                         gateway__node_id="gw-same"):
            second = App(_pg_config(tmp_path / "two", dsn, gateway__node_id="gw-same"))
            try:
                with pytest.raises(ConfigError, match=r"gateway\.node-id: 'gw-same' is in "
                                                      r"use by another gateway on this queue"):
                    await second.start()
            finally:
                await second.stop(drain=1.0)
            other = NodeLock(backend, "gw-other")
            other.take(wait=0)
            assert other.check()
            other.close()
        again = NodeLock(backend, "gw-same")
        again.take(wait=5)
        again.close()
    run(main)
