"""Consent enforced by the repository on every read path, and break-the-glass (issue 5,
parts 3 and 4), on every backend through the ``records`` fixture.

The city: Patient alice with records held by facility A (obs-a) and facility B (obs-b,
a hypertension Condition, a depression Condition, an HIV Condition, an Encounter whose
diagnosis displays the depression).  Personas as in tests/personas.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from khealth.access.context import AccessContext, PurposeOfUse, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import Forbidden, InvalidRequest
from khealth.fhir.search_model import TotalMode
from khealth.fhir.search_parse import parse_search
from khealth.records.break_glass import notifications, open_break_glass
from khealth.records.service import ExportScope, Records
from khealth.store.memory import MemoryStore
from khealth.store.schema import audit_log
from tests.consent_support import KCD8, consent, emergency_consent, label, permit_sensitive
from tests.personas import FACILITY_A
from tests.support import system_context

FACILITY_B = "facility-b"
LOINC = "http://loinc.org"


def ctx(role: Role, scopes: str, **kw: Any) -> AccessContext:
    return AccessContext(subject=kw.pop("subject", str(role)), role=role,
                         scopes=parse_scopes(scopes), **kw)  # fmt: skip


ALICE = ctx(Role.CITIZEN, "patient/*.rs", subject="alice", patient="alice")
BOB = ctx(Role.GUARDIAN, "patient/*.rs", subject="bob", patient="alice")
CAROL = ctx(Role.CLINICIAN, "user/*.cruds", subject="carol", facility=FACILITY_A)
DAN = ctx(Role.EMS, "user/*.rs", subject="dan")
ERIN = ctx(
    Role.CLINICIAN,
    "user/*.cruds",
    subject="erin",
    facility="facility-er",
    purpose=PurposeOfUse.EMERGENCY,
)  # fmt: skip  (an emergency-department clinician)
RITA = ctx(Role.RESEARCHER, "user/*.rs", subject="rita")
OLIVIA = ctx(Role.OPERATOR, "system/*.cruds", subject="olivia")
OLIVIA_OPS = replace(OLIVIA, purpose=PurposeOfUse.OPERATIONS)
MALLORY = ctx(Role.CITIZEN, "patient/*.rs", subject="mallory", patient="mallory")
SERVICE = system_context()
WRITER_A = ctx(Role.CLINICIAN, "user/*.cruds", subject="doc-a", facility=FACILITY_A)
WRITER_B = ctx(Role.CLINICIAN, "user/*.cruds", subject="doc-b", facility=FACILITY_B)
PERSONAS = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dan": DAN, "rita": RITA,
            "olivia": OLIVIA, "olivia-ops": OLIVIA_OPS, "mallory": MALLORY, "service": SERVICE}  # fmt: skip


def observation(id: str, code: str = "2339-0", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": "Patient/alice"},
            "effectiveDateTime": "2026-01-10", **extra}  # fmt: skip


def condition(id: str, kcd: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": id,
            "code": {"coding": [{"system": KCD8, "code": kcd}]},
            "subject": {"reference": "Patient/alice"}, "recordedDate": "2026-01-10"}  # fmt: skip


def put(records: Records, writer: AccessContext, resource: dict[str, Any]) -> None:
    with records.begin(writer, "update") as rs:
        rs.update(resource["resourceType"], resource["id"], resource)


@pytest.fixture
def city(records: Records) -> Records:
    put(records, SERVICE, {"resourceType": "Patient", "id": "alice", "gender": "female"})
    put(records, SERVICE, {"resourceType": "Patient", "id": "mallory"})
    put(records, WRITER_A, observation("obs-a"))
    for resource in (
        observation("obs-b"), condition("htn-b", "I10"), condition("dep-b", "F32.9"),
        condition("hiv-b", "B20"),
        observation("psy-note-b", "11488-4", meta={"security": label("PSY")}),
        {"resourceType": "Encounter", "id": "enc-b", "status": "finished",
         "class": {"code": "AMB"}, "subject": {"reference": "Patient/alice"},
         "serviceProvider": {"reference": f"Organization/{FACILITY_B}"},
         "diagnosis": [{"condition": {"reference": "Condition/dep-b",
                                      "display": "Depressive episode"}},
                       {"condition": {"reference": "Condition/htn-b",
                                      "display": "Hypertension"}}]},
    ):  # fmt: skip
        put(records, WRITER_B, resource)
    return records


CONSENTS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "treatment": [consent("alice")],
    "treatment+psy": [consent("alice", provision=permit_sensitive("PSY"))],
    "treatment-by-code": [consent("alice", provision={"type": "permit", "provision": [
        {"type": "permit", "code": [{"coding": [{"system": KCD8, "code": "F32"}]}]}]})],
    "treatment-deny-observations": [consent("alice", provision={"type": "permit", "provision": [
        {"type": "deny", "class": [{"code": "Observation"}]}]})],
    "treatment-other-facility-only": [consent("alice", provision={"type": "permit", "actor": [
        {"role": {"coding": [{"code": "PRCP"}]},
         "reference": {"reference": "Organization/facility-z"}}]})],
    "withdrawn": [consent("alice", status="inactive")],
    "emergency": [emergency_consent("alice")],
    "expired": [consent("alice", provision={"type": "permit", "period": {"end": "2025-12-31"}})],
}  # fmt: skip


def given(records: Records, state: str) -> None:
    with records.begin(SERVICE, "test-consent") as rs:
        for body in CONSENTS[state]:
            rs.create(body)


def sees(records: Records, who: AccessContext, ref: str, interaction: str) -> str:
    """permit / deny / redacted: what this caller gets of ``ref`` through ``interaction``."""
    resource_type, id = ref.split("/")
    try:
        with records.begin(who, interaction) as rs:
            if interaction == "read":
                found = rs.read(resource_type, id)
            else:
                query = parse_search(resource_type, [("_id", id)])
                matches = rs.search(query).page.matches
                if not matches:
                    return "deny"
                found = matches[0]
    except Forbidden:
        return "deny"
    return (
        "redacted" if b"Depressive" not in found.content and ref == "Encounter/enc-b" else "permit"
    )


# (persona, consent state, resource, expected)
TABLE = [
    ("alice", "none", "Observation/obs-b", "permit"),
    ("alice", "none", "Condition/dep-b", "permit"),
    ("alice", "none", "Encounter/enc-b", "permit"),
    ("bob", "none", "Condition/hiv-b", "permit"),
    ("mallory", "treatment", "Observation/obs-b", "deny"),
    ("carol", "none", "Observation/obs-a", "permit"),
    ("carol", "none", "Observation/obs-b", "deny"),
    ("carol", "none", "Patient/alice", "deny"),
    ("carol", "treatment", "Patient/alice", "permit"),
    ("carol", "treatment", "Observation/obs-b", "permit"),
    ("carol", "treatment", "Condition/htn-b", "permit"),
    ("carol", "treatment", "Condition/dep-b", "deny"),
    ("carol", "treatment", "Condition/hiv-b", "deny"),
    ("carol", "treatment", "Observation/psy-note-b", "deny"),
    ("carol", "treatment", "Encounter/enc-b", "redacted"),
    ("carol", "treatment+psy", "Condition/dep-b", "permit"),
    ("carol", "treatment+psy", "Observation/psy-note-b", "permit"),
    ("carol", "treatment+psy", "Condition/hiv-b", "deny"),
    ("carol", "treatment+psy", "Encounter/enc-b", "permit"),
    ("carol", "treatment-by-code", "Condition/dep-b", "permit"),
    ("carol", "treatment-deny-observations", "Observation/obs-b", "deny"),
    ("carol", "treatment-deny-observations", "Condition/htn-b", "permit"),
    ("carol", "treatment-other-facility-only", "Observation/obs-b", "deny"),
    ("carol", "withdrawn", "Observation/obs-b", "deny"),
    ("carol", "expired", "Observation/obs-b", "deny"),
    ("carol", "emergency", "Observation/obs-b", "deny"),
    ("dan", "none", "Observation/obs-b", "deny"),
    ("dan", "emergency", "Observation/obs-b", "permit"),
    ("dan", "treatment", "Observation/obs-b", "permit"),
    ("dan", "emergency", "Condition/dep-b", "deny"),
    ("rita", "treatment", "Observation/obs-b", "deny"),
    ("olivia", "treatment", "Observation/obs-b", "deny"),
    ("olivia", "treatment", "Patient/alice", "deny"),
    ("olivia-ops", "none", "Patient/alice", "permit"),
    ("olivia-ops", "treatment", "Observation/obs-b", "deny"),
    ("service", "none", "Condition/dep-b", "permit"),
]


@pytest.mark.parametrize("interaction", ["read", "search"])
@pytest.mark.parametrize(("persona", "state", "ref", "expected"), TABLE)
def test_the_decision_table_holds_for_read_and_search(
    city: Records, persona: str, state: str, ref: str, expected: str, interaction: str
) -> None:
    given(city, state)
    assert sees(city, PERSONAS[persona], ref, interaction) == expected


def test_a_withdrawal_takes_effect_for_the_next_call_also_inside_an_open_session(
    city: Records,
) -> None:
    with city.begin(SERVICE, "test-consent") as rs:
        given_id = rs.create(consent("alice")).stored.id
    assert sees(city, CAROL, "Observation/obs-b", "read") == "permit"
    with city.begin(CAROL, "read") as rs:
        rs.read("Observation", "obs-b")
        withdrawn = {**orjson.loads(rs.read("Consent", given_id).content), "status": "inactive"}
        rs.update("Consent", given_id, withdrawn)
        with pytest.raises(Forbidden):
            rs.read("Observation", "obs-b")
    assert sees(city, CAROL, "Observation/obs-b", "read") == "deny"
    assert sees(city, CAROL, "Observation/obs-b", "search") == "deny"


def test_search_totals_and_pages_count_only_what_the_caller_may_see(city: Records) -> None:
    query = replace(parse_search("Observation", [("subject", "Patient/alice")]),
                    total=TotalMode.ACCURATE, count=1)  # fmt: skip
    with city.begin(SERVICE, "search") as rs:
        assert rs.search(query).page.total == 3
    with city.begin(CAROL, "search") as rs:
        page = rs.search(query).page
        assert page.total == 1 and [m.id for m in page.matches] == ["obs-a"]
        assert rs.search(replace(query, offset=1)).page.matches == []
        assert rs.search(replace(query, count=0)).page.total == 1  # _summary=count
    given(city, "treatment")
    with city.begin(CAROL, "search") as rs:
        assert rs.search(replace(query, count=10)).page.total == 2  # not the PSY-labelled one
        second = rs.search(replace(query, offset=1)).page
        assert len(second.matches) == 1 and second.total == 2


def test_includes_and_revincludes_are_filtered(city: Records) -> None:
    include = parse_search("Observation", [("_id", "obs-a"), ("_include", "Observation:subject")])
    revinclude = parse_search("Patient", [("_id", "alice"), ("_revinclude", "Condition:subject")])
    with city.begin(CAROL, "search") as rs:
        assert rs.search(include).included == []  # alice's Patient is facility-less, unshared
    given(city, "treatment")
    with city.begin(CAROL, "search") as rs:
        assert [v.id for v in rs.search(include).included] == ["alice"]
        assert {v.id for v in rs.search(revinclude).included} == {"htn-b"}
    with city.begin(ALICE, "search") as rs:
        assert {v.id for v in rs.search(revinclude).included} == {"htn-b", "dep-b", "hiv-b"}


def test_history_is_filtered_per_version(city: Records) -> None:
    put(city, WRITER_B, condition("flip-b", "F41.9"))
    put(city, WRITER_B, condition("flip-b", "I10"))  # corrected: the anxiety code was wrong
    given(city, "treatment")
    with city.begin(CAROL, "history") as rs:
        versions, total = rs.history("Condition", "flip-b", None, 10, 0)
        assert [v.version for v in versions] == [2] and total == 2
        versions, total = rs.history("Condition", None, None, 50, 0)
        ids = {(v.id, v.version) for v in versions}
        assert ("dep-b", 1) not in ids and ("flip-b", 1) not in ids and ("htn-b", 1) in ids
        assert total == len(versions)
        with pytest.raises(Forbidden):
            rs.history("Condition", "dep-b", None, 10, 0)
        with pytest.raises(Forbidden):
            rs.vread("Condition", "dep-b", 1)


def test_everything_leaves_out_sensitive_data_and_redacts_displays(city: Records) -> None:
    given(city, "treatment")
    with city.begin(CAROL, "everything") as rs:
        found = {f"{v.resource_type}/{v.id}": v for v in rs.everything("alice", None, ())}
    clinical = {ref for ref in found if not ref.startswith("Consent/")}  # the consent shows
    assert clinical == {"Patient/alice", "Observation/obs-a", "Observation/obs-b",
                        "Condition/htn-b", "Encounter/enc-b"}  # fmt: skip
    encounter = orjson.loads(found["Encounter/enc-b"].content)
    assert encounter["diagnosis"] == [
        {"condition": {"reference": "Condition/dep-b"}},
        {"condition": {"reference": "Condition/htn-b", "display": "Hypertension"}},
    ]
    with city.begin(CAROL, "everything") as rs, pytest.raises(Forbidden):
        rs.everything("mallory", None, ())


def test_bulk_export_is_filtered(city: Records) -> None:
    scope = ExportScope("patient")
    exported = {v.id for t in ("Observation", "Condition") for v in city.export_stream(CAROL, t, scope)}  # fmt: skip
    assert exported == {"obs-a"}
    given(city, "treatment")
    exported = {v.id for t in ("Observation", "Condition") for v in city.export_stream(CAROL, t, scope)}  # fmt: skip
    assert exported == {"obs-a", "obs-b", "htn-b"}
    everything = {v.id for v in city.export_stream(SERVICE, "Condition", scope)}
    assert everything == {"htn-b", "dep-b", "hiv-b"}


def test_a_writer_reads_back_what_it_wrote_and_writes_stamp_the_source(city: Records) -> None:
    with city.begin(WRITER_A, "read") as rs:
        body = orjson.loads(rs.read("Observation", "obs-a").content)
    assert body["meta"]["source"] == f"urn:khealth:facility:{FACILITY_A}"
    crew = replace(DAN, scopes=parse_scopes("user/Observation.crus"))
    with city.begin(crew, "create") as rs:
        made = rs.create(observation("ems-1") | {"meta": {"source": "urn:khealth:facility:x"}})
    with city.begin(crew, "read") as rs:
        assert orjson.loads(rs.read("Observation", made.stored.id).content)["meta"]["source"] == "urn:khealth:agent:dan"  # fmt: skip
    with city.begin(CAROL, "update") as rs, pytest.raises(Forbidden):
        rs.update("Observation", "obs-b", observation("obs-b"))  # cannot overwrite unseen data


# -- break-the-glass -------------------------------------------------------------------------
def audit_events(records: Records) -> list[dict[str, Any]]:
    store = records.store
    if isinstance(store, MemoryStore):
        return [orjson.loads(e) for _, e in store._audit]
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(audit_log.c.content).order_by(audit_log.c.seq)).all()
    return [orjson.loads(r.content) for r in rows]


def test_break_the_glass_opens_a_record_read_only_for_an_hour_audited_and_notified(
    city: Records,
) -> None:
    assert sees(city, DAN, "Observation/obs-b", "read") == "deny"
    grant = open_break_glass(city, DAN, "alice", "unconscious", "found unresponsive")
    assert grant.expires - grant.created == 3600 * 1_000_000
    assert sees(city, DAN, "Observation/obs-b", "read") == "permit"
    assert sees(city, DAN, "Observation/obs-b", "search") == "permit"
    assert sees(city, DAN, "Condition/dep-b", "read") == "deny"  # sensitive stays closed
    assert sees(city, CAROL, "Observation/obs-b", "read") == "deny"  # dan's grant only

    events = audit_events(city)
    flagged = [e for e in events if e.get("meta", {}).get("security")]
    assert {e["subtype"][0]["code"] for e in flagged} == {"break-glass", "read", "search"}
    for event in flagged:
        assert event["meta"]["security"][0]["code"] == "BTG"
        assert event["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"
        assert event["outcomeDesc"].startswith("break-the-glass")
    assert "found unresponsive" not in orjson.dumps(events).decode()

    notices = notifications(city, ALICE, "alice")
    assert len(notices) == 1 and b"break-glass" in notices[0].content
    assert notifications(city, CAROL, "alice") == []  # filtered, not refused: a search

    city.clock.now = grant.expires  # type: ignore[attr-defined]
    assert sees(city, DAN, "Observation/obs-b", "read") == "deny"


def test_writes_under_break_the_glass_are_refused(city: Records) -> None:
    open_break_glass(city, ERIN, "alice", "life-threatening", "arrest in the ED")
    assert sees(city, ERIN, "Observation/obs-b", "read") == "permit"
    with city.begin(ERIN, "update") as rs, pytest.raises(Forbidden):
        rs.update("Observation", "obs-b", observation("obs-b", status="amended"))
    with city.begin(ERIN, "delete") as rs, pytest.raises(Forbidden):
        rs.delete("Observation", "obs-b")


@pytest.mark.parametrize("persona", ["carol", "rita", "olivia", "alice", "service"])
def test_only_ems_and_emergency_clinicians_may_break_the_glass(city: Records, persona: str) -> None:
    with pytest.raises(Forbidden):
        open_break_glass(city, PERSONAS[persona], "alice", "unconscious", "no reason")
    assert notifications(city, ALICE, "alice") == []


def test_break_the_glass_needs_a_listed_reason_and_a_text(city: Records) -> None:
    with pytest.raises(InvalidRequest):
        open_break_glass(city, DAN, "alice", "curious", "just looking")
    with pytest.raises(InvalidRequest):
        open_break_glass(city, DAN, "alice", "unconscious", "   ")
