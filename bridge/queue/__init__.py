"""The durable queue between the SMTP and X.400 sides (``submit()`` is the only way in).

See :mod:`bridge.queue.store` and ``docs/queue.md``.
"""

from bridge.queue.model import (
    Deferred,
    Delivered,
    Direction,
    Failed,
    Outcome,
    Recipient,
    Submission,
)
from bridge.queue.store import Queue
from bridge.queue.types import (
    STATES,
    HistoryEvent,
    Job,
    LastOutcome,
    MessageInfo,
    MessageSummary,
    NoSuchMessage,
    PriorityTimes,
    QueueCorrupt,
    QueueError,
    QueueStats,
    RecipientInfo,
    ReportItem,
    ReportKind,
    ReportTask,
    RetryPolicy,
    State,
)

__all__ = [
    "STATES", "Deferred", "Delivered", "Direction", "Failed", "HistoryEvent", "Job",
    "LastOutcome", "MessageInfo", "MessageSummary", "NoSuchMessage", "Outcome",
    "PriorityTimes", "Queue",
    "QueueCorrupt", "QueueError", "QueueStats", "RecipientInfo", "Recipient", "ReportItem",
    "ReportKind", "ReportTask", "RetryPolicy", "State", "Submission",
]
