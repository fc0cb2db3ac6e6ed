"""FINDRISC, the Finnish Diabetes Risk Score: 0-26 points for the 10-year risk of type 2 diabetes.

Source: Lindström J, Tuomilehto J. The Diabetes Risk Score: a practical tool to predict type 2
diabetes risk. Diabetes Care 2003;26:725-731 (items, points and waist cut-offs by sex), with
the family-history item of the FINDRISC questionnaire form (second-degree relative 3 points,
parent/sibling/child 5), which brings the maximum to 26; risk bands and their approximate
10-year risks as on that form (reference §3.5).

Bands are read as printed: "25-30" kg/m² scores 1 and ">30" scores 3, so 30.0 scores 1; the
waist bands likewise (men 94-102 cm scores 3, >102 scores 4). Age bands are in completed years.
Ranges are plausibility limits: the score bands every value.
"""

from __future__ import annotations

from typing import Literal, cast

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

Sex = Literal["male", "female"]
FamilyHistory = Literal["none", "second_degree", "first_degree"]

SOURCE = (
    "Lindström J, Tuomilehto J. The Diabetes Risk Score: a practical tool to predict type 2 "
    "diabetes risk. Diabetes Care 2003;26:725-731; family-history item and bands from the "
    "FINDRISC questionnaire form"
)

_PLAUSIBLE = "plausibility limits; the score bands every value"
AGE = InputSpec("age", "number", "age", "years", 18, 100, range_basis=_PLAUSIBLE)
BMI = InputSpec("bmi", "number", "body mass index", "kg/m²", 10, 80, range_basis=_PLAUSIBLE)
WAIST = InputSpec("waist", "number", "waist circumference", "cm", 40, 200, range_basis=_PLAUSIBLE)
SEX = InputSpec("sex", "enum", "sex (waist cut-offs differ)", choices=("male", "female"))
ACTIVE = InputSpec("physically_active", "boolean", "at least 30 minutes of activity daily")
VEGETABLES = InputSpec("daily_vegetables", "boolean", "eats vegetables, fruit or berries daily")
BP_MEDICATION = InputSpec("bp_medication", "boolean", "ever on blood pressure medication")
HIGH_GLUCOSE = InputSpec("high_glucose_history", "boolean", "ever found to have high blood glucose")
FAMILY = InputSpec(
    "family_diabetes", "enum",
    "relatives with diabetes: second_degree (grandparent, aunt, uncle, first cousin) or "
    "first_degree (parent, sibling, child)",
    choices=("none", "second_degree", "first_degree"),
)  # fmt: skip

# waist: below the first value 0 points, up to the second (inclusive) 3, above it 4
WAIST_POINTS: dict[Sex, tuple[float, float]] = {"male": (94, 102), "female": (80, 88)}
FAMILY_POINTS: dict[FamilyHistory, int] = {"none": 0, "second_degree": 3, "first_degree": 5}
# lower bound of each band and its approximate 10-year risk, from the form
BANDS = ((21, "very_high", 50), (15, "high", 33), (12, "moderate", 17),
         (7, "slightly_elevated", 4), (0, "low", 1))  # fmt: skip


def age_points(age: float) -> int:
    """<45: 0; 45-54: 2; 55-64: 3; >64: 4."""
    if age < 45:
        return 0
    if age < 55:
        return 2
    return 3 if age < 65 else 4


def bmi_points(bmi: float) -> int:
    """<25: 0; 25-30: 1; >30: 3."""
    if bmi < 25:
        return 0
    return 1 if bmi <= 30 else 3


def waist_points(waist: float, sex: Sex) -> int:
    """men <94: 0, 94-102: 3, >102: 4; women <80: 0, 80-88: 3, >88: 4."""
    low, high = WAIST_POINTS[sex]
    if waist < low:
        return 0
    return 3 if waist <= high else 4


def points(
    age: float, bmi: float, waist: float, sex: Sex, physically_active: bool,
    daily_vegetables: bool, bp_medication: bool, high_glucose_history: bool,
    family_diabetes: FamilyHistory,
) -> dict[str, int]:  # fmt: skip
    """Points per item (Lindström & Tuomilehto 2003, and the form's family item)."""
    AGE.check(age)
    BMI.check(bmi)
    WAIST.check(waist)
    return {
        "age": age_points(age),
        "bmi": bmi_points(bmi),
        "waist": waist_points(waist, sex),
        "physically_active": 0 if physically_active else 2,
        "daily_vegetables": 0 if daily_vegetables else 1,
        "bp_medication": 2 if bp_medication else 0,
        "high_glucose_history": 5 if high_glucose_history else 0,
        "family_diabetes": FAMILY_POINTS[family_diabetes],
    }


def band(total: int) -> tuple[str, int]:
    """Risk band and its approximate 10-year risk in percent."""
    for lower, name, risk in BANDS:
        if total >= lower:
            return name, risk
    raise ValueError("a FINDRISC total is never negative")


def _run(values: Inputs) -> CalculatorResult:
    per_item = points(
        values.number("age"), values.number("bmi"), values.number("waist"),
        cast(Sex, values.text("sex")), values.flag("physically_active"),
        values.flag("daily_vegetables"), values.flag("bp_medication"),
        values.flag("high_glucose_history"), cast(FamilyHistory, values.text("family_diabetes")),
    )  # fmt: skip
    total = sum(per_item.values())
    name, risk = band(total)
    detail = {"points": per_item, "approximate_10_year_risk_percent": risk}
    return CalculatorResult(total, "points", name, SOURCE, detail)


CALCULATOR = Calculator(
    name="findrisc",
    title_en="FINDRISC type 2 diabetes risk score",
    title_ko="핀란드 당뇨병 위험 점수 (FINDRISC)",
    unit="points",
    source=SOURCE,
    inputs=(AGE, BMI, WAIST, SEX, ACTIVE, VEGETABLES, BP_MEDICATION, HIGH_GLUCOSE, FAMILY),
    run=_run,
    categories=("low", "slightly_elevated", "moderate", "high", "very_high"),
    notes="Finnish-derived; waist cut-offs are the European ones of the original.",
)
