"""The published equation for each outcome, scored on the same held-out people as the models.

Inputs are read from the same de-identified row as the model's features. Where the record does
not hold an input, the mapping below is a stated assumption, not data:

- FINDRISC (Lindström & Tuomilehto 2003): physically active = moderate-to-vigorous activity on
  ≥ 5 days a week; "ever high glucose" = any fasting glucose ≥ 100 mg/dL before the index date;
  BP medication = any antihypertensive (ATC C02/C03/C07/C08/C09) before it. Daily vegetables and
  family history are not recorded: scored as "eats vegetables daily" and "no family history" for
  everyone (a constant, so it does not change discrimination).
- Pooled Cohort Equations (Goff 2013) and Framingham 2008: latest total cholesterol, HDL and
  systolic BP before the index date; treated = antihypertensive prescribed; smoker = current
  daily smoker; diabetes = E10-E14 diagnosis or antidiabetic drug. Race "other" (the guideline's
  rule: white equations). Both predict 10-year risk of a broader or narrower event set than our
  5-year outcome, so only their discrimination (ranking) is compared, not their calibration.
- CKD progression: no published equation fits the record (the Kidney Failure Risk Equation needs
  urine albumin-to-creatinine ratio; the checkup has a dipstick only). The reference is the
  baseline eGFR alone (lower = higher risk), labelled as such.

People outside an equation's validated range, or without its inputs, are left out of that
comparison (the calculators refuse to extrapolate); the counts are reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from khealth.cds.calculators import findrisc, framingham, pce
from khealth.cds.calculators.model import CalculatorInputError
from khealth.cds.training.dataset import Matrix, PersonTable


@dataclass(frozen=True)
class Baseline:
    name: str
    source: str
    published: bool  # False for a single-marker reference
    scores: Matrix  # NaN where the equation does not apply


Row = dict[str, float]


def _flag(row: Row, *names: str) -> bool:
    return any(row.get(n, 0.0) > 0 for n in names)


def _sex(row: Row) -> findrisc.Sex:
    return "female" if row["female"] > 0 else "male"


def _findrisc(row: Row) -> float:
    points = findrisc.points(
        row["age"], row["bmi"], row["waist"], _sex(row),
        physically_active=row.get("exercise_days", 0.0) >= 5,
        daily_vegetables=True,
        bp_medication=_flag(row, "rx_antihypertensive"),
        high_glucose_history=row.get("glucose_max", 0.0) >= 100,
        family_diabetes="none",
    )  # fmt: skip
    return float(sum(points.values()))


def _cardiac_inputs(row: Row) -> tuple[float, float, float, bool, bool, bool]:
    return (
        row["total_cholesterol"],
        row["hdl"],
        row["sbp"],
        _flag(row, "rx_antihypertensive"),
        _flag(row, "smoking_current"),
        _flag(row, "dx_diabetes", "rx_antidiabetic"),
    )


def _pce(row: Row) -> float:
    return pce.ten_year_risk(row["age"], _sex(row), "other", *_cardiac_inputs(row))


def _framingham(row: Row) -> float:
    return framingham.ten_year_risk(row["age"], _sex(row), *_cardiac_inputs(row))


def _score(table: PersonTable, function: Callable[[Row], float]) -> Matrix:
    out = np.full(len(table.values), math.nan)
    for i, values in enumerate(table.values.tolist()):
        row = dict(zip(table.columns, values, strict=True))
        try:
            out[i] = function(row)
        except CalculatorInputError:
            continue  # missing (NaN is refused as not finite) or outside the validated range
    return out


def baselines_for(outcome: str, table: PersonTable) -> list[Baseline]:
    if outcome == "diabetes":
        return [Baseline("FINDRISC", findrisc.SOURCE, True, _score(table, _findrisc))]
    if outcome == "cvd":
        return [
            Baseline("Pooled Cohort Equations", pce.SOURCE, True, _score(table, _pce)),
            Baseline("Framingham 2008", framingham.SOURCE, True, _score(table, _framingham)),
        ]
    if outcome == "ckd":
        reference = -table.column("egfr")
        return [
            Baseline(
                "baseline eGFR alone (reference, not a published equation)",
                "CKD-EPI 2021 eGFR as recorded before the index date",
                False,
                reference.copy(),
            )
        ]
    raise ValueError(f"unknown outcome {outcome!r}")
