"""The durable queue: submit, claim/lease, record (backoff, expiry), reports, operator verbs."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import BridgeError
from bridge.queue import (
    Deferred,
    Delivered,
    Failed,
    NoSuchMessage,
    Queue,
    QueueCorrupt,
    QueueError,
    Recipient,
    RetryPolicy,
    Submission,
)
from bridge.queue.api import MessageQueue
from bridge.queue.pg import PgQueue
from bridge.queue.schema import SCHEMA_VERSION
from tests.pgserver import Backend, require_postgres, shared_cluster

T0 = 1_800_000_000.0          # 2027-01-15T08:00:00Z


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The contract suite runs on both backends: the SQLite file, or a fresh database on the
    session's private PostgreSQL cluster (tests/pgserver.py)."""
    if request.param == "postgresql":
        require_postgres()
        return Backend(name="postgresql", path=tmp_path / "q.sqlite",
                       dsn=shared_cluster().create_database())
    return Backend(name="sqlite", path=tmp_path / "q.sqlite")


MakeQueue = Callable[..., Any]


@pytest.fixture
def make_queue(backend: Backend) -> Iterator[MakeQueue]:
    """``make_queue(**kw)`` opens the test's store (the same one every call) on its backend;
    every queue opened is closed at the end."""
    opened: list[MessageQueue] = []

    def make(**kw: Any) -> Any:
        q: MessageQueue = (PgQueue(backend.dsn, **kw) if backend.name == "postgresql"
                           else Queue(backend.path, **kw))
        opened.append(q)
        return q

    yield make
    for q in opened:
        q.close()


@pytest.fixture
def queue(make_queue: MakeQueue, clock: Clock) -> Any:
    return make_queue(clock=clock)


def sub(*rcpts: Recipient | str, direction: str = "to-x400",
        data: bytes = b"Subject: x\r\n\r\nhi\r\n",
        meta: dict[str, object] | None = None) -> Submission:
    recipients = tuple(r if isinstance(r, Recipient) else Recipient(address=r, route="peer-a")
                       for r in rcpts)
    return Submission(direction=direction, origin="smtp", sender="alice@example.org",  # type: ignore[arg-type]
                      recipients=recipients, data=data, meta=meta or {"envid": "E1"})


def altered_queue(tmp_path: Path, sql: str) -> Path:
    """A new queue file changed behind the queue's back by ``sql`` (an older or newer one)."""
    path = tmp_path / "q.sqlite"
    Queue(path).close()
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()
    return path


# -- submit ----------------------------------------------------------------------------------


def test_submit_stores_everything_and_is_due_now(queue: Any, clock: Clock) -> None:
    r = Recipient(address="bob@x400.example", route="peer-a", notify=("SUCCESS", "FAILURE"),
                  orcpt="rfc822;bob@x400.example", extra={"report": "delivery", "n": [1, 2]})
    mid = queue.submit(sub(r, data=b"\x00\xff binary \r\n", meta={"ret": "HDRS", "e": "\u00e9"}))
    assert mid.startswith("20270115T080000Z-") and len(mid) == len("20270115T080000Z-") + 8
    info = queue.get(mid)
    assert info is not None
    assert info.data == b"\x00\xff binary \r\n"
    assert info.meta == {"ret": "HDRS", "e": "\u00e9"}
    assert info.sender == "alice@example.org" and info.origin == "smtp"
    assert info.direction == "to-x400" and info.created == T0
    (ri,) = info.recipients
    assert ri.recipient == r
    assert (ri.state, ri.attempts, ri.next_attempt, ri.leased_until) == ("pending", 0, T0, None)
    assert [h.event for h in info.history] == ["submitted"]
    assert queue.claim("to-x400")[0].message_id == mid


def test_submit_is_committed_for_another_connection(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite")
    mid = q.submit(sub("a@b"))
    # a second, independent connection (another process would see the same)
    other = sqlite3.connect(tmp_path / "q.sqlite")
    assert other.execute("SELECT count(*) FROM messages WHERE id = ?", (mid,)).fetchone() == (1,)
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()
    q.close()


def test_pragmas(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "q.sqlite")
    conn = queue._live()
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)      # FULL
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("SELECT value FROM info WHERE key = 'schema_version'").fetchone() \
        == (str(SCHEMA_VERSION),)
    queue.close()


def test_submit_rejects_bad_input(queue: Any) -> None:
    with pytest.raises(ValueError):
        queue.submit(sub())
    with pytest.raises(ValueError, match="meta"):
        queue.submit(sub("a@b", meta={"x": object()}))
    assert queue.list() == []


def test_ids_are_unique(queue: Any) -> None:
    ids = {queue.submit(sub("a@b")) for _ in range(50)}
    assert len(ids) == 50


# -- claim, lease, record ----------------------------------------------------------------------


def test_claim_groups_by_message_and_route(queue: Any) -> None:
    mid = queue.submit(sub(Recipient(address="a@x", route="p1"),
                           Recipient(address="b@x", route="p2"),
                           Recipient(address="c@x", route="p1")))
    other = queue.submit(sub("d@x", direction="to-smtp"))
    jobs = queue.claim("to-x400")
    assert sorted((j.route, tuple(r.address for r in j.recipients)) for j in jobs) == [
        ("p1", ("a@x", "c@x")), ("p2", ("b@x",))]
    assert all(j.message_id == mid and j.attempts == 0 and j.first_seen == T0 for j in jobs)
    assert jobs[0].data == b"Subject: x\r\n\r\nhi\r\n" and jobs[0].meta == {"envid": "E1"}
    assert queue.claim("to-x400") == []                      # all leased
    (job,) = queue.claim("to-smtp")
    assert job.message_id == other


