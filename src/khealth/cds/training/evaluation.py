"""Everything measured on the held-out people, as plain JSON-ready dictionaries (NaN → None)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from khealth.cds.training import metrics
from khealth.cds.training.baselines import Baseline
from khealth.cds.training.dataset import Matrix, PersonTable

AGE_BANDS = ((20, 39), (40, 59), (60, 79), (80, 200))
Json = dict[str, Any]


def number(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def performance(y: Matrix, probability: Matrix) -> Json:
    calibration = metrics.calibration(y, probability)
    return {
        "n": len(y),
        "events": int(y.sum()),
        "observed_risk": number(float(y.mean())) if len(y) else None,
        "mean_predicted_risk": number(float(probability.mean())) if len(y) else None,
        "auroc": number(metrics.auroc(y, probability)),
        "auprc": number(metrics.auprc(y, probability)),
        "brier": number(metrics.brier(y, probability)),
        "calibration_slope": number(calibration.slope),
        "calibration_intercept": number(calibration.intercept),
        "calibration_table": [
            {k: number(v) for k, v in group.items()}
            for group in metrics.calibration_table(y, probability)
        ],
    }


def _groups(table: PersonTable) -> list[tuple[str, str, npt.NDArray[np.bool_]]]:
    female = table.column("female") > 0
    age = table.column("age")
    groups = [("sex", "male", ~female), ("sex", "female", female)]
    for low, high in AGE_BANDS:
        label = f"{low}+" if high >= 200 else f"{low}-{high}"
        groups.append(("age band", label, (age >= low) & (age <= high)))
    districts = np.array(table.districts)
    for district in sorted(set(table.districts)):
        groups.append(("district", district, districts == district))
    return groups


def subgroups(
    table: PersonTable, y: Matrix, predictions: Mapping[str, Matrix], min_events: int
) -> list[Json]:
    """AUROC per subgroup and model; "n too small" below `min_events` events or non-events."""
    out = []
    for kind, label, mask in _groups(table):
        events = int(y[mask].sum())
        row: Json = {"by": kind, "group": label, "n": int(mask.sum()), "events": events}
        enough = events >= min_events and int(mask.sum()) - events >= min_events
        for name, probability in predictions.items():
            row[f"auroc_{name}"] = (
                number(metrics.auroc(y[mask], probability[mask])) if enough else "n too small"
            )
        out.append(row)
    return out


def comparison(
    y: Matrix,
    baseline: Baseline,
    predictions: Mapping[str, Matrix],
    *,
    resamples: int,
    seed: int,
) -> Json:
    """The published score and our models on exactly the people the score applies to."""
    mask = np.isfinite(baseline.scores)
    ys, scores = y[mask], baseline.scores[mask]
    row: Json = {
        "baseline": baseline.name,
        "source": baseline.source,
        "published": baseline.published,
        "n": int(mask.sum()),
        "events": int(ys.sum()),
        "baseline_auroc": number(metrics.auroc(ys, scores)),
        "baseline_auprc": number(metrics.auprc(ys, scores)),
    }
    for name, probability in predictions.items():
        low, high = metrics.paired_bootstrap_auroc(
            ys, probability[mask], scores, resamples=resamples, seed=seed
        )
        row[f"{name}_auroc"] = number(metrics.auroc(ys, probability[mask]))
        row[f"{name}_auprc"] = number(metrics.auprc(ys, probability[mask]))
        row[f"{name}_minus_baseline_auroc_ci95"] = [number(low), number(high)]
        row[f"{name}_verdict"] = _verdict(low, high)
    return row


def _verdict(low: float, high: float) -> str:
    if math.isnan(low):
        return "not estimable"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "no significant difference"
