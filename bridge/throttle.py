"""Failure-driven throttling and rate-limited logging, per client (the idea of Postfix's
anvil(8)), for both endpoints: the SMTP server's AUTH (:class:`bridge.smtp.server.Anvil`) and
the P1 responder's binds (:mod:`bridge.x400.shell`).

A password-guessing run must cost the guesser time and must not flood the log (issue 12: 1,000
wrong P1 bind passwords in 1.8 s, each logged).  :class:`FailureTracker` counts recent
failures per key (a client address), answers the delay before a refusal goes out, and hands
out *turns*: further attempts of a key with failures are checked one per delay, so guessing in
parallel connections is no faster than guessing in one.  :class:`LogLimiter` lets one line
per key through per interval, counts what it held back, and gives the counts of keys that went
quiet so that nothing is lost from the log.

Pure bookkeeping: the caller passes the clock (``now``, monotonic seconds) and does the
waiting.  Both are bounded in memory (``max_keys``; the stalest entries go first).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0             # when the last failure came
    next_at: float = 0.0          # the key's next attempt is not checked before then


class FailureTracker:
    """Recent failures per key; the delay doubles with each one, from ``base_delay`` up to
    ``max_delay`` (``base_delay <= 0``: no delay at all).

    A key is forgotten ``forget_after`` seconds after its last failure (once its turn has
    come); a success clears it at once.
    """

    def __init__(self, *, base_delay: float = 1.0, max_delay: float = 30.0,
                 forget_after: float = 600.0, max_keys: int = 10_000) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._seen: OrderedDict[str, _Failures] = OrderedDict()    # last failure last

    def delay(self, failures: int) -> float:
        """The wait that follows a key's ``failures``-th failure."""
        if failures < 1 or self.base_delay <= 0:
            return 0.0
        # 2.0 ** n overflows a float past n = 1023: the cap is long reached by then
        return float(min(self.base_delay * 2.0 ** min(failures - 1, 64), self.max_delay))

    def failures(self, key: str, now: float | None = None) -> int:
        """Failures of ``key`` remembered at ``now`` (None: as last seen, nothing expires)."""
        if now is not None:
            self._expire(now)
        entry = self._seen.get(key)
        return entry.count if entry is not None else 0

    def fail(self, key: str, now: float) -> float:
        """Record a failure; returns the delay to impose before answering it."""
        self._expire(now)
        entry = self._seen.pop(key, None) or _Failures()
        entry.count += 1
        entry.last = now
        wait = self.delay(entry.count)
        entry.next_at = max(entry.next_at, now + wait)
        self._seen[key] = entry
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return wait

    def gate(self, key: str, now: float) -> float:
        """Seconds before an attempt of ``key`` may be checked: 0 for a key without failures;
        else each attempt takes the next turn, one per :meth:`delay`."""
        self._expire(now)
        entry = self._seen.get(key)
        if entry is None:
            return 0.0
        turn = max(now, entry.next_at)
        entry.next_at = turn + self.delay(entry.count)
        return turn - now

    def succeed(self, key: str) -> None:
        """A success: the key starts afresh."""
        self._seen.pop(key, None)

    def _expire(self, now: float) -> None:
        while self._seen:
            key, entry = next(iter(self._seen.items()))
            if now - entry.last < self.forget_after or entry.next_at > now:
                return
            del self._seen[key]


@dataclass(slots=True)
class _Logged:
    since: float                  # when a line was last let through
    more: int = 0                 # lines held back since then


@dataclass(frozen=True, slots=True)
class Held:
    """Lines of ``key`` held back: ``count`` of them since the line let through at
    ``since``."""

    key: str
    count: int
    since: float


class LogLimiter:
    """At most one log line per key every ``interval`` seconds."""

    def __init__(self, *, interval: float = 60.0, max_keys: int = 10_000) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._last: OrderedDict[str, _Logged] = OrderedDict()      # oldest line first

    def admit(self, key: str, now: float) -> Held | None:
        """None: hold this line back; else what was held back since the key's last line
        (``count`` 0 for the first), to be mentioned in the line that goes out."""
        entry = self._last.get(key)
        if entry is not None and now - entry.since < self.interval:
            entry.more += 1
            return None
        held = Held(key, entry.more if entry is not None else 0,
                    entry.since if entry is not None else now)
        self._last.pop(key, None)
        self._last[key] = _Logged(since=now)
        return held

    def allow(self, key: str, now: float) -> int | None:
        """:meth:`admit`'s count: None to hold the line back, else the lines held back."""
        held = self.admit(key, now)
        return held.count if held is not None else None

    def overflow(self) -> Iterator[Held]:
        """Forget the stalest keys beyond ``max_keys``; what they had held back."""
        while len(self._last) > self.max_keys:
            key, entry = self._last.popitem(last=False)
            if entry.more:
                yield Held(key, entry.more, entry.since)

    def quiet(self, now: float) -> Iterator[Held]:
        """Forget the keys without a line for ``interval`` (``now=math.inf``: every key);
        what they had held back, for a summary line."""
        while self._last:
            key, entry = next(iter(self._last.items()))
            if now - entry.since < self.interval:
                return
            del self._last[key]
            if entry.more:
                yield Held(key, entry.more, entry.since)

    def log(self, logger: logging.Logger, level: int, key: str, now: float, msg: str,
            *args: object) -> None:
        """``logger.log(level, msg, *args)`` unless held back for ``key``; the line that goes
        out says how many like it were not logged."""
        held = self.allow(key, now)
        if held is None:
            return
        for _ in self.overflow():
            pass                   # a generic line has no summary of its own
        if held:
            msg += " (%d more like it not logged)"
            args += (held,)
        logger.log(level, msg, *args)
