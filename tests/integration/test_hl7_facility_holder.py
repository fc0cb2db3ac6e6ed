"""What a registered hospital sends over HL7 v2 is held by that hospital: its clinicians
read it back under the consent rules, another hospital's do not (without a share), and an
unregistered sender's records are filed under no facility.  On every backend."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from khealth.access.consent import FACILITY_SOURCE
from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.fhir.search_parse import parse_search
from khealth.ingest.hl7v2.sealing import Sealer
from khealth.ingest.hl7v2.service import Hl7Feed
from khealth.records.service import Records
from khealth.store.feeds_sql import feed_ledger_for
from tests import hl7_messages as m
from tests.support import system_context

pytestmark = pytest.mark.integration
OID = "1.2.410.200.1"  # MSH-4 universal id of tests.hl7_messages


@pytest.fixture
def feed(records: Records) -> Hl7Feed:
    return Hl7Feed(records, feed_ledger_for(records.store), b"k" * 32, Sealer(b"s" * 32),
                   records.clock)  # fmt: skip


def register(records: Records, id: str, system: str, value: str) -> None:
    with records.begin(system_context(), "test") as rs:
        rs.update("Organization", id, {"resourceType": "Organization", "id": id, "name": id,
                                       "identifier": [{"system": system, "value": value}]})  # fmt: skip


def clinician(facility: str) -> AccessContext:
    return AccessContext(f"doc-{facility}", Role.CLINICIAN, parse_scopes("user/*.rs"),
                         facility=facility)  # fmt: skip


def found(records: Records, ctx: AccessContext, resource_type: str) -> list[dict[str, Any]]:
    with records.begin(ctx, "search") as rs:
        page = rs.search(parse_search(resource_type, [("_count", "100")])).page
    return [orjson.loads(v.content) for v in page.matches]


def test_a_registered_senders_records_are_held_by_it_and_read_by_its_clinicians(
    feed: Hl7Feed, records: Records
) -> None:
    register(records, "org-gjh", "urn:ietf:rfc:3986", f"urn:oid:{OID}")
    register(records, "org-other", "urn:ietf:rfc:3986", "urn:oid:1.2.410.200.2")
    assert all(a.startswith(b"MSH") and b"|AA|" in a for a in feed.handle_many(
        [m.adt("A01", "H1"), m.oru("H2"), m.rde("H3")]))  # fmt: skip
    written = [r for t in ("Patient", "Encounter", "Observation", "DiagnosticReport",
                           "MedicationRequest", "Provenance")
               for r in found(records, system_context(), t)]  # fmt: skip
    assert len(written) > 6
    assert {r["meta"].get("source") for r in written} == {FACILITY_SOURCE + "org-gjh"}
    (encounter,) = found(records, system_context(), "Encounter")
    assert encounter["serviceProvider"] == {"reference": "Organization/org-gjh"}
    provenance = found(records, system_context(), "Provenance")[0]
    assert provenance["agent"][0]["who"]["reference"] == "Organization/org-gjh"

    own = clinician("org-gjh")
    assert len(found(records, own, "Observation")) == len(
        found(records, system_context(), "Observation")
    )
    assert found(records, own, "Patient") and found(records, own, "Encounter")
    assert found(records, clinician("org-other"), "Observation") == []


def test_the_merge_keeps_the_holder_of_both_records(feed: Hl7Feed, records: Records) -> None:
    register(records, "org-gjh", "urn:ietf:rfc:3986", f"urn:oid:{OID}")
    feed.handle_many([m.adt("A01", "M1", mrn="OLD"), m.adt("A01", "M2", mrn="NEW", visit="V2")])
    feed.handle(m.merge("M3", survivor="NEW", old="OLD"))
    feed.handle(m.merge("M4", survivor="NEW", old="NEVER-SEEN"))
    patients = found(records, system_context(), "Patient")
    assert len(patients) == 3
    assert {p["meta"].get("source") for p in patients} == {FACILITY_SOURCE + "org-gjh"}
    assert sum(not p.get("active", True) for p in patients) == 2


def test_an_unregistered_or_ambiguous_sender_is_filed_under_no_facility(
    feed: Hl7Feed, records: Records
) -> None:
    feed.handle(m.adt("A01", "U1"))
    register(records, "org-a", "http://example.org/a", OID)
    register(records, "org-b", "http://example.org/b", OID)  # two claim the same number
    feed.directory = type(feed.directory)(records.clock)  # not remembered from U1
    feed.handle(m.oru("U2"))
    written = [r for t in ("Patient", "Observation", "Provenance")
               for r in found(records, system_context(), t)]  # fmt: skip
    assert written and all("source" not in r.get("meta", {}) for r in written)
    assert found(records, clinician("org-a"), "Observation") == []
