"""HL7 v2.5.1 ADT and ORU messages for the facilities that still speak v2.

Derived from the FHIR resources of one citizen: each encounter at a v2 facility gives an ADT
(A01 admit for inpatients, A04 register otherwise) and, when laboratory results were recorded,
an ORU^R01. Segments end with CR; messages are separated by a blank line in the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from khealth.synth.facilities import Facility

Resource = dict[str, Any]


def _ts(fhir_instant: str) -> str:
    return fhir_instant[:19].replace("-", "").replace(":", "").replace("T", "")


def _escape(value: str) -> str:
    return (
        value.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )


def _pid(patient: Resource) -> str:
    mrn = patient["identifier"][0]["value"]
    rrn = next((i["value"] for i in patient["identifier"] if i["system"].endswith("kr-rrn")), "")
    name = patient["name"][0]
    sex = "F" if patient["gender"] == "female" else "M"
    address = patient["address"][0]
    phone = patient["telecom"][0]["value"]
    return "|".join(
        [
            "PID",
            "1",
            "",
            f"{mrn}^^^HOSP^MR" + (f"~{rrn}^^^KR^NI" if rrn else ""),
            "",
            f"{_escape(name['family'])}^{_escape(name['given'][0])}",
            "",
            patient["birthDate"].replace("-", ""),
            sex,
            "",
            "",
            f"{_escape(address['line'][0])}^^{address['city']}^{address['district']}^{address['postalCode']}^KR",
            "",
            phone,
        ]
    )


def _msh(facility: Facility, when: str, kind: str, control_id: str) -> str:
    return "|".join(
        [
            "MSH",
            "^~\\&",
            "EMR",
            facility.code,
            "KHEALTH",
            "GWANGJU",
            when,
            "",
            kind,
            control_id,
            "P",
            "2.5.1",
            "",
            "",
            "",
            "",
            "",
            "UNICODE UTF-8",
        ]
    )


def messages(
    resources: Sequence[Resource], facilities: dict[str, Facility]
) -> Iterator[tuple[str, str]]:
    """(facility id, message text) for every encounter at a v2 facility, in resource order."""
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
    labs: dict[str, list[Resource]] = {}
    for resource in resources:
        if (
            resource["resourceType"] == "Observation"
            and resource["category"][0]["coding"][0]["code"] == "laboratory"
        ):
            labs.setdefault(resource["encounter"]["reference"].split("/")[1], []).append(resource)
    for resource in resources:
        if resource["resourceType"] != "Encounter":
            continue
        facility = facilities[resource["serviceProvider"]["reference"].split("/")[1]]
        if not facility.speaks_hl7v2:
            continue
        patient = patients[resource["subject"]["reference"].split("/")[1]]
        yield facility.id, _adt(facility, resource, patient)
        if resource["id"] in labs:
            yield facility.id, _oru(facility, resource, patient, labs[resource["id"]])


def _adt(facility: Facility, encounter: Resource, patient: Resource) -> str:
    when = _ts(encounter["period"]["start"])
    inpatient = encounter["class"]["code"] == "IMP"
    event = "A01" if inpatient else "A04"
    patient_class = {"IMP": "I", "EMER": "E"}.get(encounter["class"]["code"], "O")
    segments = [
        _msh(facility, when, f"ADT^{event}^ADT_A01", f"ADT{encounter['id'][:16]}"),
        f"EVN|{event}|{when}",
        _pid(patient),
        f"PV1|1|{patient_class}|{facility.code}^^^{facility.code}||||||||||||||||{encounter['id']}"
        f"|||||||||||||||||||||||||{when}",
    ]
    return "\r".join(segments) + "\r"


def _oru(facility: Facility, encounter: Resource, patient: Resource, labs: list[Resource]) -> str:
    when = _ts(encounter["period"]["start"])
    segments = [
        _msh(facility, when, "ORU^R01^ORU_R01", f"ORU{encounter['id'][:16]}"),
        _pid(patient),
        f"PV1|1|O|{facility.code}",
        f"OBR|1|{encounter['id']}||24323-8^Comprehensive metabolic panel^LN|||{when}",
    ]
    for number, observation in enumerate(labs, start=1):
        coding = observation["code"]["coding"][0]
        quantity = observation.get("valueQuantity")
        if quantity is None:
            text = _escape(observation["valueCodeableConcept"]["text"])
            value, kind, unit = text, "ST", ""
        else:
            value, kind, unit = str(quantity["value"]), "NM", f"{quantity['code']}^^UCUM"
        segments.append(
            f"OBX|{number}|{kind}|{coding['code']}^{_escape(coding['display'])}^LN||{value}|"
            f"{unit}|||||F|||{when}"
        )
    return "\r".join(segments) + "\r"
