"""Records.scan, the bulk read of every resource of a type (the master patient index reads
1.4 million Patients through it): same resources as a search, shards that partition them,
access policy, consent and one audit event per scan, on every backend."""

from __future__ import annotations

import pytest

from khealth.core.errors import Forbidden
from khealth.fhir.search_parse import parse_search
from khealth.records.service import Records
from tests.spec.test_consent_spec import (
    ALICE,
    CAROL,
    SERVICE,
    WRITER_B,
    audit_events,
    given,
    put,
)
from tests.support import system_context

pytestmark = pytest.mark.spec


def patients(records: Records, n: int) -> None:
    with records.begin(system_context(), "load") as rs:
        for i in range(n):
            rs.update("Patient", f"p{i:03d}", {"resourceType": "Patient", "id": f"p{i:03d}", "gender": "female"})  # fmt: skip
        rs.delete("Patient", "p007")


def searched(records: Records, resource_type: str) -> dict[str, bytes]:
    with records.begin(system_context(), "search") as rs:
        query = parse_search(resource_type, [("_count", "1000")])
        return {m.id: m.content for m in rs.search(query).page.matches}


def test_a_scan_yields_what_a_search_finds_each_once_page_by_page(records: Records) -> None:
    patients(records, 25)
    with records.begin(system_context(), "update") as rs:  # a changed one is read as it is now
        rs.update("Patient", "p003", {"resourceType": "Patient", "id": "p003", "gender": "male"})
    pages = list(records.scan(system_context(), "Patient", page=4))
    assert all(1 <= len(p) <= 4 for p in pages)
    ids = [v.id for page in pages for v in page]
    assert len(ids) == len(set(ids)) == 24 and "p007" not in ids  # deleted
    assert {v.id: v.content for page in pages for v in page} == searched(records, "Patient")


def test_shards_partition_the_scan(records: Records) -> None:
    patients(records, 25)
    parts = [[v.id for page in records.scan(system_context(), "Patient", shard=(k, 3), page=5) for v in page] for k in range(3)]  # fmt: skip
    assert sum(map(len, parts)) == len(set().union(*parts)) == 24
    assert all(parts)


def test_a_scan_is_audited_once_with_its_count(records: Records) -> None:
    patients(records, 10)
    before = len(audit_events(records))
    assert sum(len(p) for p in records.scan(system_context(), "Patient", page=3)) == 9
    events = audit_events(records)[before:]
    assert len(events) == 1
    assert events[0]["subtype"][0]["code"] == "scan" and events[0]["outcome"] == "0"
    assert {"type": {"system": "http://hl7.org/fhir/resource-types", "code": "Patient"},
            "detail": [{"type": "count", "valueString": "9"}]} in events[0]["entity"]  # fmt: skip


def test_a_caller_without_search_or_bound_to_a_patient_is_refused_and_audited(records: Records) -> None:  # fmt: skip
    patients(records, 3)
    before = len(audit_events(records))
    with pytest.raises(Forbidden):
        next(records.scan(system_context("system/Observation.rs"), "Patient"))
    with pytest.raises(Forbidden):
        next(records.scan(ALICE, "Patient"))
    assert [e["outcome"] for e in audit_events(records)[before:]] == ["8", "8"]


def test_consent_applies_to_a_scan(records: Records) -> None:
    put(records, SERVICE, {"resourceType": "Patient", "id": "alice"})
    put(records, WRITER_B, {"resourceType": "Observation", "id": "obs-b", "status": "final",
                            "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
                            "subject": {"reference": "Patient/alice"}})  # fmt: skip

    def scanned() -> set[str]:
        return {v.id for page in records.scan(CAROL, "Observation") for v in page}

    assert scanned() == set()  # another facility's record, no consent to share
    given(records, "treatment")
    assert scanned() == {"obs-b"}
