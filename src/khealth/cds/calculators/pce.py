"""2013 ACC/AHA Pooled Cohort Equations: 10-year risk of a first hard ASCVD event
(non-fatal myocardial infarction, CHD death, fatal or non-fatal stroke).

Source: Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk.
Circulation 2014;129(25 Suppl 2):S49-S73, Table A (equation parameters) and its worked example
(55-year-old, TC 213, HDL 50, SBP 120 untreated, non-smoker, non-diabetic). Baseline survival
and mean sum to 5-6 digits as in the guideline's spreadsheet (reference §3.1).

Validated range, never extrapolated (the ACC/AHA estimator's limits): age 40-79 years, total
cholesterol 130-320 mg/dL, HDL 20-100 mg/dL, systolic BP 90-200 mmHg. Race "other" uses the
white equations, as the guideline says. Risk categories: Arnett DK et al. 2019 ACC/AHA
Guideline on the Primary Prevention of Cardiovascular Disease, Circulation 2019;140:e596
(<5 % low, 5-<7.5 % borderline, 7.5-<20 % intermediate, >=20 % high).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, cast

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

Sex = Literal["male", "female"]
Race = Literal["white", "african_american", "other"]

SOURCE = (
    "Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk "
    "(Pooled Cohort Equations), Circulation 2014;129(25 Suppl 2):S49-S73, Table A; "
    "categories: Arnett DK et al. 2019 ACC/AHA primary prevention guideline"
)


@dataclass(frozen=True, slots=True)
class Equation:
    """One column of Goff 2013 Table A: coefficient per term (0 where the term is absent)."""

    ln_age: float
    ln_age_squared: float
    ln_total_cholesterol: float
    ln_age_x_ln_total_cholesterol: float
    ln_hdl: float
    ln_age_x_ln_hdl: float
    ln_treated_sbp: float
    ln_age_x_ln_treated_sbp: float
    ln_untreated_sbp: float
    ln_age_x_ln_untreated_sbp: float
    smoker: float
    ln_age_x_smoker: float
    diabetes: float
    baseline_survival: float  # S0(10)
    mean_sum: float  # mean of coefficient x value in the derivation cohort


# Goff 2013, Table A, in its column order.
WHITE_FEMALE = Equation(
    -29.799, 4.884, 13.540, -3.114, -13.578, 3.149, 2.019, 0.0, 1.957, 0.0,
    7.574, -1.665, 0.661, 0.96652, -29.1817,
)  # fmt: skip
AFRICAN_AMERICAN_FEMALE = Equation(
    17.114, 0.0, 0.940, 0.0, -18.920, 4.475, 29.291, -6.432, 27.820, -6.087,
    0.691, 0.0, 0.874, 0.95334, 86.6081,
)  # fmt: skip
WHITE_MALE = Equation(
    12.344, 0.0, 11.853, -2.664, -7.990, 1.769, 1.797, 0.0, 1.764, 0.0,
    7.837, -1.795, 0.658, 0.91436, 61.1816,
)  # fmt: skip
AFRICAN_AMERICAN_MALE = Equation(
    2.469, 0.0, 0.302, 0.0, -0.307, 0.0, 1.916, 0.0, 1.809, 0.0,
    0.549, 0.0, 0.645, 0.89536, 19.5425,
)  # fmt: skip

AGE = InputSpec("age", "number", "age", "years", 40, 79)
SEX = InputSpec("sex", "enum", "sex", choices=("male", "female"))
RACE = InputSpec(
    "race", "enum", "race ('other' uses the white equations)",
    choices=("white", "african_american", "other"),
)  # fmt: skip
TOTAL_CHOLESTEROL = InputSpec("total_cholesterol", "number", "total cholesterol", "mg/dL", 130, 320)
HDL = InputSpec("hdl", "number", "HDL cholesterol", "mg/dL", 20, 100)
SYSTOLIC_BP = InputSpec("systolic_bp", "number", "systolic blood pressure", "mmHg", 90, 200)
ON_BP_TREATMENT = InputSpec("on_bp_treatment", "boolean", "on treatment for high blood pressure")
SMOKER = InputSpec("smoker", "boolean", "current smoker")
DIABETES = InputSpec("diabetes", "boolean", "diabetes")


def equation_for(sex: Sex, race: Race) -> Equation:
    african_american = race == "african_american"
    if sex == "female":
        return AFRICAN_AMERICAN_FEMALE if african_american else WHITE_FEMALE
    return AFRICAN_AMERICAN_MALE if african_american else WHITE_MALE


def individual_sum(
    eq: Equation, age: float, total_cholesterol: float, hdl: float, systolic_bp: float,
    on_bp_treatment: bool, smoker: bool, diabetes: bool,
) -> float:  # fmt: skip
    """Sum of coefficient x value (Goff 2013, Table A, "Individual Sum")."""
    ln_age, ln_tc, ln_hdl = math.log(age), math.log(total_cholesterol), math.log(hdl)
    ln_sbp = math.log(systolic_bp)
    if on_bp_treatment:
        sbp_terms = eq.ln_treated_sbp * ln_sbp + eq.ln_age_x_ln_treated_sbp * ln_age * ln_sbp
    else:
        sbp_terms = eq.ln_untreated_sbp * ln_sbp + eq.ln_age_x_ln_untreated_sbp * ln_age * ln_sbp
    return (
        eq.ln_age * ln_age
        + eq.ln_age_squared * ln_age**2
        + eq.ln_total_cholesterol * ln_tc
        + eq.ln_age_x_ln_total_cholesterol * ln_age * ln_tc
        + eq.ln_hdl * ln_hdl
        + eq.ln_age_x_ln_hdl * ln_age * ln_hdl
        + sbp_terms
        + (eq.smoker + eq.ln_age_x_smoker * ln_age) * smoker
        + eq.diabetes * diabetes
    )


def ten_year_risk(
    age: float, sex: Sex, race: Race, total_cholesterol: float, hdl: float,
    systolic_bp: float, on_bp_treatment: bool, smoker: bool, diabetes: bool,
) -> float:  # fmt: skip
    """10-year ASCVD risk in percent: 100 x (1 - S0 ** exp(sum - mean))."""
    AGE.check(age)
    TOTAL_CHOLESTEROL.check(total_cholesterol)
    HDL.check(hdl)
    SYSTOLIC_BP.check(systolic_bp)
    eq = equation_for(sex, race)
    total = individual_sum(
        eq, age, total_cholesterol, hdl, systolic_bp, on_bp_treatment, smoker, diabetes
    )
    return 100.0 * (1.0 - math.pow(eq.baseline_survival, math.exp(total - eq.mean_sum)))


def risk_category(percent: float) -> str:
    """Arnett 2019: <5 low, 5-<7.5 borderline, 7.5-<20 intermediate, >=20 high."""
    if percent < 5.0:
        return "low"
    if percent < 7.5:
        return "borderline"
    if percent < 20.0:
        return "intermediate"
    return "high"


def _run(values: Inputs) -> CalculatorResult:
    sex = cast(Sex, values.text("sex"))
    race = cast(Race, values.text("race"))
    risk = ten_year_risk(
        values.number("age"), sex, race, values.number("total_cholesterol"),
        values.number("hdl"), values.number("systolic_bp"), values.flag("on_bp_treatment"),
        values.flag("smoker"), values.flag("diabetes"),
    )  # fmt: skip
    equation = f"{'african_american' if race == 'african_american' else 'white'}_{sex}"
    return CalculatorResult(risk, "%", risk_category(risk), SOURCE, {"equation": equation})


CALCULATOR = Calculator(
    name="pce",
    title_en="10-year ASCVD risk (2013 ACC/AHA Pooled Cohort Equations)",
    title_ko="10년 죽상경화성 심혈관질환 위험도 (2013 ACC/AHA 통합코호트방정식)",
    unit="%",
    source=SOURCE,
    inputs=(AGE, SEX, RACE, TOTAL_CHOLESTEROL, HDL, SYSTOLIC_BP, ON_BP_TREATMENT, SMOKER, DIABETES),
    run=_run,
    categories=("low", "borderline", "intermediate", "high"),
    notes="US-derived; not recalibrated for Korean adults (Korean scores: see docs).",
)
