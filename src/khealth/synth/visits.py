"""Opening an encounter at a facility, and what every kind of visit shares."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from khealth.synth import clinical_resources as fhir
from khealth.synth.conditions import DRUGS, Drug
from khealth.synth.facilities import Facility
from khealth.synth.history import History

ENCOUNTER_KINDS = {
    "chronic-follow-up": "만성질환 정기진료",
    "acute-visit": "외래 진료",
    "national-health-checkup": "국가건강검진",
    "emergency": "응급실 진료",
    "admission": "입원",
    "immunization": "예방접종",
    "procedure-visit": "외래 시술",
}


@dataclass(frozen=True)
class Visit:
    facility: Facility
    patient: str
    encounter_id: str
    role: str | None
    start: dt.datetime
    end: dt.datetime
    department: str

    @property
    def day(self) -> dt.date:
        return self.start.date()


def open_visit(
    history: History,
    facility: Facility,
    day: dt.date,
    *,
    cls: str = "AMB",
    kind: str = "acute-visit",
    department: str | None = None,
    stay_days: int = 0,
    reason: str | None = None,
    night: bool = False,
) -> Visit:
    department = department or facility.departments[0]
    if department not in facility.departments:
        department = facility.departments[0]
    patient = history.patient_at(facility)
    doctor = facility.doctor_for(department, history.rng)
    start = history.at(day, 0, 23) if night else history.at(day)
    if stay_days:
        end = dt.datetime.combine(day + dt.timedelta(days=stay_days), dt.time(10, 30), start.tzinfo)
    else:
        end = start + dt.timedelta(minutes=history.rng.randint(8, 40 if cls == "AMB" else 300))
    encounter_id = history.new_id()
    role = f"{doctor.id}-role"
    history.add(
        fhir.encounter(
            encounter_id,
            patient=patient,
            facility_id=facility.id,
            role=role,
            cls=cls,
            kind=kind,
            kind_display=ENCOUNTER_KINDS[kind],
            start=start,
            end=end,
            department=department,
            reason=reason,
        )
    )
    return Visit(facility, patient, encounter_id, role, start, end, department)


def prescribe(
    history: History,
    visit: Visit,
    drug_keys: tuple[str, ...] | list[str],
    days: int,
    reason_condition: str | None,
) -> None:
    for key in drug_keys:
        drug: Drug = DRUGS[key]
        history.add(
            fhir.medication_request(
                history.new_id(),
                drug=drug,
                patient=visit.patient,
                encounter_id=visit.encounter_id,
                role=visit.role,
                authored=visit.start,
                days=days,
                reason_condition=reason_condition,
                status="active"
                if visit.day + dt.timedelta(days=days) > history.end
                else "completed",
            )
        )


def measure(history: History, visit: Visit, key: str, value: float) -> None:
    history.add(
        fhir.measurement(
            history.new_id(),
            key,
            value,
            patient=visit.patient,
            encounter_id=visit.encounter_id,
            when=visit.start,
        )
    )


def measure_blood_pressure(history: History, visit: Visit) -> tuple[int, int]:
    systolic, diastolic = history.body.blood_pressure(visit.day)
    history.add(
        fhir.blood_pressure(
            history.new_id(),
            systolic,
            diastolic,
            patient=visit.patient,
            encounter_id=visit.encounter_id,
            when=visit.start,
        )
    )
    return systolic, diastolic


def diagnose(
    history: History,
    visit: Visit,
    *,
    kcd: str,
    display: str,
    onset: dt.date,
    category: str = "encounter-diagnosis",
    abated: dt.date | None = None,
    sensitive: str | None = None,
) -> str:
    return history.add(
        fhir.condition(
            history.new_id(),
            patient=visit.patient,
            encounter_id=visit.encounter_id,
            kcd=kcd,
            display=display,
            onset=onset,
            recorded=visit.day,
            category=category,
            abated=abated,
            sensitive=sensitive,
        )
    )
