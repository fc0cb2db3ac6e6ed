"""``core.batching.batched``: every item once, in order, in lists of the size asked."""

from __future__ import annotations

from khealth.core.batching import batched


def test_items_come_in_order_in_full_lists_and_a_shorter_last_one() -> None:
    assert list(batched(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched(range(6), 3)) == [[0, 1, 2], [3, 4, 5]]
    assert list(batched([], 3)) == []