def test_claim_limit(queue: Any) -> None:
    for _ in range(5):
        queue.submit(sub("a@b"))
    assert len(queue.claim("to-x400", limit=2)) == 2
    assert len(queue.claim("to-x400", limit=10)) == 3


def test_claim_takes_the_oldest_due_first_past_leased_and_backed_off_rows(
        make_queue: MakeQueue, clock: Clock) -> None:
    """A claim walks the due recipients from the oldest: rows held by other workers, of the
    other direction or on a route backing off are passed over, never block what is behind."""
    q = make_queue(clock=clock)
    try:
        first = [q.submit(sub("a@x")) for _ in range(3)]
        clock.advance(1)
        q.submit(sub("s@x", direction="to-smtp"))
        down = q.submit(sub(Recipient(address="d@x", route="down")))
        clock.advance(1)
        later = [q.submit(sub("b@x")) for _ in range(3)]
        (held,) = q.claim("to-x400", limit=1)              # leased by another worker
        assert held.message_id == first[0]
        jobs = q.claim("to-x400", limit=3)
        assert [j.message_id for j in jobs] == [first[1], first[2], down]
        q.record(jobs[2], {"d@x": Deferred(status="4.4.1", diagnostic="peer down")})
        for job in jobs[:2]:
            q.record(job, {"a@x": Delivered(detail="ok")})
        again = q.submit(sub(Recipient(address="e@x", route="down")))   # due, route down
        assert [j.message_id for j in q.claim("to-x400")] == later
        assert again not in {j.message_id for j in q.claim("to-x400")}
    finally:
        q.close()


def test_higher_priority_overtakes_a_backlog(make_queue: MakeQueue, clock: Clock) -> None:
    """RFC 6710: a backlog of normal (0) messages, then one urgent (4) and one low (-4): the
    urgent one is claimed first, the low one after the whole backlog."""
    q = make_queue(clock=clock)
    try:
        backlog = []
        for _ in range(40):
            backlog.append(q.submit(sub("a@x")))
            clock.advance(1)
        low = q.submit(dataclasses.replace(sub("l@x"), priority=-4))
        clock.advance(1)
        urgent = q.submit(dataclasses.replace(sub("u@x"), priority=4))
        first = q.claim("to-x400", limit=3)
        assert [j.message_id for j in first] == [urgent, *backlog[:2]]
        rest = []
        while jobs := q.claim("to-x400", limit=7):
            rest += [j.message_id for j in jobs]
        assert rest == [*backlog[2:], low]
    finally:
        q.close()


def test_a_queue_of_schema_1_gets_the_priority_at_open(tmp_path: Path) -> None:
    """Migration step 2: recipients of a version 1 queue get priority 0, the index is remade
    with the priority first."""
    path = tmp_path / "q.sqlite"
    conn = sqlite3.connect(path)
    from bridge.queue import schema
    for statement in schema.MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute("CREATE INDEX recipients_active ON recipients (next_attempt) "
                 "WHERE state IN ('pending', 'deferred')")
    conn.execute("INSERT INTO info VALUES ('schema_version', '1')")
    conn.commit()
    conn.close()
    q = Queue(path, create=False)
    try:
        old = q.submit(sub("a@b"))
        new = q.submit(dataclasses.replace(sub("c@d"), priority=2))
        assert [j.message_id for j in q.claim("to-x400")] == [new, old]
        assert q.schema_version() == SCHEMA_VERSION
    finally:
        q.close()


def test_a_queue_made_before_the_due_index_gets_it_at_open(tmp_path: Path) -> None:
    path = altered_queue(tmp_path, "DROP INDEX recipients_active")
    q = Queue(path, create=False)
    try:
        q.submit(sub("a@b"))
        assert len(q.claim("to-x400")) == 1                 # INDEXED BY needs the index
    finally:
        q.close()
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert "recipients_active" in names


def test_lease_expiry_gives_the_claim_back(make_queue: MakeQueue, clock: Clock) -> None:
    q = make_queue(clock=clock)
    mid = q.submit(sub("a@b"))
    (job,) = q.claim("to-x400", lease=30)
    q.close()                                               # the worker "crashes"
    q = make_queue(clock=clock)
    assert q.claim("to-x400") == []
    clock.advance(29)
    assert q.claim("to-x400") == []
    clock.advance(1)
    (again,) = q.claim("to-x400")
    assert again.message_id == mid and again.claim != job.claim
    # the first worker finished after all: its final outcome still counts
    q.record(job, {"a@b": Delivered(detail="250 ok")})
    assert q.get(mid).recipients[0].state == "delivered"  # type: ignore[union-attr]
    q.record(again, {"a@b": Deferred()})                   # too late, already final
    assert q.get(mid).recipients[0].state == "delivered"  # type: ignore[union-attr]
    q.close()


