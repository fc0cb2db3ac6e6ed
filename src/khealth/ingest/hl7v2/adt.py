"""ADT (admit, discharge, transfer) → Patient and Encounter; A40 merge → Patient.link.

Encounter status by trigger event (FHIR-Converter ``ADT_A01`` … templates, R4
``encounter-status``): A01/A02/A13 in-progress (A13 cancels a discharge), A03 finished, A04
arrived, A05 planned, A11 cancelled (cancel admit), A08 from PV1-45 (finished once
discharged).  A28/A31 (person information) carry no visit: Patient only.
"""

from __future__ import annotations

import hashlib
from typing import Any

from khealth.ingest.hl7v2 import datatypes as dt
from khealth.ingest.hl7v2.errors import Hl7Error, missing
from khealth.ingest.hl7v2.mapping import (
    Mapper,
    add_patient,
    criteria,
    facility_system,
    new_url,
    patient_identifiers,
    patient_resource,
    scope_local,
)
from khealth.ingest.hl7v2.message import Message, Segment, pick
from khealth.ingest.hl7v2.model import Mapped, Merge

V3_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#: PV1-2 patient class (HL7 table 0004) → Encounter.class (v3 ActCode)
_CLASS = {"I": "IMP", "O": "AMB", "E": "EMER", "P": "PRENC", "R": "AMB", "B": "IMP",
          "C": "AMB", "N": "AMB", "U": "AMB"}  # fmt: skip
_STATUS = {"A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "arrived",
           "A05": "planned", "A11": "cancelled", "A13": "in-progress"}  # fmt: skip
_PARTICIPANTS = ((7, "ATND"), (8, "REF"), (9, "CON"), (17, "ADM"))


def _location(pv1: Segment, field_no: int, status: str) -> dict[str, Any] | None:
    """PL: point of care (1), room (2), bed (3), facility (4), building (7), floor (8)."""
    reps = pv1.reps(field_no)
    if not reps:
        return None
    parts = [pick(reps[0], i) for i in (4, 7, 8, 1, 2, 3)]
    display = " / ".join(p for p in parts if p)
    return {"location": {"display": display}, "status": status} if display else None


def _visit_identifier(pv1: Segment, mapped: Mapped) -> dict[str, Any]:
    """PV1-19 visit number; without one, the patient's key and the admit time stand in."""
    reps = pv1.reps(19)
    system = facility_system(mapped.header, "visit")
    if reps:
        found = dt.identifier(reps[0], system)
        if found:
            found = scope_local(found, mapped.header)
            return {"system": found["system"], "value": found["value"]}
    admit = pv1.get(44) or "unknown-admit"
    patient = hashlib.sha256(mapped.patient_key.encode()).hexdigest()[:32]
    return {"system": f"{system}-of-patient", "value": f"{patient}@{admit}"}


def encounter_resource(
    pv1: Segment, mapped: Mapped, patient_url: str
) -> tuple[dict[str, Any], str]:
    event = mapped.header.event
    patient_class = pv1.get(2).upper()
    if not patient_class:
        raise missing("PV1", 2, "PV1-2 patient class")
    status = _STATUS.get(event) or ("finished" if pv1.get(45) else "in-progress")
    end = dt.date_time(pv1.get(45)) if status == "finished" else None
    code = _CLASS.get(patient_class)
    klass = (
        {"system": V3_ACT, "code": code}
        if code
        else {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": patient_class}
    )
    participants = [
        {"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                               "code": role}]}], "individual": who}
        for field_no, role in _PARTICIPANTS
        for rep in pv1.reps(field_no)
        if (who := dt.practitioner(rep)) is not None
    ]  # fmt: skip
    locations = [_location(pv1, 3, "completed" if status == "finished" else "active")]
    if event == "A02":
        locations.append(_location(pv1, 6, "completed"))
    identifier = _visit_identifier(pv1, mapped)
    hospital_service = pv1.get(10)
    resource = dt.clean({
        "resourceType": "Encounter",
        "identifier": [identifier],
        "status": status,
        "class": klass,
        "serviceType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0069",
                                    "code": hospital_service}]} if hospital_service else None,
        "subject": {"reference": patient_url},
        "participant": participants,
        "period": {"start": dt.date_time(pv1.get(44)), "end": end},
        "location": locations,
    })  # fmt: skip
    return resource, criteria(identifier)


def map_adt(message: Message, mapped: Mapped, rrn_key: bytes) -> None:
    patient_url = add_patient(mapped, message, rrn_key, update=True)
    pv1 = message.first("PV1")
    if pv1 is None:
        raise Hl7Error("AE", "PV1", 1, 0, "100", "a PV1 segment is required for this event")
    resource, encounter_key = encounter_resource(pv1, mapped, patient_url)
    mapped.add("PV1^1", {"fullUrl": new_url(), "resource": resource,
                         "request": {"method": "PUT", "url": f"Encounter?{encounter_key}"}})  # fmt: skip


def map_person(message: Message, mapped: Mapped, rrn_key: bytes) -> None:
    """A28 add / A31 update person information: the Patient only."""
    add_patient(mapped, message, rrn_key, update=True)


def map_merge(message: Message, mapped: Mapped, rrn_key: bytes) -> None:
    """A40 merge patient (identifier list): PID is the surviving patient, MRG-1 the one it
    replaces.  Nothing is deleted: the old Patient becomes inactive with a ``replaced-by``
    link, the survivor gets a ``replaces`` link (done at commit time, when both are known)."""
    survivor_url = add_patient(mapped, message, rrn_key, update=True)
    mrg = message.first("MRG")
    if mrg is None:
        raise Hl7Error("AE", "MRG", 1, 0, "100", "an MRG segment is required for A40")
    reps = mrg.reps(1)
    if not reps:
        raise missing("MRG", 1, "MRG-1 prior patient identifier")
    pid = message.first("PID")
    assert pid is not None
    # the prior identifier is read like a PID-3 of the same facility
    prior = Segment("PID", ("PID", "", "", mrg.raw_field(1)), message.delimiters)
    _, old_key = patient_resource(prior, mapped.header, rrn_key)
    old_identifier = patient_identifiers(prior, mapped.header, rrn_key)[1]
    mapped.merge = Merge(old_key, old_identifier, survivor_url)
    _, new_key = patient_resource(pid, mapped.header, rrn_key)
    if old_key == new_key:
        raise Hl7Error("AE", "MRG", 1, 1, "102", "MRG-1 names the surviving patient itself")


MAPPERS: dict[str, Mapper] = {
    **dict.fromkeys(("A01", "A02", "A03", "A04", "A05", "A08", "A11", "A13"), map_adt),
    "A28": map_person,
    "A31": map_person,
    "A40": map_merge,
}
