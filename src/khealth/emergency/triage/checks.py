"""The predicates the rule data names in its ``check`` field. Each reads facts and the rule's
params and says whether the rule fires; thresholds live in the rule data, never here.

A predicate whose input is unmeasured does not fire (a missing value is not a normal one, but
neither is it an abnormal one); triage reports what was missing in its warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from khealth.emergency.rules import Params
from khealth.emergency.triage.facts import Facts

Check = Callable[[Facts, Params], bool]


def _below(value: float | None, limit: float) -> bool:
    return value is not None and value < limit


def _above(value: float | None, limit: float) -> bool:
    return value is not None and value > limit


def _between(value: float | None, low: float, high: float) -> bool:
    return value is not None and low <= value <= high


def cardiac_arrest(f: Facts, p: Params) -> bool:
    return bool(f.assessment.cardiac_arrest) or f.category_id == "cardiac_arrest"


def respiratory_support(f: Facts, p: Params) -> bool:
    return bool(f.assessment.respiratory_support)


def spo2_below(f: Facts, p: Params) -> bool:
    return _below(f.assessment.spo2, p.number("below"))


def respiratory_rate_outside(f: Facts, p: Params) -> bool:
    rr = f.assessment.respiratory_rate
    return _below(rr, p.number("below")) or _above(rr, p.number("above"))


def shock(f: Facts, p: Params) -> bool:
    sbp, index = f.assessment.systolic_bp, f.scored.shock_index
    tachycardic = index is not None and index >= p.number("shock_index_from")
    hypotensive = _below(sbp, p.number("sbp_below"))
    return (hypotensive and tachycardic) or _below(sbp, p.number("sbp_always_below"))


def haemodynamic_compromise(f: Facts, p: Params) -> bool:
    index = f.scored.shock_index
    high_index = index is not None and index >= p.number("shock_index_from")
    return _below(f.assessment.systolic_bp, p.number("sbp_below")) or high_index


def heart_rate_outside(f: Facts, p: Params) -> bool:
    hr = f.assessment.heart_rate
    return _below(hr, p.number("below")) or _above(hr, p.number("above"))


def consciousness_band(f: Facts, p: Params) -> bool:
    a = f.assessment
    in_band = _between(a.gcs, p.number("gcs_from"), p.number("gcs_to"))
    return in_band or a.consciousness in p.names("avpu")


def fever_immunocompromised(f: Facts, p: Params) -> bool:
    return bool(f.assessment.immunocompromised) and _above(
        f.assessment.temperature, p.number("above")
    )


def sirs_count(f: Facts, p: Params) -> bool:
    enough = f.sirs_count() >= p.number("from")
    return enough and (f.fever or not p.flag("fever_required"))


def fever(f: Facts, p: Params) -> bool:
    return _above(f.assessment.temperature, p.number("above"))


def pain(f: Facts, p: Params) -> bool:
    # Unknown site counts as central and unknown course as acute: the more urgent reading
    # (triage warns about the site).
    site = f.pain_site or "central"
    chronic = bool(f.assessment.pain_chronic)
    in_range = _between(f.assessment.pain, p.number("from"), p.number("to"))
    return in_range and site == p.text("site") and chronic == p.flag("chronic")


def injury_pattern(f: Facts, p: Params) -> bool:
    return bool({str(x) for x in f.assessment.injury_patterns} & p.names("patterns"))


def high_risk_mechanism(f: Facts, p: Params) -> bool:
    a = f.assessment
    mechanism = bool({str(m) for m in a.trauma_mechanisms} & p.names("mechanisms"))
    height = a.fall_height_m
    # CTAS writes "6 m or more", the 2021 guideline "over 10 feet": the params say which.
    fall = height is not None and (
        (p.has("fall_from_m") and height >= p.number("fall_from_m"))
        or (p.has("fall_over_m") and height > p.number("fall_over_m"))
    )
    return mechanism or fall or injury_pattern(f, p)


def glucose_below(f: Facts, p: Params) -> bool:
    return _below(f.assessment.glucose, p.number("below"))


def glucose_above(f: Facts, p: Params) -> bool:
    return _above(f.assessment.glucose, p.number("above"))


def stroke_onset(f: Facts, p: Params) -> bool:
    """Stroke suspected and the onset in (after_minutes, within_minutes], or unknown when the
    rule accepts an unknown onset."""
    if not f.stroke_suspected:
        return False
    minutes = f.minutes_since_onset
    if minutes is None:
        return p.flag("unknown_onset")
    after = p.number("after_minutes") if p.has("after_minutes") else float("-inf")
    within = p.number("within_minutes") if p.has("within_minutes") else float("inf")
    return after < minutes <= within


def stroke_scale_from(f: Facts, p: Params) -> bool:
    value = getattr(f.assessment, {"lams": "lams", "race": "race_scale"}[p.text("scale")])
    minutes = f.minutes_since_onset
    in_time = minutes is None or minutes <= p.number("within_minutes")
    return value is not None and value >= p.number("from") and in_time


def stemi_ecg(f: Facts, p: Params) -> bool:
    return bool(f.assessment.stemi_ecg)


def chest_pain_without_ecg(f: Facts, p: Params) -> bool:
    age = f.assessment.age
    old_enough = age is None or age >= p.number("from_age")
    return f.category_id == "chest_pain" and f.assessment.stemi_ecg is None and old_enough


def late_pregnancy_problem(f: Facts, p: Params) -> bool:
    a = f.assessment
    weeks = a.gestation_weeks
    late = bool(a.pregnant) and weeks is not None and weeks >= p.number("from_weeks")
    return late and bool(a.vaginal_bleeding or a.labour)


def burns_inhalation(f: Facts, p: Params) -> bool:
    return bool(f.assessment.burns_inhalation)


def burns_tbsa_from(f: Facts, p: Params) -> bool:
    tbsa = f.assessment.burns_tbsa
    return tbsa is not None and tbsa >= p.number("from")


def complaint_default(f: Facts, p: Params) -> bool:
    return f.category is not None and f.category.default_level is not None


def no_vital_signs(f: Facts, p: Params) -> bool:
    a = f.assessment
    measured = (a.respiratory_rate, a.spo2, a.systolic_bp, a.heart_rate, a.consciousness, a.gcs)
    return all(v is None for v in measured) and not a.cardiac_arrest


def nothing_else(f: Facts, p: Params) -> bool:
    return True  # triage applies it only when no other level rule fired


def trauma_cannot_follow_commands(f: Facts, p: Params) -> bool:
    a = f.assessment
    if not f.injured:
        return False
    if a.gcs_motor is not None:
        return a.gcs_motor < p.number("motor_below")
    if a.gcs is not None:
        return a.gcs <= p.number("gcs_total_to")
    return a.consciousness in p.names("avpu")


def trauma_respiration(f: Facts, p: Params) -> bool:
    a = f.assessment
    return f.injured and (respiratory_rate_outside(f, p) or bool(a.respiratory_support))


def trauma_spo2_below(f: Facts, p: Params) -> bool:
    return f.injured and spo2_below(f, p)


def _heart_rate_above_sbp(f: Facts) -> bool:
    a = f.assessment
    return a.heart_rate is not None and a.systolic_bp is not None and a.heart_rate > a.systolic_bp


def trauma_sbp_child(f: Facts, p: Params) -> bool:
    age, sbp = f.assessment.age, f.assessment.systolic_bp
    if not f.injured or age is None or sbp is None or age >= p.number("to_age") + 1:
        return False
    return sbp < p.number("base") + p.number("per_year") * int(age)


def trauma_sbp_adult(f: Facts, p: Params) -> bool:
    age = f.assessment.age
    adult = age is None or p.number("from_age") <= age < p.number("to_age") + 1
    low = _below(f.assessment.systolic_bp, p.number("sbp_below"))
    return f.injured and adult and (low or _heart_rate_above_sbp(f))


def trauma_sbp_older(f: Facts, p: Params) -> bool:
    age = f.assessment.age
    older = age is not None and age >= p.number("from_age")
    low = _below(f.assessment.systolic_bp, p.number("sbp_below"))
    return f.injured and older and (low or _heart_rate_above_sbp(f))


def trauma_judgement(f: Facts, p: Params) -> bool:
    a = f.assessment
    pregnant = bool(a.pregnant) and _above(a.gestation_weeks, p.number("pregnant_from_weeks"))
    burned = bool(a.burns_inhalation) or _above(a.burns_tbsa, 0)
    return f.injured and (bool(a.anticoagulated) or pregnant or burned)


def sepsis(f: Facts, p: Params) -> bool:
    a = f.assessment
    q = f.scored.qsofa
    infection = bool(a.suspected_infection) or _above(a.temperature, p.number("fever_above")) or (
        _below(a.temperature, p.number("hypothermia_below")))  # fmt: skip
    return q is not None and q >= p.number("qsofa_from") and infection


def obstetric(f: Facts, p: Params) -> bool:
    a = f.assessment
    complaint = f.category_id == "obstetric"
    if a.pregnant is False or not (a.pregnant or complaint):
        return False
    if a.vaginal_bleeding:
        return True
    late_or_unknown = a.gestation_weeks is None or a.gestation_weeks >= p.number("from_weeks")
    return late_or_unknown and (bool(a.labour) or complaint)


def paediatric(f: Facts, p: Params) -> bool:
    return _below(f.assessment.age, p.number("under_years"))


def major_burns(f: Facts, p: Params) -> bool:
    return bool(f.assessment.burns_inhalation) or _above(
        f.assessment.burns_tbsa, p.number("tbsa_above")
    )


CHECKS: Mapping[str, Check] = {
    check.__name__: check
    for check in (
        cardiac_arrest, respiratory_support, spo2_below, respiratory_rate_outside, shock,
        haemodynamic_compromise, heart_rate_outside, consciousness_band,
        fever_immunocompromised, sirs_count, fever, pain, injury_pattern, high_risk_mechanism,
        glucose_below, glucose_above, stroke_onset, stroke_scale_from, stemi_ecg,
        chest_pain_without_ecg, late_pregnancy_problem, burns_inhalation, burns_tbsa_from,
        complaint_default, no_vital_signs, nothing_else, trauma_cannot_follow_commands,
        trauma_respiration, trauma_spo2_below, trauma_sbp_child, trauma_sbp_adult,
        trauma_sbp_older, trauma_judgement, sepsis, obstetric, paediatric, major_burns,
    )
}  # fmt: skip
