"""Comparison vectors: for each candidate pair, the level of agreement per comparison
(the order of :data:`khealth.identity.model.COMPARISONS`); −1 where a value is missing."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from khealth.identity.jamo import similarities
from khealth.identity.table import Codes, RecordTable

Levels = npt.NDArray[np.int8]
NAME_CLOSE, NAME_NEAR = 0.88, 0.70
_CHUNK = 1 << 18  # name pairs bounded at once (memory: 2 × 96 counts per pair)


def compare(t: RecordTable, a: Codes, b: Codes) -> Levels:
    out = np.empty((len(a), 5), dtype=np.int8)
    out[:, 0] = _name_level(t, a, b)
    out[:, 1] = _birth_level(t, a, b)
    out[:, 2] = _equal_level(t.sex, a, b)
    out[:, 3] = _equal_level(t.phone, a, b)
    out[:, 4] = _address_level(t, a, b)
    return out


def _equal_level(column: Codes, a: Codes, b: Codes) -> Codes:
    x, y = column[a], column[b]
    return np.where((x < 0) | (y < 0), -1, (x == y).astype(np.int64))


def _name_level(t: RecordTable, a: Codes, b: Codes) -> Codes:
    x, y = t.name[a], t.name[b]
    level = np.where((x < 0) | (y < 0), -1, np.where(x == y, 3, 0))
    differ = np.flatnonzero(level == 0)
    if len(differ):
        radix = len(t.names) + 1
        unique, inverse = np.unique(x[differ] * radix + y[differ], return_inverse=True)
        first, second = unique // radix, unique % radix
        scores = np.zeros(len(unique), dtype=np.float64)
        near = np.flatnonzero(_may_reach(t, first, second, NAME_NEAR))
        names = t.names
        scores[near] = similarities([names[i] for i in first[near].tolist()], [names[i] for i in second[near].tolist()])  # fmt: skip
        similarity = scores[inverse]
        level[differ] = np.where(
            similarity >= NAME_CLOSE, 2, np.where(similarity >= NAME_NEAR, 1, 0)
        )
    return level


def _may_reach(t: RecordTable, a: Codes, b: Codes, floor: float) -> npt.NDArray[np.bool_]:
    """False for name pairs that cannot reach ``floor``: each letter outside the common
    multiset costs at least half an edit (the bound :func:`jamo_similarity` applies, here
    on letter-count vectors for every pair at once; most random pairs stop here)."""
    counts, lengths = t.letter_counts, t.letter_counts.sum(axis=1).astype(np.float64)
    result = np.empty(len(a), dtype=bool)
    for start in range(0, len(a), _CHUNK):
        x, y = a[start : start + _CHUNK], b[start : start + _CHUNK]
        longest = np.maximum(lengths[x], lengths[y])
        common = np.minimum(counts[x], counts[y]).sum(axis=1)
        bound = 1.0 - 0.5 * (longest - common) / np.maximum(longest, 1.0)
        result[start : start + _CHUNK] = (bound >= floor) | (longest == 0)
    return result


def _birth_level(t: RecordTable, a: Codes, b: Codes) -> Codes:
    """3 exact; 2 day and month swapped; 1 a day apart, one digit apart, or a year slip of
    one or ten with the same month and day; 0 otherwise."""
    oa, ob = t.ordinal[a], t.ordinal[b]
    same_year = t.year[a] == t.year[b]
    swapped = same_year & (t.month[a] == t.day[b]) & (t.day[a] == t.month[b])
    same_month_day = (t.month[a] == t.month[b]) & (t.day[a] == t.day[b])
    year_slip = same_month_day & np.isin(np.abs(t.year[a] - t.year[b]), (1, 10))
    one_digit = (t.digits[a] != t.digits[b]).sum(axis=1) == 1
    near = (np.abs(oa - ob) == 1) | one_digit | year_slip
    level = np.where(oa == ob, 3, np.where(swapped, 2, np.where(near, 1, 0)))
    return np.where((oa < 0) | (ob < 0), -1, level)


def _address_level(t: RecordTable, a: Codes, b: Codes) -> Codes:
    da, db = t.district[a], t.district[b]
    same_road = (t.road[a] == t.road[b]) & (t.road[a] >= 0)
    level = np.where(da == db, np.where(same_road, 2, 1), 0)
    return np.where((da < 0) | (db < 0), -1, level)
