"""Many conditional transactions in one record session (``records.conditional_group``), on
every backend: each sees what the earlier ones of the group wrote, as it would had each
committed on its own (http://hl7.org/fhir/R4/http.html#trules)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from khealth.core.errors import KhealthError
from khealth.fhir.search_parse import parse_search
from khealth.records.conditional_group import ConditionalGroup
from khealth.records.service import Records
from tests.support import system_context

pytestmark = pytest.mark.spec
SERVICE = system_context()
A, B = "urn:oid:1.2.410.200.1", "urn:oid:1.2.410.200.2"


def put(criteria: str, *identifiers: tuple[str, str], family: str = "김") -> dict[str, Any]:
    resource = {"resourceType": "Patient", "name": [{"family": family}],
                "identifier": [{"system": s, "value": v} for s, v in identifiers]}  # fmt: skip
    return {"resource": resource, "request": {"method": "PUT", "url": f"Patient?{criteria}"}}


def create_if_none(criteria: str, *identifiers: tuple[str, str]) -> dict[str, Any]:
    entry = put(criteria, *identifiers)
    entry["request"] = {"method": "POST", "url": "Patient", "ifNoneExist": criteria}
    return entry


def patients(records: Records) -> list[dict[str, Any]]:
    with records.begin(SERVICE, "read") as rs:
        page = rs.search(parse_search("Patient", [("_count", "100")])).page
    return [orjson.loads(v.content) for v in page.matches]


def test_each_transaction_sees_what_the_group_wrote_before_it(records: Records) -> None:
    with records.begin(SERVICE, "group") as rs:
        group = ConditionalGroup(rs)
        group.look_up([("Patient", f"identifier={A}|1"), ("Patient", f"identifier={A}|2")])
        (made,) = group.run([put(f"identifier={A}|1", (A, "1"))])
        (matched,) = group.run([create_if_none(f"identifier={A}|1", (A, "1"))])
        assert matched.stored.id == made.stored.id and not matched.changed
        (moved,) = group.run([put(f"identifier={A}|1", (A, "2"), family="이")])  # renumbered
        assert moved.stored.id == made.stored.id and moved.stored.version == 2
        (fresh,) = group.run([create_if_none(f"identifier={A}|1", (A, "1"))])  # |1 is free
        assert fresh.created and fresh.stored.id != made.stored.id
        (again,) = group.run([put(f"identifier={A}|2", (A, "2"), family="이")])
        assert again.stored.id == made.stored.id and not again.changed  # nothing new
        (by_system,) = group.run([create_if_none(f"identifier={B}|", (B, "9"))])
        (same,) = group.run([create_if_none(f"identifier={B}|", (B, "9"))])
        assert same.stored.id == by_system.stored.id
        group.flush()
    found = {p["id"]: p for p in patients(records)}
    assert len(found) == 3
    assert found[made.stored.id]["identifier"] == [{"system": A, "value": "2"}]
    assert found[made.stored.id]["meta"]["versionId"] == "2"


def test_a_failed_transaction_leaves_nothing_and_the_next_one_runs(records: Records) -> None:
    bad = put(f"identifier={A}|7", (A, "7"))
    bad["resource"]["gender"] = "sometimes"  # not in the administrative-gender codes
    with records.begin(SERVICE, "group") as rs:
        group = ConditionalGroup(rs)
        with pytest.raises(KhealthError) as refused:
            group.run([put(f"identifier={A}|5", (A, "5")), bad])
        assert "Bundle.entry[1]" in refused.value.issues[0].diagnostics
        (made,) = group.run([create_if_none(f"identifier={A}|5", (A, "5"))])
        assert made.created  # entry 0 of the failed transaction was never staged
        group.flush()
    assert [p["identifier"][0]["value"] for p in patients(records)] == ["5"]


def test_two_resources_under_one_number_are_412_for_the_transaction(records: Records) -> None:
    with records.begin(SERVICE, "load") as rs:
        for id in ("p1", "p2"):
            rs.update("Patient", id, {"resourceType": "Patient", "id": id,
                                      "identifier": [{"system": A, "value": "8"}]})  # fmt: skip
    with records.begin(SERVICE, "group") as rs:
        group = ConditionalGroup(rs)
        with pytest.raises(KhealthError) as refused:
            group.run([create_if_none(f"identifier={A}|8", (A, "8"))])
        assert refused.value.status == 412
