"""One linkage run over a set of Patient records (pure: records in, clusters out).

1. Deterministic: the same resident-number token is the same person (level4).
2. Probabilistic for the rest: block (:mod:`blocking`), compare (:mod:`compare`), estimate u
   on random pairs and m, λ by EM on a sample of the blocked pairs (:mod:`fellegi_sunter`),
   then score every candidate pair that involves a record without a token (pairs of two
   tokens are already decided: same token, same person; two tokens, two people).
3. Cluster strongest links first under the guards of :mod:`cluster`; pairs between the
   lower and upper thresholds that did not end up together go to the review queue.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from khealth.identity.blocking import blocked_pairs
from khealth.identity.cluster import Clusters
from khealth.identity.columns import ASSURANCES
from khealth.identity.compare import compare
from khealth.identity.fellegi_sunter import estimate_u, match_probability, train
from khealth.identity.model import (
    DEFAULT_PARAMETERS,
    LEVEL_PROBABLE,
    LEVEL_TOKEN,
    LEVEL_UNVERIFIED,
    Parameters,
    PatientRecord,
    ScoredPair,
)
from khealth.identity.table import RecordTable

ASSURANCE_CODE = {a: i for i, a in enumerate(ASSURANCES)}

U_SAMPLE = 200_000
TRAINING_SAMPLE = 400_000


@dataclass(frozen=True)
class LinkOptions:
    upper: float = DEFAULT_PARAMETERS.upper
    lower: float = DEFAULT_PARAMETERS.lower
    seed: int = 0
    must_link: tuple[tuple[str, str], ...] = ()  # operator-confirmed pairs
    cannot_link: frozenset[frozenset[str]] = frozenset()  # operator-rejected pairs


@dataclass
class LinkResult:
    """Row i of the run's table is Patient ``ids[i]``; it belongs to the cluster (person)
    ``labels[i]`` with ``Person.link.assurance`` ``ASSURANCES[assurance_codes[i]]``."""

    ids: list[str]
    labels: npt.NDArray[np.int64]
    assurance_codes: npt.NDArray[np.int8]
    review: list[ScoredPair]
    parameters: Parameters
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def clusters(self) -> list[list[str]]:
        """Patient ids per person (each cluster in row order)."""
        order = np.argsort(self.labels, kind="stable")
        bounds = np.flatnonzero(np.diff(self.labels[order])) + 1
        return [[self.ids[i] for i in part] for part in np.split(order, bounds)] if len(order) else []  # fmt: skip

    @property
    def assurance(self) -> dict[str, str]:
        return {pid: ASSURANCES[c] for pid, c in zip(self.ids, self.assurance_codes.tolist(), strict=True)}  # fmt: skip


def link_records(records: Sequence[PatientRecord], options: LinkOptions) -> LinkResult:
    return link_table(RecordTable(records), options)


def link_table(table: RecordTable, options: LinkOptions) -> LinkResult:
    started = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    pairs = blocked_pairs(table, table.token < 0, TRAINING_SAMPLE, options.seed)
    parameters = _train(table, pairs.sample, rng, options)
    a, b = pairs.scored  # every blocked pair involving a record without a token
    levels = compare(table, a, b)
    parameters = replace(parameters, prior=random_match_prior(table))
    probability = match_probability(levels, parameters, name_frequency(table, a))
    clusters = Clusters(table.token)
    clusters.join_all(_rows(table, options.must_link))
    allowed = _allowed(table, a, b, options.cannot_link)
    strong = (probability >= options.upper) & allowed
    refused = clusters.join_strongest_first(a[strong], b[strong], probability[strong])
    labels = clusters.labels()
    review = _review(table, a, b, probability, levels, labels, allowed, options)
    result = LinkResult(table.ids, labels, _assurance(table, labels, clusters), review, parameters)
    result.stats = {
        "records": len(table), "with_token": int((table.token >= 0).sum()),
        "blocked_pairs": pairs.blocked, "candidate_pairs_scored": len(a),
        "links_refused_by_guards": refused, "review": len(review),
        "persons": int((labels == np.arange(len(labels))).sum()), "seconds": round(time.perf_counter() - started, 3),
    }  # fmt: skip
    return result


def _train(
    table: RecordTable, sample: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
    options: LinkOptions,
) -> Parameters:  # fmt: skip
    n = len(table)
    start = Parameters(DEFAULT_PARAMETERS.m, DEFAULT_PARAMETERS.u, DEFAULT_PARAMETERS.prior, options.upper, options.lower)  # fmt: skip
    if n < 2:
        return start
    x = rng.integers(0, n, size=min(U_SAMPLE, n * (n - 1)))
    y = (x + rng.integers(1, n, size=len(x))) % n  # never the same row
    u = estimate_u(compare(table, x, y))
    a, b = sample  # a uniform sample of the blocked pairs
    ta, tb = table.token[a], table.token[b]
    labels = np.where((ta >= 0) & (tb >= 0), (ta == tb).astype(np.int8), -1).astype(np.int8)
    return train(compare(table, a, b), u, start, labels)


def random_match_prior(table: RecordTable) -> float:
    """λ, the probability that two records drawn at random are one person, from the
    deterministic rule (Splink's way): same-token pairs over all pairs, divided by the
    share of pairs in which both records carry a token (the rule's recall)."""
    n = len(table)
    if n < 2:
        return 0.5
    sizes = np.bincount(table.token[table.token >= 0])
    token_pairs = float((sizes * (sizes - 1) // 2).sum())
    if token_pairs == 0:  # no evidence (a tiny or token-less population): the default
        return DEFAULT_PARAMETERS.prior
    covered = (float((table.token >= 0).sum()) / n) ** 2
    all_pairs = n * (n - 1) / 2
    return float(min(max(token_pairs / max(covered, 1e-9) / all_pairs, 1e-9), 0.5))


def name_frequency(table: RecordTable, rows: np.ndarray) -> np.ndarray:
    """The share of records carrying the name of each of ``rows`` (0 when unknown)."""
    counts = np.bincount(table.name[table.name >= 0], minlength=len(table.names))
    share = counts / max(len(table), 1)
    return np.where(table.name[rows] >= 0, share[np.maximum(table.name[rows], 0)], 0.0)


def _row_of(table: RecordTable, ids: set[str]) -> dict[str, int]:
    return {pid: row for row, pid in enumerate(table.ids) if pid in ids}


def _rows(table: RecordTable, pairs: Sequence[tuple[str, str]]) -> list[tuple[int, int]]:
    row_of = _row_of(table, {p for pair in pairs for p in pair}) if pairs else {}
    return [(row_of[x], row_of[y]) for x, y in pairs if x in row_of and y in row_of]


def _allowed(
    table: RecordTable, a: np.ndarray, b: np.ndarray, cannot_link: frozenset[frozenset[str]]
) -> npt.NDArray[np.bool_]:
    """False for the pairs an operator said are two people."""
    if not cannot_link:
        return np.ones(len(a), dtype=bool)
    pairs = [(x, y) for x, y in (sorted(pair) for pair in cannot_link if len(pair) == 2)]
    rows = np.array(_rows(table, pairs), dtype=np.int64).reshape(-1, 2)
    n = len(table)
    cannot = np.minimum(rows[:, 0], rows[:, 1]) * n + np.maximum(rows[:, 0], rows[:, 1])
    allowed: npt.NDArray[np.bool_] = ~np.isin(a * n + b, cannot)
    return allowed


def _review(
    table: RecordTable, a: np.ndarray, b: np.ndarray, probability: np.ndarray,
    levels: np.ndarray, labels: np.ndarray, allowed: np.ndarray, options: LinkOptions,
) -> list[ScoredPair]:  # fmt: skip
    """Uncertain pairs left in different clusters, strongest first, one per cluster pair."""
    uncertain = (probability >= options.lower) & (labels[a] != labels[b]) & allowed
    seen: set[tuple[int, int]] = set()
    review: list[ScoredPair] = []
    for i in np.flatnonzero(uncertain)[np.argsort(-probability[uncertain], kind="stable")]:
        key = (int(min(labels[a[i]], labels[b[i]])), int(max(labels[a[i]], labels[b[i]])))
        if key in seen:
            continue
        seen.add(key)
        levels_i = tuple(int(v) for v in levels[i])
        review.append(ScoredPair(table.ids[a[i]], table.ids[b[i]], float(probability[i]), levels_i))
    return review


def _assurance(table: RecordTable, labels: np.ndarray, clusters: Clusters) -> npt.NDArray[np.int8]:
    sizes = np.bincount(labels, minlength=len(labels))
    linked = clusters.joined_by_link & (sizes[labels] > 1)
    codes = np.where(
        table.token >= 0, ASSURANCE_CODE[LEVEL_TOKEN],
        np.where(linked, ASSURANCE_CODE[LEVEL_PROBABLE], ASSURANCE_CODE[LEVEL_UNVERIFIED]),
    )  # fmt: skip
    return codes.astype(np.int8)
