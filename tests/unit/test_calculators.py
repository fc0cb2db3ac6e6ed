"""The clinical calculators against their sources (khealth.cds.calculators).

Each test states its tolerance. Where the source paper publishes a worked example we test
against it (the Pooled Cohort Equations); where it publishes a table we test every band edge
(NEWS2, qSOFA, FINDRISC, KDIGO, Asia-Pacific BMI, the checkup judgement). Where no published
example was available offline (Framingham 2008, CKD-EPI 2021, FIB-4), the expected values are an
independent hand computation from the published coefficients, made outside this code base and
written here as literals; the docstrings say so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from khealth.cds.calculators import (
    CalculatorInputError,
    UnknownCalculator,
    all_calculators,
    checkup,
    ckd_epi,
    compute,
    fib4,
    findrisc,
    framingham,
    get_calculator,
    news2,
    pce,
    qsofa,
)
from khealth.cds.calculators import bmi as bmi_calc
from khealth.cds.calculators import metabolic as metabolic_calc

pytestmark = pytest.mark.unit


def input_error(fn: Any, *args: Any, **kwargs: Any) -> CalculatorInputError:
    with pytest.raises(CalculatorInputError) as caught:
        fn(*args, **kwargs)
    assert caught.value.status == 422
    return caught.value


def named(error: CalculatorInputError) -> list[str]:
    return [name for issue in error.issues for name in issue.expression]


# --- Pooled Cohort Equations (Goff 2013) -------------------------------------------------------

PCE_EXAMPLE = {"age": 55, "total_cholesterol": 213, "hdl": 50, "systolic_bp": 120,
               "on_bp_treatment": False, "smoker": False, "diabetes": False}  # fmt: skip


@pytest.mark.parametrize(
    ("sex", "race", "published_percent"),
    [
        ("female", "white", 2.1),
        ("male", "white", 5.3),
        ("female", "african_american", 3.0),
        ("male", "african_american", 6.1),
    ],
)
def test_pce_matches_the_worked_examples_of_goff_2013(
    sex: str, race: str, published_percent: float
) -> None:
    """Goff 2013, Table A example (55 y, TC 213, HDL 50, SBP 120 untreated, non-smoker,
    non-diabetic), the four values the brief quotes. Tolerance 0.1 percentage point: the paper
    prints one decimal, and the exact computation for the white man gives 5.38 % where the paper
    prints 5.3 % (consistent with a sum rounded to two decimals before exponentiation)."""
    result = compute("pce", {**PCE_EXAMPLE, "sex": sex, "race": race})
    assert result.unit == "%"
    assert result.result == pytest.approx(published_percent, abs=0.1)


def test_pce_race_other_uses_the_white_equations() -> None:
    white = compute("pce", {**PCE_EXAMPLE, "sex": "male", "race": "white"})
    other = compute("pce", {**PCE_EXAMPLE, "sex": "male", "race": "other"})
    assert other.result == white.result
    assert other.detail["equation"] == "white_male"


def test_pce_uses_the_treated_sbp_coefficient_when_on_treatment() -> None:
    """Only the SBP term changes: (1.797 - 1.764) x ln 120 for white men (Table A); 1e-12."""
    eq = pce.WHITE_MALE
    untreated = pce.individual_sum(eq, 55, 213, 50, 120, False, False, False)
    treated = pce.individual_sum(eq, 55, 213, 50, 120, True, False, False)
    assert treated - untreated == pytest.approx((1.797 - 1.764) * math.log(120), abs=1e-12)


@pytest.mark.parametrize(
    ("field", "value", "range_text"),
    [
        ("age", 39, "between 40 and 79 years"),
        ("age", 80, "between 40 and 79 years"),
        ("total_cholesterol", 129, "between 130 and 320 mg/dL"),
        ("total_cholesterol", 321, "between 130 and 320 mg/dL"),
        ("hdl", 19, "between 20 and 100 mg/dL"),
        ("hdl", 101, "between 20 and 100 mg/dL"),
        ("systolic_bp", 89, "between 90 and 200 mmHg"),
        ("systolic_bp", 201, "between 90 and 200 mmHg"),
    ],
)
def test_pce_refuses_inputs_outside_its_validated_range(
    field: str, value: float, range_text: str
) -> None:
    inputs = {**PCE_EXAMPLE, "sex": "female", "race": "white", field: value}
    error = input_error(compute, "pce", inputs)
    assert named(error) == [field]
    assert range_text in error.summary()
    assert str(value) not in error.summary().replace(range_text, "")  # no clinical value echoed


@pytest.mark.parametrize(
    ("field", "value"),
    [("age", 40), ("age", 79), ("total_cholesterol", 130), ("total_cholesterol", 320),
     ("hdl", 20), ("hdl", 100), ("systolic_bp", 90), ("systolic_bp", 200)],
)  # fmt: skip
def test_pce_accepts_the_edges_of_its_validated_range(field: str, value: float) -> None:
    result = compute("pce", {**PCE_EXAMPLE, "sex": "male", "race": "white", field: value})
    assert 0 < result.result < 100


def test_the_typed_pce_function_refuses_to_extrapolate_too() -> None:
    error = input_error(pce.ten_year_risk, 85, "male", "white", 200, 50, 120, False, False, False)
    assert named(error) == ["age"]


@pytest.mark.parametrize(
    ("percent", "category"),
    [(4.99, "low"), (5.0, "borderline"), (7.49, "borderline"), (7.5, "intermediate"),
     (19.99, "intermediate"), (20.0, "high")],
)  # fmt: skip
def test_pce_categories_follow_the_2019_guideline_edges(percent: float, category: str) -> None:
    assert pce.risk_category(percent) == category


# --- Framingham 2008 general CVD --------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected_sum", "expected_percent"),
    [
        ({"age": 61, "sex": "female", "total_cholesterol": 180, "hdl": 47, "systolic_bp": 124,
          "on_bp_treatment": False, "smoker": True, "diabetes": False}, 26.9653, 10.4842),
        ({"age": 53, "sex": "male", "total_cholesterol": 161, "hdl": 55, "systolic_bp": 125,
          "on_bp_treatment": True, "smoker": False, "diabetes": True}, 24.3509, 15.6227),
        ({"age": 55, "sex": "male", "total_cholesterol": 213, "hdl": 50, "systolic_bp": 120,
          "on_bp_treatment": False, "smoker": False, "diabetes": False}, 23.8975, 10.2325),
    ],
)  # fmt: skip
def test_framingham_matches_a_hand_computation_from_the_published_coefficients(
    inputs: dict[str, Any], expected_sum: float, expected_percent: float
) -> None:
    """Not a published example (none was available offline): an independent hand computation
    with D'Agostino 2008 Table 2, risk = 1 - S0^exp(sum - mean). Tolerance 0.001 (sum) and
    0.001 percentage point (risk), the precision the literals are written to."""
    c = framingham.MEN if inputs["sex"] == "male" else framingham.WOMEN
    total = framingham.linear_predictor(
        c, inputs["age"], inputs["total_cholesterol"], inputs["hdl"], inputs["systolic_bp"],
        inputs["on_bp_treatment"], inputs["smoker"], inputs["diabetes"],
    )  # fmt: skip
    assert total == pytest.approx(expected_sum, abs=0.001)
    assert compute("framingham", inputs).result == pytest.approx(expected_percent, abs=0.001)


@pytest.mark.parametrize(
    ("coefficients", "untreated", "treated"),
    [(framingham.MEN, 1.93303, 1.99881), (framingham.WOMEN, 2.76157, 2.82263)],
)
def test_framingham_pins_the_treated_and_untreated_sbp_coefficients(
    coefficients: framingham.Coefficients, untreated: float, treated: float
) -> None:
    """Public code has been seen swapping them; the difference must be (treated - untreated)
    x ln SBP. Tolerance 1e-12."""
    args = (coefficients, 50, 200, 50, 140)
    off = framingham.linear_predictor(*args, False, False, False)
    on = framingham.linear_predictor(*args, True, False, False)
    assert on - off == pytest.approx((treated - untreated) * math.log(140), abs=1e-12)


def test_framingham_refuses_ages_outside_30_to_74() -> None:
    base = {"sex": "male", "total_cholesterol": 200, "hdl": 50, "systolic_bp": 120,
            "on_bp_treatment": False, "smoker": False, "diabetes": False}  # fmt: skip
    for age in (29, 75):
        error = input_error(compute, "framingham", {**base, "age": age})
        assert named(error) == ["age"] and "between 30 and 74 years" in error.summary()
    for age in (30, 74):
        assert compute("framingham", {**base, "age": age}).result > 0


def test_framingham_has_no_race_input() -> None:
    assert "race" not in [spec.name for spec in get_calculator("framingham").inputs]


@pytest.mark.parametrize(
    ("percent", "category"),
    [(9.99, "low"), (10.0, "intermediate"), (19.99, "intermediate"), (20.0, "high")],
)
def test_framingham_categories_edges(percent: float, category: str) -> None:
    assert framingham.risk_category(percent) == category


# --- CKD-EPI 2021 and KDIGO -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "sex", "creatinine", "expected"),
    [
        (50, "male", 1.0, 91.6915),
        (50, "female", 0.6, 109.2830),
        (70, "male", 2.0, 35.2430),
        (80, "female", 1.5, 35.0103),
        (60, "male", 4.5, 14.1731),
    ],
)
def test_ckd_epi_2021_matches_a_hand_computation_from_the_published_equation(
    age: float, sex: str, creatinine: float, expected: float
) -> None:
    """Not a published example (Inker 2021 prints none): an independent hand computation of
    142 x min(Scr/k,1)^a x max(Scr/k,1)^-1.200 x 0.9938^age x 1.012[F]. Tolerance 0.001."""
    result = compute("ckd_epi_2021", {"age": age, "sex": sex, "creatinine": creatinine})
    assert result.result == pytest.approx(expected, abs=0.001)
    assert result.unit == "mL/min/1.73 m²"


@pytest.mark.parametrize(("sex", "kappa"), [("female", 0.7), ("male", 0.9)])
def test_ckd_epi_2021_at_the_knot_reduces_to_the_age_and_sex_terms(sex: str, kappa: float) -> None:
    """With Scr = k both spline terms are 1: eGFR = 142 x 0.9938^age (x 1.012 for women).
    Tolerance 1e-9."""
    expected = 142 * 0.9938**40 * (1.012 if sex == "female" else 1.0)
    assert ckd_epi.egfr(40, sex, kappa) == pytest.approx(expected, abs=1e-9)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("egfr", "stage"),
    [(120, "G1"), (90, "G1"), (89.99, "G2"), (60, "G2"), (59.99, "G3a"), (45, "G3a"),
     (44.99, "G3b"), (30, "G3b"), (29.99, "G4"), (15, "G4"), (14.99, "G5"), (3, "G5")],
)  # fmt: skip
def test_kdigo_g_stage_edges(egfr: float, stage: str) -> None:
    assert ckd_epi.g_stage(egfr) == stage


@pytest.mark.parametrize(
    ("acr", "stage"), [(0, "A1"), (29.99, "A1"), (30, "A2"), (300, "A2"), (300.01, "A3")]
)
def test_kdigo_a_stage_edges(acr: float, stage: str) -> None:
    assert ckd_epi.a_stage(acr) == stage


@pytest.mark.parametrize(
    ("g", "a", "risk"),
    [("G1", "A1", "low"), ("G2", "A2", "moderately_increased"), ("G3a", "A1",
     "moderately_increased"), ("G2", "A3", "high"), ("G3a", "A2", "high"), ("G3b", "A1", "high"),
     ("G3a", "A3", "very_high"), ("G3b", "A2", "very_high"), ("G4", "A1", "very_high"),
     ("G5", "A1", "very_high")],
)  # fmt: skip
def test_kdigo_heat_map_colours(g: str, a: str, risk: str) -> None:
    assert ckd_epi.prognosis(g, a) == risk


def test_ckd_epi_gives_the_g_stage_as_category_and_the_a_stage_when_acr_is_given() -> None:
    plain = compute("ckd_epi_2021", {"age": 70, "sex": "male", "creatinine": 2.0})
    assert plain.category == "G3b" and "a_stage" not in plain.detail
    staged = compute("ckd_epi_2021", {"age": 70, "sex": "male", "creatinine": 2.0, "acr": 45})
    assert staged.detail["a_stage"] == "A2"
    assert staged.detail["kdigo_prognosis"] == "very_high"


def test_ckd_epi_refuses_children() -> None:
    error = input_error(compute, "ckd_epi_2021", {"age": 17, "sex": "male", "creatinine": 0.8})
    assert named(error) == ["age"]


# --- FIB-4 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "ast", "alt", "platelets", "expected"),
    [
        (50, 40, 25, 200, 2.0),
        (70, 20, 16, 175, 2.0),
        (45, 30, 36, 250, 0.9),
        (60, 90, 81, 120, 5.0),
    ],
)
def test_fib4_matches_a_hand_computation(
    age: float, ast: float, alt: float, platelets: float, expected: float
) -> None:
    """Sterling 2006 formula (age x AST) / (platelets x sqrt(ALT)), inputs chosen so that
    sqrt(ALT) is whole and the hand result exact; tolerance 1e-12."""
    assert fib4.index(age, ast, alt, platelets) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("index", "age", "category"),
    [(1.29, 50, "low"), (1.30, 50, "indeterminate"), (2.67, 50, "indeterminate"),
     (2.68, 50, "high"), (1.99, 64, "indeterminate"), (1.99, 65, "low"),
     (2.0, 65, "indeterminate"), (2.67, 80, "indeterminate"), (2.68, 80, "high")],
)  # fmt: skip
def test_fib4_cutoffs_with_the_higher_lower_cutoff_from_65(
    index: float, age: float, category: str
) -> None:
    assert fib4.category(index, age) == category


def test_fib4_api_result_carries_its_cutoffs() -> None:
    older = compute("fib4", {"age": 70, "ast": 20, "alt": 16, "platelets": 175})
    assert older.category == "indeterminate" and older.detail["lower_cutoff"] == 2.0
    younger = compute("fib4", {"age": 50, "ast": 40, "alt": 25, "platelets": 200})
    assert younger.detail["lower_cutoff"] == 1.30


def test_fib4_refuses_a_zero_alt() -> None:
    error = input_error(compute, "fib4", {"age": 50, "ast": 40, "alt": 0, "platelets": 200})
    assert named(error) == ["alt"]


# --- FINDRISC ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "points"), [(44, 0), (45, 2), (54, 2), (55, 3), (64, 3), (65, 4)])
def test_findrisc_age_bands(age: float, points: int) -> None:
    assert findrisc.age_points(age) == points


@pytest.mark.parametrize(("bmi", "points"), [(24.9, 0), (25, 1), (30, 1), (30.1, 3)])
def test_findrisc_bmi_bands(bmi: float, points: int) -> None:
    assert findrisc.bmi_points(bmi) == points


@pytest.mark.parametrize(
    ("sex", "waist", "points"),
    [("male", 93.9, 0), ("male", 94, 3), ("male", 102, 3), ("male", 102.1, 4),
     ("female", 79.9, 0), ("female", 80, 3), ("female", 88, 3), ("female", 88.1, 4)],
)  # fmt: skip
def test_findrisc_waist_bands_differ_by_sex(sex: str, waist: float, points: int) -> None:
    assert findrisc.waist_points(waist, sex) == points  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "low"), (6, "low"), (7, "slightly_elevated"), (11, "slightly_elevated"),
     (12, "moderate"), (14, "moderate"), (15, "high"), (20, "high"), (21, "very_high"),
     (26, "very_high")],
)  # fmt: skip
def test_findrisc_risk_bands(total: int, band: str) -> None:
    assert findrisc.band(total)[0] == band


def test_findrisc_totals_every_item_up_to_26() -> None:
    worst = {"age": 70, "bmi": 31, "waist": 103, "sex": "male", "physically_active": False,
             "daily_vegetables": False, "bp_medication": True, "high_glucose_history": True,
             "family_diabetes": "first_degree"}  # fmt: skip
    result = compute("findrisc", worst)
    assert result.result == 26 and result.category == "very_high"
    assert result.detail["points"] == {"age": 4, "bmi": 3, "waist": 4, "physically_active": 2,
        "daily_vegetables": 1, "bp_medication": 2, "high_glucose_history": 5,
        "family_diabetes": 5}  # fmt: skip
    best = {**worst, "age": 30, "bmi": 22, "waist": 80, "physically_active": True,
            "daily_vegetables": True, "bp_medication": False, "high_glucose_history": False,
            "family_diabetes": "none"}  # fmt: skip
    assert compute("findrisc", best).result == 0


def test_findrisc_second_degree_family_scores_3() -> None:
    assert findrisc.FAMILY_POINTS == {"none": 0, "second_degree": 3, "first_degree": 5}


# --- NEWS2 ------------------------------------------------------------------------------------

NORMAL = {"respiratory_rate": 16, "spo2": 98, "spo2_scale": 1, "on_oxygen": False,
          "systolic_bp": 120, "heart_rate": 70, "consciousness": "A", "temperature": 37.0}  # fmt: skip

# RCP 2017 chart 1, every band edge of every parameter (value, points).
NEWS2_EDGES = [
    ("respiratory_rate", 8, 3), ("respiratory_rate", 9, 1), ("respiratory_rate", 11, 1),
    ("respiratory_rate", 12, 0), ("respiratory_rate", 20, 0), ("respiratory_rate", 21, 2),
    ("respiratory_rate", 24, 2), ("respiratory_rate", 25, 3),
    ("spo2", 91, 3), ("spo2", 92, 2), ("spo2", 93, 2), ("spo2", 94, 1), ("spo2", 95, 1),
    ("spo2", 96, 0),
    ("systolic_bp", 90, 3), ("systolic_bp", 91, 2), ("systolic_bp", 100, 2),
    ("systolic_bp", 101, 1), ("systolic_bp", 110, 1), ("systolic_bp", 111, 0),
    ("systolic_bp", 219, 0), ("systolic_bp", 220, 3),
    ("heart_rate", 40, 3), ("heart_rate", 41, 1), ("heart_rate", 50, 1), ("heart_rate", 51, 0),
    ("heart_rate", 90, 0), ("heart_rate", 91, 1), ("heart_rate", 110, 1), ("heart_rate", 111, 2),
    ("heart_rate", 130, 2), ("heart_rate", 131, 3),
    ("temperature", 35.0, 3), ("temperature", 35.1, 1), ("temperature", 36.0, 1),
    ("temperature", 36.1, 0), ("temperature", 38.0, 0), ("temperature", 38.1, 1),
    ("temperature", 39.0, 1), ("temperature", 39.1, 2),
    ("consciousness", "A", 0), ("consciousness", "C", 3), ("consciousness", "V", 3),
    ("consciousness", "P", 3), ("consciousness", "U", 3),
]  # fmt: skip


@pytest.mark.parametrize(("parameter", "value", "points"), NEWS2_EDGES)
def test_news2_scores_each_parameter_at_each_band_edge(
    parameter: str, value: Any, points: int
) -> None:
    """Exact (integer points)."""
    result = compute("news2", {**NORMAL, parameter: value})
    assert result.detail["points"][parameter] == points  # type: ignore[index]
    assert result.result == points


@pytest.mark.parametrize(
    ("spo2", "on_oxygen", "points"),
    [(83, False, 3), (84, False, 2), (85, True, 2), (86, False, 1), (87, True, 1),
     (88, False, 0), (92, True, 0), (93, False, 0), (99, False, 0), (93, True, 1),
     (94, True, 1), (95, True, 2), (96, True, 2), (97, True, 3)],
)  # fmt: skip
def test_news2_spo2_scale_2_band_edges_on_air_and_on_oxygen(
    spo2: int, on_oxygen: bool, points: int
) -> None:
    assert news2.spo2_points(spo2, 2, on_oxygen) == points


def test_news2_oxygen_scores_2() -> None:
    result = compute("news2", {**NORMAL, "on_oxygen": True})
    assert result.detail["points"]["air_or_oxygen"] == 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "total", "band"),
    [
        ({}, 0, "low"),
        ({"heart_rate": 95, "temperature": 38.5}, 2, "low"),
        ({"respiratory_rate": 8}, 3, "low-medium"),
        ({"respiratory_rate": 22, "heart_rate": 115, "temperature": 38.5}, 5, "medium"),
        ({"respiratory_rate": 8, "spo2": 94, "temperature": 38.5}, 5, "medium"),
        ({"respiratory_rate": 22, "heart_rate": 115, "on_oxygen": True, "spo2": 95}, 7, "high"),
        ({"respiratory_rate": 25, "spo2": 91, "on_oxygen": True, "systolic_bp": 90,
          "heart_rate": 131, "consciousness": "U", "temperature": 35.0}, 20, "high"),
    ],
)  # fmt: skip
def test_news2_response_bands_follow_rcp_chart_2(
    changes: dict[str, Any], total: int, band: str
) -> None:
    result = compute("news2", {**NORMAL, **changes})
    assert (result.result, result.category) == (total, band)


def test_news2_rejects_an_unknown_spo2_scale_and_a_boolean_for_it() -> None:
    for scale in (3, True, "1"):
        error = input_error(compute, "news2", {**NORMAL, "spo2_scale": scale})
        assert named(error) == ["spo2_scale"]


# --- qSOFA ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rr", "sbp", "gcs", "points", "positive"),
    [(21, 101, 15, 0, False), (22, 101, 15, 1, False), (21, 100, 15, 1, False),
     (21, 101, 14, 1, False), (22, 100, 15, 2, True), (22, 100, 14, 3, True)],
)  # fmt: skip
def test_qsofa_criteria_edges(rr: int, sbp: int, gcs: int, points: int, positive: bool) -> None:
    """Seymour 2016: RR >=22, SBP <=100, GCS <15; positive from 2. Exact."""
    result = qsofa.score(rr, sbp, gcs)
    assert (result.total, result.positive) == (points, positive)


def test_qsofa_refuses_a_gcs_outside_3_to_15() -> None:
    error = input_error(compute, "qsofa", {"respiratory_rate": 20, "systolic_bp": 120, "gcs": 16})
    assert named(error) == ["gcs"]


# --- BMI --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "category"),
    [(18.49, "underweight"), (18.5, "normal"), (22.99, "normal"), (23.0, "overweight"),
     (24.99, "overweight"), (25.0, "obese_i"), (29.99, "obese_i"), (30.0, "obese_ii")],
)  # fmt: skip
def test_bmi_asia_pacific_category_edges(weight: float, category: str) -> None:
    """At 100 cm the BMI equals the weight in kg, so each edge is hit exactly."""
    result = compute("bmi", {"height": 100, "weight": weight})
    assert result.result == pytest.approx(weight, abs=1e-12)
    assert result.category == category


def test_bmi_matches_a_hand_computation() -> None:
    """65 kg / 1.70 m² = 22.491...; tolerance 1e-3."""
    assert bmi_calc.body_mass_index(170, 65) == pytest.approx(22.491, abs=1e-3)


# --- Metabolic syndrome -----------------------------------------------------------------------

HEALTHY = {"sex": "male", "waist": 80, "triglycerides": 100, "hdl": 55, "systolic_bp": 115,
           "diastolic_bp": 75, "fasting_glucose": 90}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "criterion", "met"),
    [({"waist": 89.9}, "abdominal_obesity", False), ({"waist": 90}, "abdominal_obesity", True),
     ({"sex": "female", "waist": 84.9}, "abdominal_obesity", False),
     ({"sex": "female", "waist": 85}, "abdominal_obesity", True),
     ({"triglycerides": 149}, "raised_triglycerides", False),
     ({"triglycerides": 150}, "raised_triglycerides", True),
     ({"hdl": 40}, "reduced_hdl", False), ({"hdl": 39.9}, "reduced_hdl", True),
     ({"sex": "female", "hdl": 50}, "reduced_hdl", False),
     ({"sex": "female", "hdl": 49.9}, "reduced_hdl", True),
     ({"systolic_bp": 129, "diastolic_bp": 84}, "raised_blood_pressure", False),
     ({"systolic_bp": 130}, "raised_blood_pressure", True),
     ({"diastolic_bp": 85}, "raised_blood_pressure", True),
     ({"fasting_glucose": 99}, "raised_fasting_glucose", False),
     ({"fasting_glucose": 100}, "raised_fasting_glucose", True),
     ({"bp_treatment": True}, "raised_blood_pressure", True),
     ({"hdl_treatment": True}, "reduced_hdl", True),
     ({"triglyceride_treatment": True}, "raised_triglycerides", True),
     ({"glucose_treatment": True}, "raised_fasting_glucose", True)],
)  # fmt: skip
def test_metabolic_syndrome_criteria_edges_with_korean_waist_cutoffs(
    changes: dict[str, Any], criterion: str, met: bool
) -> None:
    result = compute("metabolic_syndrome", {**HEALTHY, **changes})
    assert result.detail["criteria"][criterion] is met  # type: ignore[index]


def test_metabolic_syndrome_needs_three_criteria() -> None:
    two = compute("metabolic_syndrome", {**HEALTHY, "waist": 95, "triglycerides": 200})
    assert (two.result, two.category) == (2, "no_metabolic_syndrome")
    three = compute("metabolic_syndrome", {**HEALTHY, "waist": 95, "triglycerides": 200, "hdl": 35})
    assert (three.result, three.category) == (3, "metabolic_syndrome")
    assert metabolic_calc.CRITERIA_NEEDED == 3


# --- National checkup judgement ---------------------------------------------------------------

A, B, S, U = checkup.NORMAL_A, checkup.NORMAL_B, checkup.SUSPECTED, checkup.UNCLASSIFIED


@pytest.mark.parametrize(
    ("item", "sex", "value", "judgement"),
    [
        ("waist", "male", 89.9, A), ("waist", "male", 90, S),
        ("waist", "female", 84.9, A), ("waist", "female", 85, S),
        ("hemoglobin", "male", 16.5, A), ("hemoglobin", "male", 13.0, A),
        ("hemoglobin", "male", 12.9, B), ("hemoglobin", "male", 12.0, B),
        ("hemoglobin", "male", 11.9, S), ("hemoglobin", "male", 16.6, U),
        ("hemoglobin", "female", 15.5, A), ("hemoglobin", "female", 12.0, A),
        ("hemoglobin", "female", 11.9, B), ("hemoglobin", "female", 10.0, B),
        ("hemoglobin", "female", 9.9, S), ("hemoglobin", "female", 15.6, U),
        ("fasting_glucose", "male", 99, A), ("fasting_glucose", "male", 100, B),
        ("fasting_glucose", "male", 125, B), ("fasting_glucose", "male", 126, S),
        ("total_cholesterol", "male", 199, A), ("total_cholesterol", "male", 200, B),
        ("total_cholesterol", "male", 239, B), ("total_cholesterol", "male", 240, S),
        ("hdl", "male", 60, A), ("hdl", "male", 59, B), ("hdl", "male", 40, B),
        ("hdl", "male", 39, S),
        ("triglycerides", "male", 149, A), ("triglycerides", "male", 150, B),
        ("triglycerides", "male", 199, B), ("triglycerides", "male", 200, S),
        ("ldl", "male", 129, A), ("ldl", "male", 130, B), ("ldl", "male", 159, B),
        ("ldl", "male", 160, S),
        ("ast", "male", 40, A), ("ast", "male", 41, B), ("ast", "male", 50, B),
        ("ast", "male", 51, S),
        ("alt", "male", 35, A), ("alt", "male", 36, B), ("alt", "male", 45, B),
        ("alt", "male", 46, S),
        ("ggt", "male", 11, A), ("ggt", "male", 63, A), ("ggt", "male", 64, B),
        ("ggt", "male", 77, B), ("ggt", "male", 78, S), ("ggt", "male", 10, U),
        ("ggt", "female", 8, A), ("ggt", "female", 35, A), ("ggt", "female", 36, B),
        ("ggt", "female", 45, B), ("ggt", "female", 46, S), ("ggt", "female", 7, U),
        ("creatinine", "male", 1.5, A), ("creatinine", "male", 1.51, S),
        ("egfr", "male", 60, A), ("egfr", "male", 59.9, S),
        ("bone_density_t_score", "female", -1.0, A), ("bone_density_t_score", "female", -1.1, B),
        ("bone_density_t_score", "female", -2.4, B), ("bone_density_t_score", "female", -2.5, S),
    ],
)  # fmt: skip
def test_checkup_judgement_edges_of_the_korean_table(
    item: str, sex: str, value: float, judgement: str
) -> None:
    result = compute("checkup", {"sex": sex, item: value})
    assert result.detail["items"][item]["judgement"] == judgement  # type: ignore[index]


@pytest.mark.parametrize(
    ("systolic", "diastolic", "judgement"),
    [(119, 79, A), (120, 79, B), (119, 80, B), (139, 89, B), (140, 70, S), (110, 90, S)],
)
def test_checkup_blood_pressure_edges(systolic: int, diastolic: int, judgement: str) -> None:
    assert checkup.judge_blood_pressure(systolic, diastolic) == judgement


@pytest.mark.parametrize(
    ("bmi", "judgement"), [(18.4, B), (18.5, A), (24.9, A), (25, B), (29.9, B), (30, S)]
)
def test_checkup_bmi_edges(bmi: float, judgement: str) -> None:
    assert checkup.judge_bmi(bmi) == judgement


@pytest.mark.parametrize(
    ("grade", "judgement"), [("negative", A), ("trace", B), ("1+", S), ("4+", S)]
)
def test_checkup_urine_protein(grade: str, judgement: str) -> None:
    assert checkup.judge_urine_protein(grade) == judgement


def test_checkup_answers_the_worst_judgement_and_counts_suspected_items() -> None:
    result = compute(
        "checkup",
        {"sex": "male", "systolic_bp": 145, "diastolic_bp": 85, "fasting_glucose": 110,
         "hdl": 65, "ast": 60, "hemoglobin": 17.0},
    )  # fmt: skip
    assert result.category == S and result.result == 2
    items = result.detail["items"]
    assert items["blood_pressure"] == {"judgement": S, "label_ko": "질환의심"}  # type: ignore[index]
    assert items["hemoglobin"]["judgement"] == U  # type: ignore[index]
    assert result.detail["hypertension_or_diabetes_suspected"] is True


def test_checkup_needs_both_blood_pressure_readings() -> None:
    error = input_error(compute, "checkup", {"sex": "female", "systolic_bp": 130})
    assert named(error) == ["diastolic_bp"]


def test_checkup_needs_at_least_one_item() -> None:
    error = input_error(compute, "checkup", {"sex": "female"})
    assert "at least one checkup item" in error.summary()


# --- Registry and input checking --------------------------------------------------------------


def test_the_registry_lists_the_contracted_calculators_with_titles_sources_and_inputs() -> None:
    names = [c.name for c in all_calculators()]
    assert names == ["pce", "framingham", "ckd_epi_2021", "fib4", "findrisc", "news2", "qsofa",
                     "bmi", "metabolic_syndrome", "checkup"]  # fmt: skip
    for calculator in all_calculators():
        shown = calculator.as_dict()
        assert shown["title"]["ko"] and shown["title"]["en"]  # type: ignore[index]
        assert calculator.source and calculator.inputs
        for spec in calculator.inputs:
            assert spec.kind in ("number", "integer", "boolean", "enum")
            if spec.kind in ("number", "integer"):
                assert spec.minimum is not None and spec.maximum is not None


def test_the_contracted_input_names_are_exact() -> None:
    expected = {
        "pce": ["age", "sex", "race", "total_cholesterol", "hdl", "systolic_bp",
                "on_bp_treatment", "smoker", "diabetes"],
        "framingham": ["age", "sex", "total_cholesterol", "hdl", "systolic_bp",
                       "on_bp_treatment", "smoker", "diabetes"],
        "ckd_epi_2021": ["age", "sex", "creatinine", "acr"],
        "fib4": ["age", "ast", "alt", "platelets"],
        "findrisc": ["age", "bmi", "waist", "sex", "physically_active", "daily_vegetables",
                     "bp_medication", "high_glucose_history", "family_diabetes"],
        "news2": ["respiratory_rate", "spo2", "spo2_scale", "on_oxygen", "systolic_bp",
                  "heart_rate", "consciousness", "temperature"],
        "qsofa": ["respiratory_rate", "systolic_bp", "gcs"],
    }  # fmt: skip
    for name, inputs in expected.items():
        assert [spec.name for spec in get_calculator(name).inputs] == inputs


def test_an_unknown_calculator_is_not_found() -> None:
    with pytest.raises(UnknownCalculator) as caught:
        compute("qrisk3", {})
    assert caught.value.status == 404


def test_input_errors_name_every_bad_input_at_once() -> None:
    error = input_error(compute, "qsofa", {"respiratory_rate": "fast", "gcs": 12.5, "bmi": 20})
    assert sorted(named(error)) == ["bmi", "gcs", "respiratory_rate", "systolic_bp"]
    codes = {issue.expression[0]: issue.code for issue in error.issues}
    assert codes == {"bmi": "invalid", "respiratory_rate": "invalid", "gcs": "invalid",
                     "systolic_bp": "required"}  # fmt: skip


def test_booleans_are_not_numbers_and_numbers_are_not_booleans() -> None:
    inputs = {**PCE_EXAMPLE, "sex": "male", "race": "white"}
    assert named(input_error(compute, "pce", {**inputs, "age": True})) == ["age"]
    assert named(input_error(compute, "pce", {**inputs, "smoker": 1})) == ["smoker"]


def test_not_a_number_is_refused() -> None:
    error = input_error(compute, "bmi", {"height": 170, "weight": float("nan")})
    assert named(error) == ["weight"]


def test_whole_floats_are_accepted_for_integer_inputs() -> None:
    assert compute("qsofa", {"respiratory_rate": 22.0, "systolic_bp": 100, "gcs": 15}).result == 2


def test_the_documentation_names_every_calculator_and_input() -> None:
    """docs/cds-calculators.md's input tables are generated from the registry; this keeps them
    from falling behind it."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "cds-calculators.md").read_text()
    for calculator in all_calculators():
        assert f"### `{calculator.name}`" in page
        for spec in calculator.inputs:
            assert f"| `{spec.name}` |" in page