def test_stale_deferral_does_not_steal_a_new_lease(queue: Any, clock: Clock) -> None:
    mid = queue.submit(sub("a@b"))
    (old,) = queue.claim("to-x400", lease=10)
    clock.advance(11)
    (new,) = queue.claim("to-x400", lease=10)
    queue.record(old, {"a@b": Deferred()})
    info = queue.get(mid)
    assert info is not None and info.recipients[0].state == "pending"
    assert info.recipients[0].leased_until == clock.now + 10
    queue.record(new, {"a@b": Delivered()})
    assert queue.get(mid).recipients[0].state == "delivered"  # type: ignore[union-attr]


def test_release_and_missing_outcome(queue: Any) -> None:
    mid = queue.submit(sub("a@b", "c@d"))
    (job,) = queue.claim("to-x400")
    queue.release(job)
    (job,) = queue.claim("to-x400")
    queue.record(job, {"a@b": Delivered()})               # c@d: no outcome -> released
    (job2,) = queue.claim("to-x400")
    assert [r.address for r in job2.recipients] == ["c@d"] and job2.attempts == 0
    info = queue.get(mid)
    assert info is not None
    assert [(r.state, r.attempts) for r in info.recipients] == [("delivered", 1), ("pending", 0)]
    with pytest.raises(ValueError, match="not in the job"):
        queue.record(job2, {"zz@b": Delivered()})


def test_failed_is_final_with_its_diagnostic(queue: Any) -> None:
    mid = queue.submit(sub("a@b"))
    (job,) = queue.claim("to-x400")
    queue.record(job, {"a@b": Failed(status="5.1.1", diagnostic="x400; 1 0", x400=(1, 0))})
    info = queue.get(mid)
    assert info is not None
    ri = info.recipients[0]
    assert ri.state == "failed" and ri.last is not None
    assert (ri.last.status, ri.last.diagnostic, ri.last.x400) == ("5.1.1", "x400; 1 0", (1, 0))
    assert queue.claim("to-x400") == []


def test_backoff_is_exponential_and_capped(make_queue: MakeQueue, clock: Clock) -> None:
    policy = RetryPolicy(initial=10, factor=3, maximum=100, expire_after=10_000)
    q = make_queue(clock=clock, retry=policy)
    mid = q.submit(sub("a@b"))
    waits = []
    for _ in range(5):
        (job,) = q.claim("to-x400")
        q.record(job, {"a@b": Deferred(status="4.4.1", diagnostic="no answer")})
        info = q.get(mid)
        assert info is not None
        ri = info.recipients[0]
        assert ri.state == "deferred" and ri.last is not None and ri.last.status == "4.4.1"
        waits.append(ri.next_attempt - clock.now)
        clock.advance(waits[-1] - 1)
        assert q.claim("to-x400") == []                       # not yet
        clock.advance(1)
    assert waits == [10, 30, 90, 100, 100]
    assert policy.backoff(10_000) == 100                      # no float overflow
    q.close()


def test_backoff_per_destination(make_queue: MakeQueue, clock: Clock) -> None:
    q = make_queue(clock=clock,
                   retry=RetryPolicy(initial=60, factor=2, maximum=3600))
    first = q.submit(sub(Recipient(address="a@x", route="down")))
    (job,) = q.claim("to-x400")
    q.record(job, {"a@x": Deferred()})
    # a new message for the same destination waits for the destination's backoff ...
    second = q.submit(sub(Recipient(address="b@x", route="down")))
    up = q.submit(sub(Recipient(address="c@y", route="up")))
    assert [j.message_id for j in q.claim("to-x400")] == [up]
    assert q.stats().routes_backing_off == ("to-x400:down",)
    # ... and the same destination in the other direction is a different destination
    other_dir = q.submit(sub(Recipient(address="d@x", route="down"), direction="to-smtp"))
    assert [j.message_id for j in q.claim("to-smtp")] == [other_dir]
    clock.advance(60)
    jobs = q.claim("to-x400")
    assert sorted(j.message_id for j in jobs) == sorted([first, second])
    # all deferred again: the destination's backoff doubles
    for j in jobs:
        q.record(j, {j.recipients[0].address: Deferred()})
    clock.advance(60)
    q.submit(sub(Recipient(address="e@x", route="down")))
    assert q.claim("to-x400") == []
    clock.advance(60 * 2 + 60)                                # past both backoffs
    jobs = q.claim("to-x400")
    assert len(jobs) == 3
    # one delivery clears the destination's backoff
    q.record(jobs[0], {jobs[0].recipients[0].address: Delivered()})
    assert q.stats().routes_backing_off == ()
    q.close()


def test_partial_deferral_does_not_back_off_the_destination(queue: Any, clock: Clock) -> None:
    queue.submit(sub(Recipient(address="a@x", route="p"), Recipient(address="b@x", route="p")))
    (job,) = queue.claim("to-x400")
    queue.record(job, {"a@x": Delivered(), "b@x": Deferred(status="4.2.1")})
    assert queue.stats().routes_backing_off == ()
    queue.submit(sub(Recipient(address="c@x", route="p")))
    assert len(queue.claim("to-x400")) == 1


