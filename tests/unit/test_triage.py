"""Prehospital triage (khealth.emergency.triage) against its published tables.

Each table below names its source; the rule data carries the same citations:
- KTAS first-order considerations and levels: reference §1.1 table (emergency-and-risk.md),
  with the numbers KTAS leaves to its manual from CTAS (reference §1.1, Bullard 2017);
- NEWS2 chart 1 and 2 (RCP 2017) and qSOFA (Seymour 2016): reference §2.3; the scores are
  computed by khealth.cds (tested there at every edge); here we test that triage feeds them
  right, including unmeasured parameters;
- shock index: reference §2.3;
- 2021 National Guideline for the Field Triage of Injured Patients (Newgard 2022): reference
  §2.1, red and yellow criteria;
- LAMS >= 4, RACE >= 5, stroke and STEMI windows: reference §2.1;
- vignettes: the MOHW Pre-KTAS level examples (reference §1.2) and the issue 6 contract example.
Every threshold is tested on both sides of its edge.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from khealth.cds.calculators import news2 as cds_news2
from khealth.emergency.model import (
    Assessment,
    Capability,
    InjuryPattern,
    Pathway,
    TraumaMechanism,
    TriageResult,
)
from khealth.emergency.rules import complaints_v1, pre_ktas_v1
from khealth.emergency.triage import AssessmentError, assess
from khealth.emergency.triage.checks import CHECKS
from khealth.emergency.triage.limits import LIMITS

pytestmark = pytest.mark.unit

KST = timezone(timedelta(hours=9))
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=KST)
# An adult with every NEWS2 parameter in its 0 band (RCP 2017 chart 1).
NORMAL: dict[str, Any] = {
    "age": 40, "respiratory_rate": 16, "spo2": 98, "on_oxygen": False, "systolic_bp": 120,
    "heart_rate": 70, "consciousness": "A", "temperature": 37.0,
}  # fmt: skip


def triage(**fields: Any) -> TriageResult:
    return assess(Assessment(**fields), NOW)


def normal(**changes: Any) -> TriageResult:
    return triage(**{**NORMAL, **changes})


def ids(result: TriageResult) -> set[str]:
    return {r.id for r in result.rules}


def minutes_ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


# -- the rule data ---------------------------------------------------------------------------


def test_every_rule_has_an_id_a_version_a_source_and_both_sentences() -> None:
    rules = pre_ktas_v1()
    assert rules.version == "1.0.0" and rules.name == "pre_ktas"
    for rule in rules.rules:
        assert re.fullmatch(r"(ktas|path)\.[a-z0-9_.]+", rule.id)
        assert rule.version and rule.source and rule.text_ko and rule.text_en
        assert re.search(r"[가-힣]", rule.text_ko), rule.id
        assert (rule.kind == "pathway") == (rule.pathway is not None), rule.id


def test_every_rule_names_a_known_check_and_every_check_is_used() -> None:
    used = {rule.check for rule in pre_ktas_v1().rules}
    assert used == set(CHECKS)


def test_sentences_have_every_threshold_filled_in() -> None:
    for rule in pre_ktas_v1().rules:
        if rule.check != "complaint_default":  # filled with the complaint when it fires
            assert "{" not in rule.text_ko + rule.text_en, rule.id


def test_every_pathway_has_its_needs_and_an_order() -> None:
    rules = pre_ktas_v1()
    assert set(rules.pathway_order) == set(Pathway) == set(rules.needs)
    assert rules.needs[Pathway.STEMI] == {Capability.PCI}
    assert Capability.THROMBECTOMY in rules.needs[Pathway.STROKE_LVO]
    assert rules.needs[Pathway.MAJOR_TRAUMA] == {Capability.TRAUMA_CENTRE}


def test_a_result_names_its_ruleset_versions() -> None:
    assert normal().ruleset == "pre_ktas 1.0.0; chief_complaints 1.0.0"
    assert all(r.version == "1" for r in normal(spo2=80).rules)


# -- NEWS2 (RCP 2017 chart 1 edges; the score itself is cds's) -------------------------------

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
    ("heart_rate", 90, 0), ("heart_rate", 91, 1), ("heart_rate", 110, 1),
    ("heart_rate", 111, 2), ("heart_rate", 130, 2), ("heart_rate", 131, 3),
    ("temperature", 35.0, 3), ("temperature", 35.1, 1), ("temperature", 36.0, 1),
    ("temperature", 36.1, 0), ("temperature", 38.0, 0), ("temperature", 38.1, 1),
    ("temperature", 39.0, 1), ("temperature", 39.1, 2),
    ("consciousness", "A", 0), ("consciousness", "C", 3), ("consciousness", "V", 3),
    ("consciousness", "P", 3), ("consciousness", "U", 3), ("on_oxygen", True, 2),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "points"), NEWS2_EDGES)
def test_news2_scores_each_parameter_at_its_band_edges(field: str, value: Any, points: int) -> None:
    result = normal(**{field: value})
    assert result.news2 is not None
    assert result.news2.score == points
    expected_band = "low-medium" if points == 3 else "low"
    assert result.news2.band == expected_band


@pytest.mark.parametrize(
    ("changes", "score", "band"),
    [({}, 0, "low"), ({"heart_rate": 111, "respiratory_rate": 21}, 4, "low"),
     ({"heart_rate": 111, "respiratory_rate": 21, "temperature": 38.1}, 5, "medium"),
     ({"heart_rate": 111, "respiratory_rate": 21, "temperature": 39.1}, 6, "medium"),
     ({"heart_rate": 111, "respiratory_rate": 25}, 5, "medium"),
     ({"heart_rate": 131, "respiratory_rate": 25, "on_oxygen": True}, 8, "high"),
     ({"heart_rate": 111, "respiratory_rate": 21, "spo2": 93, "temperature": 38.1}, 7, "high")],
)  # fmt: skip
def test_news2_response_bands_follow_chart_2(
    changes: dict[str, Any], score: int, band: str
) -> None:
    result = normal(**changes)
    assert result.news2 is not None
    assert (result.news2.score, result.news2.band) == (score, band)


def test_news2_is_the_cds_implementation() -> None:
    result = normal(respiratory_rate=23, heart_rate=112, temperature=38.4)
    direct = cds_news2.score(23, 98, 1, False, 120, 112, "A", 38.4)
    assert result.news2 is not None and result.news2.score == direct.total


def test_news2_is_not_scored_with_a_parameter_missing_and_says_which() -> None:
    result = triage(**{**NORMAL, "temperature": None})
    assert result.news2 is None
    assert "NEWS2 not scored: missing temperature" in result.warnings


def test_news2_takes_unrecorded_oxygen_as_room_air_and_says_so() -> None:
    result = normal(on_oxygen=None)
    assert result.news2 is not None and result.news2.score == 0
    assert any("room air" in w for w in result.warnings)


@pytest.mark.parametrize(("gcs", "points"), [(15, 0), (14, 3), (3, 3)])
def test_news2_reads_consciousness_from_gcs_when_acvpu_is_missing(gcs: int, points: int) -> None:
    result = normal(consciousness=None, gcs=gcs)
    assert result.news2 is not None and result.news2.score == points


# -- qSOFA (Seymour 2016: RR >= 22, SBP <= 100, GCS < 15) ------------------------------------


@pytest.mark.parametrize(
    ("changes", "points"),
    [({"respiratory_rate": 21}, 0), ({"respiratory_rate": 22}, 1),
     ({"systolic_bp": 101}, 0), ({"systolic_bp": 100}, 1),
     ({"gcs": 15}, 0), ({"gcs": 14}, 1), ({"consciousness": "C"}, 1),
     ({"respiratory_rate": 22, "systolic_bp": 100, "gcs": 14}, 3)],
)  # fmt: skip
def test_qsofa_criteria_at_their_edges(changes: dict[str, Any], points: int) -> None:
    assert normal(**changes).qsofa == points


@pytest.mark.parametrize(("avpu", "gcs"), [("A", 15), ("C", 14), ("V", 12), ("P", 8), ("U", 3)])
def test_avpu_stands_in_for_gcs_as_mcnarry_2004_tabulates(avpu: str, gcs: int) -> None:
    assert pre_ktas_v1().avpu_gcs[avpu] == gcs
    result = normal(consciousness=avpu)
    assert result.qsofa == (0 if avpu == "A" else 1)
    # Alert is GCS 15 by any reading; only the others are approximations worth a warning.
    assert ("GCS approximated from AVPU" in result.warnings) == (avpu != "A")


def test_qsofa_with_a_criterion_unmeasured_is_a_lower_bound_only_when_positive() -> None:
    two = triage(respiratory_rate=24, systolic_bp=95)
    assert two.qsofa == 2
    assert any(w.startswith("qSOFA at least 2") for w in two.warnings)
    one = triage(respiratory_rate=24, systolic_bp=120)
    assert one.qsofa is None
    assert any(w.startswith("qSOFA not scored") for w in one.warnings)


# -- shock index (HR / SBP; reference §2.3) --------------------------------------------------


@pytest.mark.parametrize(
    ("hr", "sbp", "index"), [(115, 105, 1.1), (70, 140, 0.5), (100, 100, 1.0), (None, 120, None),
                             (80, None, None), (0, 0, None)],
)  # fmt: skip
def test_shock_index_is_heart_rate_over_systolic_pressure(
    hr: int | None, sbp: int | None, index: float | None
) -> None:
    assert triage(heart_rate=hr, systolic_bp=sbp).shock_index == index


# -- KTAS first-order considerations (reference §1.1) at their edges -------------------------

LEVEL_EDGES = [
    # respiratory distress by SpO2 (CTAS numbers): <90 -> 1, <92 -> 2, 92-94 -> 3
    ({"spo2": 89}, "ktas.resp.severe", 1), ({"spo2": 90}, "ktas.resp.moderate", 2),
    ({"spo2": 91}, "ktas.resp.moderate", 2), ({"spo2": 92}, "ktas.resp.mild", 3),
    ({"spo2": 94}, "ktas.resp.mild", 3), ({"spo2": 95}, None, 5),
    ({"respiratory_support": True}, "ktas.airway.support", 1),
    ({"respiratory_rate": 9}, "ktas.resp.rate", 2), ({"respiratory_rate": 10}, None, 5),
    ({"respiratory_rate": 30}, "ktas.resp.rate", 2),
    # haemodynamics: shock 1, compromise 2, abnormal pulse 3
    ({"systolic_bp": 89, "heart_rate": 89}, "ktas.haemo.shock", 1),
    ({"systolic_bp": 69, "heart_rate": 60}, "ktas.haemo.shock", 1),
    ({"systolic_bp": 89, "heart_rate": 80}, "ktas.haemo.compromise", 2),
    ({"systolic_bp": 100, "heart_rate": 100}, "ktas.haemo.compromise", 2),
    ({"systolic_bp": 120, "heart_rate": 101}, "ktas.haemo.abnormal_pulse", 3),
    ({"systolic_bp": 120, "heart_rate": 100}, None, 5),
    ({"heart_rate": 49}, "ktas.haemo.abnormal_pulse", 3), ({"heart_rate": 50}, None, 5),
    # consciousness: KTAS U or GCS 3-8 -> 1; V, P or GCS 9-13 -> 2
    ({"gcs": 8}, "ktas.loc.unconscious", 1), ({"gcs": 9}, "ktas.loc.altered", 2),
    ({"gcs": 13}, "ktas.loc.altered", 2), ({"gcs": 14}, "ktas.loc.confused", 3),
    ({"gcs": 15}, None, 5),
    ({"consciousness": "U"}, "ktas.loc.unconscious", 1),
    ({"consciousness": "P"}, "ktas.loc.altered", 2),
    ({"consciousness": "V"}, "ktas.loc.altered", 2),
    ({"consciousness": "C"}, "ktas.loc.confused", 3),
    # fever and SIRS (T >38 or <36, HR >90, RR >20)
    ({"temperature": 38.0}, None, 5), ({"temperature": 38.1}, "ktas.fever", 4),
    ({"temperature": 38.1, "immunocompromised": True}, "ktas.fever.immunocompromised", 2),
    ({"temperature": 38.1, "heart_rate": 91}, "ktas.sirs.two", 3),
    ({"temperature": 38.1, "heart_rate": 90}, "ktas.fever", 4),
    ({"temperature": 38.1, "heart_rate": 91, "respiratory_rate": 21}, "ktas.sirs.three", 2),
    ({"temperature": 35.9, "heart_rate": 91, "respiratory_rate": 21}, "ktas.sirs.three", 2),
    ({"temperature": 36.0, "heart_rate": 91, "respiratory_rate": 21}, None, 5),
    # glucose (CTAS: <3 mmol/L = 54 mg/dL -> 2; >18 mmol/L = 324 mg/dL -> 3)
    ({"glucose": 53}, "ktas.glucose.low", 2), ({"glucose": 54}, None, 5),
    ({"glucose": 325}, "ktas.glucose.high", 3), ({"glucose": 324}, None, 5),
    # mechanism (CTAS: fall of 6 m or more) and bleeding
    ({"fall_height_m": 6.0}, "ktas.mechanism.high_risk", 2), ({"fall_height_m": 5.9}, None, 5),
    ({"trauma_mechanisms": frozenset({TraumaMechanism.EJECTION})}, "ktas.mechanism.high_risk", 2),
    ({"injury_patterns": frozenset({InjuryPattern.ACTIVE_BLEEDING})}, "ktas.bleeding.major", 2),
    ({"injury_patterns": frozenset({InjuryPattern.PELVIC_FRACTURE})}, "ktas.trauma.red_injury", 2),
    # burns (CTAS: >25 % BSA 2, 5-25 % 3), inhalation
    ({"burns_tbsa": 25}, "ktas.burns.major", 2), ({"burns_tbsa": 24}, "ktas.burns.moderate", 3),
    ({"burns_tbsa": 5}, "ktas.burns.moderate", 3), ({"burns_tbsa": 4}, None, 5),
    ({"burns_inhalation": True}, "ktas.burns.inhalation", 2),
    # pregnancy of 20 weeks or more with bleeding or labour
    ({"pregnant": True, "gestation_weeks": 20, "labour": True}, "ktas.obstetric.late_pregnancy", 2),
    ({"pregnant": True, "gestation_weeks": 19, "labour": True}, None, 5),
    ({"stemi_ecg": True}, "ktas.stemi", 2),
    ({"cardiac_arrest": True}, "ktas.arrest", 1),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "rule", "level"), LEVEL_EDGES)
def test_first_order_considerations_at_their_edges(
    changes: dict[str, Any], rule: str | None, level: int
) -> None:
    result = normal(**changes)
    assert result.ktas_level == level
    if rule is None:
        assert {r.id for r in result.rules if r.id.startswith("ktas.")} == {"ktas.default"}
    else:
        assert rule in ids(result)
        assert next(r for r in result.rules if r.id == rule).level == level


# KTAS pain table (reference §1.1): (NRS, site, chronic) -> level
PAIN_TABLE = [
    (8, "central", False, 2), (10, "central", False, 2), (7, "central", False, 3),
    (4, "central", False, 3), (3, "central", False, 4), (1, "central", False, 4),
    (8, "peripheral", False, 3), (7, "peripheral", False, 4), (4, "peripheral", False, 4),
    (3, "peripheral", False, 5), (8, "central", True, 3), (7, "central", True, 4),
    (4, "central", True, 4), (3, "central", True, 5), (8, "peripheral", True, 4),
    (7, "peripheral", True, 5), (1, "peripheral", True, 5), (0, "central", False, 5),
]  # fmt: skip


@pytest.mark.parametrize(("nrs", "site", "chronic", "level"), PAIN_TABLE)
def test_pain_is_graded_by_the_ktas_pain_table(
    nrs: int, site: str, chronic: bool, level: int
) -> None:
    result = normal(pain=nrs, pain_site=site, pain_chronic=chronic)
    assert result.ktas_level == level


def test_pain_of_unknown_site_counts_as_central_with_a_warning() -> None:
    result = normal(pain=8)
    assert result.ktas_level == 2
    assert "pain site unknown: scored as central" in result.warnings


def test_pain_site_comes_from_the_complaint_when_not_recorded() -> None:
    assert normal(pain=8, chief_complaint="복통").ktas_level == 2  # central
    assert normal(pain=8, chief_complaint="발목 통증").ktas_level == 3  # peripheral


@pytest.mark.parametrize(
    ("minutes", "rule", "level"),
    [(270, "ktas.stroke.in_window", 2), (271, "ktas.stroke.late", 3), (None, "ktas.stroke.in_window", 2)],
)  # fmt: skip
def test_stroke_signs_are_2_within_the_thrombolysis_window_and_3_after(
    minutes: float | None, rule: str, level: int
) -> None:
    onset = None if minutes is None else minutes_ago(minutes)
    result = normal(stroke_signs=True, onset=onset)
    assert (result.ktas_level, rule in ids(result)) == (level, True)


def test_the_most_urgent_level_wins_and_every_fired_rule_is_listed_most_urgent_first() -> None:
    result = normal(spo2=93, temperature=38.5, gcs=10)
    assert result.ktas_level == 2
    assert {"ktas.resp.mild", "ktas.fever", "ktas.loc.altered"} <= ids(result)
    levels = [r.level for r in result.rules if r.level is not None]
    assert levels == sorted(levels)


def test_nothing_abnormal_is_level_5_by_the_default_rule() -> None:
    result = normal()
    assert (result.ktas_level, ids(result)) == (5, {"ktas.default"})


def test_no_vital_signs_is_urgent_until_measured() -> None:
    result = triage(chief_complaint="두통")
    assert result.ktas_level == 3
    assert "ktas.no_vitals" in ids(result)


def test_a_complaint_brings_its_default_level_in_korean_and_english() -> None:
    result = normal(chief_complaint="토혈")
    assert result.ktas_level == 2
    rule = next(r for r in result.rules if r.id == "ktas.complaint.default")
    assert (rule.level, rule.text_ko, rule.text_en) == (
        2,
        "주증상 '위장관 출혈' 기본 등급 (KTAS 2)",
        "Chief complaint 'gastrointestinal bleeding' default level (KTAS 2)",
    )


# -- vignettes -------------------------------------------------------------------------------

VIGNETTES = [
    # MOHW Pre-KTAS examples (reference §1.2)
    ("L1 cardiac arrest", {"chief_complaint": "심정지", "cardiac_arrest": True}, 1),
    ("L1 major trauma", {"chief_complaint": "교통사고", "age": 35, "respiratory_rate": 28,
                         "spo2": 93, "systolic_bp": 82, "heart_rate": 128, "gcs": 7,
                         "trauma_mechanisms": frozenset({TraumaMechanism.EJECTION})}, 1),
    ("L2 dyspnoea", {**NORMAL, "chief_complaint": "호흡곤란", "spo2": 91, "respiratory_rate": 26}, 2),
    ("L2 haematemesis", {**NORMAL, "chief_complaint": "토혈"}, 2),
    ("L3 mild respiratory failure", {**NORMAL, "chief_complaint": "숨이 차요", "spo2": 93}, 3),
    ("L4 urinary tract infection", {**NORMAL, "chief_complaint": "발열", "temperature": 38.3,
                                    "pain": 3, "pain_site": "central"}, 4),
    ("L5 wound dressing", {**NORMAL, "chief_complaint": "상처 소독, 드레싱"}, 5),
    # KTAS table (reference §1.1): acute central severe pain
    ("L2 acute severe abdominal pain", {**NORMAL, "chief_complaint": "복통", "pain": 9}, 2),
    # the issue 6 contract example
    ("contract example", {"age": 67, "sex": "male", "chief_complaint": "흉통",
                          "respiratory_rate": 22, "spo2": 95, "on_oxygen": False,
                          "systolic_bp": 105, "heart_rate": 115, "temperature": 38.5,
                          "consciousness": "A", "gcs": 15, "pain": 7, "glucose": 140,
                          "onset": datetime(2026, 11, 29, 6, 30, tzinfo=KST),
                          "stemi_ecg": True}, 2),
]  # fmt: skip


@pytest.mark.parametrize(("name", "fields", "level"), VIGNETTES, ids=[v[0] for v in VIGNETTES])
def test_vignettes_get_their_published_level(name: str, fields: dict[str, Any], level: int) -> None:
    assert triage(**fields).ktas_level == level


def test_the_contract_example_is_on_the_stemi_pathway_with_90_minutes() -> None:
    result = triage(**VIGNETTES[-1][1])
    assert (result.pathway, result.time_window_minutes) == (Pathway.STEMI, 90)
    assert result.needs == frozenset({Capability.PCI})
    assert result.news2 is not None and (result.news2.score, result.news2.band) == (7, "high")
    assert (result.qsofa, result.shock_index) == (1, 1.1)


# -- pathways --------------------------------------------------------------------------------


def pathways(**fields: Any) -> tuple[Pathway, ...]:
    return triage(**fields).pathways


def test_stemi_on_the_ecg_is_the_stemi_pathway_and_a_normal_ecg_is_not() -> None:
    assert pathways(stemi_ecg=True) == (Pathway.STEMI,)
    assert pathways(stemi_ecg=False, chief_complaint="흉통", age=60) == ()


@pytest.mark.parametrize(("age", "suspected"), [(30, True), (29, False), (None, True)])
def test_chest_pain_without_an_ecg_is_possible_stemi_from_30(
    age: int | None, suspected: bool
) -> None:
    result = triage(chief_complaint="가슴 통증", age=age)
    assert (Pathway.STEMI in result.pathways) == suspected
    assert "chest pain without a 12-lead ECG: record one" in result.warnings


def test_the_stemi_window_runs_from_first_medical_contact() -> None:
    assert triage(stemi_ecg=True).time_window_minutes == 90
    assert triage(stemi_ecg=True, first_contact=minutes_ago(25)).time_window_minutes == 65


@pytest.mark.parametrize(
    ("fields", "expected"),
    [({"lams": 4}, Pathway.STROKE_LVO), ({"lams": 3}, Pathway.STROKE),
     ({"race_scale": 5}, Pathway.STROKE_LVO), ({"race_scale": 4}, Pathway.STROKE),
     ({"stroke_signs": True}, Pathway.STROKE), ({"chief_complaint": "편마비"}, Pathway.STROKE)],
)  # fmt: skip
def test_lams_4_or_race_5_is_large_vessel_occlusion(
    fields: dict[str, Any], expected: Pathway
) -> None:
    assert pathways(**fields, onset=minutes_ago(60)) == (expected,)


@pytest.mark.parametrize(
    ("minutes", "window", "remaining"),
    [(60, 360, 300), (359, 360, 1), (360, 1440, 1080), (1439, 1440, 1)],
)  # fmt: skip
def test_the_lvo_window_is_6_hours_then_24_with_imaging_selection(
    minutes: float, window: int, remaining: int
) -> None:
    result = triage(lams=5, onset=minutes_ago(minutes))
    assert result.pathway == Pathway.STROKE_LVO
    (only,) = result.time_windows
    assert (only.minutes, only.remaining_minutes, result.time_window_minutes) == (
        window, remaining, remaining,
    )  # fmt: skip


def test_lvo_beyond_24_hours_is_no_reperfusion_pathway() -> None:
    result = triage(lams=5, onset=minutes_ago(1441))
    assert result.pathways == ()
    assert "stroke onset over 24 h ago: outside reperfusion windows" in result.warnings


def test_stroke_without_an_onset_time_has_an_unknown_window_and_a_warning() -> None:
    result = triage(race_scale=7)
    assert result.pathway == Pathway.STROKE_LVO and result.time_window_minutes is None
    assert result.time_windows[0].remaining_minutes is None
    assert "stroke onset unknown: record last known well" in result.warnings


def test_the_thrombolysis_window_is_4_5_hours() -> None:
    assert triage(stroke_signs=True, onset=minutes_ago(200)).time_window_minutes == 70
    late = triage(stroke_signs=True, onset=minutes_ago(300))
    assert late.pathway == Pathway.STROKE and late.time_window_minutes is None
    assert "stroke: beyond the treatment window" in late.warnings


INJURED: dict[str, Any] = {
    "trauma": True,
    "age": 30,
    **{k: NORMAL[k] for k in NORMAL if k != "age"},
}

# 2021 field triage, red criteria (reference §2.1): (changes, fires)
RED_EDGES = [
    ({"gcs_motor": 5}, "path.trauma.red.motor"), ({"gcs_motor": 6, "gcs": 13}, None),
    ({"gcs": 13}, "path.trauma.red.motor"), ({"gcs": 14}, None),
    ({"consciousness": "P"}, "path.trauma.red.motor"),
    ({"respiratory_rate": 9}, "path.trauma.red.respiration"), ({"respiratory_rate": 10}, None),
    ({"respiratory_rate": 30}, "path.trauma.red.respiration"), ({"respiratory_rate": 29}, None),
    ({"respiratory_support": True}, "path.trauma.red.respiration"),
    ({"spo2": 89}, "path.trauma.red.spo2"), ({"spo2": 90}, None),
    ({"age": 5, "systolic_bp": 79, "heart_rate": 100}, "path.trauma.red.sbp_child"),
    ({"age": 5, "systolic_bp": 80, "heart_rate": 100}, None),
    ({"age": 9, "systolic_bp": 87, "heart_rate": 100}, "path.trauma.red.sbp_child"),
    ({"age": 10, "systolic_bp": 89}, "path.trauma.red.sbp_adult"),
    ({"age": 10, "systolic_bp": 90}, None),
    ({"age": 64, "systolic_bp": 89}, "path.trauma.red.sbp_adult"),
    ({"age": 64, "systolic_bp": 100}, None),
    ({"age": 30, "systolic_bp": 95, "heart_rate": 96}, "path.trauma.red.sbp_adult"),
    ({"age": 30, "systolic_bp": 95, "heart_rate": 95}, None),
    ({"age": 65, "systolic_bp": 109}, "path.trauma.red.sbp_older"),
    ({"age": 65, "systolic_bp": 110}, None),
    ({"age": 80, "systolic_bp": 130, "heart_rate": 131}, "path.trauma.red.sbp_older"),
    ({"age": None, "systolic_bp": 89}, "path.trauma.red.sbp_adult"),
] + [({"injury_patterns": frozenset({p})}, "path.trauma.red.injury") for p in InjuryPattern]  # fmt: skip


@pytest.mark.parametrize(("changes", "rule"), RED_EDGES)
def test_field_triage_red_criteria_at_their_edges(
    changes: dict[str, Any], rule: str | None
) -> None:
    result = triage(**{**INJURED, **changes})
    red = {r.id for r in result.rules if r.id.startswith("path.trauma.red")}
    assert red == (set() if rule is None else {rule})
    assert (Pathway.MAJOR_TRAUMA in result.pathways) == (rule is not None)
    if rule is not None:
        assert Capability.TRAUMA_CENTRE in result.needs


YELLOW_EDGES = [
    ({"trauma_mechanisms": frozenset({m})}, "path.trauma.yellow.mechanism")
    for m in TraumaMechanism if m != TraumaMechanism.PENETRATING
] + [
    ({"fall_height_m": 3.1}, "path.trauma.yellow.mechanism"), ({"fall_height_m": 3.05}, None),
    ({"anticoagulated": True}, "path.trauma.yellow.judgement"),
    ({"pregnant": True, "gestation_weeks": 21}, "path.trauma.yellow.judgement"),
    ({"pregnant": True, "gestation_weeks": 20}, None),
    ({"burns_tbsa": 3}, "path.trauma.yellow.judgement"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "rule"), YELLOW_EDGES)
def test_field_triage_yellow_criteria(changes: dict[str, Any], rule: str | None) -> None:
    result = triage(**{**INJURED, **changes})
    yellow = {r.id for r in result.rules if r.id.startswith("path.trauma.yellow")}
    assert yellow == (set() if rule is None else {rule})


def test_physiology_alone_is_no_trauma_pathway_for_a_patient_who_is_not_injured() -> None:
    assert Pathway.MAJOR_TRAUMA not in normal(systolic_bp=80, respiratory_rate=32).pathways
    assert Pathway.MAJOR_TRAUMA not in normal(trauma=False, systolic_bp=80).pathways


def test_a_trauma_complaint_makes_the_patient_injured() -> None:
    assert (
        Pathway.MAJOR_TRAUMA in triage(**{**NORMAL, "chief_complaint": "추락", "spo2": 88}).pathways
    )


def test_cardiac_arrest_is_level_1_first_pathway_and_needs_resuscitation() -> None:
    result = triage(cardiac_arrest=True, stemi_ecg=True)
    assert result.ktas_level == 1
    assert result.pathways == (Pathway.CARDIAC_ARREST, Pathway.STEMI)
    assert {Capability.RESUSCITATION, Capability.PCI} <= result.needs


@pytest.mark.parametrize(
    ("changes", "sepsis"),
    [({"respiratory_rate": 22, "systolic_bp": 100, "temperature": 38.1}, True),
     ({"respiratory_rate": 22, "systolic_bp": 100, "temperature": 38.0}, False),
     ({"respiratory_rate": 22, "systolic_bp": 100, "temperature": 35.9}, True),
     ({"respiratory_rate": 22, "systolic_bp": 100, "suspected_infection": True}, True),
     ({"respiratory_rate": 22, "temperature": 39.0}, False),
     ({"consciousness": "C", "respiratory_rate": 22, "temperature": 39.0}, True)],
)  # fmt: skip
def test_sepsis_is_qsofa_2_or_more_with_suspected_infection(
    changes: dict[str, Any], sepsis: bool
) -> None:
    result = normal(**changes)
    assert (Pathway.SEPSIS in result.pathways) == sepsis
    assert (Capability.ICU in result.needs) == sepsis


@pytest.mark.parametrize(
    ("fields", "obstetric"),
    [({"pregnant": True, "gestation_weeks": 30, "labour": True}, True),
     ({"pregnant": True, "gestation_weeks": 20, "labour": True}, True),
     ({"pregnant": True, "gestation_weeks": 19, "labour": True}, False),
     ({"pregnant": True, "gestation_weeks": 8, "vaginal_bleeding": True}, True),
     ({"chief_complaint": "분만 진행"}, True),
     ({"chief_complaint": "임신 중 복통", "pregnant": False}, False),
     ({"pregnant": True, "gestation_weeks": 30}, False)],
)  # fmt: skip
def test_obstetric_pathway(fields: dict[str, Any], obstetric: bool) -> None:
    result = triage(**fields)
    assert (Pathway.OBSTETRIC in result.pathways) == obstetric
    assert (Capability.OBSTETRICS in result.needs) == obstetric


@pytest.mark.parametrize(("age", "child"), [(14.9, True), (0.5, True), (15, False), (None, False)])
def test_paediatric_pathway_is_under_15(age: float | None, child: bool) -> None:
    assert (Pathway.PAEDIATRIC in pathways(age=age)) == child


@pytest.mark.parametrize(
    ("fields", "burns"),
    [({"burns_tbsa": 10.5}, True), ({"burns_tbsa": 10}, False), ({"burns_inhalation": True}, True)],
)
def test_burns_pathway_over_10_percent_or_inhalation(fields: dict[str, Any], burns: bool) -> None:
    result = triage(**fields)
    assert (Pathway.BURNS in result.pathways) == burns
    assert (Capability.BURNS_CENTRE in result.needs) == burns


def test_pathways_are_ordered_by_urgency_and_lvo_replaces_stroke() -> None:
    result = triage(age=8, lams=4, stroke_signs=True, stemi_ecg=True, onset=minutes_ago(30))
    assert result.pathways == (Pathway.STEMI, Pathway.STROKE_LVO, Pathway.PAEDIATRIC)
    assert result.pathway == Pathway.STEMI
    assert {
        Capability.PCI,
        Capability.THROMBECTOMY,
        Capability.PAEDIATRIC_EMERGENCY,
    } <= result.needs
    fired = [r for r in result.rules if r.pathway is not None]
    assert {r.id for r in fired} >= {"path.stemi.ecg", "path.stroke_lvo.lams", "path.paediatric"}


# -- chief complaints (complaints_v1.json) ---------------------------------------------------


@pytest.mark.parametrize(
    ("complaint", "category"),
    [("흉통", "chest_pain"), ("가슴이 아파요", "chest_pain"), ("호흡곤란", "dyspnoea"),
     ("숨이 차요", "dyspnoea"), ("의식저하", "altered_consciousness"),
     ("편마비", "stroke_symptoms"), ("말이 어눌해요", "stroke_symptoms"),
     ("복통", "abdominal_pain"), ("외상", "trauma"), ("교통사고 후 흉통", "trauma"),
     ("머리 열상", "trauma"), ("고열", "fever"), ("토혈", "gi_bleeding"), ("심정지", "cardiac_arrest"),
     ("화상", "burns"), ("경련", "seizure"), ("Chest Pain", "chest_pain"),
     ("shortness of breath", "dyspnoea"), ("진통제 처방", None), ("", None), (None, None)],
)  # fmt: skip
def test_korean_chief_complaints_map_to_categories(
    complaint: str | None, category: str | None
) -> None:
    found = complaints_v1().categorise(complaint)
    assert (None if found is None else found.id) == category


def test_every_complaint_category_has_names_a_level_and_terms() -> None:
    table = complaints_v1()
    assert table.version == "1.0.0"
    for category in table.categories:
        assert category.ko and category.en and category.terms
        assert category.default_level is None or 1 <= category.default_level <= 5


# -- input limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", sorted(LIMITS))
def test_a_value_outside_its_plausible_range_is_an_error_naming_the_field(field: str) -> None:
    low, high, _unit = LIMITS[field]
    for value in (low - 1, high + 1):
        with pytest.raises(AssessmentError) as caught:
            triage(**{field: value})
        assert caught.value.status == 422
        assert caught.value.issues[0].expression == (field,)
        assert f"{value:g}" not in caught.value.summary()  # never the value (privacy)


def test_a_naive_or_future_onset_is_an_error_naming_it() -> None:
    with pytest.raises(AssessmentError) as naive:
        triage(onset=datetime(2026, 11, 29, 8, 0))
    assert naive.value.issues[0].expression == ("onset",)
    with pytest.raises(AssessmentError) as future:
        triage(first_contact=NOW + timedelta(minutes=6))
    assert future.value.issues[0].expression == ("first_contact",)
    assert triage(onset=NOW + timedelta(minutes=4)).ktas_level == 3  # within clock skew


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        assess(Assessment(), datetime(2026, 11, 29, 9, 0))
