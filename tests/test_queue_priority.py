"""Retry, delay-warning and expiry times per RFC 6710 priority (issue 14): the policy, the
``[[queue.by-priority]]`` configuration, and both backends applying them with a fake clock
(docs/queue.md, "Times per priority")."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config import parse_config, render_config
from bridge.convert.priority import STANAG4406
from bridge.errors import ConfigError
from bridge.model.mmhs import Precedence
from bridge.queue import Deferred, Recipient, RetryPolicy
from bridge.queue.types import PriorityTimes
from tests.pgserver import BACKENDS, Backend, backend_for
from tests.test_queue import Clock, sub

DOCS = Path(__file__).resolve().parent.parent / "docs" / "queue.md"

#: flash-like times from priority 6 up, base times below
POLICY = RetryPolicy(initial=60, factor=2, maximum=3600, expire_after=5 * 86400,
                     delay_warning=3600,
                     by_priority=(PriorityTimes(at_least=6, initial=10, maximum=300,
                                                delay_warning=900, expire_after=4 * 3600),))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return backend_for(request.param, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(backend: Backend, clock: Clock) -> Iterator[Any]:
    q = backend.open(clock=clock, retry=POLICY)
    yield q
    q.close()


def at(priority: int, *addresses: str, route: str = "peer-a") -> Any:
    rcpts = [Recipient(address=a, route=route, notify=("DELAY", "FAILURE")) for a in addresses]
    return dataclasses.replace(sub(*rcpts), priority=priority)


def defer_all(queue: Any) -> None:
    for job in queue.claim("to-x400", limit=100):
        queue.record(job, {r.address: Deferred(status="4.4.1") for r in job.recipients})


# -- the policy --------------------------------------------------------------------------------


def test_the_entry_with_the_highest_at_least_reached_wins() -> None:
    policy = RetryPolicy(by_priority=(PriorityTimes(at_least=6, initial=5, maximum=60),
                                      PriorityTimes(at_least=2, maximum=600,
                                                    delay_warning=0)))
    assert policy.for_priority(1) == RetryPolicy()                     # below every entry
    two = policy.for_priority(2)
    assert (two.initial, two.maximum, two.delay_warning, two.expire_after) == (
        60, 600, None, 5 * 86400)                                      # 0: no warning
    assert policy.for_priority(5) == two
    six = policy.for_priority(6)
    assert (six.initial, six.maximum, six.delay_warning) == (5, 60, 4 * 3600)  # inherited
    assert policy.for_priority(9) == six and policy.for_priority(99) == six
    assert policy.for_priority(-99) == RetryPolicy()
    assert [level for level, _ in policy.bands()] == [6, 2]
    assert RetryPolicy().bands() == () and RetryPolicy().for_priority(9) == RetryPolicy()


@pytest.mark.parametrize(("entries", "message"), [
    ((PriorityTimes(at_least=10),), "not an RFC 6710 priority"),
    ((PriorityTimes(at_least=-10),), "not an RFC 6710 priority"),
    ((PriorityTimes(at_least=3), PriorityTimes(at_least=3)), "at most once"),
    ((PriorityTimes(at_least=3, initial=7200),), r"at_least 3.*maximum >= initial"),
    ((PriorityTimes(at_least=3, maximum=30),), r"at_least 3.*maximum >= initial"),
    ((PriorityTimes(at_least=3, expire_after=0),), "expire_after"),
])
def test_policy_validation(entries: tuple[PriorityTimes, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(by_priority=entries)


# -- both backends -------------------------------------------------------------------------


def test_backoff_is_the_recipients_own(queue: Any, clock: Clock) -> None:
    high, low = queue.submit(at(6, "f@x")), queue.submit(at(0, "r@x", route="peer-b"))
    defer_all(queue)
    assert queue.get(high).recipients[0].next_attempt == clock.now + 10
    assert queue.get(low).recipients[0].next_attempt == clock.now + 60
    for _ in range(6):                                   # capped at its own retry-max
        clock.advance(400)
        defer_all(queue)
    assert queue.get(high).recipients[0].next_attempt == clock.now + 300
    for _ in range(6):
        clock.advance(4000)
        defer_all(queue)
    assert queue.get(low).recipients[0].next_attempt == clock.now + 3600


def test_a_priority_6_recipient_expires_at_its_own_expire_after(queue: Any,
                                                                clock: Clock) -> None:
    high, low = queue.submit(at(6, "f@x")), queue.submit(at(0, "r@x", route="peer-b"))
    clock.advance(1)
    later = queue.submit(at(6, "g@x", route="peer-c"))
    defer_all(queue)
    clock.advance(4 * 3600 - 1)                            # 4 h after the first two
    defer_all(queue)
    assert queue.get(high).recipients[0].state == "expired"
    assert queue.get(later).recipients[0].state == "deferred"         # 1 s to go
    assert queue.get(low).recipients[0].state == "deferred"           # base: 5 days
    due = {(t.message_id, i.kind) for t in queue.reports_due() for i in t.items}
    assert (high, "failure") in due and (low, "failure") not in due
    assert (later, "failure") not in due


def test_delay_warnings_are_due_per_priority(queue: Any, clock: Clock) -> None:
    high, low = queue.submit(at(6, "f@x")), queue.submit(at(-3, "r@x", route="peer-b"))
    defer_all(queue)

    def delays() -> set[str]:
        return {t.message_id for t in queue.reports_due() for i in t.items
                if i.kind == "delay"}

    clock.advance(899)
    assert delays() == set()
    clock.advance(1)                                       # 15 min: priority 6 only
    assert delays() == {high}
    queue.mark_reported(high, ["f@x"], "delay")
    clock.advance(3600 - 900 - 1)
    assert delays() == set()
    clock.advance(1)                                       # 1 h: the base warning
    assert delays() == {low}


def test_a_destination_backoff_holds_a_flash_recipient_at_most_its_retry_max(
        queue: Any, clock: Clock) -> None:
    """The destination backs off by the base schedule (here 960 s after 5 failures) but a
    priority-6 recipient is held at most its retry-max (300 s) after the last failure."""
    queue.submit(at(0, "r@x"))
    for n in range(4):                                     # one job, one failure each
        defer_all(queue)
        clock.advance(POLICY.backoff(n + 1))
    assert queue.stats().routes_backing_off == ()
    defer_all(queue)                                       # 5 failures: 960 s
    assert queue.stats().routes_backing_off == ("to-x400:peer-a",)
    flash, routine = queue.submit(at(6, "f@x")), queue.submit(at(0, "new@x"))
    clock.advance(299)
    assert queue.claim("to-x400") == []
    clock.advance(1)
    assert [j.message_id for j in queue.claim("to-x400", lease=3600)] == [flash]
    clock.advance(960 - 300 - 1)
    assert queue.claim("to-x400") == []                    # the routine one waits on
    clock.advance(1)
    assert routine in {j.message_id for j in queue.claim("to-x400", limit=100)}


def test_without_shorter_times_a_destination_holds_everyone(backend: Backend,
                                                            clock: Clock) -> None:
    longer = RetryPolicy(by_priority=(PriorityTimes(at_least=6, maximum=7200),))
    with backend.open(clock=clock, retry=longer) as q:
        q.submit(at(0, "r@x"))
        defer_all(q)
        flash = q.submit(at(6, "f@x"))
        clock.advance(59)
        assert q.claim("to-x400") == []
        clock.advance(1)
        assert flash in {j.message_id for j in q.claim("to-x400")}


# -- configuration ---------------------------------------------------------------------------


def test_config_by_priority(tmp_path: Path) -> None:
    config = parse_config(tomllib.loads('''
        [queue]
        retry-initial = "1m"
        retry-max = "1h"
        [[queue.by-priority]]
        at-least = 6
        retry-initial = "10s"
        retry-max = "5m"
        delay-warning = "15m"
        expire-after = "4h"
        [[queue.by-priority]]
        at-least = -2
        delay-warning = 0
        '''), base=tmp_path)
    q = config.queue
    assert [e.at_least for e in q.by_priority] == [-2, 6]
    policy = q.retry_policy
    six = policy.for_priority(7)
    assert (six.initial, six.maximum, six.delay_warning, six.expire_after) == (
        10, 300, 900, 4 * 3600)
    assert policy.for_priority(0).delay_warning is None and policy.for_priority(0).maximum == 3600
    assert policy.for_priority(-3) == dataclasses.replace(policy, by_priority=())
    shown = render_config(config)
    assert "[[queue.by-priority]]\nat-least = 6\nretry-initial = \"10s\"" in shown
    assert parse_config(tomllib.loads(shown), base=tmp_path).queue == q


@pytest.mark.parametrize(("entries", "message"), [
    ([{"retry-max": "5m"}], r"queue\.by-priority\[0\]\.at-least: required"),
    ([{"at-least": 10}], r"queue\.by-priority\[0\]\.at-least: must be an RFC 6710 priority"),
    ([{"at-least": -10}], r"queue\.by-priority\[0\]\.at-least: must be at least -9"),
    ([{"at-least": "6"}], r"queue\.by-priority\[0\]\.at-least: expected an integer"),
    ([{"at-least": 1}, {"at-least": 1}],
     r"queue\.by-priority\[1\]\.at-least: 1 is also queue\.by-priority\[0\]\.at-least"),
    ([{"at-least": 1, "retry-max": "30s"}],
     r"queue\.by-priority\[0\]\.retry-max: shorter than its retry-initial"),
    ([{"at-least": 1, "retry-initial": "2h"}],
     r"queue\.by-priority\[0\]\.retry-initial: longer than queue\.retry-max"),
    ([{"at-least": 1, "expire-after": 0}], r"queue\.by-priority\[0\]\.expire-after: must be"),
    ([{"at-least": 1, "delay-warning": "soon"}], r"queue\.by-priority\[0\]\.delay-warning"),
    ([{"at-least": 1, "retry-maximum": "1m"}],
     r"queue\.by-priority\[0\]\.retry-maximum: unknown key \(did you mean 'retry-max'\?\)"),
    ({"at-least": 1}, r"queue\.by-priority: expected an array of tables"),
    ([7], r"queue\.by-priority\[0\]: expected a table"),
])
def test_config_errors_name_the_dotted_key(tmp_path: Path, entries: object,
                                           message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        parse_config({"queue": {"by-priority": entries}}, base=tmp_path)


def test_the_stanag_4406_example_in_the_docs(tmp_path: Path) -> None:
    """docs/queue.md's example gives each of the six STANAG 4406 precedences (at their
    RFC 6710 STANAG4406 values) its own times, shorter for the more urgent."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"## Times per priority.*?```toml\n(.*?)```", text, re.S)
    assert block is not None
    policy = parse_config(tomllib.loads(block.group(1)), base=tmp_path).queue.retry_policy
    by_precedence = {prec: policy.for_priority(value) for value, prec in STANAG4406.items()}
    assert set(by_precedence) == {Precedence.DEFERRED, Precedence.ROUTINE, Precedence.PRIORITY,
                                  Precedence.IMMEDIATE, Precedence.FLASH, Precedence.OVERRIDE}
    ordered = [by_precedence[p] for p in sorted(by_precedence)]      # deferred .. override
    assert len({(t.maximum, t.expire_after, t.delay_warning) for t in ordered}) == 6
    for slower, faster in zip(ordered, ordered[1:], strict=False):
        assert faster.maximum < slower.maximum and faster.expire_after < slower.expire_after
        assert faster.delay_warning is not None and slower.delay_warning is not None
        assert faster.delay_warning < slower.delay_warning
