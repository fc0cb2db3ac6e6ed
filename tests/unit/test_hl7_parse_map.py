"""HL7 v2 parsing and mapping to FHIR (khealth.ingest.hl7v2), through the record service
over the in-memory store; one test scans an SQLite file for the plain resident number."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from khealth.access.context import AccessContext, Role
from khealth.access.rrn import (
    RRN_TOKEN_SYSTEM,
    load_or_create_rrn_key,
    looks_like_rrn,
    tokenise_rrn,
)
from khealth.access.scopes import parse_scopes
from khealth.fhir.search_parse import parse_search
from khealth.ingest.hl7v2.errors import Hl7Error
from khealth.ingest.hl7v2.message import Delimiters, escape, parse, unescape
from khealth.ingest.hl7v2.sealing import Sealer
from khealth.ingest.hl7v2.service import Hl7Feed
from khealth.records.service import Records
from khealth.store.factory import open_store
from khealth.store.feeds_sql import feed_ledger_for
from khealth.store.memory import MemoryStore
from tests import hl7_messages as m
from tests.conftest import shared_data
from tests.support import FrozenClock

pytestmark = pytest.mark.unit
KEY = b"k" * 32
READER = AccessContext("test", Role.SERVICE, parse_scopes("system/*.rs"))


def make_feed(store: Any = None) -> tuple[Hl7Feed, Records]:
    store = store or MemoryStore()
    records = Records(store, FrozenClock())
    return Hl7Feed(records, feed_ledger_for(store), KEY, Sealer(b"s" * 32), records.clock), records


def ack_of(ack: bytes) -> tuple[str, str, str, str]:
    """(MSA-1, MSA-2, ERR-2, ERR-3 code)."""
    message = parse(ack)
    msa, err = message.first("MSA"), message.first("ERR")
    assert msa is not None
    location = err.raw_field(2) if err else ""
    return msa.get(1), msa.get(2), location, err.get(3) if err else ""


def search(records: Records, resource_type: str, **params: str) -> list[dict[str, Any]]:
    with records.begin(READER, "test") as rs:
        page = rs.search(parse_search(resource_type, list(params.items()))).page
    return [orjson.loads(v.content) for v in page.matches]


# -- parsing ------------------------------------------------------------------------------
def test_it_reads_delimiters_from_msh_1_and_2() -> None:
    raw = b"MSH#$%*@#APP#FAC#####ADT$A01#C1#P#2.5\rPID#1##A$B@C%D"
    message = parse(raw)
    assert message.msh.get(1) == "#" and message.msh.get(2) == "$%*@"
    pid = message.first("PID")
    assert pid is not None
    assert pid.get(3, 1) == "A" and pid.get(3, 2, 1) == "B" and pid.get(3, 2, 2) == "C"
    assert pid.get(3, 1, rep=2) == "D"
    assert message.message_type[:2] == ("ADT", "A01")


def test_it_undoes_every_escape_sequence_after_splitting() -> None:
    d = Delimiters()
    assert unescape(r"a\F\b\S\c\T\d\R\e\E\f", d) == "a|b^c&d~e\\f"
    assert unescape("line\\.br\\next \\H\\bold\\N\\ \\X48\\", d) == "line\nnext bold H"
    raw = b"MSH|^~\\&|A|F|||20260101||ADT^A01|1|P|2.5\rNTE|1||x\\F\\y^z\\S\\w"
    nte = parse(raw).first("NTE")
    assert nte is not None and nte.get(3, 1) == "x|y" and nte.get(3, 2) == "z^w"
    assert unescape(escape("a|b^c&d~e\\f"), d) == "a|b^c&d~e\\f"


def test_it_keeps_korean_utf8_text_exactly() -> None:
    feed, records = make_feed()
    ack = feed.handle(m.adt("A01", "K1", name="남궁^민수"))
    assert ack_of(ack)[0] == "AA"
    (patient,) = search(records, "Patient")
    assert patient["name"][0] == {"use": "official", "family": "남궁", "given": ["민수"]}
    assert patient["address"][0]["city"] == "광주"
    assert parse(m.adt("A01", "K1")).charset == "UNICODE UTF-8"


def test_it_rejects_bytes_that_are_not_in_the_declared_charset() -> None:
    raw = m.adt("A01", "K2").replace("홍".encode(), b"\xff\xfe")
    with pytest.raises(Hl7Error) as caught:
        parse(raw)
    assert caught.value.ack == "AR" and caught.value.location == "MSH^1^18"


def test_it_refuses_a_message_without_msh() -> None:
    with pytest.raises(Hl7Error) as caught:
        parse(b"PID|1||X")
    assert caught.value.location == "MSH^1"


# -- resident registration numbers -------------------------------------------------------
def test_rrn_shapes_and_tokens() -> None:
    assert looks_like_rrn("900101-1234567") and looks_like_rrn("9001011234567")
    assert not looks_like_rrn("MRN001") and not looks_like_rrn("123-45-6789")
    assert tokenise_rrn("900101-1234567", KEY) == tokenise_rrn("9001011234567", KEY)
    assert tokenise_rrn("900101-1234567", KEY) != tokenise_rrn("900101-1234567", b"x" * 32)


def test_the_rrn_key_is_made_once_with_mode_600(tmp_path: Path) -> None:
    key = load_or_create_rrn_key(tmp_path)
    assert load_or_create_rrn_key(tmp_path) == key and len(key) == 32
    assert (tmp_path / "rrn-hmac.key").stat().st_mode & 0o777 == 0o600


def test_the_plain_resident_number_is_in_no_stored_byte(tmp_path: Path) -> None:
    path = tmp_path / "feed.db"
    template = tmp_path / "template.db"
    open_store(f"sqlite:///{template}", migrate=True).close()
    shutil.copy(template, path)
    store = open_store(f"sqlite:///{path}")
    feed, records = make_feed(store)
    for ack in feed.handle_many(
        [m.adt("A01", "R1"), m.oru("R2"), m.rde("R3"), m.adt("A99", "R4")]
    ):  # fmt: skip  (A99: a dead letter)
        assert ack_of(ack)[0] in ("AA", "AR")
    (patient,) = search(records, "Patient")
    token = tokenise_rrn(m.RRN, KEY)
    assert {"system": RRN_TOKEN_SYSTEM, "value": token} in patient["identifier"]
    store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("feed.db*"))
    for form in (m.RRN, m.RRN_DIGITS, "1234567"):
        assert form.encode() not in stored, form
    assert token.encode() in stored


# -- ADT ---------------------------------------------------------------------------------
def test_a01_maps_pid_to_patient_and_pv1_to_an_in_progress_encounter() -> None:
    feed, records = make_feed()
    assert ack_of(feed.handle(m.adt("A01", "A1")))[:2] == ("AA", "A1")
    (patient,) = search(records, "Patient")
    mrn = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "MR"}]},
           "system": "urn:khealth:hl7v2:1.2.410.200.1:authority:GJH", "value": "MRN001"}  # fmt: skip
    assert patient["identifier"][0] == mrn
    assert patient["gender"] == "male" and patient["birthDate"] == "1990-01-01"
    assert patient["address"][0]["line"] == ["금남로 1", "101동"]
    assert patient["address"][0]["postalCode"] == "61475" and patient["address"][0]["use"] == "home"
    assert {"system": "phone", "value": "010-1234-5678", "use": "mobile"} in patient["telecom"]
    (encounter,) = search(records, "Encounter")
    assert encounter["status"] == "in-progress"
    assert encounter["class"]["code"] == "IMP"
    assert encounter["subject"]["reference"] == f"Patient/{patient['id']}"
    assert encounter["period"] == {"start": "2026-11-29T08:00:00+09:00"}
    assert encounter["participant"][0]["individual"]["display"] == "Dr 의사 김"
    assert encounter["location"][0]["location"]["display"] == "GJH / W3 / 301 / 2"
    (provenance,) = search(records, "Provenance")
    assert provenance["agent"][0]["who"]["identifier"]["value"] == "1.2.410.200.1"
    assert provenance["entity"][0]["what"]["identifier"]["value"] == "A1"
    digest = hashlib.sha256(m.adt("A01", "A1")).hexdigest()
    assert provenance["entity"][1]["what"]["identifier"]["value"] == digest
    assert len(provenance["target"]) == 2


@pytest.mark.parametrize(
    ("event", "status", "patient_class", "klass"),
    [("A02", "in-progress", "I", "IMP"), ("A03", "finished", "I", "IMP"),
     ("A04", "arrived", "O", "AMB"), ("A05", "planned", "P", "PRENC"),
     ("A08", "in-progress", "E", "EMER"), ("A11", "cancelled", "I", "IMP"),
     ("A13", "in-progress", "I", "IMP")],
)  # fmt: skip
def test_each_adt_event_sets_the_encounter_status(
    event: str, status: str, patient_class: str, klass: str
) -> None:
    feed, records = make_feed()
    discharge = "20261130100000+0900" if event == "A03" else ""
    ack = feed.handle(m.adt(event, f"E-{event}", patient_class=patient_class, discharge=discharge))
    assert ack_of(ack)[0] == "AA"
    (encounter,) = search(records, "Encounter")
    assert encounter["status"] == status and encounter["class"]["code"] == klass
    if event == "A03":
        assert encounter["period"]["end"] == "2026-11-30T10:00:00+09:00"


def test_admit_then_discharge_then_cancel_discharge_is_one_encounter() -> None:
    feed, records = make_feed()
    feed.handle(m.adt("A01", "S1"))
    feed.handle(m.adt("A03", "S2", discharge="20261130100000+0900"))
    assert [e["status"] for e in search(records, "Encounter")] == ["finished"]
    feed.handle(m.adt("A13", "S3"))
    (encounter,) = search(records, "Encounter")
    assert encounter["status"] == "in-progress" and "end" not in encounter["period"]
    assert len(search(records, "Patient")) == 1


@pytest.mark.parametrize("event", ["A28", "A31"])
def test_person_events_write_only_the_patient(event: str) -> None:
    feed, records = make_feed()
    assert ack_of(feed.handle(m.adt(event, f"P-{event}")))[0] == "AA"
    assert len(search(records, "Patient")) == 1 and search(records, "Encounter") == []


def test_a40_links_the_patients_and_keeps_the_old_one_inactive() -> None:
    feed, records = make_feed()
    feed.handle(m.adt("A01", "M1", mrn="OLD1", name="김^철수"))
    feed.handle(m.adt("A01", "M2", mrn="NEW1", visit="V200"))
    assert ack_of(feed.handle(m.merge("M3", survivor="NEW1", old="OLD1")))[0] == "AA"
    by_mrn = {p["identifier"][0]["value"]: p for p in search(records, "Patient")}
    old, new = by_mrn["OLD1"], by_mrn["NEW1"]
    assert old["active"] is False and old["name"][0]["family"] == "김"
    assert old["link"] == [{"other": {"reference": f"Patient/{new['id']}"}, "type": "replaced-by"}]
    assert new["link"] == [{"other": {"reference": f"Patient/{old['id']}"}, "type": "replaces"}]


def test_a40_for_an_unknown_old_number_leaves_an_inactive_stub() -> None:
    feed, records = make_feed()
    assert ack_of(feed.handle(m.merge("M9", survivor="NEW2", old="GONE")))[0] == "AA"
    by_mrn = {p["identifier"][0]["value"]: p for p in search(records, "Patient")}
    assert by_mrn["GONE"]["active"] is False
    assert by_mrn["GONE"]["link"][0]["type"] == "replaced-by"


# -- ORU ---------------------------------------------------------------------------------
def test_oru_maps_obr_to_a_report_and_each_obx_value_type() -> None:
    feed, records = make_feed()
    assert ack_of(feed.handle(m.oru("O1")))[0] == "AA"
    (report,) = search(records, "DiagnosticReport")
    assert report["status"] == "final" and report["code"]["coding"][0]["code"] == "24331-1"
    assert report["identifier"][0]["value"] == "F200" and len(report["result"]) == 7
    by_code = {o["code"]["coding"][0]["code"]: o for o in search(records, "Observation")}
    glucose = by_code["2345-7"]
    assert glucose["valueQuantity"] == {"value": 182, "unit": "mg/dL",
                                        "system": "http://unitsofmeasure.org", "code": "mg/dL"}  # fmt: skip
    assert glucose["referenceRange"][0]["low"]["value"] == 70
    assert glucose["referenceRange"][0]["high"]["value"] == 105
    assert glucose["interpretation"][0]["coding"][0]["code"] == "H"
    assert glucose["note"] == [{"text": "fasting 12 hours"}]
    assert glucose["effectiveDateTime"] == "2026-11-29T07:00:00+09:00"
    assert by_code["8251-1"]["valueString"] == "hemolysed & repeated"
    culture = by_code["600-7"]
    assert culture["valueCodeableConcept"]["coding"][0] == {
        "system": "http://snomed.info/sct", "code": "112283007", "display": "E. coli"}  # fmt: skip
    assert culture["status"] == "corrected"
    creatinine = by_code["2160-0"]
    assert creatinine["valueQuantity"]["comparator"] == "<"
    assert creatinine["status"] == "preliminary"
    assert by_code["5048-4"]["valueRatio"] == {"numerator": {"value": 1},
                                               "denominator": {"value": 128}}  # fmt: skip
    assert by_code["11778-8"]["valueDateTime"] == "2027-03-01"
    assert by_code["1751-7"]["valueRange"]["high"]["value"] == 5.0


def test_a_corrected_result_updates_the_same_observation() -> None:
    feed, records = make_feed()
    feed.handle(m.oru("C1", glucose="182"))
    feed.handle(m.oru("C2", glucose="150"))
    glucose = [
        o for o in search(records, "Observation") if o["code"]["coding"][0]["code"] == "2345-7"
    ]
    assert len(glucose) == 1 and glucose[0]["valueQuantity"]["value"] == 150
    assert glucose[0]["meta"]["versionId"] == "2"


def test_a_bad_numeric_value_is_an_ae_naming_obx_5() -> None:
    feed, records = make_feed()
    raw = m.oru("B1").replace(b"||182|", b"||lots|")
    code, control, location, condition = ack_of(feed.handle(raw))
    assert (code, control, location, condition) == ("AE", "B1", "OBX^1^5", "102")
    assert search(records, "Observation") == [] and search(records, "Patient") == []
    (letter,) = feed.ledger.dead_letters(10, False)
    assert letter.error.startswith("OBX^1^5") and "lots" not in letter.error


# -- RDE ---------------------------------------------------------------------------------
def test_rde_maps_to_a_medication_request() -> None:
    feed, records = make_feed()
    assert ack_of(feed.handle(m.rde("D1")))[0] == "AA"
    (request,) = search(records, "MedicationRequest")
    assert request["status"] == "active" and request["intent"] == "order"
    assert request["medicationCodeableConcept"]["coding"][0]["code"] == "642040490"
    assert request["identifier"][0]["value"] == "ORD777"
    assert request["authoredOn"] == "2026-11-29T10:00:00+09:00"
    dosage = request["dosageInstruction"][0]
    assert dosage["text"] == "take with meals" and dosage["route"]["coding"][0]["code"] == "PO"
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 500
    assert request["dispenseRequest"] == {"numberOfRepeatsAllowed": 2,
                                          "quantity": {"value": 60, "unit": "tablet"}}  # fmt: skip
    assert request["requester"]["display"] == "Dr 의사 김"


# -- refusals and repeats -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "code", "location", "condition"),
    [(m.adt("A06", "U1"), "AR", "MSH^1^9", "201"),
     (m.adt("A01", "U2").replace(b"ADT^A01", b"SIU^S12"), "AR", "MSH^1^9", "200"),
     (m.adt("A01", "U3").replace(b"|U3|", b"||"), "AR", "MSH^1^10", "101"),
     (m.adt("A01", "U4").replace(b"|I|W3", b"||W3"), "AE", "PV1^1^2", "101"),
     (m.adt("A01", "U5").replace(b"|19900101|", b"|1990x|"), "AE", "PID^1^7", "102")],
)  # fmt: skip
def test_refusals_name_the_segment_and_field(
    raw: bytes, code: str, location: str, condition: str
) -> None:
    feed, records = make_feed()
    got = ack_of(feed.handle(raw))
    assert (got[0], got[2], got[3]) == (code, location, condition)
    assert search(records, "Patient") == []


def test_a_repeated_control_id_is_acknowledged_but_applied_once() -> None:
    feed, records = make_feed()
    first, again, same_batch = feed.handle_many([m.oru("X1"), m.oru("X1"), m.oru("X1")])
    assert [ack_of(a)[:2] for a in (first, again, same_batch)] == [("AA", "X1")] * 3
    assert ack_of(feed.handle(m.oru("X1")))[0] == "AA"
    assert len(search(records, "Provenance")) == 1
    (glucose,) = [o for o in search(records, "Observation") if "valueQuantity" in o
                  and o["code"]["coding"][0]["code"] == "2345-7"]  # fmt: skip
    assert glucose["meta"]["versionId"] == "1"


def test_the_ack_mirrors_the_original_header() -> None:
    feed, _ = make_feed()
    ack = parse(feed.handle(m.adt("A01", "H1")))
    assert ack.msh.get(3) == "KHEALTH" and ack.msh.get(4) == "GWANGJU"
    assert ack.msh.get(5) == "EMR" and ack.msh.get(6, 2) == "1.2.410.200.1"
    assert ack.msh.get(9) == "ACK" and ack.msh.get(9, 2) == "A01" and ack.msh.get(12) == "2.5.1"
    assert ack.charset == "UNICODE UTF-8"


def test_a_dead_letter_replays_once_its_cause_is_fixed() -> None:
    feed, _records = make_feed()
    code, *_ = ack_of(feed.handle(m.adt("A01", "Z1").replace(b"|19900101|", b"|1990x|")))
    assert code == "AE"
    (letter,) = feed.ledger.dead_letters(10, False)
    assert b"1990x" not in letter.sealed and b"MRN001" not in letter.sealed
    assert feed.replay(letter.id)[0] is False  # still bad
    assert feed.ledger.dead_letters(10, False)[0].state == "new"


# -- the public samples ------------------------------------------------------------------
def test_every_public_sample_is_mapped_or_refused_clearly() -> None:
    folder = shared_data("hl7v2")
    feed, _records = make_feed()
    codes: dict[str, str] = {}
    for path in sorted(folder.glob("*.hl7")):
        code, _, location, _ = ack_of(feed.handle(path.read_bytes()))
        codes[path.name] = code
        assert code == "AA" or location, path.name
    accepted = {n for n, c in codes.items() if c == "AA"}
    for name in ("ADT-A01-01.hl7", "ADT-A03-01.hl7", "ADT-A40-01.hl7", "LAB-ORU-1.hl7",
                 "ORU-R01-RMGEAD.hl7", "RDE-O11-01.hl7", "RDE-O25-01.hl7"):  # fmt: skip
        assert name in accepted
    assert codes["SIU-S12-01.hl7"] == "AR" and codes["MDM-T01-01.hl7"] == "AR"
    assert len(accepted) >= 35
