"""Held-out performance measures, written out so that each can be checked by hand.

- AUROC: the Mann-Whitney statistic, P(score of an event > score of a non-event), ties counted
  one half (Hanley & McNeil, Radiology 1982;143:29).
- AUPRC: average precision, Σ (recallₖ − recallₖ₋₁) × precisionₖ over distinct thresholds, the
  step-wise estimate (no interpolation), as scikit-learn's ``average_precision_score``.
- Brier score: mean squared difference between predicted probability and outcome.
- Calibration by logistic recalibration (Cox, Biometrika 1958; Van Calster et al., J Clin
  Epidemiol 2016;74:167): slope = b in logit P(y) = a + b·logit(p); intercept = calibration-in-
  the-large, a in logit P(y) = a + logit(p) (slope fixed at 1). A perfectly calibrated model has
  slope 1 and intercept 0; slope < 1 means predictions too extreme (overfitting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
_EPS = 1e-12


def _ranks(values: Array) -> Array:
    """1-based ranks, ties given their average rank: a run of c equal values ending at sorted
    position k holds ranks k-c+1..k, whose mean is k - (c-1)/2."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts).astype(np.float64)
    return np.asarray((ends - (counts - 1) / 2.0)[inverse], dtype=np.float64)


def auroc(y: Array, score: Array) -> float:
    """NaN when only one class is present."""
    positives = int(np.sum(y == 1))
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    rank_sum = float(np.sum(_ranks(score)[y == 1]))
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def auprc(y: Array, score: Array) -> float:
    positives = int(np.sum(y == 1))
    if positives == 0:
        return math.nan
    order = np.argsort(-score, kind="mergesort")
    y_sorted, s_sorted = y[order], score[order]
    true_positives = np.cumsum(y_sorted)
    # keep the last index of each run of equal scores: one threshold per distinct score
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(y) - 1]
    precision = true_positives[last] / (last + 1)
    recall = true_positives[last] / positives
    steps = np.diff(np.r_[0.0, recall])
    return float(np.sum(steps * precision))


def brier(y: Array, probability: Array) -> float:
    return float(np.mean((probability - y) ** 2))


def logit(probability: Array) -> Array:
    p = np.clip(probability, _EPS, 1 - _EPS)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


def _newton_logistic(x: Array, y: Array, offset: Array) -> Array | None:
    """Unpenalised logistic regression by Newton-Raphson; None if it does not converge (e.g.
    complete separation, or too few events)."""
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        eta = np.clip(x @ beta + offset, -30, 30)
        p = 1 / (1 + np.exp(-eta))
        gradient = x.T @ (y - p)
        hessian = (x * (p * (1 - p))[:, None]).T @ x
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-10:
            return beta
    return None


@dataclass(frozen=True)
class Calibration:
    slope: float
    intercept: float  # calibration-in-the-large


def calibration(y: Array, probability: Array) -> Calibration:
    lp = logit(probability)
    ones = np.ones((len(y), 1))
    joint = _newton_logistic(np.column_stack([ones, lp]), y, np.zeros(len(y)))
    large = _newton_logistic(ones, y, lp)
    return Calibration(
        float(joint[1]) if joint is not None else math.nan,
        float(large[0]) if large is not None else math.nan,
    )


def calibration_table(y: Array, probability: Array, groups: int = 10) -> list[dict[str, float]]:
    """Mean predicted and observed risk per group of equal size, lowest risk first."""
    order = np.argsort(probability, kind="mergesort")
    out = []
    for part in np.array_split(order, groups):
        if len(part):
            out.append(
                {
                    "n": float(len(part)),
                    "predicted": float(np.mean(probability[part])),
                    "observed": float(np.mean(y[part])),
                }
            )
    return out


def paired_bootstrap_auroc(
    y: Array, first: Array, second: Array, *, resamples: int, seed: int
) -> tuple[float, float]:
    """95 % percentile interval of AUROC(first) − AUROC(second) over people resampled with
    replacement (the same resample for both scores)."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples):
        pick = rng.integers(0, len(y), len(y))
        difference = auroc(y[pick], first[pick]) - auroc(y[pick], second[pick])
        if not math.isnan(difference):
            differences.append(difference)
    if not differences:
        return math.nan, math.nan
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)
