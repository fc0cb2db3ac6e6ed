"""Admissions: acute cardiovascular events, cancer surgery, pneumonia, knee replacement,
childbirth, and the last admission of those who die."""

from __future__ import annotations

import datetime as dt
from typing import Any

from khealth.synth import codes
from khealth.synth.citizens import Diagnosis
from khealth.synth.clinical_resources import procedure
from khealth.synth.emergencies import nearest_emergency
from khealth.synth.facilities import Facility
from khealth.synth.history import History
from khealth.synth.imaging import imaging_study
from khealth.synth.notes import write_note
from khealth.synth.visits import (
    Visit,
    diagnose,
    measure,
    measure_blood_pressure,
    open_visit,
    prescribe,
)

_CANCER_SURGERY = {
    "stomach_cancer": ("위절제술", "ABDOMEN"),
    "colorectal_cancer": ("결장절제술", "ABDOMEN"),
    "thyroid_cancer": ("갑상선절제술", "THYROID"),
    "lung_cancer": ("폐엽절제술", "CHEST"),
    "breast_cancer": ("유방부분절제술", "CHEST"),
    "liver_cancer": ("간절제술", "LIVER"),
    "prostate_cancer": ("근치적 전립선절제술", "ABDOMEN"),
}


def admissions(history: History) -> None:
    for diagnosis in history.citizen.diagnoses:
        if not history.start <= diagnosis.onset < history.end:
            continue
        key = diagnosis.condition.key
        if key in ("ihd", "stroke"):
            _cardiovascular_event(history, diagnosis)
        elif key in _CANCER_SURGERY:
            _cancer_surgery(history, diagnosis)
    _knee_replacement(history)
    _pneumonia(history)
    _childbirth(history)
    _last_admission(history)


def _admit(
    history: History,
    facility: Facility,
    day: dt.date,
    stay: int,
    department: str,
    reason: str,
    *,
    via_emergency: bool = False,
) -> Visit:
    stay = max(1, min(stay, (history.end - day).days)) if day < history.end else 1
    visit = open_visit(
        history,
        facility,
        day,
        cls="IMP",
        kind="admission",
        department=department,
        stay_days=stay,
        reason=reason,
        night=via_emergency,
    )
    measure_blood_pressure(history, visit)
    for key, value in history.body.routine_vitals(day).items():
        measure(history, visit, key, value)
    creatinine = history.body.creatinine(day)
    measure(history, visit, "creatinine", creatinine)
    measure(history, visit, "egfr", history.body.egfr(creatinine, day))
    measure(history, visit, "hb", history.body.hemoglobin(day))
    measure(history, visit, "wbc", history.rng.gauss(8.0, 2.0))
    return visit


def _capable(history: History, capability: str) -> Facility:
    citizen = history.citizen
    options = [f for f in history.facilities.emergency if capability in f.capabilities]
    return nearest_emergency(
        history.rng,
        history.facilities,
        citizen.address.latitude,
        citizen.address.longitude,
        options,
    )


def _cardiovascular_event(history: History, diagnosis: Diagnosis) -> None:
    condition = diagnosis.condition
    stroke = condition.key == "stroke"
    facility = _capable(history, "thrombectomy" if stroke else "pci")
    kcd, display = (
        ("I63.5", "대뇌동맥의 상세불명 폐쇄 또는 협착에 의한 뇌경색증")
        if stroke
        else ("I21.3", "상세불명 부위의 급성 전층심근경색증")
    )
    visit = _admit(
        history,
        facility,
        diagnosis.onset,
        history.rng.randint(5, 14),
        "02" if stroke else "01",
        display,
        via_emergency=True,
    )
    condition_id = diagnose(history, visit, kcd=kcd, display=display, onset=diagnosis.onset)
    if stroke:
        imaging_study(history, visit, "CT", "HEAD")
        imaging_study(history, visit, "MR", "BRAIN")
        code: dict[str, Any] = {"text": "기계적 혈전제거술"}
    else:
        code = codes.concept(
            codes.SNOMED,
            "415070008",
            "Percutaneous coronary intervention",
            "경피적 관상동맥 중재술",
        )
    history.add(
        procedure(
            history.new_id(),
            code=code,
            patient=visit.patient,
            encounter_id=visit.encounter_id,
            role=visit.role,
            when=visit.start + dt.timedelta(hours=1),
            reason_condition=condition_id,
        )
    )
    prescribe(history, visit, ("aspirin", "clopidogrel", "atorvastatin"), 7, condition_id)
    write_note(
        history,
        visit,
        "discharge",
        [f"{display} ({kcd})로 응급 입원", "시술 후 합병증 없음"],
        "이중항혈소판요법 유지, 외래 추적",
    )


