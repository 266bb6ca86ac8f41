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


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Backoff and expiry, all in seconds.

    The n-th deferred attempt of a recipient (n >= 1) waits ``initial * factor**(n-1)``, capped
    at ``maximum``; a destination (route) whose attempts are all deferred backs off by the same
    rule over its consecutive failures.  A recipient deferred ``expire_after`` seconds after it
    was queued expires (final, reported as a failure -- RFC 5321 §4.5.4.1 suggests giving up
    after 4-5 days).  ``delay_warning`` (None = never) is when a recipient that asked for
    NOTIFY=DELAY (RFC 3461 §4.1) gets one delay report.
    """

    initial: float = 60.0
    factor: float = 2.0
    maximum: float = 3600.0
    expire_after: float = 5 * 86400.0
    delay_warning: float | None = 4 * 3600.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial:
            raise ValueError("RetryPolicy needs initial > 0, factor >= 1, maximum >= initial")
        if self.expire_after <= 0:
            raise ValueError("RetryPolicy.expire_after must be > 0")

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
    the holder's ``record``/``release`` can give the lease back.
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
    """A recipient and where it stands."""

    recipient: Recipient
    state: State
    attempts: int
    next_attempt: float
    since: float
    leased_until: float | None
    last: LastOutcome | None
    reported: tuple[ReportKind, ...] = ()


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
    ``routes_backing_off`` the destinations currently not tried.
    """

    messages: int
    recipients: Mapping[str, int]
    by_direction: Mapping[str, Mapping[str, int]]
    depth: int
    in_flight: int
    dead: int
    oldest_pending_age: float | None
    routes_backing_off: tuple[str, ...] = ()


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