def test_expiry(make_queue: MakeQueue, clock: Clock) -> None:
    policy = RetryPolicy(initial=100, factor=1, maximum=100, expire_after=1000)
    q = make_queue(clock=clock, retry=policy)
    mid = q.submit(sub("a@b"))
    states = []
    for _ in range(12):
        jobs = q.claim("to-x400")
        if not jobs:
            break
        q.record(jobs[0], {"a@b": Deferred(status="4.4.7", diagnostic="timeout")})
        info = q.get(mid)
        assert info is not None
        states.append((clock.now - T0, info.recipients[0].state))
        clock.advance(100)
    # attempts at 0, 100, ..., 900 are deferred; the one at 1000 finds it expired
    assert states[-1] == (1000, "expired")
    assert all(s == "deferred" for _, s in states[:-1]) and len(states) == 11
    info = q.get(mid)
    assert info is not None and info.recipients[0].last is not None
    assert info.recipients[0].last.kind == "expired"
    assert info.recipients[0].last.diagnostic == "timeout"
    assert q.claim("to-x400") == []
    (task,) = q.reports_due()
    assert [(i.recipient.address, i.kind, i.state) for i in task.items] == [
        ("a@b", "failure", "expired")]
    q.close()


def test_a_fresh_recipient_does_not_expire_without_an_attempt(make_queue: MakeQueue,
                                                              clock: Clock) -> None:
    q = make_queue(clock=clock, retry=RetryPolicy(expire_after=10))
    q.submit(sub("a@b"))
    clock.advance(1000)                      # the gateway was down
    (job,) = q.claim("to-x400")
    q.record(job, {"a@b": Delivered()})
    assert q.stats().recipients["delivered"] == 1
    q.close()


# -- reports ---------------------------------------------------------------------------------


def test_reports_due_and_mark_reported(make_queue: MakeQueue, clock: Clock) -> None:
    q = make_queue(clock=clock,
                   retry=RetryPolicy(delay_warning=3600, initial=60, maximum=60))
    mid = q.submit(sub(
        Recipient(address="ok-silent@x", route="p"),
        Recipient(address="ok-success@x", route="p", notify=("SUCCESS",)),
        Recipient(address="ok-x400@x", route="p", extra={"report": "delivery"}),
        Recipient(address="bad@x", route="p", notify=("NEVER",)),
        Recipient(address="slow@x", route="p", notify=("delay", "failure")),
        Recipient(address="slow-quiet@x", route="p", notify=("FAILURE",)),
    ))
    (job,) = q.claim("to-x400")
    q.record(job, {"ok-silent@x": Delivered(), "ok-success@x": Delivered(),
                   "ok-x400@x": Delivered(), "bad@x": Failed(status="5.1.1"),
                   "slow@x": Deferred(), "slow-quiet@x": Deferred()})
    (task,) = q.reports_due()
    assert task.message_id == mid and task.sender == "alice@example.org"
    assert task.data == b"Subject: x\r\n\r\nhi\r\n" and task.meta == {"envid": "E1"}
    assert {(i.recipient.address, i.kind) for i in task.items} == {
        ("ok-success@x", "delivery"), ("ok-x400@x", "delivery"), ("bad@x", "failure")}
    q.mark_reported(mid, ["ok-success@x", "ok-x400@x"], "delivery")
    q.mark_reported(mid, ["bad@x"], "failure")
    assert q.reports_due() == []
    clock.advance(3600)                                      # delay warning time
    (task,) = q.reports_due()
    assert [(i.recipient.address, i.kind, i.state) for i in task.items] == [
        ("slow@x", "delay", "deferred")]
    q.mark_reported(mid, ["slow@x"], "delay")
    assert q.reports_due() == []                             # once
    # it then fails for good: the failure report is still due
    (job,) = q.claim("to-x400")
    q.record(job, {"slow@x": Failed(status="5.4.4"), "slow-quiet@x": Delivered()})
    (task,) = q.reports_due()
    assert [(i.recipient.address, i.kind) for i in task.items] == [("slow@x", "failure")]
    q.mark_reported(mid, ["slow@x"], "failure")
    info = q.get(mid)
    assert info is not None
    assert {r.recipient.address: r.reported for r in info.recipients}["slow@x"] == (
        "failure", "delay")
    with pytest.raises(ValueError):
        q.mark_reported(mid, ["slow@x"], "bogus")
    with pytest.raises(NoSuchMessage):
        q.mark_reported("nope", ["slow@x"], "failure")
    q.close()


def test_reports_due_limit(queue: Any) -> None:
    for _ in range(3):
        queue.submit(sub("a@b"))
    for job in queue.claim("to-x400"):
        queue.record(job, {"a@b": Failed(status="5.0.0")})
    assert len(queue.reports_due(limit=2)) == 2
    assert len(queue.reports_due()) == 3


# -- operators -------------------------------------------------------------------------------


def test_shunt_retry_drop(queue: Any, clock: Clock) -> None:
    mid = queue.submit(sub("a@b", "c@d"))
    (job,) = queue.claim("to-x400")
    queue.record(job, {"a@b": Delivered()})
    queue.shunt(mid, "cannot convert: bad MIME")
    assert queue.claim("to-x400") == []
    info = queue.get(mid)
    assert info is not None and info.shunt_reason == "cannot convert: bad MIME"
    assert [r.state for r in info.recipients] == ["delivered", "dead"]
    assert queue.stats().dead == 1
    assert [m.message_id for m in queue.list(state="dead")] == [mid]
    assert queue.reports_due() == []                         # an operator looks first
    clock.advance(5)
    assert queue.retry(mid) == 1                             # delivered ones stay delivered
    info = queue.get(mid)
    assert info is not None and info.shunt_reason is None
    assert [(r.state, r.next_attempt) for r in info.recipients] == [
        ("delivered", T0), ("pending", T0 + 5)]
    assert [h.event for h in info.history] == ["submitted", "delivered", "shunted", "retried"]
    (job,) = queue.claim("to-x400")
    assert [r.address for r in job.recipients] == ["c@d"]
    assert queue.drop(mid) is True
    assert queue.drop(mid) is False
    assert queue.get(mid) is None
    assert queue._live().execute("SELECT count(*) FROM recipients").fetchone() == (0,)
    assert queue._live().execute("SELECT count(*) FROM history").fetchone() == (0,)
    with pytest.raises(NoSuchMessage):
        queue.retry(mid)
    with pytest.raises(NoSuchMessage):
        queue.shunt(mid, "x")


