"""Several gateway nodes on one queue (issue 15): leases held by a node, take-over after a
node dies, per-node release at start-up, per-node counts -- on both backends (docs/queue.md,
"Nodes")."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.queue import Deferred, Delivered, Failed, Recipient, Submission
from bridge.queue.cli import run
from bridge.queue.schema import SCHEMA_VERSION
from tests.pgserver import BACKENDS, Backend, backend_for
from tests.test_queue import Clock, sub


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return backend_for(request.param, tmp_path)


@pytest.fixture
def nodes(backend: Backend) -> Iterator[tuple[Any, Any, Clock]]:
    """Two handles on one store -- node "a" and node "b" -- sharing a fake clock."""
    clock = Clock()
    a, b = backend.open(clock=clock), backend.open(clock=clock)
    yield a, b, clock
    a.close()
    b.close()


def test_a_dead_nodes_work_is_taken_over_after_its_lease(
        nodes: tuple[Any, Any, Clock]) -> None:
    """Node a claims and dies (never records); b gets the work only once a's lease ran out,
    and the store says who holds it."""
    a, b, clock = nodes
    mid = a.submit(sub("x@y", "z@y"))
    (job_a,) = a.claim("to-x400", lease=30, node="a")
    assert b.stats().leases_by_node == {"a": 2} and b.stats().in_flight == 2
    info = b.get(mid)
    assert [r.node for r in info.recipients] == ["a", "a"]
    clock.advance(29)
    assert b.claim("to-x400", node="b") == []              # a's lease still holds
    clock.advance(1)
    assert b.stats().leases_by_node == {}                   # a's lease ran out
    (job_b,) = b.claim("to-x400", lease=30, node="b")
    assert job_b.message_id == mid and job_b.claim != job_a.claim
    assert [r.node for r in b.get(mid).recipients] == ["b", "b"]
    assert a.stats().leases_by_node == {"b": 2}
    b.record(job_b, {"x@y": Delivered(), "z@y": Delivered()})
    info = a.get(mid)
    assert [(r.state, r.node) for r in info.recipients] == [("delivered", None)] * 2


def test_a_stale_claim_does_not_overwrite_the_new_holders_outcome(
        nodes: tuple[Any, Any, Clock]) -> None:
    """a's late record for its stale claim: after b recorded a deferral, a's deferral (and a
    missing outcome) change nothing -- no second attempt counted, b's next attempt kept; after
    b recorded a final outcome, a's outcome changes nothing either."""
    a, b, clock = nodes
    mid = a.submit(sub("x@y", "z@y"))
    (stale,) = a.claim("to-x400", lease=30, node="a")
    clock.advance(31)
    (job_b,) = b.claim("to-x400", lease=30, node="b")
    b.record(job_b, {"x@y": Deferred(status="4.4.1", diagnostic="b: timeout"),
                     "z@y": Delivered(detail="250 b")})
    before = b.get(mid).recipients
    clock.advance(1)
    a.record(stale, {"x@y": Deferred(status="4.2.0", diagnostic="a: late")})
    a.record(stale, {"z@y": Failed(status="5.1.1", diagnostic="a: late")})
    after = b.get(mid).recipients
    assert after == before
    assert (after[0].state, after[0].attempts, after[0].last.diagnostic) == (  # type: ignore[union-attr]
        "deferred", 1, "b: timeout")
    assert after[1].state == "delivered" and after[1].last.detail == "250 b"  # type: ignore[union-attr]
    # a release of the stale claim does not touch b's next claim either
    clock.advance(3600)
    (again,) = b.claim("to-x400", lease=30, node="b")
    a.release(stale)
    assert b.get(mid).recipients[0].leased_until == clock.now + 30
    assert b.get(mid).recipients[0].node == "b"
    b.record(again, {"x@y": Delivered()})
    assert [h.event for h in b.get(mid).history].count("delivered") == 2


