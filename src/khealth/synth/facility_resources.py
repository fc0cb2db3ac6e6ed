"""FHIR R4 resources describing a facility: Organization, Location, HealthcareService,
Practitioner, PractitionerRole and Endpoint (plain dicts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from khealth.synth import codes
from khealth.synth.facilities import (
    CAPABILITY_DISPLAY,
    ON_CALL_DEPARTMENTS,
    TIER_DISPLAY,
    Facility,
    Practitioner,
)
from khealth.synth.geography import address_to_fhir

Resource = dict[str, Any]
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ENDPOINT_BASE = "https://fhir.{code}.khealth.example.org"


def facility_resources(facility: Facility) -> Iterator[Resource]:
    yield from _endpoints(facility)
    yield _organization(facility)
    yield _location(facility)
    yield from _services(facility)
    for practitioner in facility.practitioners:
        yield _practitioner(practitioner)
        yield _practitioner_role(facility, practitioner)


def _endpoint_ids(facility: Facility) -> list[str]:
    ids = [f"{facility.id}-ep-fhir"]
    if facility.speaks_hl7v2:
        ids.append(f"{facility.id}-ep-v2")
    if facility.ct or facility.mri:
        ids.append(f"{facility.id}-ep-dicomweb")
    return ids


def _endpoints(facility: Facility) -> Iterator[Resource]:
    kinds = {
        "fhir": ("hl7-fhir-rest", ENDPOINT_BASE.format(code=facility.code) + "/fhir"),
        "v2": ("hl7v2-mllp", f"mllp://v2.{facility.code}.khealth.example.org:2575"),
        "dicomweb": ("dicom-wado-rs", ENDPOINT_BASE.format(code=facility.code) + "/dicomweb"),
    }
    for endpoint_id in _endpoint_ids(facility):
        connection, address = kinds[endpoint_id.rsplit("-", 1)[1]]
        yield {
            "resourceType": "Endpoint",
            "id": endpoint_id,
            "status": "active",
            "connectionType": codes.coding(codes.ENDPOINT_CONNECTION, connection),
            "name": f"{facility.name} {connection}",
            "managingOrganization": {"reference": f"Organization/{facility.id}"},
            "payloadType": [{"text": "any"}],
            "address": address,
        }


def _organization(facility: Facility) -> Resource:
    capacity = [
        ("beds", facility.beds),
        ("icuBeds", facility.icu_beds),
        ("emergencyBeds", facility.ed_beds),
        ("ct", facility.ct),
        ("mri", facility.mri),
        ("angiography", facility.angio),
    ]
    return {
        "resourceType": "Organization",
        "id": facility.id,
        "extension": [
            {
                "url": codes.EXT_BEDS,
                "extension": [{"url": key, "valueInteger": value} for key, value in capacity],
            }
        ],
        "identifier": [{"system": codes.SID_HIRA_FACILITY, "value": facility.code}],
        "active": True,
        "type": [
            codes.concept(
                codes.HIRA_ORG_TYPES, facility.org_type, codes.ORG_TYPE_DISPLAY[facility.org_type]
            )
        ],
        "name": facility.name,
        "telecom": [{"system": "phone", "value": facility.phone, "use": "work"}],
        "address": [{**address_to_fhir(facility.address), "use": "work"}],
        "endpoint": [{"reference": f"Endpoint/{eid}"} for eid in _endpoint_ids(facility)],
    }


def _location(facility: Facility) -> Resource:
    return {
        "resourceType": "Location",
        "id": f"{facility.id}-loc",
        "status": "active",
        "name": facility.name,
        "mode": "instance",
        "telecom": [{"system": "phone", "value": facility.phone}],
        "address": {**address_to_fhir(facility.address), "use": "work"},
        "position": {"longitude": facility.longitude, "latitude": facility.latitude},
        "managingOrganization": {"reference": f"Organization/{facility.id}"},
    }


def _services(facility: Facility) -> Iterator[Resource]:
    for department in facility.departments:
        display = codes.DEPARTMENTS.get(department, department)
        service: Resource = {
            "resourceType": "HealthcareService",
            "id": f"{facility.id}-hs{department}",
            "active": True,
            "providedBy": {"reference": f"Organization/{facility.id}"},
            "specialty": [codes.concept(codes.HIRA_DEPARTMENT, department, display)],
            "location": [{"reference": f"Location/{facility.id}-loc"}],
            "name": f"{facility.name} {display}",
        }
        if department == "24" and facility.emergency_tier:
            tier = facility.emergency_tier
            service["type"] = [codes.concept(codes.EMERGENCY_TIER, tier, TIER_DISPLAY[tier])]
            if facility.capabilities:
                service["characteristic"] = [
                    codes.concept(codes.CAPABILITY, cap, CAPABILITY_DISPLAY[cap])
                    for cap in sorted(facility.capabilities)
                ]
            service["availableTime"] = [{"allDay": True, "daysOfWeek": list(_DAYS)}]
        yield service


def _practitioner(practitioner: Practitioner) -> Resource:
    return {
        "resourceType": "Practitioner",
        "id": practitioner.id,
        "identifier": [{"system": codes.SID_LICENSE, "value": practitioner.license_number}],
        "active": True,
        "name": [
            {
                "text": practitioner.name,
                "family": practitioner.name[0],
                "given": [practitioner.name[1:]],
            }
        ],
        "gender": "female" if practitioner.female else "male",
    }


def _practitioner_role(facility: Facility, practitioner: Practitioner) -> Resource:
    department = practitioner.department
    role: Resource = {
        "resourceType": "PractitionerRole",
        "id": f"{practitioner.id}-role",
        "active": True,
        "practitioner": {"reference": f"Practitioner/{practitioner.id}"},
        "organization": {"reference": f"Organization/{facility.id}"},
        "code": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/practitioner-role",
                        "code": "doctor",
                        "display": "Doctor",
                    }
                ]
            }
        ],
        "specialty": [
            codes.concept(
                codes.HIRA_DEPARTMENT, department, codes.DEPARTMENTS.get(department, department)
            )
        ],
        "location": [{"reference": f"Location/{facility.id}-loc"}],
        "healthcareService": [{"reference": f"HealthcareService/{facility.id}-hs{department}"}],
        "telecom": [{"system": "phone", "value": facility.phone, "use": "work"}],
    }
    if facility.emergency_tier and department in ON_CALL_DEPARTMENTS:
        days = [_DAYS[d] for d in range(7) if facility.on_call(department, d) == practitioner]
        if days:  # night on-call rota (18:00–08:00), one doctor per department and weekday
            role["availableTime"] = [
                {
                    "daysOfWeek": days,
                    "availableStartTime": "18:00:00",
                    "availableEndTime": "08:00:00",
                }
            ]
    return role
