"""The Korean national general health checkup (일반건강검진) judgement: each item judged
정상A (normal), 정상B (borderline) or 질환의심 (suspected disease).

Source: 건강검진 실시기준 (보건복지부 고시), [별표 4] 별첨 판정기준, as tabulated in the
project reference (§3.9). The table gives no grade for some values (haemoglobin above the 정상A
range, γGT below it); those are answered "unclassified" rather than guessed. Bands are applied
as printed: "≤40 / 41-50 / ≥51" for AST is read as ≤40 normal A, ≤50 borderline, above that
suspected; "<100 / 100-125 / ≥126" for glucose as <100, <126, the rest.

``result`` is the number of items judged suspected disease; ``category`` the worst judgement;
``detail.items`` the judgement of every item given. Ranges are plausibility limits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from khealth.cds.calculators.model import (
    Calculator,
    CalculatorInputError,
    CalculatorResult,
    Inputs,
    InputSpec,
)
from khealth.core.errors import Issue

Sex = Literal["male", "female"]

SOURCE = "건강검진 실시기준 (보건복지부 고시) [별표 4] 별첨 판정기준 (reference §3.9)"

NORMAL_A, NORMAL_B, SUSPECTED, UNCLASSIFIED = (
    "normal_a", "normal_b", "suspected_disease", "unclassified",
)  # fmt: skip
LABELS_KO = {NORMAL_A: "정상A", NORMAL_B: "정상B(경계)", SUSPECTED: "질환의심",
             UNCLASSIFIED: "판정기준 없음"}  # fmt: skip
SEVERITY = {UNCLASSIFIED: -1, NORMAL_A: 0, NORMAL_B: 1, SUSPECTED: 2}


@dataclass(frozen=True, slots=True)
class Rising:
    """Higher is worse: normal A up to ``a``, borderline up to ``b`` (None: no borderline band),
    suspected beyond; ``inclusive`` says whether the edges belong to the lower band; values below
    ``floor`` are outside the table."""

    a: float
    b: float | None
    inclusive: bool
    floor: float | None = None

    def judge(self, value: float) -> str:
        if self.floor is not None and value < self.floor:
            return UNCLASSIFIED
        if self._within(value, self.a):
            return NORMAL_A
        if self.b is not None and self._within(value, self.b):
            return NORMAL_B
        return SUSPECTED

    def _within(self, value: float, edge: float) -> bool:
        return value <= edge if self.inclusive else value < edge


@dataclass(frozen=True, slots=True)
class Falling:
    """Lower is worse: normal A from ``a``, borderline from ``b`` (``b_included``: whether ``b``
    itself is borderline), suspected below; values above ``ceiling`` are outside the table."""

    a: float
    b: float | None
    b_included: bool = True
    ceiling: float | None = None

    def judge(self, value: float) -> str:
        if self.ceiling is not None and value > self.ceiling:
            return UNCLASSIFIED
        if value >= self.a:
            return NORMAL_A
        if self.b is not None and (value >= self.b if self.b_included else value > self.b):
            return NORMAL_B
        return SUSPECTED


Rule = Rising | Falling
# 별표 4 별첨, by item; a pair is (male, female).
RULES: dict[str, Rule | tuple[Rule, Rule]] = {
    "waist": (Rising(90, None, inclusive=False), Rising(85, None, inclusive=False)),
    "hemoglobin": (Falling(13.0, 12.0, ceiling=16.5), Falling(12.0, 10.0, ceiling=15.5)),
    "fasting_glucose": Rising(100, 126, inclusive=False),
    "total_cholesterol": Rising(200, 240, inclusive=False),
    "hdl": Falling(60, 40),
    "triglycerides": Rising(150, 200, inclusive=False),
    "ldl": Rising(130, 160, inclusive=False),
    "ast": Rising(40, 50, inclusive=True),
    "alt": Rising(35, 45, inclusive=True),
    "ggt": (Rising(63, 77, inclusive=True, floor=11), Rising(35, 45, inclusive=True, floor=8)),
    "creatinine": Rising(1.5, None, inclusive=True),
    "egfr": Falling(60, None),
    "bone_density_t_score": Falling(-1.0, -2.5, b_included=False),
}
URINE_PROTEIN = {"negative": NORMAL_A, "trace": NORMAL_B, "1+": SUSPECTED, "2+": SUSPECTED,
                 "3+": SUSPECTED, "4+": SUSPECTED}  # fmt: skip


def judge_blood_pressure(systolic: float, diastolic: float) -> str:
    """<120 and <80 normal A; >=140 or >=90 suspected; otherwise (120-139 or 80-89) borderline."""
    if systolic >= 140 or diastolic >= 90:
        return SUSPECTED
    return NORMAL_A if systolic < 120 and diastolic < 80 else NORMAL_B


def judge_bmi(bmi: float) -> str:
    """18.5-24.9 normal A; 25-29.9 or <18.5 borderline; >=30 suspected."""
    if bmi >= 30:
        return SUSPECTED
    return NORMAL_A if 18.5 <= bmi < 25 else NORMAL_B


def judge_item(item: str, value: float, sex: Sex) -> str:
    rule = RULES[item]
    if isinstance(rule, tuple):
        rule = rule[0] if sex == "male" else rule[1]
    return rule.judge(value)


def judge_urine_protein(grade: str) -> str:
    return URINE_PROTEIN[grade]


_PLAUSIBLE = "plausibility limits"


def _item(name: str, description: str, unit: str | None, low: float, high: float) -> InputSpec:
    return InputSpec(name, "number", description, unit, low, high, required=False,
                     range_basis=_PLAUSIBLE)  # fmt: skip


SEX = InputSpec("sex", "enum", "sex (some limits differ)", choices=("male", "female"))
ITEMS = (
    _item("systolic_bp", "systolic blood pressure", "mmHg", 50, 300),
    _item("diastolic_bp", "diastolic blood pressure", "mmHg", 20, 200),
    _item("bmi", "body mass index", "kg/m²", 10, 80),
    _item("waist", "waist circumference", "cm", 40, 200),
    _item("hemoglobin", "haemoglobin", "g/dL", 3, 25),
    _item("fasting_glucose", "fasting plasma glucose", "mg/dL", 20, 1000),
    _item("total_cholesterol", "total cholesterol", "mg/dL", 50, 1000),
    _item("hdl", "HDL cholesterol", "mg/dL", 5, 200),
    _item("triglycerides", "triglycerides", "mg/dL", 10, 5000),
    _item("ldl", "LDL cholesterol", "mg/dL", 10, 1000),
    _item("ast", "aspartate aminotransferase", "U/L", 1, 10000),
    _item("alt", "alanine aminotransferase", "U/L", 1, 10000),
    _item("ggt", "gamma-glutamyl transferase", "U/L", 1, 10000),
    InputSpec(
        "urine_protein",
        "enum",
        "urine protein (dipstick)",
        required=False,
        choices=tuple(URINE_PROTEIN),
    ),
    _item("creatinine", "serum creatinine", "mg/dL", 0.1, 30),
    _item("egfr", "estimated GFR", "mL/min/1.73 m²", 1, 200),
    _item("bone_density_t_score", "bone density T-score", None, -10, 5),
)


def judge_all(sex: Sex, values: Mapping[str, float | str]) -> dict[str, str]:
    """Judgement of every item given (blood pressure needs both of its readings)."""
    judged: dict[str, str] = {}
    if "systolic_bp" in values and "diastolic_bp" in values:
        judged["blood_pressure"] = judge_blood_pressure(
            float(values["systolic_bp"]), float(values["diastolic_bp"])
        )
    special: dict[str, Callable[[float | str], str]] = {
        "bmi": lambda v: judge_bmi(float(v)),
        "urine_protein": lambda v: judge_urine_protein(str(v)),
    }
    for name, value in values.items():
        if name in special:
            judged[name] = special[name](value)
        elif name in RULES:
            judged[name] = judge_item(name, float(value), sex)
    return judged


def _given(values: Inputs) -> dict[str, float | str]:
    given: dict[str, float | str] = {}
    for spec in ITEMS:
        if values.given(spec.name):
            kind_text = spec.kind == "enum"
            given[spec.name] = values.text(spec.name) if kind_text else values.number(spec.name)
    _require_pair(given, "systolic_bp", "diastolic_bp")
    if not given:
        raise CalculatorInputError(
            [Issue("required", "give at least one checkup item (see the calculator's inputs)")]
        )
    return given


def _require_pair(given: Mapping[str, object], first: str, second: str) -> None:
    for present, missing in ((first, second), (second, first)):
        if present in given and missing not in given:
            raise CalculatorInputError.for_input(
                "required", missing, f"{missing} is required when {present} is given"
            )


def _run(values: Inputs) -> CalculatorResult:
    sex: Sex = "male" if values.text("sex") == "male" else "female"
    judged = judge_all(sex, _given(values))
    worst = max(judged.values(), key=SEVERITY.__getitem__)
    suspected = sum(1 for j in judged.values() if j == SUSPECTED)
    detail = {
        "items": {name: {"judgement": j, "label_ko": LABELS_KO[j]} for name, j in judged.items()},
        # the notice form's own category for the two conditions followed up by a second visit
        "hypertension_or_diabetes_suspected": SUSPECTED
        in (judged.get("blood_pressure"), judged.get("fasting_glucose")),
    }
    return CalculatorResult(suspected, "items", worst, SOURCE, detail)


CALCULATOR = Calculator(
    name="checkup",
    title_en="National general health checkup judgement (Korea)",
    title_ko="일반건강검진 판정 (정상A / 정상B / 질환의심)",
    unit="items",
    source=SOURCE,
    inputs=(SEX, *ITEMS),
    run=_run,
    categories=(NORMAL_A, NORMAL_B, SUSPECTED, UNCLASSIFIED),
    notes="result is the number of items judged suspected disease; category the worst "
    "judgement (unclassified only when no item could be graded); detail.items each item's "
    "judgement (unclassified where the table has no grade).",
)
