"""Synthetic citizens for the CDS tests: one small seeded city (``khealth.synth``), a citizen's
resources loaded into a store through the record service, and the facility Patients that
matter (the clinic that manages chronic conditions, the checkup facility)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from khealth.records.service import Records
from khealth.synth import City, SynthConfig
from tests.support import system_context

Resource = dict[str, Any]
CONFIG = SynthConfig(citizens=6, seed=3)


@dataclass(frozen=True)
class SyntheticCitizen:
    citizen_id: str
    resources: tuple[Resource, ...]

    @property
    def patient_ids(self) -> list[str]:
        return [r["id"] for r in self.resources if r["resourceType"] == "Patient"]

    def patient_with(self, resource_type: str) -> str:
        """The facility Patient holding the most resources of this type."""
        counts: dict[str, int] = {}
        for r in self.resources:
            if r["resourceType"] == resource_type:
                subject = r["subject"]["reference"].removeprefix("Patient/")
                counts[subject] = counts.get(subject, 0) + 1
        return max(counts, key=counts.__getitem__)

    def checkup_patient(self) -> str:
        encounters = [
            r for r in self.resources
            if r["resourceType"] == "Encounter"
            and r["type"][0]["coding"][0]["code"] == "national-health-checkup"
        ]  # fmt: skip
        return str(encounters[-1]["subject"]["reference"].removeprefix("Patient/"))

    def compartment(self, patient_id: str) -> list[Resource]:
        ref = f"Patient/{patient_id}"
        return [
            r for r in self.resources
            if (r.get("id") == patient_id and r["resourceType"] == "Patient")
            or (r.get("subject") or {}).get("reference") == ref
        ]  # fmt: skip


@functools.cache
def citizens() -> dict[str, SyntheticCitizen]:
    """Every citizen of the test city, generated once per test process (deterministic)."""
    return {
        c.citizen.id: SyntheticCitizen(c.citizen.id, tuple(c.output.resources))
        for c in City(CONFIG).citizens()
    }


def person_resource(person: SyntheticCitizen) -> Resource:
    """The city-level Person linking every facility Patient, as issue 4's MPI will write it
    (the generator's ground truth stands in for the linkage)."""
    links = [{"target": {"reference": f"Patient/{pid}"}, "assurance": "level3"}
             for pid in person.patient_ids]  # fmt: skip
    return {"resourceType": "Person", "id": f"person-{person.citizen_id}", "link": links}


def load(records: Records, *people: SyntheticCitizen, linked: bool = True) -> None:
    with records.begin(system_context(), "test-load") as rs:
        for person in people:
            resources = [*person.resources, *([person_resource(person)] if linked else [])]
            outcomes = rs.upsert_many(resources)
            assert all(hasattr(o, "stored") for o in outcomes), "synthetic data must load"
