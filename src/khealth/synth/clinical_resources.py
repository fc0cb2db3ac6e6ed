"""Builders of clinical FHIR R4 resources as plain dicts (one function per resource shape)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from khealth.synth import codes
from khealth.synth.physiology import ANALYTES

Resource = dict[str, Any]
KST = dt.timezone(dt.timedelta(hours=9))
_CLASS_DISPLAY = {"AMB": "ambulatory", "IMP": "inpatient encounter", "EMER": "emergency"}
_CATEGORY_DISPLAY = {
    "vital-signs": "Vital Signs",
    "laboratory": "Laboratory",
    "exam": "Exam",
    "survey": "Survey",
    "social-history": "Social History",
    "imaging": "Imaging",
}


def instant(moment: dt.datetime) -> str:
    return moment.astimezone(KST).isoformat(timespec="seconds")


def ref(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def encounter(
    resource_id: str,
    *,
    patient: str,
    facility_id: str,
    role: str | None,
    cls: str,
    kind: str,
    kind_display: str,
    start: dt.datetime,
    end: dt.datetime,
    department: str,
    reason: str | None = None,
) -> Resource:
    resource: Resource = {
        "resourceType": "Encounter",
        "id": resource_id,
        "status": "finished",
        "class": codes.coding(codes.V3_ACT_CODE, cls, _CLASS_DISPLAY[cls]),
        "type": [codes.concept(codes.ENCOUNTER_TYPE, kind, kind_display)],
        "serviceType": codes.concept(
            codes.HIRA_DEPARTMENT, department, codes.DEPARTMENTS.get(department, department)
        ),
        "subject": ref("Patient", patient),
        "period": {"start": instant(start), "end": instant(end)},
        "location": [{"location": ref("Location", f"{facility_id}-loc")}],
        "serviceProvider": ref("Organization", facility_id),
    }
    if role:
        resource["participant"] = [{"individual": ref("PractitionerRole", role)}]
    if reason:
        resource["reasonCode"] = [{"text": reason}]
    return resource


def condition(
    resource_id: str,
    *,
    patient: str,
    encounter_id: str | None,
    kcd: str,
    display: str,
    onset: dt.date,
    recorded: dt.date,
    category: str,
    abated: dt.date | None = None,
    sensitive: str | None = None,
) -> Resource:
    resource: Resource = {"resourceType": "Condition", "id": resource_id}
    if sensitive:
        resource["meta"] = {"security": [codes.coding(codes.V3_ACT_CODE, sensitive)]}
    resource |= {
        "clinicalStatus": {
            "coding": [codes.coding(codes.CONDITION_CLINICAL, "resolved" if abated else "active")]
        },
        "verificationStatus": {"coding": [codes.coding(codes.CONDITION_VERIFICATION, "confirmed")]},
        "category": [{"coding": [codes.coding(codes.CONDITION_CATEGORY, category)]}],
        "code": codes.concept(codes.KCD8, kcd, display),
        "subject": ref("Patient", patient),
        "onsetDateTime": onset.isoformat(),
        "recordedDate": recorded.isoformat(),
    }
    if encounter_id:
        resource["encounter"] = ref("Encounter", encounter_id)
    if abated:
        resource["abatementDateTime"] = abated.isoformat()
    return resource


def _observation_head(
    resource_id: str,
    category: str,
    code: dict[str, Any],
    patient: str,
    encounter_id: str,
    when: dt.datetime,
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "category": [
            {
                "coding": [
                    codes.coding(codes.OBSERVATION_CATEGORY, category, _CATEGORY_DISPLAY[category])
                ]
            }
        ],
        "code": code,
        "subject": ref("Patient", patient),
        "encounter": ref("Encounter", encounter_id),
        "effectiveDateTime": instant(when),
    }


def quantity(value: float, unit: str, decimals: int) -> dict[str, Any]:
    number: float | int = round(value, decimals) if decimals else round(value)
    return {"value": number, "unit": unit, "system": codes.UCUM, "code": unit}


def measurement(
    resource_id: str,
    key: str,
    value: float,
    *,
    patient: str,
    encounter_id: str,
    when: dt.datetime,
) -> Resource:
    analyte = ANALYTES[key]
    code = codes.concept(codes.LOINC, analyte.loinc, analyte.display)
    resource = _observation_head(resource_id, analyte.category, code, patient, encounter_id, when)
    resource["valueQuantity"] = quantity(value, analyte.unit, analyte.decimals)
    return resource


def blood_pressure(
    resource_id: str,
    systolic: int,
    diastolic: int,
    *,
    patient: str,
    encounter_id: str,
    when: dt.datetime,
) -> Resource:
    code = codes.concept(codes.LOINC, "85354-9", "Blood pressure panel with all children optional")
    resource = _observation_head(resource_id, "vital-signs", code, patient, encounter_id, when)
    resource["component"] = [
        {
            "code": codes.concept(codes.LOINC, "8480-6", "Systolic blood pressure"),
            "valueQuantity": quantity(systolic, "mm[Hg]", 0),
        },
        {
            "code": codes.concept(codes.LOINC, "8462-4", "Diastolic blood pressure"),
            "valueQuantity": quantity(diastolic, "mm[Hg]", 0),
        },
    ]
    return resource


def coded_observation(
    resource_id: str,
    *,
    category: str,
    loinc: str,
    display: str,
    value: dict[str, Any],
    patient: str,
    encounter_id: str,
    when: dt.datetime,
) -> Resource:
    code = codes.concept(codes.LOINC, loinc, display)
    resource = _observation_head(resource_id, category, code, patient, encounter_id, when)
    resource.update(value)
    return resource


def medication_request(
    resource_id: str,
    *,
    drug: Any,
    patient: str,
    encounter_id: str,
    role: str | None,
    authored: dt.datetime,
    days: int,
    reason_condition: str | None,
    status: str = "completed",
) -> Resource:
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": resource_id,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                codes.coding(codes.SYNTHETIC_DRUG, drug.product_code, drug.name),
                codes.coding(codes.ATC, drug.atc),
            ],
            "text": drug.name,
        },
        "subject": ref("Patient", patient),
        "encounter": ref("Encounter", encounter_id),
        "authoredOn": instant(authored),
        "dosageInstruction": [{"text": f"{drug.dose} {days}일분"}],
        "dispenseRequest": {
            "quantity": {"value": drug.per_day * days, "unit": "회분"},
            "expectedSupplyDuration": {
                "value": days,
                "unit": "days",
                "system": codes.UCUM,
                "code": "d",
            },
        },
    }
    if role:
        resource["requester"] = ref("PractitionerRole", role)
    if reason_condition:
        resource["reasonReference"] = [ref("Condition", reason_condition)]
    return resource


def procedure(
    resource_id: str,
    *,
    code: dict[str, Any],
    patient: str,
    encounter_id: str,
    role: str | None,
    when: dt.datetime,
    reason_condition: str | None = None,
) -> Resource:
    resource: Resource = {
        "resourceType": "Procedure",
        "id": resource_id,
        "status": "completed",
        "code": code,
        "subject": ref("Patient", patient),
        "encounter": ref("Encounter", encounter_id),
        "performedDateTime": instant(when),
    }
    if role:
        resource["performer"] = [{"actor": ref("PractitionerRole", role)}]
    if reason_condition:
        resource["reasonReference"] = [ref("Condition", reason_condition)]
    return resource
