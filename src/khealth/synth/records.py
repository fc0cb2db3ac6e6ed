"""A citizen's ten years of care: which facilities, which visits, and what each visit records.

Visit rates are deliberately lower than Korea's real ≈ 15 outpatient visits per person per year
(OECD Health Statistics 2023) so that a full city stays within a few hours of generation:
chronic conditions are followed every 90 days at a clinic (120 at a hospital, 180 at a tertiary
hospital), about 1.5 acute episodes per adult per year (3 per young child), emergency visits
≈ 0.06 per person per year (0.16 above 75), and admissions for the events that need one.
"""

from __future__ import annotations

import datetime as dt

from khealth.synth import checkups, prevention
from khealth.synth.citizens import Citizen, Diagnosis
from khealth.synth.conditions import ACUTE, ChronicCondition
from khealth.synth.config import SynthConfig
from khealth.synth.emergencies import nearest_emergency
from khealth.synth.facilities import Facility, FacilityIndex
from khealth.synth.history import CitizenOutput, History, MrnCounters
from khealth.synth.imaging import imaging_study
from khealth.synth.inpatient import admissions
from khealth.synth.notes import write_note
from khealth.synth.streams import cumulative, weighted_choice
from khealth.synth.visits import (
    Visit,
    diagnose,
    measure,
    measure_blood_pressure,
    open_visit,
    prescribe,
)

_INTERVAL = {"clinic": 90, "hospital": 120, "tertiary": 180}
_FEBRILE = {"uri", "bronchitis", "influenza", "covid19", "otitis_media"}
_COVID_START = dt.date(2020, 2, 1)


def citizen_history(
    citizen: Citizen,
    config: SynthConfig,
    facilities: FacilityIndex,
    mrns: MrnCounters,
) -> CitizenOutput:
    history = History(citizen, config, facilities, mrns)
    _chronic_care(history)
    _acute_episodes(history)
    _emergency_visits(history)
    admissions(history)
    checkups.national_checkups(history)
    prevention.immunisations(history)
    prevention.allergies(history)
    return history.out


def managing_facility(history: History, condition: ChronicCondition) -> Facility:
    facilities, rng, district = history.facilities, history.rng, history.citizen.address.district
    if condition.care == "tertiary":
        return rng.choice(facilities.tertiary)
    if condition.care == "hospital":
        return (
            rng.choice(facilities.general)
            if rng.random() < 0.6
            else facilities.hospital(rng, district)
        )
    department = condition.department
    if department == "01" and rng.random() < 0.3:
        department = "23"
    if history.citizen.age_on(history.end) < 15 and department in ("01", "23"):
        department = "11"
    return facilities.clinic(rng, district, department)


def _chronic_care(history: History) -> None:
    groups: dict[str, tuple[Facility, list[Diagnosis]]] = {}
    preferred: dict[tuple[str, str], Facility] = {}
    for diagnosis in history.citizen.diagnoses:
        condition = diagnosis.condition
        key = (condition.care, condition.department)
        facility = preferred.get(key) or managing_facility(history, condition)
        preferred[key] = facility
        groups.setdefault(facility.id, (facility, []))[1].append(diagnosis)
    for facility, diagnoses in groups.values():
        _follow_up(history, facility, diagnoses)


def _drugs_for(history: History, condition: ChronicCondition) -> list[str]:
    if not condition.drugs:
        return []
    drugs = [history.rng.choice(condition.drugs)]
    if len(condition.drugs) > 1 and history.rng.random() < 0.35:
        second = history.rng.choice(condition.drugs)
        if second != drugs[0]:
            drugs.append(second)
    return drugs


def _follow_up(history: History, facility: Facility, diagnoses: list[Diagnosis]) -> None:
    care = diagnoses[0].condition.care
    interval = _INTERVAL[care]
    # Conditions older than the history are first seen at a random visit of the first interval.
    first_seen = history.start + dt.timedelta(days=history.rng.randint(0, interval))
    day = max(first_seen, min(d.onset for d in diagnoses))
    recorded: dict[str, str] = {}
    drugs = {d.condition.key: _drugs_for(history, d.condition) for d in diagnoses}
    count = 0
    while day < history.end:
        active = [d for d in diagnoses if d.onset <= day]
        visit = open_visit(
            history,
            facility,
            day,
            kind="chronic-follow-up",
            department=active[0].condition.department,
        )
        for diagnosis in active:
            condition = diagnosis.condition
            if condition.key not in recorded:
                recorded[condition.key] = diagnose(
                    history,
                    visit,
                    kcd=condition.kcd,
                    display=condition.display_ko,
                    onset=diagnosis.onset,
                    category="problem-list-item",
                    sensitive=condition.sensitive,
                )
                _first_visit_note(history, visit, condition, first_contact=count == 0)
            prescribe(history, visit, drugs[condition.key], interval, recorded[condition.key])
        _chronic_measurements(history, visit, {d.condition.key for d in active}, count)
        count += 1
        day += dt.timedelta(days=interval + history.rng.randint(-15, 15))


def _first_visit_note(
    history: History, visit: Visit, condition: ChronicCondition, *, first_contact: bool
) -> None:
    if not first_contact and history.rng.random() > 0.3:
        return
    write_note(
        history,
        visit,
        "history" if first_contact else "progress",
        [f"{condition.display_ko} ({condition.kcd}) 진단", "활력징후 안정적", "복약 순응도 양호"],
        "약물치료 지속, 생활습관 교정 교육, 정기 추적 관찰",
        sensitive=condition.sensitive,
    )