def _cancer_surgery(history: History, diagnosis: Diagnosis) -> None:
    condition = diagnosis.condition
    surgery, body_part = _CANCER_SURGERY[condition.key]
    facility = history.rng.choice(history.facilities.tertiary)
    day = min(diagnosis.onset + dt.timedelta(days=history.rng.randint(14, 45)), history.end)
    visit = _admit(
        history, facility, day, history.rng.randint(6, 12), condition.department, surgery
    )
    condition_id = diagnose(
        history, visit, kcd=condition.kcd, display=condition.display_ko, onset=diagnosis.onset
    )
    imaging_study(history, visit, "CT", body_part)
    history.add(
        procedure(
            history.new_id(),
            code={"text": surgery},
            patient=visit.patient,
            encounter_id=visit.encounter_id,
            role=visit.role,
            when=visit.start + dt.timedelta(days=1),
            reason_condition=condition_id,
        )
    )
    write_note(
        history,
        visit,
        "discharge",
        [f"{condition.display_ko} 진단 하 {surgery} 시행", "병리 결과 외래에서 설명 예정"],
        "항암 치료 여부 결정",
    )


def _knee_replacement(history: History) -> None:
    citizen = history.citizen
    if not citizen.has("knee_oa", history.end) or citizen.age_on(history.end) < 65:
        return
    if history.rng.random() > 0.08:
        return
    day = history.random_day()
    facility = history.facilities.hospital(history.rng, citizen.address.district)
    visit = _admit(
        history, facility, day, history.rng.randint(10, 18), "05", "무릎 인공관절 치환술"
    )
    condition_id = diagnose(history, visit, kcd="M17.9", display="상세불명의 무릎관절증", onset=day)
    imaging_study(history, visit, "DX", "KNEE")
    history.add(
        procedure(
            history.new_id(),
            code=codes.concept(
                codes.SNOMED, "609588000", "Total knee replacement", "슬관절 전치환술"
            ),
            patient=visit.patient,
            encounter_id=visit.encounter_id,
            role=visit.role,
            when=visit.start + dt.timedelta(days=1),
            reason_condition=condition_id,
        )
    )


def _pneumonia(history: History) -> None:
    citizen = history.citizen
    for year in range(history.config.history_years):
        day = history.start + dt.timedelta(days=int(365.25 * year) + history.rng.randint(0, 364))
        if day >= history.end or citizen.age_on(day) < 70 or history.rng.random() > 0.02:
            continue
        facility = (
            _capable(history, "dialysis")
            if history.rng.random() < 0.3
            else history.rng.choice(history.facilities.general)
        )
        visit = _admit(
            history, facility, day, history.rng.randint(5, 12), "01", "폐렴", via_emergency=True
        )
        condition_id = diagnose(
            history,
            visit,
            kcd="J18.9",
            display="상세불명의 폐렴",
            onset=day,
            abated=min(day + dt.timedelta(days=14), history.end),
        )
        imaging_study(history, visit, "DX", "CHEST")
        measure(history, visit, "crp", history.rng.gauss(80, 30))
        prescribe(history, visit, ("levofloxacin",), 7, condition_id)


def _childbirth(history: History) -> None:
    citizen = history.citizen
    if not citizen.female:
        return
    for year in range(history.config.history_years):
        day = history.start + dt.timedelta(days=int(365.25 * year) + history.rng.randint(0, 364))
        if (
            day >= history.end
            or not 25 <= citizen.age_on(day) <= 40
            or history.rng.random() > 0.035
        ):
            continue
        options = [f for f in history.facilities.all if "obstetric" in f.capabilities]
        facility = history.rng.choice(options)
        cesarean = history.rng.random() < 0.4
        visit = _admit(history, facility, day, 6 if cesarean else 3, "10", "분만")
        kcd, display = (
            ("O82.9", "제왕절개에 의한 단일분만") if cesarean else ("O80.9", "단일 자연분만")
        )
        condition_id = diagnose(
            history, visit, kcd=kcd, display=display, onset=day, abated=visit.end.date()
        )
        if cesarean:
            history.add(
                procedure(
                    history.new_id(),
                    code=codes.concept(codes.SNOMED, "11466000", "Cesarean section", "제왕절개술"),
                    patient=visit.patient,
                    encounter_id=visit.encounter_id,
                    role=visit.role,
                    when=visit.start + dt.timedelta(hours=3),
                    reason_condition=condition_id,
                )
            )


def _last_admission(history: History) -> None:
    citizen = history.citizen
    if citizen.death_date is None or citizen.death_date < history.start:
        return
    causes = [
        d
        for d in citizen.diagnoses
        if d.condition.care == "tertiary" or d.condition.key == "dementia"
    ]
    kcd, display = ("J18.9", "상세불명의 폐렴")
    if causes:
        kcd, display = causes[-1].condition.kcd, causes[-1].condition.display_ko
    long_term = citizen.has("dementia", citizen.death_date) and history.facilities.long_term_care
    facility = history.rng.choice(
        history.facilities.long_term_care if long_term else history.facilities.general
    )
    stay = history.rng.randint(3, 40)
    day = max(history.start, citizen.death_date - dt.timedelta(days=stay))
    visit = _admit(history, facility, day, (citizen.death_date - day).days or 1, "01", display)
    diagnose(history, visit, kcd=kcd, display=display, onset=day)
    write_note(
        history,
        visit,
        "discharge",
        [f"{display}으로 입원 치료 중 상태 악화", f"{citizen.death_date.isoformat()} 사망 확인"],
        "사망 퇴원",
    )
