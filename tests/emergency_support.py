"""Test data for the emergency domain: the synthetic city's emergency facilities as FHIR
resources, facilities and statuses built by hand, and a fixed moment."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from khealth.emergency.facilities import EmergencyFacility, facilities_from_resources
from khealth.emergency.model import Capability
from khealth.emergency.status import FacilityStatus
from khealth.records.service import Records
from khealth.synth.city import City
from khealth.synth.config import SynthConfig
from tests.support import system_context

NOW = dt.datetime(2026, 11, 29, 14, 0, tzinfo=dt.UTC)  # 23:00 KST
CITY_CENTRE = (35.1595, 126.8526)  # 광주광역시청 area


@cache
def emergency_resources() -> tuple[dict[str, Any], ...]:
    """Organization, Location and emergency HealthcareService of the city's 18 emergency
    facilities (seed 1); the other facilities' resources are left out to keep tests fast."""
    city = City(SynthConfig(citizens=0, seed=1))
    ids = {f.id for f in city.facilities if f.emergency_tier}
    return tuple(r for r in city.facility_resources() if _wanted(r, ids))


def _wanted(resource: dict[str, Any], ids: set[str]) -> bool:
    kind, id = resource["resourceType"], resource["id"]
    if kind == "HealthcareService":
        provider = resource["providedBy"]["reference"].removeprefix("Organization/")
        return id.endswith("-hs24") and provider in ids
    return (kind == "Organization" and id in ids) or (
        kind == "Location" and id.removesuffix("-loc") in ids
    )


def load_facilities(records: Records) -> None:
    with records.begin(system_context(), "load") as rs:
        rs.upsert_many(list(emergency_resources()))


@cache
def city_facilities() -> tuple[EmergencyFacility, ...]:
    resources = emergency_resources()
    services = [r for r in resources if r["resourceType"] == "HealthcareService"]
    return tuple(facilities_from_resources(services, resources))


def facility(
    id: str,
    lat: float,
    lon: float,
    caps: set[Capability] | None = None,
    tier: str = "local-emergency-center",
) -> EmergencyFacility:
    capabilities = frozenset(caps or set()) | {Capability.RESUSCITATION}
    return EmergencyFacility(id, f"{id} 병원", tier, lat, lon, capabilities)


def status(
    facility_id: str,
    *,
    at: dt.datetime = NOW,
    hvec: int | None = 5,
    acceptance: dict[int, bool | None] | None = None,
    equipment: dict[str, bool | None] | None = None,
    on_call: dict[str, bool | None] | None = None,
) -> FacilityStatus:
    return FacilityStatus(
        facility_id, at, at,
        beds={"hvec": hvec},
        equipment=equipment if equipment is not None else {"hvctayn": True, "hvangioayn": True},
        acceptance=acceptance if acceptance is not None else dict.fromkeys(range(1, 29), True),
        on_call=on_call if on_call is not None else dict.fromkeys(("01", "02", "04", "06", "10", "11"), True),
    )  # fmt: skip