def test_retry_failed_and_deferred_clears_backoff(queue: Any, clock: Clock) -> None:
    mid = queue.submit(sub(Recipient(address="a@b", route="p"),
                           Recipient(address="c@d", route="q")))
    jobs = {j.route: j for j in queue.claim("to-x400")}
    queue.record(jobs["p"], {"a@b": Failed(status="5.1.1")})
    queue.record(jobs["q"], {"c@d": Deferred()})
    queue.mark_reported(mid, ["a@b"], "failure")
    assert queue.stats().routes_backing_off == ("to-x400:q",)
    assert queue.retry(mid) == 2
    assert queue.stats().routes_backing_off == ()
    assert len(queue.claim("to-x400")) == 2
    info = queue.get(mid)
    assert info is not None
    assert all(r.state == "pending" and r.attempts == 0 and r.reported == ()
               for r in info.recipients)
    # a recipient under a live lease is left alone by retry
    assert queue.retry(mid) == 0


def test_list_and_stats(queue: Any, clock: Clock) -> None:
    a = queue.submit(sub("a@b", data=b"12345"))
    clock.advance(10)
    b = queue.submit(sub("c@d", direction="to-smtp"))
    clock.advance(10)
    (job,) = queue.claim("to-x400")
    queue.record(job, {"a@b": Delivered()})
    listed = queue.list()
    assert [m.message_id for m in listed] == [a, b]
    assert listed[0].size == 5 and listed[0].states == {"delivered": 1}
    assert [m.message_id for m in queue.list(direction="to-smtp")] == [b]
    assert [m.message_id for m in queue.list(state="pending")] == [b]
    assert [m.message_id for m in queue.list(limit=1)] == [a]
    with pytest.raises(ValueError):
        queue.list(state="bogus")
    queue.claim("to-smtp")
    st = queue.stats()
    assert st.messages == 2 and st.depth == 1 and st.in_flight == 1 and st.dead == 0
    assert st.recipients["delivered"] == 1 and st.recipients["pending"] == 1
    assert st.by_direction["to-smtp"]["pending"] == 1
    assert st.by_direction["to-x400"]["delivered"] == 1
    assert st.oldest_pending_age == 10


def test_empty_stats(queue: Any) -> None:
    st = queue.stats()
    assert (st.messages, st.depth, st.in_flight, st.oldest_pending_age) == (0, 0, 0, None)


# -- concurrency and sharing -------------------------------------------------------------------


