"""Search semantics, one table, every backend (memory, SQLite, PostgreSQL).

Each row is a query string and the ids it must return, in order when the query sorts.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from khealth.fhir.search_parse import parse_search
from khealth.records.service import Records
from tests.support import system_context

pytestmark = pytest.mark.spec

PATIENTS = [
    {"resourceType": "Patient", "id": "kim", "gender": "female", "birthDate": "1959-03-14",
     "name": [{"family": "김", "given": ["민지"], "text": "김민지"}],
     "identifier": [{"system": "urn:oid:1.2.410.100.1", "value": "MRN-001"}],
     "telecom": [{"system": "phone", "value": "010-0000-0001"}],
     "address": [{"city": "광주광역시", "district": "북구"}],
     "meta": {"tag": [{"system": "http://khealth.example/tags", "code": "demo"}]}},
    {"resourceType": "Patient", "id": "lee", "gender": "male", "birthDate": "1984-11",
     "name": [{"family": "이", "given": ["준호"]}], "active": True,
     "identifier": [{"system": "urn:oid:1.2.410.100.2", "value": "MRN-002"}],
     "generalPractitioner": [{"reference": "Practitioner/doc"}]},
    {"resourceType": "Patient", "id": "muller", "gender": "other", "birthDate": "2001-01-01",
     "name": [{"family": "Müller", "given": ["Zoë"]}], "deceasedDateTime": "2020-05-01"},
]  # fmt: skip
PRACTITIONER = {"resourceType": "Practitioner", "id": "doc", "name": [{"family": "박"}]}


def _obs(id: str, patient: str, code: str, value: float, when: str, unit: str = "mmHg") -> dict:
    return {
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": "측정"},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }  # fmt: skip


BP = {
    "resourceType": "Observation", "id": "bp1", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "subject": {"reference": "Patient/lee"}, "effectiveDateTime": "2026-01-10T09:30:00+09:00",
    "component": [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": 150, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": 95, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    ],
}  # fmt: skip

OBSERVATIONS = [
    _obs("glu1", "kim", "2345-7", 99, "2025-03-01"),
    _obs("glu2", "kim", "2345-7", 126.5, "2026-03-01T08:00:00Z", "mg/dL"),
    _obs("wt1", "lee", "29463-7", 72.4, "2024-12-31T23:59:59+09:00", "kg"),
    BP,
]
ENCOUNTER = {
    "resourceType": "Encounter", "id": "enc1", "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
    "subject": {"reference": "Patient/kim"},
    "period": {"start": "2026-02-01T10:00:00Z", "end": "2026-02-03T10:00:00Z"},
}  # fmt: skip


@pytest.fixture
def loaded(records: Records) -> Records:
    with records.begin(system_context(), "load") as rs:
        for resource in [PRACTITIONER, *PATIENTS, *OBSERVATIONS, ENCOUNTER]:
            rs.update(resource["resourceType"], resource["id"], resource)
    return records


CASES = [
    # token
    ("Patient", "gender=female", ["kim"]),
    ("Patient", "gender=female,male", ["kim", "lee"]),
    ("Patient", "gender:not=female", ["lee", "muller"]),
    ("Patient", "identifier=urn:oid:1.2.410.100.1|MRN-001", ["kim"]),
    ("Patient", "identifier=MRN-002", ["lee"]),
    ("Patient", "identifier=urn:oid:1.2.410.100.2|", ["lee"]),
    ("Patient", "identifier=|MRN-002", []),
    ("Patient", "active=true", ["lee"]),
    ("Patient", "phone=010-0000-0001", ["kim"]),
    ("Patient", "_tag=http://khealth.example/tags|demo", ["kim"]),
    ("Patient", "_id=kim,muller", ["kim", "muller"]),
    ("Observation", "code=http://loinc.org|2345-7", ["glu1", "glu2"]),
    # many codes of one system (one IN list in SQL), with others beside them
    (
        "Observation",
        "code=http://loinc.org|2345-7,http://loinc.org|29463-7",
        ["glu1", "glu2", "wt1"],
    ),
    (
        "Observation",
        "code=http://loinc.org|2345-7,http://loinc.org|0-0,85354-9",
        ["glu1", "glu2", "bp1"],
    ),
    ("Observation", "code=http://loinc.org|2345-7,http://snomed.info/sct|2345-7", ["glu1", "glu2"]),
    ("Observation", "code:not=http://loinc.org|2345-7,http://loinc.org|29463-7", ["bp1"]),
    ("Observation", "code:text=측정", ["glu1", "glu2", "wt1"]),
    # string: prefix, case and accent insensitive; Hangul syllables stay whole
    ("Patient", "family=김", ["kim"]),
    ("Patient", "name=준", ["lee"]),
    ("Patient", "name=mul", ["muller"]),
    ("Patient", "name=MÜLLER", ["muller"]),
    ("Patient", "name:exact=Müller", ["muller"]),
    ("Patient", "name:exact=müller", []),
    ("Patient", "name:contains=ll", ["muller"]),
    ("Patient", "address-city=광주", ["kim"]),
    # date: precision ranges and prefixes
    ("Patient", "birthdate=1959", ["kim"]),
    ("Patient", "birthdate=1984-11-20", []),
    ("Patient", "birthdate=ge1984-11-20", ["lee", "muller"]),
    ("Patient", "birthdate=lt1984", ["kim"]),
    ("Patient", "birthdate=sa1984-12-31", ["muller"]),
    ("Patient", "birthdate=eb1984-11", ["kim"]),
    ("Patient", "death-date=2020", ["muller"]),
    ("Observation", "date=2024-12-31", ["wt1"]),
    ("Observation", "date=2026-01-10", ["bp1"]),
    ("Encounter", "date=2026-02-02", []),
    ("Encounter", "date=ge2026-02-02", ["enc1"]),
    ("Encounter", "date=le2026-02-02", ["enc1"]),
    ("Encounter", "date=gt2026-02-03T10:00:00Z", []),
    ("Observation", "date=ge2026&date=lt2026-02", ["bp1"]),
    # quantity
    ("Observation", "value-quantity=99", ["glu1"]),
    ("Observation", "value-quantity=gt100", ["glu2"]),
    ("Observation", "value-quantity=126.5||mg/dL", ["glu2"]),
    ("Observation", "value-quantity=lt100|http://unitsofmeasure.org|kg", ["wt1"]),
    ("Observation", "value-quantity=ap72", ["wt1"]),
    # composite: the pair must come from the same component
    ("Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt140", ["bp1"]),
    ("Observation", "component-code-value-quantity=http://loinc.org|8462-4$gt140", []),
    # reference, chain, reverse chain
    ("Observation", "subject=Patient/kim", ["glu1", "glu2"]),
    ("Observation", "subject=kim", ["glu1", "glu2"]),
    ("Observation", "patient=lee", ["wt1", "bp1"]),
    ("Observation", "subject:Patient.gender=male", ["wt1", "bp1"]),
    ("Observation", "subject:Patient.general-practitioner:Practitioner.family=박", ["wt1", "bp1"]),
    ("Patient", "_has:Observation:subject:code=2345-7", ["kim"]),
    ("Patient", "_has:Encounter:subject:class=EMER", ["kim"]),
    # missing
    ("Patient", "deceased=true", ["muller"]),
    ("Patient", "deceased=false", ["kim", "lee"]),
    ("Patient", "death-date:missing=false", ["muller"]),
    ("Patient", "general-practitioner:missing=true", ["kim", "muller"]),
    # sort
    ("Patient", "_sort=birthdate", ["kim", "lee", "muller"]),
    ("Patient", "_sort=-birthdate", ["muller", "lee", "kim"]),
    ("Observation", "_sort=-date&code=2345-7", ["glu2", "glu1"]),
    ("Patient", "_sort=family,-_id", ["muller", "kim", "lee"]),  # Latin sorts before Hangul
]


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"), CASES, ids=[f"{t}?{q}" for t, q, _ in CASES]
)
def test_search_returns_exactly_the_matching_resources(
    loaded: Records, resource_type: str, query: str, expected: list[str]
) -> None:
    parsed = parse_search(resource_type, parse_qsl(query))
    with loaded.begin(system_context(), "search") as rs:
        result = rs.search(parsed)
    found = [m.id for m in result.page.matches]
    if parsed.sort:
        assert found == expected
    else:
        assert sorted(found) == sorted(expected)


def test_paging_is_stable_while_resources_are_created(loaded: Records) -> None:
    first = parse_search("Patient", [("_count", "2")])
    with loaded.begin(system_context(), "search") as rs:
        page1 = rs.search(first).page
    with loaded.begin(system_context(), "create") as rs:
        rs.update("Patient", "newcomer", {"resourceType": "Patient", "id": "newcomer"})
    second = parse_search(
        "Patient", [("_count", "2"), ("_offset", "2"), ("_snapshot", str(page1.snapshot))]
    )
    with loaded.begin(system_context(), "search") as rs:
        page2 = rs.search(second).page
    ids = [m.id for m in page1.matches + page2.matches]
    assert sorted(ids) == ["kim", "lee", "muller"]


def test_total_accurate_counts_every_match_not_just_the_page(loaded: Records) -> None:
    parsed = parse_search("Observation", [("_count", "1"), ("_total", "accurate")])
    with loaded.begin(system_context(), "search") as rs:
        page = rs.search(parsed).page
    assert page.total == 4
    assert len(page.matches) == 1


def test_include_and_revinclude_bring_the_related_resources(loaded: Records) -> None:
    parsed = parse_search(
        "Patient",
        [
            ("_id", "kim"),
            ("_revinclude", "Observation:subject"),
            ("_revinclude", "Encounter:subject"),
        ],
    )
    with loaded.begin(system_context(), "search") as rs:
        result = rs.search(parsed)
    assert [m.id for m in result.page.matches] == ["kim"]
    assert {(i.resource_type, i.id) for i in result.included} == {
        ("Observation", "glu1"),
        ("Observation", "glu2"),
        ("Encounter", "enc1"),
    }


def test_include_iterate_follows_the_included_resources(loaded: Records) -> None:
    plain = parse_search("Observation", [("code", "2345-7"), ("_include", "Observation:subject")])
    iterate = parse_search(
        "Observation",
        [
            ("code", "2345-7"),
            ("_include", "Observation:subject"),
            ("_revinclude:iterate", "Encounter:subject"),
        ],
    )
    with loaded.begin(system_context(), "search") as rs:
        once = rs.search(plain)
        twice = rs.search(iterate)
    assert {(i.resource_type, i.id) for i in once.included} == {("Patient", "kim")}
    assert {(i.resource_type, i.id) for i in twice.included} == {
        ("Patient", "kim"),
        ("Encounter", "enc1"),
    }


def test_a_deleted_resource_no_longer_matches(loaded: Records) -> None:
    with loaded.begin(system_context(), "delete") as rs:
        rs.delete("Observation", "glu1")
    with loaded.begin(system_context(), "search") as rs:
        result = rs.search(parse_search("Observation", [("code", "2345-7")]))
    assert [m.id for m in result.page.matches] == ["glu2"]


def test_an_update_reindexes_the_resource(loaded: Records) -> None:
    changed = {**PATIENTS[0], "gender": "male"}
    with loaded.begin(system_context(), "update") as rs:
        rs.update("Patient", "kim", changed)
    with loaded.begin(system_context(), "search") as rs:
        male = rs.search(parse_search("Patient", [("gender", "male")]))
    assert sorted(m.id for m in male.page.matches) == ["kim", "lee"]
