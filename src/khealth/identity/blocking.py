"""Candidate pairs: records that share a blocking key under at least one rule.

Comparing every pair of 1.42 M records is 10¹² comparisons; blocking keeps pairs that agree
on something specific.  The rules overlap so that one error never hides a true pair: a name
typo is caught by birth date + surname initial, a wrong birth date by name + birth year or
name + month/day (a year slip) or the phone, a transposed date by the sorted month/day.
Blocks larger than ``max_block`` say nothing specific (a common name in one year) and are
skipped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from khealth.identity.table import Codes, RecordTable

Pairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
MAX_BLOCK = 200


def _month_day_sorted(t: RecordTable) -> Codes:
    low, high = np.minimum(t.month, t.day), np.maximum(t.month, t.day)
    return np.where(t.month >= 0, low * 32 + high, -1)


#: each rule: name, columns that must all be known and equal
RULES: tuple[tuple[str, Callable[[RecordTable], tuple[Codes, ...]]], ...] = (
    ("birth date + surname initial", lambda t: (t.ordinal, t.initial)),
    ("name + birth year", lambda t: (t.name, t.year)),
    ("name + month and day", lambda t: (t.name, t.month, t.day)),
    ("mobile phone", lambda t: (t.phone,)),
    ("birth year + sorted month/day + surname initial",
     lambda t: (t.year, _month_day_sorted(t), t.initial)),
)  # fmt: skip


def block_key(columns: tuple[Codes, ...]) -> Codes:
    """One int64 per row combining the columns (mixed radix); −1 where any is unknown."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    known = np.ones(len(columns[0]), dtype=bool)
    for column in columns:
        known &= column >= 0
        radix = int(column.max(initial=0)) + 1
        key = key * radix + np.maximum(column, 0)
    return np.where(known, key, -1)


def pairs_within(key: Codes, max_block: int = MAX_BLOCK) -> Pairs:
    """Every pair (i < j) of rows with the same known key, in blocks of at most max_block."""
    rows = np.flatnonzero(key >= 0)
    order = rows[np.argsort(key[rows], kind="stable")]
    sorted_keys = key[order]
    if len(order) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    kept = np.repeat((sizes > 1) & (sizes <= max_block), sizes)
    order, group = order[kept], np.repeat(np.arange(len(sizes)), sizes)[kept]
    firsts: list[npt.NDArray[np.int64]] = []
    seconds: list[npt.NDArray[np.int64]] = []
    for step in range(1, int(sizes[sizes <= max_block].max(initial=1))):
        same = group[:-step] == group[step:]
        if not same.any():
            break
        firsts.append(order[:-step][same])
        seconds.append(order[step:][same])
    if not firsts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a, b = np.concatenate(firsts), np.concatenate(seconds)
    return np.minimum(a, b), np.maximum(a, b)


def candidate_pairs(table: RecordTable, max_block: int = MAX_BLOCK) -> Pairs:
    """The union of every rule's pairs, each pair once (i < j)."""
    n = len(table)
    codes = [
        a * n + b for a, b in (pairs_within(block_key(rule(table)), max_block) for _, rule in RULES)
    ]
    unique = np.unique(np.concatenate(codes)) if codes else np.empty(0, np.int64)
    return unique // n, unique % n
