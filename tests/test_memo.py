"""bridge.memo.Memo: a dict of at most ``limit`` results, emptied when a full one gets more."""

from __future__ import annotations

from bridge.memo import Memo


def test_a_memo_keeps_up_to_its_limit_then_starts_afresh() -> None:
    memo: Memo[str, int] = Memo(3)
    assert [memo.keep(k, v) for k, v in (("a", 1), ("b", 2), ("c", 3))] == [1, 2, 3]
    assert memo == {"a": 1, "b": 2, "c": 3}
    memo.keep("a", 10)                          # full: emptied first, even for a known key
    assert memo == {"a": 10}
    assert memo.get("b") is None and memo.limit == 3