def _chronic_measurements(history: History, visit: Visit, keys: set[str], count: int) -> None:
    body, day = history.body, visit.day
    if visit.department in ("01", "23", "02", "15") or "hypertension" in keys:
        measure_blood_pressure(history, visit)
    if "diabetes" in keys and count % 2 == 0:
        glucose = body.glucose(day)
        measure(history, visit, "glucose", glucose)
        measure(history, visit, "hba1c", body.hba1c(glucose))
    if "dyslipidaemia" in keys and count % 2 == 1:
        for key, value in body.lipids(day).items():
            measure(history, visit, key, value)
    if keys & {"ckd", "diabetes", "hypertension"} and (count % 4 == 0 or "ckd" in keys):
        creatinine = body.creatinine(day)
        measure(history, visit, "creatinine", creatinine)
        measure(history, visit, "egfr", body.egfr(creatinine, day))
    if "ckd" in keys:
        measure(history, visit, "hb", body.hemoglobin(day))
    if keys & {"hepatitis_b", "liver_cancer", "alcohol_use"}:
        for key, value in body.liver(day).items():
            measure(history, visit, key, value)
        if count % 4 == 0:
            imaging_study(history, visit, "US", "LIVER")


def _acute_rate(age: int) -> float:
    return 2.5 if age < 7 else 1.0 if age < 20 else 1.0 if age < 65 else 1.5


def _acute_episodes(history: History) -> None:
    citizen = history.citizen
    years = max(0.0, (history.end - history.start).days / 365.25)
    mid_age = citizen.age_on(history.start + (history.end - history.start) / 2)
    group = 0 if mid_age < 15 else 2 if mid_age >= 65 else 1
    weights = cumulative([(a.weight_child, a.weight_adult, a.weight_elderly)[group] for a in ACUTE])
    episodes = int(history.rng.gauss(years * _acute_rate(mid_age), max(1.0, years**0.5)))
    for _ in range(max(0, episodes)):
        acute = weighted_choice(history.rng, list(ACUTE), weights)
        day = history.random_day()
        if acute.key == "covid19" and day < _COVID_START:
            acute = ACUTE[0]
        department = acute.department
        if citizen.age_on(day) < 13 and department in ("01", "13") and history.rng.random() < 0.7:
            department = "11"
        facility = history.usual_clinic(department)
        visit = open_visit(history, facility, day, department=department, reason=acute.display_ko)
        febrile = acute.key in _FEBRILE and history.rng.random() < 0.6
        if febrile or history.rng.random() < 0.3:
            for key, value in history.body.routine_vitals(day, febrile=febrile).items():
                measure(history, visit, key, value)
        condition_id = diagnose(
            history,
            visit,
            kcd=acute.kcd,
            display=acute.display_ko,
            onset=day,
            abated=min(day + dt.timedelta(days=10), history.end),
        )
        prescribe(history, visit, acute.drugs, history.rng.choice((3, 3, 5, 7)), condition_id)


_ED_REASONS = (
    ("A09.9", "상세불명 기원의 위장염 및 결장염", 3),
    ("R10.4", "기타 및 상세불명의 복통", 4),
    ("R07.4", "상세불명의 흉통", 2),
    ("R51", "두통", 2),
    ("S01.8", "머리의 기타 부분의 열린 상처", 2),
    ("S93.4", "발목의 염좌 및 긴장", 2),
    ("T78.4", "상세불명의 알레르기", 1),
    ("R50.9", "상세불명의 열", 3),
)
_ED_WEIGHTS = cumulative([float(w) for _, _, w in _ED_REASONS])


def _emergency_visits(history: History) -> None:
    citizen = history.citizen
    years = (history.end - history.start).days / 365.25
    rate = 0.16 if citizen.age_on(history.end) >= 75 else 0.06
    count = sum(1 for _ in range(int(years * 4)) if history.rng.random() < rate / 4)
    for _ in range(count):
        day = history.random_day()
        kcd, display, _weight = weighted_choice(history.rng, list(_ED_REASONS), _ED_WEIGHTS)
        facility = nearest_emergency(
            history.rng, history.facilities, citizen.address.latitude, citizen.address.longitude
        )
        visit = open_visit(
            history,
            facility,
            day,
            cls="EMER",
            kind="emergency",
            department="24",
            reason=display,
            night=True,
        )
        for key, value in history.body.routine_vitals(day, febrile=kcd == "R50.9").items():
            measure(history, visit, key, value)
        measure_blood_pressure(history, visit)
        for key, value in (
            ("wbc", history.rng.gauss(8.5, 2.5)),
            ("crp", history.rng.expovariate(0.2)),
            ("hb", history.body.hemoglobin(day)),
            ("platelets", history.rng.gauss(250, 50)),
        ):
            measure(history, visit, key, max(0.1, value))
        if kcd in ("R10.4", "R51", "S01.8") and history.rng.random() < 0.4:
            imaging_study(history, visit, "CT", "ABDOMEN" if kcd == "R10.4" else "HEAD")
        elif kcd == "R07.4":
            imaging_study(history, visit, "DX", "CHEST")
        condition_id = diagnose(
            history,
            visit,
            kcd=kcd,
            display=display,
            onset=day,
            abated=min(day + dt.timedelta(days=7), history.end),
        )
        prescribe(history, visit, ("acetaminophen",), 3, condition_id)
        write_note(
            history,
            visit,
            "emergency",
            [f"주호소: {display}", "KTAS 4", "처치 후 호전"],
            "귀가, 증상 악화 시 재내원",
        )
