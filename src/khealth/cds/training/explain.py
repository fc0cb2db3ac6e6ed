"""Per-prediction explanations: additive feature contributions on the log-odds scale.

- logistic model: contributionⱼ = coefficientⱼ × standardised valueⱼ (after median imputation;
  a missing-value indicator is its own term, named "<feature> missing"). They sum exactly to the
  log-odds minus the intercept.
- boosted model: path attribution through each tree (Saabas, "Interpreting random forests",
  2014; the tree-interpreter method), not SHAP. Each node's expected value is the training-count-
  weighted mean of its leaves; following a person's path, every change in expected value is
  credited to the feature that split there. Contributions sum exactly to the log-odds minus the
  model's bias (the baseline plus every tree's root expectation). Known limit: credit is biased
  towards features split near the root, and interactions are not separated.

The boosted method reads the fitted trees (``_predictors``, ``_baseline_prediction``), which are
private to scikit-learn; the additivity test catches a change in a future release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from khealth.cds.training.models import Estimator

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Explanations:
    """For n people and k terms: `contributions` is n × k; bias + row sum = log-odds."""

    terms: tuple[str, ...]
    bias: float
    contributions: Matrix

    def for_person(self, row: int, top: int = 5) -> list[tuple[str, float]]:
        """The `top` terms with the largest absolute contribution, largest first."""
        values = self.contributions[row]
        order = np.argsort(-np.abs(values), kind="mergesort")[:top]
        return [(self.terms[i], float(values[i])) for i in order]

    def mean_absolute(self) -> list[tuple[str, float]]:
        means = np.mean(np.abs(self.contributions), axis=0)
        order = np.argsort(-means, kind="mergesort")
        return [(self.terms[i], float(means[i])) for i in order]


def explain_logistic(model: Estimator, x: Matrix, features: tuple[str, ...]) -> Explanations:
    impute, scale, logistic = (model.named_steps[s] for s in ("impute", "scale", "logistic"))
    standardised = scale.transform(impute.transform(x))
    missing = impute.indicator_.features_ if impute.indicator_ is not None else []
    terms = (*features, *(f"{features[i]} missing" for i in missing))
    coefficients = np.asarray(logistic.coef_[0], dtype=np.float64)
    return Explanations(terms, float(logistic.intercept_[0]), standardised * coefficients)


def _expected_values(nodes: npt.NDArray[np.void]) -> Matrix:
    """Training-count-weighted mean leaf value below every node (children have larger indices
    than their parent, so one backward pass suffices)."""
    expected = np.array(nodes["value"], dtype=np.float64)
    for i in range(len(nodes) - 1, -1, -1):
        if not nodes["is_leaf"][i]:
            left, right = int(nodes["left"][i]), int(nodes["right"][i])
            n_left, n_right = float(nodes["count"][left]), float(nodes["count"][right])
            expected[i] = (expected[left] * n_left + expected[right] * n_right) / (n_left + n_right)
    return expected


def _tree_contributions(nodes: npt.NDArray[np.void], x: Matrix, out: Matrix) -> float:
    expected = _expected_values(nodes)
    current = np.zeros(len(x), dtype=np.int64)
    rows = np.arange(len(x))
    active = ~nodes["is_leaf"][current].astype(bool)
    while active.any():
        at = current[active]
        feature = nodes["feature_idx"][at].astype(np.int64)
        value = x[rows[active], feature]
        missing_left = nodes["missing_go_to_left"][at].astype(bool)
        go_left = np.where(np.isnan(value), missing_left, value <= nodes["num_threshold"][at])
        child = np.where(go_left, nodes["left"][at], nodes["right"][at]).astype(np.int64)
        np.add.at(out, (rows[active], feature), expected[child] - expected[at])
        current[active] = child
        active = ~nodes["is_leaf"][current].astype(bool)
    return float(expected[0])


def explain_boosted(model: Estimator, x: Matrix, features: tuple[str, ...]) -> Explanations:
    categorical = getattr(model, "is_categorical_", None)
    if categorical is not None and bool(np.any(categorical)):
        raise ValueError("path attribution here supports numeric features only")
    out = np.zeros((len(x), len(features)), dtype=np.float64)
    bias = float(np.ravel(model._baseline_prediction)[0])
    for iteration in model._predictors:
        bias += _tree_contributions(iteration[0].nodes, x, out)
    return Explanations(features, bias, out)
