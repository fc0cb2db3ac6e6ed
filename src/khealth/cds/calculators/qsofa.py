"""qSOFA, the quick Sequential Organ Failure Assessment (Sepsis-3): one point each for
respiratory rate >=22/min, systolic BP <=100 mmHg and altered mentation (GCS <15); 2 or more is
positive.

Source: Seymour CW, Liu VX, Iwashyna TJ et al. Assessment of Clinical Criteria for Sepsis: For
the Third International Consensus Definitions for Sepsis and Septic Shock (Sepsis-3). JAMA
2016;315:762-774; Singer M et al. JAMA 2016;315:801-810.

This is the one implementation: the emergency module imports it from here. Ranges are
plausibility limits (GCS is 3-15 by definition).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

SOURCE = (
    "Seymour CW et al. Assessment of Clinical Criteria for Sepsis (Sepsis-3). JAMA 2016;315:762-774"
)

RESPIRATORY_RATE_CUTOFF = 22  # >= scores
SYSTOLIC_BP_CUTOFF = 100  # <= scores
FULL_GCS = 15  # < scores
POSITIVE_FROM = 2

_PLAUSIBLE = "plausibility limits"
RESPIRATORY_RATE = InputSpec(
    "respiratory_rate", "integer", "respiration rate", "breaths/min", 0, 100,
    range_basis=_PLAUSIBLE,
)  # fmt: skip
SYSTOLIC_BP = InputSpec(
    "systolic_bp", "integer", "systolic blood pressure", "mmHg", 0, 300, range_basis=_PLAUSIBLE
)
GCS = InputSpec("gcs", "integer", "Glasgow Coma Scale", None, 3, 15, range_basis="the GCS scale")


@dataclass(frozen=True, slots=True)
class QSofa:
    points: Mapping[str, int]
    total: int
    positive: bool


def score(respiratory_rate: float, systolic_bp: float, gcs: float) -> QSofa:
    RESPIRATORY_RATE.check(respiratory_rate)
    SYSTOLIC_BP.check(systolic_bp)
    GCS.check(gcs)
    points = {
        "respiratory_rate": int(respiratory_rate >= RESPIRATORY_RATE_CUTOFF),
        "systolic_bp": int(systolic_bp <= SYSTOLIC_BP_CUTOFF),
        "altered_mentation": int(gcs < FULL_GCS),
    }
    total = sum(points.values())
    return QSofa(points, total, total >= POSITIVE_FROM)


def _run(values: Inputs) -> CalculatorResult:
    result = score(
        values.number("respiratory_rate"), values.number("systolic_bp"), values.number("gcs")
    )
    category = "positive" if result.positive else "negative"
    return CalculatorResult(
        result.total, "points", category, SOURCE, {"points": dict(result.points)}
    )


CALCULATOR = Calculator(
    name="qsofa",
    title_en="qSOFA (quick Sequential Organ Failure Assessment)",
    title_ko="qSOFA (빠른 순차 장기부전 평가)",
    unit="points",
    source=SOURCE,
    inputs=(RESPIRATORY_RATE, SYSTOLIC_BP, GCS),
    run=_run,
    categories=("negative", "positive"),
    notes="2 or more points is positive: consider sepsis and organ dysfunction.",
)
