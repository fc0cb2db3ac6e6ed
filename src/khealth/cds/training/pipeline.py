"""Training one outcome: cohort → stratified split by person → fit both models → evaluate on the
held-out people → compare with the published equation → explain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from khealth.cds.training import evaluation
from khealth.cds.training.baselines import baselines_for
from khealth.cds.training.dataset import FEATURES, DataConfig, PersonTable
from khealth.cds.training.explain import Explanations, explain_boosted, explain_logistic
from khealth.cds.training.models import (
    BoostedParameters,
    Estimator,
    LogisticParameters,
    fit_boosted,
    fit_logistic,
    probability,
)
from khealth.cds.training.outcomes import OUTCOMES

MODEL_NAMES = ("boosted", "logistic")


class TooFewEvents(ValueError):
    """The cohort has too few events (or non-events) for a stratified split."""


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig
    test_fraction: float = 0.3
    logistic: LogisticParameters = field(default_factory=LogisticParameters)
    boosted: BoostedParameters = field(default_factory=BoostedParameters)
    bootstrap_resamples: int = 200
    min_subgroup_events: int = 30

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingResult:
    outcome: str
    features: tuple[str, ...]
    models: dict[str, Estimator]
    metrics: dict[str, Any]
    config: TrainConfig
    data_hash: str


def _split(y: np.ndarray[Any, Any], config: TrainConfig) -> tuple[Any, Any]:
    events = int(y.sum())
    if min(events, len(y) - events) < 2:
        raise TooFewEvents(f"{events} events among {len(y)} people: cannot split")
    indices = np.arange(len(y))
    train, test = train_test_split(
        indices, test_size=config.test_fraction, stratify=y, random_state=config.data.seed
    )
    return np.sort(train), np.sort(test)


def _explanation_summary(explained: Explanations, risk: np.ndarray[Any, Any]) -> dict[str, Any]:
    top_person = int(np.argmax(risk))
    return {
        "bias": evaluation.number(explained.bias),
        "mean_absolute": [[t, evaluation.number(v)] for t, v in explained.mean_absolute()[:10]],
        "highest_risk_example": {
            "risk": evaluation.number(float(risk[top_person])),
            "top_contributions": [
                [t, evaluation.number(v)] for t, v in explained.for_person(top_person, top=6)
            ],
        },
    }


def informative_features(x: np.ndarray[Any, Any]) -> tuple[str, ...]:
    """FEATURES minus those never recorded or constant in the training rows (a cohort rule can
    empty a column, e.g. HbA1c once people with diabetes are excluded)."""
    kept = []
    for i, name in enumerate(FEATURES):
        known = x[:, i][~np.isnan(x[:, i])]
        if len(known) and (np.any(known != known[0]) or len(known) < len(x)):
            kept.append(name)
    return tuple(kept)


def train_outcome(table: PersonTable, outcome_name: str, config: TrainConfig) -> TrainingResult:
    outcome = OUTCOMES[outcome_name]
    cohort = table.rows(table.column(outcome.eligible_column) > 0)
    y = cohort.column(outcome.label_column)
    train, test = _split(y, config)
    features = informative_features(cohort.matrix(FEATURES)[train])
    x = cohort.matrix(features)
    models = {
        "boosted": fit_boosted(x[train], y[train], config.boosted, config.data.seed),
        "logistic": fit_logistic(x[train], y[train], config.logistic),
    }
    held_out = cohort.rows(np.isin(np.arange(len(y)), test))
    y_test, x_test = y[test], x[test]
    risks = {name: probability(model, x_test) for name, model in models.items()}
    explained = {
        "boosted": explain_boosted(models["boosted"], x_test, features),
        "logistic": explain_logistic(models["logistic"], x_test, features),
    }
    metrics: dict[str, Any] = {
        "outcome": outcome_name,
        "features_unused": [f for f in FEATURES if f not in features],
        "title": outcome.title,
        "definition": outcome.definition,
        "cohort": {"n": len(y), "events": int(y.sum()), "train": len(train), "held_out": len(test)},
        "train_events": int(y[train].sum()),
        "held_out": {name: evaluation.performance(y_test, risks[name]) for name in MODEL_NAMES},
        "subgroups": evaluation.subgroups(held_out, y_test, risks, config.min_subgroup_events),
        "comparisons": [
            evaluation.comparison(
                y_test,
                baseline,
                risks,
                resamples=config.bootstrap_resamples,
                seed=config.data.seed,
            )
            for baseline in baselines_for(outcome_name, held_out)
        ],
        "explanations": {n: _explanation_summary(explained[n], risks[n]) for n in MODEL_NAMES},
        "boosted_iterations": int(models["boosted"].n_iter_),
    }
    return TrainingResult(outcome_name, features, models, metrics, config, table.content_hash())
