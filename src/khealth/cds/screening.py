"""The Korean national screening schedule as next steps: which programmes a person is eligible
for by age and sex, and whether one is due.

Source: 국가건강검진 (건강검진기본법; 국가암검진 — 암관리법 시행령 [별표 1]), as summarised in the
project reference (fhir-and-feeds.md §2.5): 위암 40+ every 2 years, 유방암 women 40+ every 2 years,
대장암 50+ yearly, 간암 40+ at high risk every 6 months, 자궁경부암 women 20+ every 2 years, 폐암
54-74 for heavy smokers (30 pack-years) every 2 years; the general checkup (일반건강검진) every 2
years from 20. Cancer screenings are not yet in the city record (no feed sends them), so a
programme is "due" unless the record shows one done within its interval; the text says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from khealth.cds.features import PersonFeatures

SOURCE_LABEL = "국민건강보험공단 국가건강검진·국가암검진 기준 (암관리법 시행령 [별표 1])"
SOURCE_URL = "https://www.nhis.or.kr"


@dataclass(frozen=True, slots=True)
class Programme:
    key: str
    name_ko: str
    name_en: str
    min_age: int
    max_age: int | None
    sex: str | None  # None: everyone
    interval_months: int
    condition_ko: str = ""
    condition_en: str = ""


PROGRAMMES: tuple[Programme, ...] = (
    Programme("general_checkup", "일반건강검진", "general health checkup", 20, None, None, 24),
    Programme(
        "stomach", "위암 검진(위내시경)", "stomach cancer screening (endoscopy)", 40, None, None, 24
    ),
    Programme(
        "colorectal",
        "대장암 검진(분변잠혈검사)",
        "colorectal cancer screening (FIT)",
        50,
        None,
        None,
        12,
    ),
    Programme(
        "breast",
        "유방암 검진(유방촬영)",
        "breast cancer screening (mammography)",
        40,
        None,
        "female",
        24,
    ),
    Programme("cervical", "자궁경부암 검진", "cervical cancer screening", 20, None, "female", 24),
    Programme(
        "liver",
        "간암 검진(초음파·혈액검사)",
        "liver cancer screening (ultrasound, AFP)",
        40,
        None,
        None,
        6,
        "간암 고위험군(B형·C형 간염, 간경변)",
        "people at high risk (hepatitis B or C, cirrhosis)",
    ),
    Programme(
        "lung",
        "폐암 검진(저선량 CT)",
        "lung cancer screening (low-dose CT)",
        54,
        74,
        None,
        24,
        "흡연력 30갑년 이상",
        "heavy smokers (30 pack-years or more)",
    ),
)


@dataclass(frozen=True, slots=True)
class ScreeningStep:
    programme: Programme
    due: bool
    last_done: dt.date | None


def eligible(programme: Programme, features: PersonFeatures) -> bool:
    age = features.age
    if age is None or age < programme.min_age:
        return False
    if programme.max_age is not None and age >= programme.max_age + 1:
        return False
    if programme.sex is not None and features.sex != programme.sex:
        return False
    if programme.key == "liver":
        return features.diagnosed("chronic_liver_disease")
    if programme.key == "lung":
        return features.smoking in ("current", "former")
    return True


def last_done(programme: Programme, features: PersonFeatures) -> dt.date | None:
    """When the record last shows this programme: only the general checkup is recorded today
    (its Encounter type); cancer screenings have no feed yet."""
    if programme.key != "general_checkup":
        return None
    dates = [
        m.when.date() for series in features.series.values() for m in series
        if m.provenance.encounter
        and m.provenance.encounter.removeprefix("Encounter/") in features.checkup_encounters
    ]  # fmt: skip
    return max(dates) if dates else None


def screening_steps(features: PersonFeatures) -> list[ScreeningStep]:
    steps = []
    for programme in PROGRAMMES:
        if not eligible(programme, features):
            continue
        done = last_done(programme, features)
        due = done is None or _months_between(done, features.as_of) >= programme.interval_months
        steps.append(ScreeningStep(programme, due, done))
    return steps


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month
