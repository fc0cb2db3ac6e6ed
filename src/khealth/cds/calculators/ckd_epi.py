"""CKD-EPI 2021 creatinine equation (race-free) with KDIGO G and A staging.

Equation: Inker LA, Eneanya ND, Coresh J et al. New Creatinine- and Cystatin C-Based Equations to
Estimate GFR without Race. N Engl J Med 2021;385:1737-1749 (eGFRcr 2021):
    eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 [female]
    k = 0.7 (female) / 0.9 (male); a = -0.241 (female) / -0.302 (male); Scr in mg/dL.
Staging: KDIGO 2012 Clinical Practice Guideline for the Evaluation and Management of CKD,
Kidney Int Suppl 2013;3:1-150 (G1 >=90, G2 60-89, G3a 45-59, G3b 30-44, G4 15-29, G5 <15;
A1 ACR <30, A2 30-300, A3 >300 mg/g; the heat map of prognosis). CKD also needs the
abnormality to last more than three months: one value stages, it does not diagnose.

Range: adults (the equation was developed in people aged 18 and over); creatinine 0.2-20 mg/dL
and ACR 0-30000 mg/g are plausibility limits, not published bounds. Stages are taken from the
unrounded estimate.
"""

from __future__ import annotations

import math
from typing import Literal, cast

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

Sex = Literal["male", "female"]

SOURCE = (
    "Inker LA et al. New Creatinine- and Cystatin C-Based Equations to Estimate GFR without "
    "Race. N Engl J Med 2021;385:1737-1749 (eGFRcr 2021); staging: KDIGO 2012 CKD guideline, "
    "Kidney Int Suppl 2013;3:1-150"
)

# Inker 2021, eGFRcr (2021) equation.
MULTIPLIER = 142.0
KAPPA = {"female": 0.7, "male": 0.9}
ALPHA = {"female": -0.241, "male": -0.302}
ABOVE_KNOT_EXPONENT = -1.200
AGE_BASE = 0.9938
FEMALE_FACTOR = 1.012

AGE = InputSpec(
    "age", "number", "age", "years", 18, 120,
    range_basis="adults, as in the derivation; 120 is a plausibility limit",
)  # fmt: skip
SEX = InputSpec("sex", "enum", "sex", choices=("male", "female"))
CREATININE = InputSpec(
    "creatinine", "number", "serum creatinine (IDMS-traceable)", "mg/dL", 0.2, 20,
    range_basis="plausibility limits; the paper states none",
)  # fmt: skip
ACR = InputSpec(
    "acr", "number", "urine albumin-to-creatinine ratio, for the KDIGO A stage", "mg/g", 0, 30000,
    required=False, range_basis="plausibility limits",
)  # fmt: skip

# KDIGO heat map (prognosis of CKD by G and A category).
_HEAT_MAP: dict[str, tuple[str, str, str]] = {
    "G1": ("low", "moderately_increased", "high"),
    "G2": ("low", "moderately_increased", "high"),
    "G3a": ("moderately_increased", "high", "very_high"),
    "G3b": ("high", "very_high", "very_high"),
    "G4": ("very_high", "very_high", "very_high"),
    "G5": ("very_high", "very_high", "very_high"),
}


def egfr(age: float, sex: Sex, creatinine: float) -> float:
    """eGFR in mL/min/1.73 m² by the 2021 CKD-EPI creatinine equation."""
    AGE.check(age)
    CREATININE.check(creatinine)
    ratio = creatinine / KAPPA[sex]
    value = (
        MULTIPLIER
        * math.pow(min(ratio, 1.0), ALPHA[sex])
        * math.pow(max(ratio, 1.0), ABOVE_KNOT_EXPONENT)
        * math.pow(AGE_BASE, age)
    )
    return value * FEMALE_FACTOR if sex == "female" else value


def g_stage(egfr_value: float) -> str:
    """KDIGO G category."""
    for lower, stage in ((90, "G1"), (60, "G2"), (45, "G3a"), (30, "G3b"), (15, "G4")):
        if egfr_value >= lower:
            return stage
    return "G5"


def a_stage(acr_mg_per_g: float) -> str:
    """KDIGO A category: A1 <30, A2 30-300, A3 >300 mg/g."""
    if acr_mg_per_g < 30:
        return "A1"
    return "A2" if acr_mg_per_g <= 300 else "A3"


def prognosis(g: str, a: str) -> str:
    """KDIGO heat-map risk: low (green), moderately_increased (yellow), high (orange),
    very_high (red)."""
    return _HEAT_MAP[g][("A1", "A2", "A3").index(a)]


def _run(values: Inputs) -> CalculatorResult:
    value = egfr(values.number("age"), cast(Sex, values.text("sex")), values.number("creatinine"))
    stage = g_stage(value)
    detail: dict[str, object] = {"g_stage": stage}
    acr = values.optional_number("acr")
    if acr is not None:
        albuminuria = a_stage(acr)
        detail["a_stage"] = albuminuria
        detail["kdigo_prognosis"] = prognosis(stage, albuminuria)
    return CalculatorResult(value, "mL/min/1.73 m²", stage, SOURCE, detail)


CALCULATOR = Calculator(
    name="ckd_epi_2021",
    title_en="eGFR, CKD-EPI 2021 creatinine equation (race-free), with KDIGO staging",
    title_ko="추정 사구체여과율 (CKD-EPI 2021 크레아티닌 공식, KDIGO 병기)",
    unit="mL/min/1.73 m²",
    source=SOURCE,
    inputs=(AGE, SEX, CREATININE, ACR),
    run=_run,
    categories=("G1", "G2", "G3a", "G3b", "G4", "G5"),
    notes="category is the KDIGO G stage; with acr the detail adds the A stage and the "
    "heat-map prognosis. CKD needs the abnormality for more than 3 months.",
)
