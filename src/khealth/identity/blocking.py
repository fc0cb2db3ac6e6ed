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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Blocks:
    """The rows of one rule's usable blocks (2 to max_block rows), largest block first."""

    order: Codes  # row numbers, block by block
    group: Codes  # the block of each entry of ``order``
    sizes: Codes  # rows per usable block, descending

    @property
    def pair_count(self) -> int:
        return int((self.sizes * (self.sizes - 1) // 2).sum())


def _blocks(key: Codes, max_block: int) -> _Blocks:
    rows = np.flatnonzero(key >= 0)
    order = rows[np.argsort(key[rows], kind="stable")]
    sorted_keys = key[order]
    if len(order) < 2:
        return _Blocks(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    usable = (sizes > 1) & (sizes <= max_block)
    starts, sizes = starts[usable], sizes[usable]
    by_size = np.argsort(-sizes, kind="stable")
    starts, sizes = starts[by_size], sizes[by_size]
    first_entry = np.cumsum(sizes) - sizes  # where each block starts in the new layout
    entries = np.repeat(starts - first_entry, sizes) + np.arange(int(sizes.sum()))
    return _Blocks(order[entries], np.repeat(np.arange(len(sizes)), sizes), sizes)


def _pairs(blocks: _Blocks) -> Pairs:
    """Every pair (i < j) within each block: the rows ``step`` apart in the layout, for
    each step, looking only at the blocks larger than the step (a prefix, as the largest
    blocks come first), so the work is proportional to the pairs, not to rows × the
    largest block."""
    order, group, sizes = blocks.order, blocks.group, blocks.sizes
    ends = np.cumsum(sizes)
    firsts: list[npt.NDArray[np.int64]] = []
    seconds: list[npt.NDArray[np.int64]] = []
    for step in range(1, int(sizes.max(initial=1))):
        larger = int(np.searchsorted(-sizes, -step, side="left"))  # blocks with size > step
        end = int(ends[larger - 1])
        same = group[: end - step] == group[step:end]
        firsts.append(order[: end - step][same])
        seconds.append(order[step:end][same])
    if not firsts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a, b = np.concatenate(firsts), np.concatenate(seconds)
    return np.minimum(a, b), np.maximum(a, b)


def pairs_within(key: Codes, max_block: int = MAX_BLOCK) -> Pairs:
    """Every pair (i < j) of rows with the same known key, in blocks of at most max_block."""
    return _pairs(_blocks(key, max_block))


def candidate_pairs(table: RecordTable, max_block: int = MAX_BLOCK) -> Pairs:
    """The union of every rule's pairs, each pair once (i < j)."""
    n = len(table)
    codes = [
        a * n + b for a, b in (pairs_within(block_key(rule(table)), max_block) for _, rule in RULES)
    ]
    unique = np.unique(np.concatenate(codes)) if codes else np.empty(0, np.int64)
    return unique // n, unique % n


@dataclass(frozen=True)
class BlockedPairs:
    scored: Pairs  # every blocked pair with a row that is open (each once)
    sample: Pairs  # a uniform random sample of all blocked pairs (each once)
    blocked: int  # blocked pairs, a pair counted once per rule that blocks it


def blocked_pairs(
    table: RecordTable, open_rows: npt.NDArray[np.bool_], sample_size: int, seed: int,
    max_block: int = MAX_BLOCK,
) -> BlockedPairs:  # fmt: skip
    """The blocked pairs that involve an open row (for scoring), and a uniform sample of
    all blocked pairs (for training), without ever holding the union of all of them: at
    1.4 million records the rules block ~25 million pairs, 97 % of them between two records
    that the resident-number token already decides.  A pair is sampled when a hash of it
    falls under a rate, so every rule samples the same pairs and the union of the rules'
    samples is a uniform sample of the union of their pairs."""
    n = len(table)
    blocks = [_blocks(block_key(rule(table)), max_block) for _, rule in RULES]
    counts = [b.pair_count for b in blocks]
    # the union holds at least the largest rule's pairs: sample a little more than needed
    rate = min(1.0, 1.25 * sample_size / max(max(counts, default=1), 1))
    scored: list[Codes] = []
    sampled: list[Codes] = []
    for rule_blocks in blocks:
        a, b = _pairs(rule_blocks)
        code = a * n + b
        scored.append(code[open_rows[a] | open_rows[b]])
        sampled.append(code[_unit_hash(code, seed) < rate])
    scored_codes, sample_codes = _distinct(scored), _distinct(sampled)
    if len(sample_codes) > sample_size:
        rng = np.random.default_rng(seed)
        sample_codes = np.sort(rng.choice(sample_codes, sample_size, replace=False))
    return BlockedPairs(
        (scored_codes // max(n, 1), scored_codes % max(n, 1)),
        (sample_codes // max(n, 1), sample_codes % max(n, 1)),
        sum(counts),
    )


def _distinct(parts: list[Codes]) -> Codes:
    """The sorted distinct values (np.unique, without its hashing path, slower here)."""
    if not parts:
        return np.empty(0, np.int64)
    values = np.sort(np.concatenate(parts))
    distinct: Codes = values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values
    return distinct


def _unit_hash(codes: Codes, seed: int) -> npt.NDArray[np.float64]:
    """A value in [0, 1) per code, uniform and fixed for (code, seed) (splitmix64)."""
    with np.errstate(over="ignore"):
        z = codes.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % (1 << 64))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    unit: npt.NDArray[np.float64] = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return unit
