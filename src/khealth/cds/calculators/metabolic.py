"""Metabolic syndrome: the revised NCEP ATP III definition (three or more of five criteria) with
the Korean waist cut-offs.

Sources: Grundy SM et al. Diagnosis and Management of the Metabolic Syndrome: An AHA/NHLBI
Scientific Statement. Circulation 2005;112:2735-2752 (criteria, including "or on drug
treatment"); waist >=90 cm (men) / >=85 cm (women) for Korean adults: Korean Society for the
Study of Obesity (Lee SY, Park HS et al. Appropriate waist circumference cutoff points for
central obesity in Korean adults. Diabetes Res Clin Pract 2007;75:72-80), as in reference §3.8.

Criteria: waist >=90/>=85 cm; triglycerides >=150 mg/dL or treated; HDL <40 (men) / <50
(women) mg/dL or treated; BP >=130 systolic or >=85 diastolic mmHg or treated; fasting glucose
>=100 mg/dL or treated. Ranges are plausibility limits.
"""

from __future__ import annotations

from typing import Literal, cast

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

Sex = Literal["male", "female"]

SOURCE = (
    "Grundy SM et al. AHA/NHLBI Scientific Statement, Circulation 2005;112:2735-2752 (revised "
    "NCEP ATP III); Korean waist cut-offs 90/85 cm: Lee SY et al. Diabetes Res Clin Pract "
    "2007;75:72-80 (KSSO)"
)

WAIST_CUTOFF = {"male": 90.0, "female": 85.0}  # KSSO
TRIGLYCERIDES_CUTOFF = 150.0
HDL_CUTOFF = {"male": 40.0, "female": 50.0}
SYSTOLIC_CUTOFF = 130.0
DIASTOLIC_CUTOFF = 85.0
GLUCOSE_CUTOFF = 100.0
CRITERIA_NEEDED = 3

_PLAUSIBLE = "plausibility limits"
SEX = InputSpec("sex", "enum", "sex", choices=("male", "female"))
WAIST = InputSpec("waist", "number", "waist circumference", "cm", 40, 200, range_basis=_PLAUSIBLE)
TRIGLYCERIDES = InputSpec(
    "triglycerides", "number", "fasting triglycerides", "mg/dL", 10, 5000, range_basis=_PLAUSIBLE
)
HDL = InputSpec("hdl", "number", "HDL cholesterol", "mg/dL", 5, 200, range_basis=_PLAUSIBLE)
SYSTOLIC_BP = InputSpec(
    "systolic_bp", "number", "systolic blood pressure", "mmHg", 50, 300, range_basis=_PLAUSIBLE
)
DIASTOLIC_BP = InputSpec(
    "diastolic_bp", "number", "diastolic blood pressure", "mmHg", 20, 200, range_basis=_PLAUSIBLE
)
GLUCOSE = InputSpec(
    "fasting_glucose", "number", "fasting plasma glucose", "mg/dL", 20, 1000,
    range_basis=_PLAUSIBLE,
)  # fmt: skip


def _treatment(name: str, what: str) -> InputSpec:
    return InputSpec(
        name, "boolean", f"on drug treatment for {what}", required=False, default=False
    )


TG_TREATMENT = _treatment("triglyceride_treatment", "raised triglycerides")
HDL_TREATMENT = _treatment("hdl_treatment", "reduced HDL cholesterol")
BP_TREATMENT = _treatment("bp_treatment", "raised blood pressure")
GLUCOSE_TREATMENT = _treatment("glucose_treatment", "raised glucose")


def criteria(
    sex: Sex, waist: float, triglycerides: float, hdl: float, systolic_bp: float,
    diastolic_bp: float, fasting_glucose: float, triglyceride_treatment: bool = False,
    hdl_treatment: bool = False, bp_treatment: bool = False, glucose_treatment: bool = False,
) -> dict[str, bool]:  # fmt: skip
    """Which of the five criteria are met."""
    for spec, value in ((WAIST, waist), (TRIGLYCERIDES, triglycerides), (HDL, hdl),
                        (SYSTOLIC_BP, systolic_bp), (DIASTOLIC_BP, diastolic_bp),
                        (GLUCOSE, fasting_glucose)):  # fmt: skip
        spec.check(value)
    raised_bp = systolic_bp >= SYSTOLIC_CUTOFF or diastolic_bp >= DIASTOLIC_CUTOFF
    return {
        "abdominal_obesity": waist >= WAIST_CUTOFF[sex],
        "raised_triglycerides": triglycerides >= TRIGLYCERIDES_CUTOFF or triglyceride_treatment,
        "reduced_hdl": hdl < HDL_CUTOFF[sex] or hdl_treatment,
        "raised_blood_pressure": raised_bp or bp_treatment,
        "raised_fasting_glucose": fasting_glucose >= GLUCOSE_CUTOFF or glucose_treatment,
    }


def _run(values: Inputs) -> CalculatorResult:
    met = criteria(
        cast(Sex, values.text("sex")), values.number("waist"), values.number("triglycerides"),
        values.number("hdl"), values.number("systolic_bp"), values.number("diastolic_bp"),
        values.number("fasting_glucose"), values.flag("triglyceride_treatment"),
        values.flag("hdl_treatment"), values.flag("bp_treatment"),
        values.flag("glucose_treatment"),
    )  # fmt: skip
    count = sum(met.values())
    category = "metabolic_syndrome" if count >= CRITERIA_NEEDED else "no_metabolic_syndrome"
    return CalculatorResult(count, "criteria", category, SOURCE, {"criteria": met})


CALCULATOR = Calculator(
    name="metabolic_syndrome",
    title_en="Metabolic syndrome (revised NCEP ATP III, Korean waist cut-offs)",
    title_ko="대사증후군 (NCEP ATP III 개정, 한국인 허리둘레 기준)",
    unit="criteria",
    source=SOURCE,
    inputs=(
        SEX,
        WAIST,
        TRIGLYCERIDES,
        HDL,
        SYSTOLIC_BP,
        DIASTOLIC_BP,
        GLUCOSE,
        TG_TREATMENT,
        HDL_TREATMENT,
        BP_TREATMENT,
        GLUCOSE_TREATMENT,
    ),
    run=_run,
    categories=("no_metabolic_syndrome", "metabolic_syndrome"),
    notes="result is the number of criteria met (0-5); 3 or more is metabolic syndrome.",
)
