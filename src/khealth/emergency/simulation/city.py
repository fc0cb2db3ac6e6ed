"""The synthetic city the simulation runs on: its emergency facilities, EMS incidents, ER capacity
over time and ambulance bases, generated from a seed (no files, no database).

Facilities go through the same path as in production: the synthetic city's FHIR Organization,
Location and HealthcareService resources are read by
:func:`khealth.emergency.facilities.facilities_from_resources`, so ranking sees exactly the
capabilities the API would. The capacity stream (``synth.emergencies.capacity``) is taken as the
ERs' **background** load (walk-ins and everything that is not a simulated ambulance patient);
simulated patients are added on top of it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from khealth.emergency.facilities import EmergencyFacility, facilities_from_resources
from khealth.emergency.simulation.assumptions import Assumptions
from khealth.emergency.travel import Point
from khealth.synth import SynthConfig
from khealth.synth import emergencies as synth_emergencies
from khealth.synth.facilities import FacilityIndex, build_facilities
from khealth.synth.facility_resources import facility_resources
from khealth.synth.geography import DISTRICTS, random_point
from khealth.synth.streams import stream

_KEEP = ("HealthcareService", "Organization", "Location")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One ER's true state for an hour (from the synthetic capacity stream)."""

    at: dt.datetime
    background: int  # patients in the ER who are not simulated ambulance patients
    icu_free: int
    ct: bool
    angiography: bool
    mri: bool
    available: frozenset[str]  # synthetic capability codes working this hour
    on_call: frozenset[str]  # HIRA departments with a doctor on call this hour
    departments: frozenset[str]  # departments that have a rota at all


@dataclass(frozen=True, slots=True)
class SimCity:
    facilities: tuple[EmergencyFacility, ...]
    incidents: tuple[dict[str, Any], ...]
    snapshots: dict[str, tuple[Snapshot, ...]]  # facility id -> time-ordered
    bases: tuple[Point, ...]
    start: dt.datetime
    end: dt.datetime
    times: dict[str, tuple[dt.datetime, ...]] = field(default_factory=dict)

    def snapshot(self, facility_id: str, at: dt.datetime, hours_back: int = 0) -> Snapshot:
        """The state in force at ``at`` (``hours_back`` snapshots earlier, for lagging flags)."""
        series = self.snapshots[facility_id]
        index = bisect.bisect_right(self.times[facility_id], at) - 1 - hours_back
        return series[max(0, index)]


def build_city(seed: int, days: int, today: dt.date, assumptions: Assumptions) -> SimCity:
    config = SynthConfig(citizens=0, seed=seed, today=today, emergency_days=days)
    index = FacilityIndex(build_facilities(seed, hl7v2_share=config.hl7v2_share))
    facilities = tuple(_emergency_facilities(index))
    incidents = tuple(synth_emergencies.incidents(config, population=assumptions.population))
    snapshots: dict[str, list[Snapshot]] = {f.id: [] for f in facilities}
    for row in synth_emergencies.capacity(config, index):
        if row["facility_id"] in snapshots:
            snapshots[row["facility_id"]].append(_snapshot(row))
    start = dt.datetime.combine(today - dt.timedelta(days=days), dt.time(0, 0), _KST)
    return SimCity(
        facilities, incidents, {k: tuple(v) for k, v in snapshots.items()},
        _bases(seed, assumptions.ambulance_bases), start, start + dt.timedelta(days=days),
        {k: tuple(s.at for s in v) for k, v in snapshots.items()},
    )  # fmt: skip


_KST = dt.timezone(dt.timedelta(hours=9))


def _emergency_facilities(index: FacilityIndex) -> list[EmergencyFacility]:
    resources = [r for f in index.emergency for r in facility_resources(f)]
    services = [r for r in resources if r["resourceType"] == "HealthcareService"]
    included = [r for r in resources if r["resourceType"] in _KEEP[1:]]
    return facilities_from_resources(services, included)


def _snapshot(row: dict[str, Any]) -> Snapshot:
    on_call: dict[str, Any] = row["on_call"]
    return Snapshot(
        at=dt.datetime.fromisoformat(row["time"]),
        background=int(row["ed_patients"]),
        icu_free=int(row["icu_beds_available"]),
        ct=bool(row["ct_available"]),
        angiography=bool(row["angiography_available"]),
        mri=bool(row["mri_available"]),
        available=frozenset(row["capabilities_available"]),
        on_call=frozenset(d for d, who in on_call.items() if who is not None),
        departments=frozenset(on_call),
    )


def _bases(seed: int, count: int) -> tuple[Point, ...]:
    """Ambulance bases spread over the districts in proportion to their population."""
    rng = stream(seed, "ems-bases")
    total = sum(d.population_share for d in DISTRICTS)
    out: list[Point] = []
    for district in DISTRICTS:
        for _ in range(max(1, round(count * district.population_share / total))):
            latitude, longitude = random_point(rng, district)
            out.append(Point(latitude, longitude))
    return tuple(out)


def nearest_base(bases: Sequence[Point], minutes: Sequence[float]) -> tuple[Point, float]:
    best = min(range(len(bases)), key=lambda i: (minutes[i], i))
    return bases[best], minutes[best]
