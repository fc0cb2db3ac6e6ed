"""The HL7 v2 feed's group commit on every backend: many messages in one transaction, each
applied as a transaction of its own (``records.conditional_group``), as a sender sees it
through the ACKs and as a reader finds it in the record."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from khealth.fhir.search_parse import parse_search
from khealth.ingest.hl7v2.message import parse
from khealth.ingest.hl7v2.sealing import Sealer
from khealth.ingest.hl7v2.service import Hl7Feed
from khealth.records.service import Records
from khealth.store.feeds_sql import feed_ledger_for
from tests import hl7_messages as m
from tests.support import system_context

pytestmark = pytest.mark.integration
KEY = b"k" * 32


@pytest.fixture
def feed(records: Records) -> Hl7Feed:
    return Hl7Feed(records, feed_ledger_for(records.store), KEY, Sealer(b"s" * 32), records.clock)


def acks(feed: Hl7Feed, *raws: bytes) -> list[tuple[str, str, str]]:
    """(MSA-1, MSA-2, ERR-2) of each message, all sent as one group."""
    found = []
    for ack in feed.handle_many(raws):
        message = parse(ack)
        msa, err = message.first("MSA"), message.first("ERR")
        assert msa is not None
        found.append((msa.get(1), msa.get(2), err.raw_field(2) if err else ""))
    return found


def search(records: Records, resource_type: str, query: str = "") -> list[dict[str, Any]]:
    params = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    with records.begin(system_context(), "test") as rs:
        page = rs.search(parse_search(resource_type, [*params, ("_count", "1000")])).page  # type: ignore[list-item]
    return [orjson.loads(v.content) for v in page.matches]


def mrn_of(patient: dict[str, Any]) -> str:
    return str(patient["identifier"][0]["value"])


def test_messages_about_one_new_patient_in_one_group_make_one_patient(
    feed: Hl7Feed, records: Records
) -> None:
    answered = acks(feed, m.adt("A01", "N1", mrn="NEW1"), m.oru("N2", mrn="NEW1"),
                    m.rde("N3", mrn="NEW1"), m.adt("A08", "N4", mrn="NEW1", name="홍^길순"))  # fmt: skip
    assert answered == [("AA", f"N{i}", "") for i in range(1, 5)]
    (patient,) = search(records, "Patient")
    assert patient["name"][0]["given"] == ["길순"] and patient["meta"]["versionId"] == "2"
    subject = {"reference": f"Patient/{patient['id']}"}
    assert {o["subject"]["reference"] for o in search(records, "Observation")} == {
        subject["reference"]
    }
    (order,) = search(records, "MedicationRequest")
    (encounter,) = search(records, "Encounter")
    assert order["subject"] == subject and encounter["subject"] == subject
    provenances = search(records, "Provenance")
    assert len(provenances) == 4
    assert all(subject in p["target"] for p in provenances)


def test_an_admit_and_a_discharge_in_one_group_are_two_versions_of_one_encounter(
    feed: Hl7Feed, records: Records
) -> None:
    answered = acks(feed, m.adt("A01", "S1"), m.adt("A03", "S2", discharge="20261130100000+0900"))
    assert [a[0] for a in answered] == ["AA", "AA"]
    (encounter,) = search(records, "Encounter")
    assert encounter["status"] == "finished" and encounter["meta"]["versionId"] == "2"
    with records.begin(system_context(), "test") as rs:
        versions, total = rs.history("Encounter", encounter["id"], None, 10, 0)
    assert total == 2 and [v.version for v in versions] == [2, 1]


def test_a_bad_message_in_a_group_gets_its_own_ae_and_leaves_nothing_behind(
    feed: Hl7Feed, records: Records
) -> None:
    bad = m.oru("G2", mrn="P2").replace(b"OBX|3|CWE|600-7^", b"OBX|3|CWE|600-7  x^")
    answered = acks(feed, m.adt("A01", "G1", mrn="P1"), bad, m.oru("G3", mrn="P1"),
                    m.adt("A01", "G4", mrn="P2", visit="V2"))  # fmt: skip
    assert answered == [("AA", "G1", ""), ("AE", "G2", "OBX^3"), ("AA", "G3", ""),
                        ("AA", "G4", "")]  # fmt: skip
    assert sorted(mrn_of(p) for p in search(records, "Patient")) == ["P1", "P2"]
    (p2,) = [p for p in search(records, "Patient") if mrn_of(p) == "P2"]
    assert p2["meta"]["versionId"] == "1"  # made once, by G4; nothing of G2
    assert len(search(records, "DiagnosticReport")) == 1
    assert len(search(records, "Provenance")) == 3
    (letter,) = feed.ledger.dead_letters(10, False)
    assert letter.control_id == "G2" and letter.error.startswith("OBX^3")
    assert [a[0] for a in acks(feed, m.oru("G3", mrn="P1"))] == ["AA"]  # a repeat, after all
    assert len(search(records, "Provenance")) == 3


def test_a_message_whose_patient_number_matches_two_patients_is_refused_alone(
    feed: Hl7Feed, records: Records
) -> None:
    acks(feed, m.adt("A01", "D0", mrn="TWIN"))
    (twin,) = search(records, "Patient")
    with records.begin(system_context(), "test") as rs:  # another record, same number
        rs.create({"resourceType": "Patient", "identifier": twin["identifier"][:1]})
    answered = acks(feed, m.adt("A01", "D1", mrn="ONE"), m.oru("D2", mrn="TWIN"),
                    m.oru("D3", mrn="ONE"))  # fmt: skip
    assert answered == [("AA", "D1", ""), ("AE", "D2", "PID^1"), ("AA", "D3", "")]
    assert len(search(records, "DiagnosticReport")) == 1


def test_a_merge_inside_a_group_is_seen_by_the_messages_after_it(
    feed: Hl7Feed, records: Records
) -> None:
    answered = acks(feed, m.adt("A01", "M1", mrn="OLD"), m.adt("A01", "M2", mrn="NEW", visit="V2"),
                    m.merge("M3", survivor="NEW", old="OLD"), m.oru("M4", mrn="NEW"),
                    m.adt("A08", "M5", mrn="NEW", visit="V2", name="김^새이름"))  # fmt: skip
    assert [a[0] for a in answered] == ["AA"] * 5
    by_mrn = {mrn_of(p): p for p in search(records, "Patient")}
    assert sorted(by_mrn) == ["NEW", "OLD"]
    old, new = by_mrn["OLD"], by_mrn["NEW"]
    assert old["active"] is False and old["link"][0]["type"] == "replaced-by"
    assert old["link"][0]["other"] == {"reference": f"Patient/{new['id']}"}
    # created by M2, linked by the merge, renamed by M5 (a full PID: the link is not in it)
    assert new["meta"]["versionId"] == "3" and new["name"][0]["given"] == ["새이름"]
    assert {o["subject"]["reference"] for o in search(records, "Observation")} == {
        f"Patient/{new['id']}"
    }


def test_every_patient_of_a_large_group_is_in_the_access_log(
    feed: Hl7Feed, records: Records
) -> None:
    """A group of 200 admissions is one audit event with 600 resources (more than an
    event lists); each patient still finds it in their access log."""
    raws = [m.adt("A01", f"L{i}", mrn=f"L{i}", visit=f"LV{i}") for i in range(200)]
    assert {a[0] for a in acks(feed, *raws)} == {"AA"}
    patients = search(records, "Patient")
    assert len(patients) == 200
    with records.store.session() as session:  # type: ignore[attr-defined]
        for patient in (patients[0], patients[-1]):
            events = [
                orjson.loads(e.content) for e in session.access_log([patient["id"]], None, 10)
            ]
            writers = [
                e for e in events if e["agent"][0]["who"]["identifier"]["value"] == "hl7v2-feed"
            ]
            assert len(writers) == 1


def test_a_merge_that_cannot_be_stored_sends_the_group_back_one_message_at_a_time(
    feed: Hl7Feed, records: Records
) -> None:
    """An A40 is applied outside the grouped path: when it fails, the group's transaction
    is rolled back and each message runs alone, so only the merge is refused."""
    merge = m.merge("F2", survivor="NEWX", old="OLDX").replace(b"NEWX^^^GJH^MR", b"NEWX^^^GJH^M  R")
    answered = acks(feed, m.adt("A01", "F1", mrn="KEEP"), merge, m.oru("F3", mrn="KEEP"))
    assert answered == [("AA", "F1", ""), ("AE", "F2", "PID^1"), ("AA", "F3", "")]
    assert [mrn_of(p) for p in search(records, "Patient")] == ["KEEP"]
    assert len(search(records, "Provenance")) == 2
