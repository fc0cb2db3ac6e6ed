"""Biennial national health checkups (국가건강검진, 일반건강검진) and their CSV rows.

Eligibility follows the NHIS rules summarised in the reference notes: everyone from 20,
every two years in the years matching the parity of the birth year; lipid panel for men from 24
and women from 40 every four years; questionnaire on smoking, drinking and exercise; chest
radiograph. About 75 % of those invited attend (NHIS 2022 general checkup uptake ≈ 75 %).
Verdicts use the 판정기준 of 건강검진 실시기준 (별표4 별첨).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from khealth.synth import clinical_resources as fhir
from khealth.synth import codes
from khealth.synth.facilities import Facility
from khealth.synth.history import History
from khealth.synth.imaging import imaging_study
from khealth.synth.physiology import (
    ALCOHOL_LOINC,
    EXERCISE_LOINC,
    SMOKING_LOINC,
    URINE_PROTEIN_LOINC,
)
from khealth.synth.visits import Visit, measure, open_visit

CSV_COLUMNS = (
    "year",
    "citizen_id",
    "encounter_id",
    "facility_id",
    "district_code",
    "sex",
    "age",
    "age_group",
    "height_cm",
    "weight_kg",
    "waist_cm",
    "bmi",
    "sbp",
    "dbp",
    "fasting_glucose",
    "total_cholesterol",
    "triglyceride",
    "hdl",
    "ldl",
    "hemoglobin",
    "urine_protein",
    "serum_creatinine",
    "egfr",
    "ast",
    "alt",
    "ggt",
    "smoking",
    "drinking",
    "drinks_per_week",
    "exercise_days",
    "verdict",
)
_SMOKING = {
    "never": ("266919005", "Never smoked tobacco", 1),
    "former": ("8517006", "Ex-smoker", 2),
    "current": ("449868002", "Smokes tobacco daily", 3),
}


def _checkup_facility(history: History) -> Facility:
    rng, district = history.rng, history.citizen.address.district
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(history.facilities.general)
    return history.facilities.clinic(rng, district, "01" if roll < 0.85 else "23")


def national_checkups(history: History) -> None:
    citizen = history.citizen
    attender = history.rng.random() < 0.85
    facility: Facility | None = None
    for year in range(history.start.year, history.end.year + 1):
        if year % 2 != citizen.birth_date.year % 2:
            continue
        day = dt.date(year, 3, 1) + dt.timedelta(days=history.rng.randint(0, 270))
        if not history.start <= day < history.end or citizen.age_on(day) < 20:
            continue
        if history.rng.random() > (0.85 if attender else 0.2):
            continue
        facility = facility or _checkup_facility(history)
        _checkup(history, facility, day)


def _checkup(history: History, facility: Facility, day: dt.date) -> None:
    citizen, body = history.citizen, history.body
    visit = open_visit(history, facility, day, kind="national-health-checkup", department="01")
    age = citizen.age_on(day)
    height, weight = body.height(day), body.weight(day)
    values: dict[str, Any] = {
        "height": height,
        "weight": weight,
        "bmi": weight / (height / 100) ** 2,
        "waist": body.waist(day),
        "glucose": body.glucose(day),
        "hb": body.hemoglobin(day),
        **body.liver(day),
    }
    values["creatinine"] = body.creatinine(day)
    values["egfr"] = body.egfr(values["creatinine"], day)
    lipid_age = 40 if citizen.female else 24
    if age >= lipid_age and (age // 2) % 2 == 0:
        values |= body.lipids(day)
    for key, value in values.items():
        measure(history, visit, key, value)
    sbp, dbp = body.blood_pressure(day)
    history.add(
        fhir.blood_pressure(
            history.new_id(),
            sbp,
            dbp,
            patient=visit.patient,
            encounter_id=visit.encounter_id,
            when=visit.start,
        )
    )
    urine = body.urine_protein(day)
    _coded(
        history,
        visit,
        "laboratory",
        URINE_PROTEIN_LOINC,
        "Protein [Presence] in Urine by Test strip",
        {"valueCodeableConcept": {"text": urine}},
    )
    _questionnaire(history, visit)
    imaging_study(history, visit, "DX", "CHEST")
    history.out.checkups.append(_csv_row(history, visit, values, sbp, dbp, urine))


def _coded(
    history: History, visit: Visit, category: str, loinc: str, display: str, value: dict[str, Any]
) -> None:
    history.add(
        fhir.coded_observation(
            history.new_id(),
            category=category,
            loinc=loinc,
            display=display,
            value=value,
            patient=visit.patient,
            encounter_id=visit.encounter_id,
            when=visit.start,
        )
    )


def _questionnaire(history: History, visit: Visit) -> None:
    lifestyle = history.citizen.lifestyle
    code, display, _ = _SMOKING[lifestyle.smoking]
    _coded(
        history,
        visit,
        "social-history",
        SMOKING_LOINC,
        "Tobacco smoking status",
        {"valueCodeableConcept": codes.concept(codes.SNOMED, code, display)},
    )
    _coded(
        history,
        visit,
        "social-history",
        ALCOHOL_LOINC,
        "Alcoholic drinks per day",
        {"valueQuantity": fhir.quantity(lifestyle.drinks_per_week / 7, "{drinks}/d", 1)},
    )
    _coded(
        history,
        visit,
        "social-history",
        EXERCISE_LOINC,
        "Days per week of moderate to strenuous physical activity",
        {"valueQuantity": fhir.quantity(lifestyle.exercise_days, "/wk", 0)},
    )


def _csv_row(
    history: History, visit: Visit, values: dict[str, Any], sbp: int, dbp: int, urine: str
) -> dict[str, Any]:
    citizen = history.citizen
    age = citizen.age_on(visit.day)

    def fmt(key: str, decimals: int = 0) -> str:
        value = values.get(key)
        return "" if value is None else f"{value:.{decimals}f}"

    row = {
        "year": visit.day.year,
        "citizen_id": citizen.id,
        "encounter_id": visit.encounter_id,
        "facility_id": visit.facility.id,
        "district_code": citizen.address.district.code,
        "sex": 2 if citizen.female else 1,
        "age": age,
        "age_group": age // 5 * 5,
        "height_cm": fmt("height", 1),
        "weight_kg": fmt("weight", 1),
        "waist_cm": fmt("waist", 1),
        "bmi": fmt("bmi", 1),
        "sbp": sbp,
        "dbp": dbp,
        "fasting_glucose": fmt("glucose"),
        "total_cholesterol": fmt("tc"),
        "triglyceride": fmt("tg"),
        "hdl": fmt("hdl"),
        "ldl": fmt("ldl"),
        "hemoglobin": fmt("hb", 1),
        "urine_protein": urine,
        "serum_creatinine": fmt("creatinine", 2),
        "egfr": fmt("egfr"),
        "ast": fmt("ast"),
        "alt": fmt("alt"),
        "ggt": fmt("ggt"),
        "smoking": _SMOKING[citizen.lifestyle.smoking][2],
        "drinking": int(citizen.lifestyle.drinks_per_week > 0),
        "drinks_per_week": f"{citizen.lifestyle.drinks_per_week:.1f}",
        "exercise_days": citizen.lifestyle.exercise_days,
    }
    row["verdict"] = verdict(
        values,
        sbp,
        dbp,
        urine,
        female=citizen.female,
        known_disease=citizen.has("hypertension", visit.day) or citizen.has("diabetes", visit.day),
    )
    return row


def verdict(
    values: dict[str, Any], sbp: int, dbp: int, urine: str, *, female: bool, known_disease: bool
) -> str:
    """판정: 유질환자, 고혈압·당뇨병 질환의심, 일반 질환의심, 정상B, 정상A."""
    if known_disease:
        return "유질환자"
    if sbp >= 140 or dbp >= 90 or values["glucose"] >= 126:
        return "고혈압·당뇨병 질환의심"
    v = values
    suspect = [
        v["bmi"] >= 30,
        v["waist"] >= (85 if female else 90),
        v["hb"] < (10 if female else 12),
        v.get("tc", 0) >= 240,
        0 < v.get("hdl", 99) < 40,
        v.get("tg", 0) >= 200,
        v.get("ldl", 0) >= 160,
        v["ast"] >= 51,
        v["alt"] >= 46,
        v["ggt"] >= (46 if female else 78),
        urine in ("+1", "+2"),
        v["creatinine"] > 1.5,
        v["egfr"] < 60,
    ]
    if any(suspect):
        return "일반 질환의심"
    borderline = [
        sbp >= 120 or dbp >= 80,
        v["bmi"] >= 25 or v["bmi"] < 18.5,
        v["glucose"] >= 100,
        v.get("tc", 0) >= 200,
        v.get("hdl", 99) < 60,
        v.get("tg", 0) >= 150,
        v.get("ldl", 0) >= 130,
        v["ast"] > 40,
        v["alt"] > 35,
        urine == "±",
    ]
    return "정상B" if any(borderline) else "정상A"
