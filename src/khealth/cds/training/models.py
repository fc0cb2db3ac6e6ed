"""The two estimators fitted for every outcome.

- logistic: median imputation with missing-value indicators, standardisation, L2-penalised
  logistic regression (C = 1). The interpretable baseline; its explanations are exact.
- boosted: scikit-learn's HistGradientBoostingClassifier (missing values handled natively),
  small trees and early stopping on a seeded internal validation split. No class weights: the
  cards report calibrated risks, which reweighting would distort.

scikit-learn ships no type information, hence the ``type: ignore`` on its imports; the functions
here are the typed boundary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

Matrix = npt.NDArray[np.float64]
Estimator = Any  # a fitted scikit-learn estimator


@dataclass(frozen=True)
class BoostedParameters:
    learning_rate: float = 0.05
    max_iter: int = 300
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    validation_fraction: float = 0.15
    n_iter_no_change: int = 20


@dataclass(frozen=True)
class LogisticParameters:
    C: float = 1.0
    max_iter: int = 5000


def fit_logistic(x: Matrix, y: Matrix, parameters: LogisticParameters) -> Estimator:
    model = Pipeline(
        [
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("scale", StandardScaler()),
            ("logistic", LogisticRegression(C=parameters.C, max_iter=parameters.max_iter)),
        ]
    )
    return model.fit(x, y)


def fit_boosted(x: Matrix, y: Matrix, parameters: BoostedParameters, seed: int) -> Estimator:
    model = HistGradientBoostingClassifier(
        **asdict(parameters), early_stopping=True, random_state=seed
    )
    return model.fit(x, y)


def probability(model: Estimator, x: Matrix) -> Matrix:
    return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)


def logit_of(model: Estimator, x: Matrix) -> Matrix:
    """The model's linear predictor (log-odds), before the sigmoid."""
    return np.asarray(model.decision_function(x), dtype=np.float64).ravel()
