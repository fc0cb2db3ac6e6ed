"""Fellegi–Sunter: the weight of evidence of a comparison vector, trained without labels.

Fellegi & Sunter, "A Theory for Record Linkage", JASA 64 (1969) 1183–1210.  Each comparison
level has m = P(level | same person) and u = P(level | different people); a pair's log-odds is
logit(λ) + Σ log(m/u) over the known comparisons.  As in Splink: u comes from random record
pairs (almost all of which are different people) and stays fixed; m and λ come from EM
(Winkler 1988) over the blocked candidate pairs, computed on distinct comparison vectors with
their counts, so that a million pairs cost a few hundred patterns.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from khealth.identity.compare import Levels
from khealth.identity.model import COMPARISONS, DEFAULT_PARAMETERS, Parameters

Floats = npt.NDArray[np.float64]
FLOOR = 1e-6
LEVEL_COUNTS = tuple(len(c.levels) for c in COMPARISONS)


def estimate_u(levels: Levels) -> tuple[tuple[float, ...], ...]:
    """Level frequencies among random pairs, with add-one smoothing so that no level that
    random pairs never show (an exact phone) gets u = 0."""
    rows = []
    for c, count in enumerate(LEVEL_COUNTS):
        known = levels[:, c][levels[:, c] >= 0]
        tally = np.bincount(known, minlength=count).astype(np.float64) + 1.0
        rows.append(tuple(float(x) for x in tally / tally.sum()))
    return tuple(rows)


def distinct_rows(rows: Levels) -> tuple[Levels, npt.NDArray[np.int64]]:
    """``np.unique(rows, axis=0, return_counts=True)`` for small levels (−1 to 14): each
    row read as one base-16 number, which sorts 20× faster than rows as records."""
    if len(rows) == 0:
        return rows, np.empty(0, np.int64)
    width = rows.shape[1]
    weights = 16 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    codes, counts = np.unique((rows.astype(np.int64) + 1) @ weights, return_counts=True)
    digits = (codes[:, None] // weights[None, :]) % 16 - 1
    return digits.astype(rows.dtype), counts


def _likelihoods(patterns: Levels, table: tuple[tuple[float, ...], ...]) -> Floats:
    product = np.ones(len(patterns))
    for c, row in enumerate(table):
        values = np.asarray(row)[np.maximum(patterns[:, c], 0)]
        product *= np.where(patterns[:, c] >= 0, values, 1.0)
    return product


def train(
    levels: Levels,
    u: tuple[tuple[float, ...], ...],
    start: Parameters = DEFAULT_PARAMETERS,
    labels: npt.NDArray[np.int8] | None = None,
    max_iterations: int = 200,
    tolerance: float = 1e-7,
) -> Parameters:
    """EM for m and λ with u fixed.  ``labels`` (1 match, 0 non-match, −1 unknown) anchor
    the pairs whose answer is known — two records with resident-number tokens — so that
    EM cannot drift to the degenerate solution in which every blocked pair is a match
    (blocked non-matches look nothing like the random pairs u was measured on)."""
    if len(levels) == 0:
        return Parameters(start.m, u, start.prior, start.upper, start.lower)
    known = np.full(len(levels), -1, np.int8) if labels is None else labels.astype(np.int8)
    rows, counts = distinct_rows(np.column_stack([levels, known]))
    patterns, label = rows[:, :-1], rows[:, -1]
    weights = counts.astype(np.float64)
    m, prior, iteration = start.m, start.prior, 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 (reported)
        matched = prior * _likelihoods(patterns, m)
        posterior = matched / (matched + (1 - prior) * _likelihoods(patterns, u))
        posterior = np.where(label >= 0, label, posterior)
        new_m = _m_step(patterns, weights * posterior)
        new_prior = float((weights * posterior).sum() / weights.sum())
        change = max(abs(new_prior - prior), _max_change(new_m, m))
        m, prior = new_m, min(max(new_prior, FLOOR), 1 - FLOOR)
        if change < tolerance:
            break
    return Parameters(m, u, prior, start.upper, start.lower, int(weights.sum()), iteration)


def fit_prior(levels: Levels, parameters: Parameters, max_iterations: int = 200) -> Parameters:
    """EM for λ alone (m and u fixed) on the pairs to be decided: the share of matches
    among them is not the share among all blocked pairs that trained m."""
    if len(levels) == 0:
        return parameters
    patterns, counts = distinct_rows(levels)
    weights = counts.astype(np.float64)
    m_likelihood, u_likelihood = (
        _likelihoods(patterns, parameters.m),
        _likelihoods(patterns, parameters.u),
    )
    prior = 0.5
    for _ in range(max_iterations):
        matched = prior * m_likelihood
        posterior = matched / (matched + (1 - prior) * u_likelihood)
        new_prior = min(max(float((weights * posterior).sum() / weights.sum()), FLOOR), 1 - FLOOR)
        if abs(new_prior - prior) < 1e-9:
            break
        prior = new_prior
    return replace(parameters, prior=prior)


def _m_step(patterns: Levels, expected: Floats) -> tuple[tuple[float, ...], ...]:
    rows = []
    for c, count in enumerate(LEVEL_COUNTS):
        column = patterns[:, c]
        known = column >= 0
        tally = np.bincount(column[known], weights=expected[known], minlength=count)
        tally = np.maximum(tally / max(tally.sum(), FLOOR), FLOOR)
        rows.append(tuple(float(x) for x in tally / tally.sum()))
    return tuple(rows)


def _max_change(a: tuple[tuple[float, ...], ...], b: tuple[tuple[float, ...], ...]) -> float:
    return max(abs(x - y) for row_a, row_b in zip(a, b, strict=True) for x, y in zip(row_a, row_b, strict=True))  # fmt: skip


def match_weights(
    levels: Levels, parameters: Parameters, name_frequency: Floats | None = None
) -> Floats:
    """log₂ odds of a match per pair (the prior included).  ``name_frequency`` (per pair,
    the share of records carrying that exact name) replaces u of an exact name match: two
    김민준 agree far more often by chance than two 독고윤슬 (Splink's term-frequency
    adjustment)."""
    log_odds = np.full(len(levels), np.log2(parameters.prior / (1 - parameters.prior)))
    for c, (m_row, u_row) in enumerate(zip(parameters.m, parameters.u, strict=True)):
        ratio = np.log2(np.asarray(m_row) / np.asarray(u_row))
        column = levels[:, c]
        log_odds += np.where(column >= 0, ratio[np.maximum(column, 0)], 0.0)
    if name_frequency is not None:
        exact = levels[:, 0] == len(parameters.m[0]) - 1
        u_exact = parameters.u[0][-1]
        adjust = np.log2(u_exact / np.maximum(name_frequency, u_exact))
        log_odds += np.where(exact, adjust, 0.0)
    return log_odds


def match_probability(
    levels: Levels, parameters: Parameters, name_frequency: Floats | None = None
) -> Floats:
    weight = np.clip(match_weights(levels, parameters, name_frequency), -60, 60)
    odds = np.exp2(weight)
    probability: Floats = odds / (1 + odds)
    return probability
