"""Bounded tables of remembered results, forgotten all at once.

A gateway meets the same addresses, header fields and extension values again and again, and
endless distinct ones (dates, message ids) besides: a table of results must not grow with the
distinct ones.  :class:`Memo` is a dict that holds at most ``limit`` entries; adding one to a
full table empties it first.  Unlike an LRU it does no bookkeeping on a hit (the hot path),
and a stream that repeats refills its hot entries right after a reset.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A dict of at most ``limit`` remembered results (see the module doc)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` (emptying a full table first); returns ``value``."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
