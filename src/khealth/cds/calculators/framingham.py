"""Framingham general cardiovascular disease risk (2008): 10-year risk of CHD, stroke,
peripheral artery disease or heart failure.

Source: D'Agostino RB Sr, Vasan RS, Pencina MJ et al. General Cardiovascular Risk Profile for Use
in Primary Care: The Framingham Heart Study. Circulation 2008;117:743-753, Table 2 (regression
coefficients, baseline survival S0(10), mean of the linear predictor); coefficients as published
on the Framingham Heart Study risk-functions page (reference §3.2). The treated and untreated SBP
coefficients differ by sex; public code has been seen swapping them, so tests pin each one.

Validated range: ages 30-74 (the derivation cohort). The paper gives no bounds for the lipids or
blood pressure; we apply the same limits as the Pooled Cohort Equations (TC 130-320, HDL 20-100,
SBP 90-200) rather than extrapolate into values the cohort barely held. Risk categories: <10 %
low, 10-<20 % intermediate, >=20 % high, as the Canadian Cardiovascular Society uses the general
CVD score (Anderson TJ et al. Can J Cardiol 2016;32:1263-1282).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, cast

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

Sex = Literal["male", "female"]

SOURCE = (
    "D'Agostino RB Sr et al. General Cardiovascular Risk Profile for Use in Primary Care: "
    "The Framingham Heart Study. Circulation 2008;117:743-753, Table 2; categories: "
    "Anderson TJ et al. Can J Cardiol 2016;32:1263-1282"
)


@dataclass(frozen=True, slots=True)
class Coefficients:
    ln_age: float
    ln_total_cholesterol: float
    ln_hdl: float
    ln_untreated_sbp: float
    ln_treated_sbp: float
    smoker: float
    diabetes: float
    baseline_survival: float  # S0(10)
    mean_sum: float


# D'Agostino 2008, Table 2.
MEN = Coefficients(3.06117, 1.12370, -0.93263, 1.93303, 1.99881, 0.65451, 0.57367, 0.88936, 23.9802)
WOMEN = Coefficients(
    2.32888, 1.20904, -0.70833, 2.76157, 2.82263, 0.52873, 0.69154, 0.95012, 26.1931
)

AGE = InputSpec("age", "number", "age", "years", 30, 74)
SEX = InputSpec("sex", "enum", "sex", choices=("male", "female"))
TOTAL_CHOLESTEROL = InputSpec(
    "total_cholesterol", "number", "total cholesterol", "mg/dL", 130, 320,
    range_basis="limits shared with the Pooled Cohort Equations; the paper states none",
)  # fmt: skip
HDL = InputSpec(
    "hdl", "number", "HDL cholesterol", "mg/dL", 20, 100,
    range_basis="limits shared with the Pooled Cohort Equations; the paper states none",
)  # fmt: skip
SYSTOLIC_BP = InputSpec(
    "systolic_bp", "number", "systolic blood pressure", "mmHg", 90, 200,
    range_basis="limits shared with the Pooled Cohort Equations; the paper states none",
)  # fmt: skip
ON_BP_TREATMENT = InputSpec("on_bp_treatment", "boolean", "on treatment for high blood pressure")
SMOKER = InputSpec("smoker", "boolean", "current smoker")
DIABETES = InputSpec("diabetes", "boolean", "diabetes")


def linear_predictor(
    c: Coefficients, age: float, total_cholesterol: float, hdl: float, systolic_bp: float,
    on_bp_treatment: bool, smoker: bool, diabetes: bool,
) -> float:  # fmt: skip
    sbp_coefficient = c.ln_treated_sbp if on_bp_treatment else c.ln_untreated_sbp
    return (
        c.ln_age * math.log(age)
        + c.ln_total_cholesterol * math.log(total_cholesterol)
        + c.ln_hdl * math.log(hdl)
        + sbp_coefficient * math.log(systolic_bp)
        + c.smoker * smoker
        + c.diabetes * diabetes
    )


def ten_year_risk(
    age: float, sex: Sex, total_cholesterol: float, hdl: float, systolic_bp: float,
    on_bp_treatment: bool, smoker: bool, diabetes: bool,
) -> float:  # fmt: skip
    """10-year general CVD risk in percent: 100 x (1 - S0 ** exp(sum - mean))."""
    AGE.check(age)
    TOTAL_CHOLESTEROL.check(total_cholesterol)
    HDL.check(hdl)
    SYSTOLIC_BP.check(systolic_bp)
    c = MEN if sex == "male" else WOMEN
    total = linear_predictor(
        c, age, total_cholesterol, hdl, systolic_bp, on_bp_treatment, smoker, diabetes
    )
    return 100.0 * (1.0 - math.pow(c.baseline_survival, math.exp(total - c.mean_sum)))


def risk_category(percent: float) -> str:
    if percent < 10.0:
        return "low"
    if percent < 20.0:
        return "intermediate"
    return "high"


def _run(values: Inputs) -> CalculatorResult:
    risk = ten_year_risk(
        values.number("age"), cast(Sex, values.text("sex")), values.number("total_cholesterol"),
        values.number("hdl"), values.number("systolic_bp"), values.flag("on_bp_treatment"),
        values.flag("smoker"), values.flag("diabetes"),
    )  # fmt: skip
    return CalculatorResult(risk, "%", risk_category(risk), SOURCE)


CALCULATOR = Calculator(
    name="framingham",
    title_en="10-year general cardiovascular disease risk (Framingham 2008)",
    title_ko="10년 심혈관질환 위험도 (프레이밍햄 2008)",
    unit="%",
    source=SOURCE,
    inputs=(AGE, SEX, TOTAL_CHOLESTEROL, HDL, SYSTOLIC_BP, ON_BP_TREATMENT, SMOKER, DIABETES),
    run=_run,
    categories=("low", "intermediate", "high"),
    notes="Over-estimates risk in Korean adults (Jee SH et al. BMJ Open 2014;4:e005025).",
)
