"""Failure-driven throttling and rate-limited logging, per client (the idea of Postfix's anvil).

A password-guessing run must cost the guesser time and must not flood the log (issue 12: 1,000
wrong P1 bind passwords in 1.8 s, each logged).  :class:`FailureTracker` counts recent
failures per key (a client address) and answers the delay to impose before the next refusal;
:class:`LogLimiter` lets one line per key through per interval and counts what it held back.

Pure bookkeeping: the caller passes the clock (``now``, monotonic seconds) and does the
waiting.  Both are bounded in memory (``max_keys``; the stalest entries go first).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class FailureTracker:
    """Recent failures per key; the delay doubles with each one up to ``max_delay``.

    Failures older than ``forget_after`` seconds are forgotten; a success clears the key.
    """

    def __init__(self, *, base_delay: float = 1.0, max_delay: float = 30.0,
                 forget_after: float = 600.0, max_keys: int = 10_000) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._seen: OrderedDict[str, _Failures] = OrderedDict()

    def failures(self, key: str, now: float) -> int:
        """Recent failures of ``key``."""
        entry = self._seen.get(key)
        if entry is None or now - entry.last > self.forget_after:
            return 0
        return entry.count

    def fail(self, key: str, now: float) -> float:
        """Record a failure; returns the delay to impose before answering it."""
        count = self.failures(key, now) + 1
        self._seen[key] = _Failures(count, now)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return float(min(self.max_delay, self.base_delay * 2.0 ** (count - 1)))

    def succeed(self, key: str) -> None:
        """A success: the key starts afresh."""
        self._seen.pop(key, None)


class LogLimiter:
    """At most one log line per key every ``interval`` seconds."""

    def __init__(self, *, interval: float = 60.0, max_keys: int = 10_000) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def allow(self, key: str, now: float) -> int | None:
        """None: hold this line back; else the number of lines held back since the last one
        (0 for the first), to be mentioned in the line that goes out."""
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            self._last[key] = (last[0], last[1] + 1)
            return None
        held = last[1] if last is not None else 0
        self._last[key] = (now, 0)
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return held

    def log(self, logger: logging.Logger, level: int, key: str, now: float, msg: str,
            *args: object) -> None:
        """``logger.log(level, msg, *args)`` unless held back for ``key``; the line that goes
        out says how many like it were not logged."""
        held = self.allow(key, now)
        if held is None:
            return
        if held:
            msg += " (%d more like it not logged)"
            args += (held,)
        logger.log(level, msg, *args)
