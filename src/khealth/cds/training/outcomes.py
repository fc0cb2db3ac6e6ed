"""The three prediction targets: who is at risk at the index date (the cohort) and what counts as
the event within the horizon. Every cohort starts from the table's base population (alive and
≥ 20 years old at the index date, at least one national checkup before it).

- diabetes: first type 2 diabetes (KCD-8 E11) with onset in the horizon, among people with no
  diabetes diagnosis (E10-E14) with onset on or before the index date, no antidiabetic drug
  (ATC A10) before it, and a last fasting glucose < 126 mg/dL and HbA1c < 6.5 % when measured
  (ADA/KDA diagnostic cut-offs, so that undiagnosed diabetes at baseline is not "predicted");
- ckd: progression, i.e. any eGFR in the horizon ≤ 70 % of the last eGFR before the index date
  (a decline of ≥ 30 %), or a new CKD stage 3-5 diagnosis (N18.3-N18.5) in the horizon for
  people without one at the index date; the cohort is everyone with a baseline eGFR;
- cvd: first ischaemic heart disease (I20-I25) or cerebrovascular disease (I60-I69) with onset in
  the horizon, among people with neither before the index date.

Deaths without the event in the horizon count as non-events (no competing-risk model; a limit
stated in the model cards).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Values = Mapping[str, float]


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _at_least(values: Values, name: str, threshold: float) -> bool:
    value = values.get(name)
    return value is not None and _known(value) and value >= threshold


def _diabetes(values: Values) -> tuple[bool, bool]:
    eligible = not (
        values.get("prevalent_diabetes", 0) > 0
        or values.get("rx_antidiabetic", 0) > 0
        or _at_least(values, "glucose", 126)
        or _at_least(values, "hba1c", 6.5)
    )
    return eligible, _known(values.get("diabetes_event_day"))


def _ckd(values: Values) -> tuple[bool, bool]:
    baseline = values.get("egfr", math.nan)
    if not _known(baseline):
        return False, False
    lowest = values.get("followup_egfr_min", math.nan)
    declined = _known(lowest) and lowest <= 0.7 * baseline
    new_stage = values.get("prevalent_ckd3", 0) == 0 and _known(values.get("ckd3_event_day"))
    return True, bool(declined or new_stage)


def _cvd(values: Values) -> tuple[bool, bool]:
    return values.get("prevalent_cvd", 0) == 0, _known(values.get("cvd_event_day"))


@dataclass(frozen=True)
class Outcome:
    name: str
    title: str
    definition: str
    cohort: Callable[[Values], tuple[bool, bool]]

    @property
    def eligible_column(self) -> str:
        return f"eligible_{self.name}"

    @property
    def label_column(self) -> str:
        return f"label_{self.name}"


OUTCOMES: dict[str, Outcome] = {
    "diabetes": Outcome(
        "diabetes",
        "Five-year onset of type 2 diabetes",
        "first KCD-8 E11 diagnosis with onset in the 5 years after the index date, among people "
        "without diabetes (no E10-E14 diagnosis, no ATC A10 drug, last fasting glucose < 126 "
        "mg/dL and HbA1c < 6.5 % when measured) at the index date",
        _diabetes,
    ),
    "ckd": Outcome(
        "ckd",
        "Five-year chronic kidney disease progression",
        "an eGFR in the 5 years after the index date at most 70 % of the last eGFR before it "
        "(decline ≥ 30 %), or a new N18.3-N18.5 (CKD stage ≥ 3) diagnosis in those 5 years, "
        "among people with a baseline eGFR",
        _ckd,
    ),
    "cvd": Outcome(
        "cvd",
        "Five-year cardiovascular event",
        "first ischaemic heart disease (KCD-8 I20-I25) or cerebrovascular disease (I60-I69) with "
        "onset in the 5 years after the index date, among people with neither before it",
        _cvd,
    ),
}


def cohort_columns() -> tuple[str, ...]:
    return tuple(c for o in OUTCOMES.values() for c in (o.eligible_column, o.label_column))
