"""The emergency facilities of the city, read from the record (FHIR R4).

Source of truth: the ``HealthcareService`` whose ``type`` is coded in the emergency-tier code
system (one per emergency department), its ``characteristic`` (facility-capability codes), the
``Organization`` it is ``providedBy`` (name, the bed-count extension: CT, MRI, angiography, ICU
beds) and its ``Location`` (``position``). They are read **through the record service with a
service AccessContext** (audited like any read), in one search with two ``_include``s.

Routing needs the list on every request and it changes rarely, so :class:`FacilityDirectory`
keeps a cache rebuilt from those resources when it is older than ``ttl`` seconds (default 300)
or when :meth:`FacilityDirectory.refresh` is called. The cache holds no patient data.

Capabilities (:class:`~khealth.emergency.model.Capability`) from the synthetic city's codes:
``pci``, ``thrombectomy``, ``trauma`` → trauma_centre, ``paediatric`` → paediatric_emergency,
``obstetric`` → obstetrics, ``burns`` → burns_centre; derived: every emergency department can
resuscitate; ``ct`` when the Organization counts a CT; ``thrombolysis`` when it has CT and is a
centre (not a 지역응급의료기관) or does thrombectomy; ``icu`` when it counts ICU beds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from khealth.access.context import AccessContext
from khealth.emergency.model import Capability
from khealth.fhir.search_parse import parse_search
from khealth.records.service import Records, load_json

EMERGENCY_TIER_SYSTEM = "https://khealth.example.org/fhir/CodeSystem/emergency-tier"
CAPABILITY_SYSTEM = "https://khealth.example.org/fhir/CodeSystem/facility-capability"
BED_COUNT_URL = "https://khealth.example.org/fhir/StructureDefinition/bed-count"
TIER_LOCAL_INSTITUTION = "local-emergency-institution"
TIER_DISPLAY = {
    "regional-emergency-center": ("권역응급의료센터", "regional emergency centre"),
    "local-emergency-center": ("지역응급의료센터", "local emergency centre"),
    "local-emergency-institution": ("지역응급의료기관", "local emergency institution"),
}
_CODE_TO_CAPABILITY = {
    "pci": Capability.PCI,
    "thrombectomy": Capability.THROMBECTOMY,
    "trauma": Capability.TRAUMA_CENTRE,
    "trauma_centre": Capability.TRAUMA_CENTRE,
    "paediatric": Capability.PAEDIATRIC_EMERGENCY,
    "obstetric": Capability.OBSTETRICS,
    "burns": Capability.BURNS_CENTRE,
}


@dataclass(frozen=True, slots=True)
class EmergencyFacility:
    id: str  # Organization id
    name: str
    tier: str  # emergency-tier code
    latitude: float
    longitude: float
    capabilities: frozenset[Capability]
    location_id: str | None = None
    er_beds: int = 0  # registered ER beds (HVS01 analogue)

    def to_json(self) -> dict[str, Any]:
        return {
            "facility_id": self.id, "name": self.name, "tier": self.tier,
            "tier_ko": TIER_DISPLAY.get(self.tier, (self.tier,))[0],
            "latitude": self.latitude, "longitude": self.longitude,
            "capabilities": sorted(self.capabilities), "er_beds": self.er_beds,
        }  # fmt: skip


def facilities_from_resources(
    services: Iterable[dict[str, Any]], included: Iterable[dict[str, Any]]
) -> list[EmergencyFacility]:
    """Emergency facilities from their HealthcareService, Organization and Location resources;
    a service without a known organization or a positioned location is left out."""
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in included}
    out: dict[str, EmergencyFacility] = {}
    for service in services:
        facility = _facility(service, by_ref)
        if facility is not None and facility.id not in out:
            out[facility.id] = facility
    return sorted(out.values(), key=lambda f: f.id)


def _facility(service: dict[str, Any], by_ref: dict[str, dict[str, Any]]) -> EmergencyFacility | None:  # fmt: skip
    tier = _code_in(service.get("type"), EMERGENCY_TIER_SYSTEM)
    org_ref = (service.get("providedBy") or {}).get("reference", "")
    organization = by_ref.get(org_ref)
    location_ref = next((x.get("reference", "") for x in service.get("location") or []), "")
    location = by_ref.get(location_ref)
    position = (location or {}).get("position") or {}
    if tier is None or organization is None or "latitude" not in position:
        return None
    counts = _bed_counts(organization)
    codes = {c for concept in service.get("characteristic") or [] for c in _codes(concept, CAPABILITY_SYSTEM)}  # fmt: skip
    return EmergencyFacility(
        id=organization["id"],
        name=str(organization.get("name", organization["id"])),
        tier=tier,
        latitude=float(position["latitude"]),
        longitude=float(position["longitude"]),
        capabilities=_capabilities(codes, tier, counts),
        location_id=location_ref.removeprefix("Location/") or None,
        er_beds=counts.get("emergencyBeds", 0),
    )


def _capabilities(codes: set[str], tier: str, counts: dict[str, int]) -> frozenset[Capability]:
    caps = {_CODE_TO_CAPABILITY[c] for c in codes if c in _CODE_TO_CAPABILITY}
    caps.add(Capability.RESUSCITATION)
    if counts.get("ct", 0) > 0:
        caps.add(Capability.CT)
        if tier != TIER_LOCAL_INSTITUTION or Capability.THROMBECTOMY in caps:
            caps.add(Capability.THROMBOLYSIS)
    if counts.get("icuBeds", 0) > 0:
        caps.add(Capability.ICU)
    return frozenset(caps)


def _bed_counts(organization: dict[str, Any]) -> dict[str, int]:
    for ext in organization.get("extension") or []:
        if ext.get("url") == BED_COUNT_URL:
            return {e["url"]: int(e.get("valueInteger", 0)) for e in ext.get("extension") or []}
    return {}


def _codes(concept: Any, system: str) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [c["code"] for c in concept.get("coding") or [] if c.get("system") == system and "code" in c]  # fmt: skip


def _code_in(concepts: Any, system: str) -> str | None:
    for concept in concepts or []:
        found = _codes(concept, system)
        if found:
            return found[0]
    return None


Loader = Callable[[], Sequence[EmergencyFacility]]
MISS_REFRESH = 5.0  # seconds


def record_loader(records: Records, ctx: AccessContext) -> Loader:
    """Read the emergency departments with their Organization and Location through the
    record service (one search, two ``_include``s; audited as ``emergency-directory``)."""

    def load() -> list[EmergencyFacility]:
        query = parse_search(
            "HealthcareService",
            [("service-type", EMERGENCY_TIER_SYSTEM + "|"),
             ("_include", "HealthcareService:organization"),
             ("_include", "HealthcareService:location"), ("_count", "1000")],
        )  # fmt: skip
        with records.begin(ctx, "emergency-directory") as rs:
            found = rs.search(query)
        services = [load_json(v.content) for v in found.page.matches]
        return facilities_from_resources(services, [load_json(v.content) for v in found.included])

    return load


class FacilityDirectory:
    """The cached list; ``loader`` reads the record (see the module docstring)."""

    def __init__(self, loader: Loader, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._loader = loader
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._facilities: tuple[EmergencyFacility, ...] = ()
        self._by_id: dict[str, EmergencyFacility] = {}

    def refresh(self) -> None:
        facilities = tuple(self._loader())
        with self._lock:
            self._facilities = facilities
            self._by_id = {f.id: f for f in facilities}
            self._loaded_at = self._clock()

    def all(self) -> tuple[EmergencyFacility, ...]:
        loaded = self._loaded_at
        if loaded is None or self._clock() - loaded > self._ttl:
            self.refresh()
        return self._facilities

    def get(self, facility_id: str) -> EmergencyFacility | None:
        self.all()
        found = self._by_id.get(facility_id)
        loaded = self._loaded_at
        if found is None and loaded is not None and self._clock() - loaded > MISS_REFRESH:
            # A facility added since the last rebuild: look once more before saying 404
            # (at most every few seconds, so unknown ids cannot make every request reload).
            self.refresh()
            found = self._by_id.get(facility_id)
        return found