def test_concurrent_submitters_and_claimers(make_queue: MakeQueue) -> None:
    q = make_queue()
    ids: list[str] = []
    errors: list[BaseException] = []
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def submitter(n: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(25):
                mid = q.submit(sub("a@b", data=f"{n}-{i}".encode()))
                with lock:
                    ids.append(mid)
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    def claimer() -> None:
        try:
            start.wait(timeout=10)
            for _ in range(40):
                for job in q.claim("to-x400", limit=3):
                    with lock:
                        claimed.append(job.message_id)
                    q.record(job, {"a@b": Delivered()})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=submitter, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=claimer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert len(set(ids)) == 100
    assert len(claimed) == len(set(claimed))                  # nothing claimed twice
    for job in q.claim("to-x400", limit=200):
        claimed.append(job.message_id)
    assert sorted(claimed) == sorted(ids)
    assert {q.get(i).data for i in ids} == {  # type: ignore[union-attr]
        f"{n}-{i}".encode() for n in range(4) for i in range(25)}
    q.close()


def test_two_handles_on_one_file(make_queue: MakeQueue) -> None:
    """The CLI opens the file while serve runs: both see each other's commits."""
    serve = make_queue()
    cli = make_queue(create=False)
    mid = serve.submit(sub("a@b"))
    assert cli.get(mid) is not None
    cli.shunt(mid, "operator")
    assert serve.claim("to-x400") == []
    cli.close()
    serve.close()


# -- bad files ---------------------------------------------------------------------------------


def test_garbage_file_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    path.write_bytes(b"this is not SQLite at all\n" * 400)
    with pytest.raises(QueueCorrupt) as err:
        Queue(path)
    assert isinstance(err.value, BridgeError) and err.value.smtp.code == 451
    assert path.read_bytes() == b"this is not SQLite at all\n" * 400     # left untouched


def test_other_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE foo (x)")
    conn.commit()
    conn.close()
    with pytest.raises(QueueCorrupt, match="not an x400bridge queue"):
        Queue(path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = altered_queue(tmp_path, "UPDATE info SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(QueueError, match="newer"):
        Queue(path)


def test_missing_file_without_create(tmp_path: Path) -> None:
    with pytest.raises(QueueError, match="no queue"):
        Queue(tmp_path / "nope.sqlite", create=False)
    assert not (tmp_path / "nope.sqlite").exists()


def test_closed_queue(make_queue: MakeQueue) -> None:
    q = make_queue()
    q.close()
    q.close()
    with pytest.raises(QueueError, match="closed"):
        q.submit(sub("a@b"))


def test_verify_finds_tampered_data(queue: Any, backend: Backend) -> None:
    mid = queue.submit(sub("a@b", "c@d"))
    assert queue.verify() == []
    conn = queue._live()
    conn.execute(backend.sql("UPDATE messages SET data = ? WHERE id = ?"), (b"\x00", mid))
    conn.execute(backend.sql("DELETE FROM recipients WHERE message_id = ? AND idx = 1"), (mid,))
    problems = queue.verify()
    assert any("digest" in p for p in problems) and any("1 of 2" in p for p in problems)


def test_retry_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(initial=0)
    with pytest.raises(ValueError):
        RetryPolicy(initial=10, maximum=5)
    assert RetryPolicy().backoff(1) == 60 and RetryPolicy().backoff(3) == 240


def test_purge_keeps_what_is_not_finished(queue: Any, clock: Clock) -> None:
    done = queue.submit(sub("a@b"))
    unreported = queue.submit(sub("c@d"))
    waiting = queue.submit(sub(Recipient(address="e@f", route="p2")))
    dead = queue.submit(sub("g@h"))
    queue.shunt(dead, "x")
    jobs = {j.message_id: j for j in queue.claim("to-x400")}
    queue.record(jobs[done], {"a@b": Delivered()})
    queue.record(jobs[unreported], {"c@d": Failed(status="5.1.1")})
    queue.record(jobs[waiting], {"e@f": Deferred()})
    assert queue.purge(older_than=60) == 0                  # too recent
    clock.advance(60)
    assert queue.purge(older_than=60) == 1
    assert queue.get(done) is None
    assert {m.message_id for m in queue.list()} == {unreported, waiting, dead}
    queue.mark_reported(unreported, ["c@d"], "failure")
    assert queue.purge(older_than=60) == 1
    assert {m.message_id for m in queue.list()} == {waiting, dead}


def test_a_shunted_message_gets_no_reports_until_retried(queue: Any) -> None:
    mid = queue.submit(sub("a@b"))
    (job,) = queue.claim("to-x400")
    queue.record(job, {"a@b": Failed(status="5.1.1")})
    assert len(queue.reports_due()) == 1
    queue.shunt(mid, "report generation failed")             # e.g. the NDR could not be built
    assert queue.reports_due() == []
    assert queue.get(mid).shunt_reason == "report generation failed"  # type: ignore[union-attr]
    assert queue.retry(mid) == 1                              # delivery is tried again
    assert queue.get(mid).shunt_reason is None  # type: ignore[union-attr]
    (job,) = queue.claim("to-x400")
    queue.record(job, {"a@b": Failed(status="5.1.1")})
    assert [t.message_id for t in queue.reports_due()] == [mid]


def test_writer_waits_for_another_process_then_gives_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = Queue(path, busy_timeout=0.2)
    other = sqlite3.connect(path, isolation_level=None)   # e.g. the CLI in another process
    other.execute("BEGIN IMMEDIATE")                      # holds the write lock
    try:
        with pytest.raises(QueueError, match="locked") as err:
            q.submit(sub("a@b"))
        assert err.value.smtp.code == 451                 # the peer is told to retry later
        assert q.list() == []                             # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert q.get(q.submit(sub("a@b"))) is not None       # and it works once released
    q.close()


# -- wake-ups and schema versions (both backends) ---------------------------------------------


def test_wait_for_work_wakes_for_new_work(make_queue: MakeQueue) -> None:
    worker, intake = make_queue(), make_queue()
    worker.wait_for_work(0.01)                 # PostgreSQL: the first call starts listening
    assert worker.wait_for_work(0.01) is False
    intake.submit(sub("a@b"))
    worker.submit(sub("c@d"))                  # SQLite wakes for its own handle's work only
    assert worker.wait_for_work(5) is True
    (job, _) = worker.claim("to-x400")
    worker.release(job)                        # released work is due again: a wake-up
    assert worker.wait_for_work(5) is True


def test_schema_version_and_migrate_when_current(make_queue: MakeQueue) -> None:
    q = make_queue()
    assert q.schema_version() == SCHEMA_VERSION
    assert q.migrate() == []                   # nothing to do: already the latest
    assert q.schema_version() == SCHEMA_VERSION


# -- PostgreSQL only ---------------------------------------------------------------------------


@pytest.fixture
def pg_dsn() -> str:
    require_postgres()
    return shared_cluster().create_database()


def test_pg_submit_is_committed_for_another_connection(pg_dsn: str) -> None:
    import psycopg

    with PgQueue(pg_dsn) as q:
        mid = q.submit(sub("a@b"))
        with psycopg.connect(pg_dsn) as other:
            assert other.execute("SELECT count(*) FROM messages WHERE id = %s",
                                 (mid,)).fetchone() == (1,)
        conn = q._live()
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert conn.execute("SELECT version, description FROM schema_version").fetchall() == [
            (1, "initial schema"), (2, "recipient priority (RFC 6710 MT-PRIORITY)"),
            (3, "the node holding a recipient's lease"),
            (4, "the time of a destination's last failure"),
            (5, "an index of the recipients whose report is due")]


def claimed_once_by_two_nodes(dsn: str, ids: set[str],
                              claims: Callable[[PgQueue, str], Iterator[list[str]]]) -> None:
    """Two handles (two connections, as two nodes would have) in two threads each run
    ``claims(queue, node)`` -- the message ids of each claim it makes and records, until
    nothing is left; every one of ``ids`` was claimed, and by one of them only."""
    claimed: list[list[str]] = [[], []]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def node(n: int) -> None:
        try:
            with PgQueue(dsn) as q:
                start.wait(timeout=10)
                for found in claims(q, f"n{n}"):
                    claimed[n] += found
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)


def test_pg_two_claimers_never_get_the_same_job(pg_dsn: str) -> None:
    """Two handles (two connections, as two nodes would have), claiming in two threads."""
    with PgQueue(pg_dsn) as intake:
        ids = set(intake.submit_many([sub("a@b", data=str(i).encode()) for i in range(200)]))

    def claims(q: PgQueue, node: str) -> Iterator[list[str]]:
        while jobs := q.claim("to-x400", limit=3):
            yield [j.message_id for j in jobs]
            for job in jobs:
                q.record(job, {"a@b": Delivered()})
    claimed_once_by_two_nodes(pg_dsn, ids, claims)


def test_pg_a_claim_skips_rows_another_claim_holds_without_waiting(pg_dsn: str) -> None:
    with PgQueue(pg_dsn, busy_timeout=1.0) as a, PgQueue(pg_dsn, busy_timeout=1.0) as b:
        first, second = a.submit(sub("a@b")), a.submit(sub("c@d"))
        with a.batch():                                   # a's claim is not committed yet
            (held,) = a.claim("to-x400", limit=1)
            (other,) = b.claim("to-x400", limit=5)        # no lock wait: SKIP LOCKED
            assert (held.message_id, other.message_id) == (first, second)
        assert b.claim("to-x400") == [] and a.claim("to-x400") == []


def test_pg_a_claim_goes_past_groups_another_claim_holds(pg_dsn: str) -> None:
    """The one-statement claim looks at the first ``limit`` groups due; when another claim
    holds all of them, it still finds the free work behind them."""
    with PgQueue(pg_dsn, busy_timeout=1.0) as a, PgQueue(pg_dsn, busy_timeout=1.0) as b:
        first, second, third = (a.submit(sub(f"r{i}@b")) for i in range(3))
        with a.batch():
            (held,) = a.claim("to-x400", limit=1)
            assert held.message_id == first
            assert [j.message_id for j in b.claim("to-x400", limit=1)] == [second]
            assert [j.message_id for j in b.claim("to-x400", limit=1)] == [third]
            assert b.claim("to-x400", limit=1) == []


def test_pg_a_job_carries_every_recipient_of_its_route_and_its_data(pg_dsn: str) -> None:
    with PgQueue(pg_dsn) as q:
        mid = q.submit(Submission(
            direction="to-x400", origin="smtp", sender="s@a", data=b"\x00body",
            meta={"k": 1}, recipients=(Recipient(address="x@1", route="p1"),
                                       Recipient(address="y@2", route="p2"),
                                       Recipient(address="z@1", route="p1"))))
        jobs = q.claim("to-x400", limit=5)
        assert [(j.route, [r.address for r in j.recipients]) for j in jobs] == [
            ("p1", ["x@1", "z@1"]), ("p2", ["y@2"])]
        assert all(j.message_id == mid and j.data == b"\x00body" and j.meta == {"k": 1}
                   for j in jobs)


def test_pg_threads_use_connections_of_their_own(pg_dsn: str) -> None:
    """A batch open in one thread does not hold another thread's write (the pool), and
    ``pool_size`` bounds the connections."""
    import psycopg

    with PgQueue(pg_dsn, pool_size=2) as q:
        done = threading.Event()
        with q.batch():
            q.submit(sub("a@b"))
            worker = threading.Thread(target=lambda: (q.submit(sub("c@d")), done.set()))
            worker.start()
            assert done.wait(10)                     # committed while the batch is open
            worker.join()
            with psycopg.connect(pg_dsn) as other:
                assert other.execute("SELECT count(*) FROM messages").fetchone() == (1,)
        assert q._opened == 2
    with pytest.raises(ValueError):
        PgQueue(pg_dsn, pool_size=0)


def test_pg_newer_schema_is_refused(pg_dsn: str) -> None:
    import psycopg

    PgQueue(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', 0)")
    with pytest.raises(QueueError, match="newer"):
        PgQueue(pg_dsn)


def test_pg_schema_1_is_migrated_to_the_priority(pg_dsn: str) -> None:
    """Step 2 on a version 1 database: existing recipients get priority 0 and the claim
    orders by priority."""
    import psycopg

    from bridge.queue import migrations_pg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert migrations_pg.setup(conn, "db", create=True, migrate=False,
                                   steps=migrations_pg.MIGRATIONS[:1]) == [1]
    with pytest.raises(QueueError, match="older"):
        PgQueue(pg_dsn)
    q = PgQueue(pg_dsn, migrate=True)
    try:
        old = q.submit(sub("a@b"))
        new = q.submit(dataclasses.replace(sub("c@d"), priority=6))
        assert [j.message_id for j in q.claim("to-x400")] == [new, old]
    finally:
        q.close()


def test_pg_older_schema_needs_migrate(pg_dsn: str) -> None:
    """A step this x400bridge adds (here a made-up next version) is applied only by migrate,
    once, and an x400bridge without it then refuses the database."""
    import psycopg

    from bridge.queue import migrations_pg
    from bridge.queue.migrations import Migration

    PgQueue(pg_dsn).close()
    top = migrations_pg.SCHEMA_VERSION + 1
    steps = (*migrations_pg.MIGRATIONS, Migration(
        version=top, description="test step",
        statements=("ALTER TABLE messages ADD COLUMN node text",)))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        with pytest.raises(QueueError, match="older.*queue migrate"):
            migrations_pg.setup(conn, "db", create=False, migrate=False, steps=steps)
        assert migrations_pg.setup(conn, "db", create=False, migrate=True, steps=steps) == [top]
        assert migrations_pg.setup(conn, "db", create=False, migrate=True, steps=steps) == []
        assert migrations_pg.schema_version(conn) == top
    with pytest.raises(QueueError, match="newer"):
        PgQueue(pg_dsn)


def test_pg_nodes_starting_together_create_the_schema_once(pg_dsn: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def node() -> None:
        try:
            start.wait(timeout=10)
            PgQueue(pg_dsn).close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=node) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    with PgQueue(pg_dsn, create=False) as q:
        assert q.schema_version() == SCHEMA_VERSION


def test_pg_other_database_and_missing_queue(pg_dsn: str) -> None:
    import psycopg

    with pytest.raises(QueueError, match="no queue"):
        PgQueue(pg_dsn, create=False)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE foo (x int)")
    with pytest.raises(QueueCorrupt, match="not an x400bridge queue"):
        PgQueue(pg_dsn)


def test_pg_unreachable_server_is_a_clean_error_without_the_password() -> None:
    from tests.postfix import free_port

    with pytest.raises(QueueError, match="cannot connect") as err:
        PgQueue(f"postgresql://x@127.0.0.1:{free_port()}/q", password="s3cret-pw",
                connect_timeout=2)
    assert err.value.smtp.code == 451 and "s3cret-pw" not in str(err.value)


def test_a_message_on_two_routes_claimed_later_route_first(make_queue: MakeQueue,
                                                           clock: Clock) -> None:
    """A message with recipients on two routes whose later recipient is due first: one claim
    gets both groups, the later route first, and each job carries the message's data (the
    PostgreSQL claim sends the data once per message -- it once sat on a job claimed after
    the first one and the claim failed with a KeyError)."""
    q = make_queue(clock=clock, retry=RetryPolicy(initial=10, factor=1, maximum=10,
                                                  expire_after=10_000))
    mid = q.submit(Submission(direction="to-x400", origin="smtp", sender="s@y",
                              recipients=(Recipient(address="a@y", route="peer-a"),
                                          Recipient(address="b@y", route="peer-b")),
                              data=b"the data"))
    [first_a, first_b] = sorted(q.claim("to-x400", limit=2), key=lambda j: j.route)
    q.record(first_a, {"a@y": Deferred(status="4.4.1", diagnostic="busy")})   # a: due at +10
    q.release(first_b)                                                         # b: due now
    clock.advance(20)
    jobs = q.claim("to-x400", limit=2)
    assert [(j.message_id, j.route) for j in jobs] == [(mid, "peer-b"), (mid, "peer-a")]
    assert [j.data for j in jobs] == [b"the data", b"the data"]


def test_reports_due_walks_only_the_rows_still_to_report(make_queue: MakeQueue,
                                                          backend: Backend) -> None:
    """Schema 5: the final reports due are found through a partial index of exactly those
    rows (recipients_final_due), not by a scan of every finished recipient -- a delivered
    recipient that wants no report is never in it; one that asked for SUCCESS is, until its
    report is marked."""
    q = make_queue()
    quiet = q.submit(sub("a@b"))
    wants = q.submit(Submission(direction="to-x400", origin="smtp", sender="s@y",
                                recipients=(Recipient(address="c@d", route="peer",
                                                      notify=("SUCCESS",)),), data=b"x"))
    for job in q.claim("to-x400", limit=10):
        q.record(job, {r.address: Delivered() for r in job.recipients})
    assert [t.message_id for t in q.reports_due()] == [wants]
    q.mark_reported(wants, ["c@d"], "delivery")
    assert q.reports_due() == [] and quiet
    if backend.name == "sqlite":
        conn = sqlite3.connect(backend.path)
        try:
            indexes = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'")}
        finally:
            conn.close()
        assert "recipients_final_due" in indexes


def test_pg_a_foreign_wait_ignores_the_handles_own_notifications(pg_dsn: str) -> None:
    """The gateway's doorbell (``foreign``): its own process's writes wake its workers
    directly, so only another handle's (node's, process's) NOTIFY rings it."""
    with PgQueue(pg_dsn) as worker, PgQueue(pg_dsn) as other:
        worker.wait_for_work(0.01, foreign=True)       # the first call starts listening
        worker.submit(sub("a@b"))
        assert worker.wait_for_work(0.5, foreign=True) is False
        worker.submit(sub("c@d"))
        other.submit(sub("e@f"))
        assert worker.wait_for_work(5, foreign=True) is True
        worker.submit(sub("g@h"))
        assert worker.wait_for_work(5) is True          # without foreign: every NOTIFY
