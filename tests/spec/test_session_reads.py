"""What one transaction reads and then writes, on every backend: the SQL session keeps the
compartments of what it read (so a read by id is one query), and must forget them when the
resource is written in the same transaction."""

from __future__ import annotations

import pytest

from khealth.records.service import Records
from tests.support import system_context

pytestmark = pytest.mark.spec
SERVICE = system_context()


def _observation(patient: str) -> dict[str, object]:
    return {"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"text": "pulse"}, "subject": {"reference": f"Patient/{patient}"}}  # fmt: skip


def test_a_rewrite_in_the_same_transaction_moves_the_resource_to_its_new_patient(
    records: Records,
) -> None:
    for patient in ("ann", "ben"):
        with records.begin(SERVICE, "create") as rs:
            rs.update("Patient", patient, {"resourceType": "Patient", "id": patient})
    with records.begin(SERVICE, "update") as rs:
        rs.update("Observation", "o1", _observation("ann"))
    with records.begin(SERVICE, "update") as rs:
        rs.read("Observation", "o1")
        assert rs.s.compartments_of("Observation", "o1") == {"ann"}
        rs.update("Observation", "o1", _observation("ben"))
        rs.flush()  # writes are buffered until the next read or the audit
        assert rs.s.compartments_of("Observation", "o1") == {"ben"}
        assert rs.s.patients_of([("Observation", "o1"), ("Patient", "ann")]) == {"ben", "ann"}
    with records.begin(SERVICE, "read") as rs:
        rs.read("Observation", "o1")
        assert rs.s.compartments_of("Observation", "o1") == {"ben"}


def test_a_resource_in_no_compartment_reads_with_no_patients(records: Records) -> None:
    with records.begin(SERVICE, "create") as rs:
        rs.update("Organization", "org1", {"resourceType": "Organization", "id": "org1"})
    with records.begin(SERVICE, "read") as rs:
        assert rs.read("Organization", "org1").id == "org1"
        assert rs.s.compartments_of("Organization", "org1") == frozenset()