def test_release_leases_of_one_node_leaves_the_others(nodes: tuple[Any, Any, Clock]) -> None:
    """A node starting again releases its own leases (its workers died with it); the live
    node's stay; None releases every lease (one gateway alone)."""
    a, b, _ = nodes
    a.submit_many([sub("x@y"), sub("z@y"), sub("w@y")])
    held_a = a.claim("to-x400", limit=2, node="a")
    (held_b,) = b.claim("to-x400", limit=5, node="b")
    assert len(held_a) == 2 and a.stats().leases_by_node == {"a": 2, "b": 1}
    assert a.release_leases("a") == 2
    assert a.stats().leases_by_node == {"b": 1}
    assert a.release_leases("a") == 0
    assert a.release_leases("c") == 0
    again = a.claim("to-x400", node="a2")
    assert {j.message_id for j in again} == {j.message_id for j in held_a}
    assert a.release_leases() == 3                          # both nodes
    assert a.stats().in_flight == 0 and a.stats().leases_by_node == {}
    assert len(b.claim("to-x400", node="b")) == 3
    assert held_b.message_id in {j.message_id for j in again + [held_b]}


def test_an_unnamed_node(nodes: tuple[Any, Any, Clock]) -> None:
    """``node=""`` (one gateway, no name) is a node like any other."""
    a, _, _ = nodes
    a.submit(sub("x@y"))
    a.claim("to-x400")
    assert a.stats().leases_by_node == {"": 1}
    assert a.release_leases("other") == 0 and a.release_leases("") == 1


def test_two_nodes_claiming_at_once_never_get_the_same_recipient(backend: Backend) -> None:
    """Two handles (two connections, as two nodes have), claiming in two threads until the
    queue is empty: every recipient is claimed and delivered exactly once."""
    with backend.open() as intake:
        rcpts = tuple(Recipient(address=f"r{i}@y", route=f"peer-{i % 2}") for i in range(3))
        intake.submit_many([Submission(direction="to-x400", origin="smtp", sender="s@y",
                                       recipients=rcpts, data=str(n).encode())
                            for n in range(60)])
    claimed: dict[str, list[tuple[str, str]]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def node(name: str) -> None:
        try:
            with backend.open(busy_timeout=60.0) as q:
                start.wait(timeout=10)
                while jobs := q.claim("to-x400", limit=3, node=name):
                    for job in jobs:
                        claimed[name] += [(job.message_id, r.address) for r in job.recipients]
                    q.record_many([(job, {r.address: Delivered() for r in job.recipients})
                                   for job in jobs])
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(name,)) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    both = claimed["a"] + claimed["b"]
    assert len(both) == len(set(both)) == 180
    with backend.open() as q:
        st = q.stats()
        assert st.recipients["delivered"] == 180 and st.leases_by_node == {}


def test_a_version_2_queue_is_brought_up_to_date(backend: Backend) -> None:
    """A version 2 queue gets the node column (version 3) and the rest: SQLite when opened,
    PostgreSQL by migrate."""
    from bridge.queue import migrations_pg, schema

    if backend.name == "postgresql":
        import psycopg

        with psycopg.connect(backend.dsn, autocommit=True) as conn:
            migrations_pg.setup(conn, "db", create=True, migrate=False,
                                steps=migrations_pg.MIGRATIONS[:2])
        from bridge.queue.types import QueueError

        with pytest.raises(QueueError, match="older"):
            backend.open()
        q = backend.open(migrate=True)
    else:
        conn = sqlite3.connect(backend.path)
        for step in schema.MIGRATIONS[:2]:
            for statement in step.statements:
                conn.execute(statement)
        conn.execute("INSERT INTO info VALUES ('schema_version', '2')")
        conn.commit()
        conn.close()
        q = backend.open(create=False)
    try:
        assert q.schema_version() == SCHEMA_VERSION
        mid = q.submit(sub("x@y"))
        q.claim("to-x400", node="n1")
        assert q.get(mid).recipients[0].node == "n1"
    finally:
        q.close()


def test_cli_shows_the_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``queue stats`` lists the leases per node, ``queue show`` the node holding one."""
    path = tmp_path / "q.sqlite"
    with backend_for("sqlite", tmp_path).open() as q:
        mid = q.submit(sub("x@y"))
        q.submit(sub("z@y"))
        q.claim("to-x400", limit=1, node="gw-east")
        q.claim("to-x400", limit=1, node="gw-west")
    assert run(["stats", "--queue", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[lines.index(next(x for x in lines if x.startswith("NODE"))) + 1:] == [
        f"{'gw-east':20} {1:>8}", f"{'gw-west':20} {1:>8}"]
    assert run(["stats", "--queue", str(path), "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["leases_by_node"] == {"gw-east": 1,
                                                                     "gw-west": 1}
    assert run(["show", mid, "--queue", str(path)]) == 0
    assert "by node gw-east" in capsys.readouterr().out
