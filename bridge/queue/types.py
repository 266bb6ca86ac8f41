"""What the queue hands out and reports: jobs, report tasks, views for operators, errors.

All frozen keyword-only dataclasses (STYLE.md §3); the store (:mod:`bridge.queue.store`) builds
them from its rows, nothing else does.  Recipient states and their transitions are described in
``docs/queue.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.queue.model import Direction, Recipient

#: Recipient states.  ``pending`` and ``deferred`` are *active* (a worker may claim them);
#: ``delivered``, ``failed`` and ``expired`` are *final*; ``dead`` waits for an operator.
State = Literal["pending", "deferred", "delivered", "failed", "expired", "dead"]
STATES: tuple[State, ...] = ("pending", "deferred", "delivered", "failed", "expired", "dead")
ACTIVE: tuple[State, ...] = ("pending", "deferred")
FINAL: tuple[State, ...] = ("delivered", "failed", "expired")

#: What a report is about: a final failure (failed or expired -> X.400 NDR / DSN "failed"),
#: a successful delivery (DR / DSN "relayed" or "delivered"), or a delay warning
#: (DSN "delayed", RFC 3464 §2.3.3).
ReportKind = Literal["failure", "delivery", "delay"]
REPORT_KINDS: tuple[ReportKind, ...] = ("failure", "delivery", "delay")


#: RFC 6710 §3 item 5: an MT-PRIORITY is -9 to 9 inclusive (higher is more urgent)
PRIORITY_RANGE = range(-9, 10)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityTimes:
    """The times of recipients with an RFC 6710 priority of at least ``at_least``
    (``[[queue.by-priority]]``); each None is inherited from the :class:`RetryPolicy`.
    ``delay_warning`` 0 means no delay warning for them."""

    at_least: int
    initial: float | None = None
    maximum: float | None = None
    delay_warning: float | None = None
    expire_after: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Backoff and expiry, all in seconds.

    The n-th deferred attempt of a recipient (n >= 1) waits ``initial * factor**(n-1)``, capped
    at ``maximum``; a destination (route) whose attempts are all deferred backs off by the same
    rule over its consecutive failures.  A recipient deferred ``expire_after`` seconds after it
    was queued expires (final, reported as a failure -- RFC 5321 §4.5.4.1 suggests giving up
    after 4-5 days).  ``delay_warning`` (None = never) is when a recipient that asked for
    NOTIFY=DELAY (RFC 3461 §4.1) gets one delay report.

    ``by_priority`` overrides these times per RFC 6710 priority (issue 14): a recipient takes
    the entry with the highest ``at_least`` it reaches, and these values below every entry;
    :meth:`for_priority` gives the effective policy.  A destination keeps this (the base)
    schedule, but holds a recipient at most its own ``maximum`` after the destination's last
    failure (docs/queue.md, "Times per priority").
    """

    initial: float = 60.0
    factor: float = 2.0
    maximum: float = 3600.0
    expire_after: float = 5 * 86400.0
    delay_warning: float | None = 4 * 3600.0
    by_priority: tuple[PriorityTimes, ...] = ()
    _effective: tuple[RetryPolicy, ...] = field(default=(), init=False, repr=False,
                                                compare=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial:
            raise ValueError("RetryPolicy needs initial > 0, factor >= 1, maximum >= initial")
        if self.expire_after <= 0:
            raise ValueError("RetryPolicy.expire_after must be > 0")
        if not self.by_priority:
            return
        levels = [entry.at_least for entry in self.by_priority]
        for level in levels:
            if level not in PRIORITY_RANGE:
                raise ValueError(f"RetryPolicy.by_priority: at_least {level} is not an "
                                 "RFC 6710 priority (-9..9)")
        if len(set(levels)) != len(levels):
            raise ValueError("RetryPolicy.by_priority: each at_least at most once")
        entries = sorted(self.by_priority, key=lambda e: e.at_least)
        object.__setattr__(self, "by_priority", tuple(entries))
        own: dict[int, RetryPolicy] = {}
        for entry in entries:
            warning = (self.delay_warning if entry.delay_warning is None
                       else entry.delay_warning or None)
            try:
                own[entry.at_least] = RetryPolicy(
                    initial=self.initial if entry.initial is None else entry.initial,
                    factor=self.factor,
                    maximum=self.maximum if entry.maximum is None else entry.maximum,
                    expire_after=(self.expire_after if entry.expire_after is None
                                  else entry.expire_after),
                    delay_warning=warning)
            except ValueError as exc:
                raise ValueError(f"RetryPolicy.by_priority (at_least {entry.at_least}): "
                                 f"{exc}") from None
        effective: list[RetryPolicy] = []
        current = RetryPolicy(initial=self.initial, factor=self.factor, maximum=self.maximum,
                              expire_after=self.expire_after,
                              delay_warning=self.delay_warning)
        for priority in PRIORITY_RANGE:
            current = own.get(priority, current)
            effective.append(current)
        object.__setattr__(self, "_effective", tuple(effective))

    def for_priority(self, priority: int) -> RetryPolicy:
        """The times of a recipient of RFC 6710 ``priority`` (a value outside -9..9 is taken
        as the nearest end): the ``by_priority`` entry with the highest ``at_least`` it
        reaches, else this policy."""
        if not self._effective:
            return self
        index = min(max(priority, PRIORITY_RANGE.start), PRIORITY_RANGE.stop - 1)
        return self._effective[index - PRIORITY_RANGE.start]

    def bands(self) -> tuple[tuple[int, RetryPolicy], ...]:
        """``(at_least, effective policy)`` per ``by_priority`` entry, highest first (empty
        without overrides): what the queue's SQL turns into a CASE on the priority."""
        return tuple((e.at_least, self.for_priority(e.at_least))
                     for e in reversed(self.by_priority))

    def backoff(self, failures: int) -> float:
        """Delay after the ``failures``-th consecutive deferral (1, 2, ...)."""
        n = max(failures, 1) - 1
        # factor**n overflows a float for large n: stop growing once the cap is reached.
        delay = self.initial
        for _ in range(n):
            delay *= self.factor
            if delay >= self.maximum:
                return self.maximum
        return min(delay, self.maximum)


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """Recipients of one message for one destination, claimed by one worker.

    ``attempts`` is the highest number of earlier attempts among the recipients and
    ``first_seen`` the time the message was queued.  ``claim`` identifies this claim: only
    the holder's ``record``/``release`` can give the lease back or defer the recipients (a
    claim whose lease ran out and was taken over is *stale*: only a final outcome of it still
    counts, docs/queue.md "Nodes").
    """

    message_id: str
    direction: Direction
    origin: str
    sender: str
    data: bytes
    meta: Mapping[str, Any]
    route: str
    recipients: tuple[Recipient, ...]
    attempts: int
    first_seen: float
    claim: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LastOutcome:
    """The last outcome recorded for a recipient (status and diagnostic as reported)."""

    kind: Literal["delivered", "failed", "deferred", "expired"]
    at: float
    status: str = ""
    diagnostic: str = ""
    detail: str = ""
    x400: tuple[int, int | None] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientInfo:
    """A recipient and where it stands; ``node`` is the gateway node that holds (or last
    held, when ``leased_until`` has passed) its lease, None when it is not leased."""

    recipient: Recipient
    state: State
    attempts: int
    next_attempt: float
    since: float
    leased_until: float | None
    last: LastOutcome | None
    reported: tuple[ReportKind, ...] = ()
    node: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEvent:
    """One line of a message's history (submitted, deferred, delivered, shunted, ...)."""

    at: float
    event: str
    address: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSummary:
    """One message in ``Queue.list``: ``states`` counts its recipients by state."""

    message_id: str
    direction: Direction
    origin: str
    sender: str
    created: float
    size: int
    states: Mapping[str, int]
    shunt_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageInfo:
    """Everything about one message (``Queue.get``)."""

    message_id: str
    direction: Direction
    origin: str
    sender: str
    created: float
    data: bytes
    meta: Mapping[str, Any]
    recipients: tuple[RecipientInfo, ...]
    history: tuple[HistoryEvent, ...]
    shunt_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    """Counts for operators and the metrics endpoint.

    ``recipients`` counts recipients by state, ``by_direction`` the same per direction;
    ``depth`` is the number of messages with an active recipient, ``in_flight`` the number of
    recipients under a lease, ``dead`` the messages waiting for an operator,
    ``oldest_pending_age`` the age in seconds of the oldest active recipient (None if none),
    ``routes_backing_off`` the destinations currently not tried, ``leases_by_node`` the
    recipients under a live lease per gateway node (``""``: a node without a name).
    """

    messages: int
    recipients: Mapping[str, int]
    by_direction: Mapping[str, Mapping[str, int]]
    depth: int
    in_flight: int
    dead: int
    oldest_pending_age: float | None
    routes_backing_off: tuple[str, ...] = ()
    leases_by_node: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportItem:
    """One recipient that needs a report of ``kind``; ``last`` says why."""

    recipient: Recipient
    kind: ReportKind
    state: State
    attempts: int
    last: LastOutcome | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportTask:
    """A message with recipients needing a report (``Queue.reports_due``).

    The caller decides what to send (an X.400 DR/NDR per X.411 §8.3.1.2 or a DSN per RFC 3464,
    respecting NOTIFY/RET and the per-recipient report requests in ``Recipient.extra``) and then
    calls ``Queue.mark_reported`` -- also when it decides to send nothing.
    """

    message_id: str
    direction: Direction
    origin: str
    sender: str
    created: float
    data: bytes
    meta: Mapping[str, Any]
    items: tuple[ReportItem, ...] = field(default=())


class QueueError(BridgeError):
    """The queue cannot do what was asked (locked too long, disk full, unknown message).

    A peer that was about to be told "accepted" is told to try again later instead
    (RFC 3463 4.3.0; X.411 transfer-failure).
    """

    smtp = SMTPReply(code=451, enhanced="4.3.0", text="Queue unavailable, try again later")
    x400 = X400Diagnostic(reason=0)  # transfer-failure


class QueueFull(QueueError):
    """The file system holding the queue is full (SQLITE_FULL): RFC 3463 4.3.1, "mail system
    full" -- RFC 5321 §4.2.2 452, insufficient system storage."""

    smtp = SMTPReply(code=452, enhanced="4.3.1", text="Insufficient system storage")


class QueueGone(QueueError):
    """The queue file was removed or replaced while the gateway had it open: nothing written
    now would be kept, so nothing more is accepted until the gateway is restarted."""

    smtp = SMTPReply(code=451, enhanced="4.3.0",
                     text="Queue unavailable (the queue file is gone), try again later")


class QueueCorrupt(QueueError):
    """The queue file is not an x400bridge queue, or its content fails a consistency check."""


class NoSuchMessage(QueueError):
    """No message with this id in the queue."""
