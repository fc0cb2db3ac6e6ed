"""The store's token look-up (``find_tokens``, what a group of conditional writes asks),
on every backend: it finds what an ``identifier=system|value`` search finds, pair by pair."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from khealth.fhir.search_parse import parse_search
from khealth.records.service import Records
from tests.support import system_context

pytestmark = pytest.mark.spec
SERVICE = system_context()
A, B = "urn:oid:1.2.410.200.1", "urn:oid:1.2.410.200.2"


def _patient(id: str, *identifiers: tuple[str, str]) -> dict[str, object]:
    return {"resourceType": "Patient", "id": id,
            "identifier": [{"system": s, "value": v} for s, v in identifiers]}  # fmt: skip


def test_it_finds_each_pair_as_the_identifier_search_does(records: Records) -> None:
    with records.begin(SERVICE, "load") as rs:
        rs.update("Patient", "kim", _patient("kim", (A, "1"), (B, "9")))
        rs.update("Patient", "lee", _patient("lee", (A, "2")))
        rs.update("Patient", "twin", _patient("twin", (A, "2")))
        rs.update("Patient", "gone", _patient("gone", (A, "3")))
        rs.update("Encounter", "e1", {"resourceType": "Encounter", "id": "e1",
                                      "status": "planned", "identifier": [{"system": A, "value": "1"}],
                                      "class": {"code": "AMB"}})  # fmt: skip
    with records.begin(SERVICE, "delete") as rs:
        rs.delete("Patient", "gone")
    pairs = [(A, "1"), (A, "2"), (A, "3"), (B, "9"), (B, "1"), (A, "4")]
    with records.begin(SERVICE, "look up") as rs:
        found = rs.s.find_tokens("Patient", "identifier", pairs)
        by_search = {
            pair: {v.id for v in rs.s.search(parse_search(
                "Patient", parse_qsl(f"identifier={pair[0]}|{pair[1]}")), None).matches}
            for pair in pairs
        }  # fmt: skip
    by_lookup = {pair: {v.id for s, c, v in found if (s, c) == pair} for pair in pairs}
    assert by_lookup == by_search
    assert by_lookup[(A, "2")] == {"lee", "twin"} and by_lookup[(A, "3")] == set()
    assert all(v.resource_type == "Patient" and not v.deleted for _, _, v in found)
