"""Citizens see who accessed their record; every request writes exactly one audit event,
denied ones too; a request whose audit cannot be written fails (issue 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from khealth.store.memory import MemoryStore
from tests import personas
from tests.security.city import seed
from tests.support import Api

pytestmark = pytest.mark.security
LOG = "/api/citizen/access-log"


def _events(store: Any) -> int:
    if isinstance(store, MemoryStore):
        return len(store._audit)
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one())


@pytest.fixture
def api(store: Any, tmp_path: Path) -> Api:
    client = Api(store, tmp_path)
    seed(client)
    return client


def test_alice_sees_that_carol_of_facility_a_read_her_record(api: Api) -> None:
    carol = api.headers(**personas.carol)
    assert api.client.get("/fhir/Observation/oa", headers=carol).status_code == 200
    assert api.client.get("/fhir/Observation/oz", headers=carol).status_code == 200
    log = api.client.get(LOG, headers=api.headers(**personas.alice)).json()
    reads = [e for e in log["entries"] if e["action"] == "read" and e["who"]["role"] == "clinician"]
    assert len(reads) == 1  # zed's observation is not alice's business
    [entry] = reads
    assert entry["who"] == {"role": "clinician", "roleLabel": "의료인",
                            "organization": "facility-a", "id": "carol", "you": False}  # fmt: skip
    assert entry["purposeLabel"] == "진료" and entry["outcome"] == "allowed"
    assert entry["resourceTypes"] == ["Observation"] and not entry["breakTheGlass"]
    english = api.client.get(f"{LOG}?lang=en", headers=api.headers(**personas.alice)).json()
    assert english["entries"][0]["actionLabel"] in ("access log viewed", "read")


def test_a_denied_access_shows_in_the_log_and_a_guardian_is_shown_by_role_only(api: Api) -> None:
    mallory = api.headers(**personas.mallory)
    assert api.client.get("/fhir/Observation/oa", headers=mallory).status_code == 403
    bob = api.headers(**personas.bob)
    assert api.client.get("/fhir/Observation/oa", headers=bob).status_code == 200
    entries = api.client.get(LOG, headers=api.headers(**personas.alice)).json()["entries"]
    [denied] = [e for e in entries if e["who"]["role"] == "other-citizen"]
    assert denied["outcome"] == "denied" and denied["outcomeLabel"] == "거부"
    assert denied["who"]["id"] is None and denied["who"]["roleLabel"] == "다른 시민"
    guardian = [e for e in entries if e["who"]["role"] == "guardian"]
    assert guardian and all(e["who"]["id"] is None for e in guardian)


def test_the_access_log_pages_and_is_refused_to_anyone_else(api: Api) -> None:
    carol = api.headers(**personas.carol)
    for _ in range(5):
        api.client.get("/fhir/Patient/alice", headers=carol)
    alice = api.headers(**personas.alice)
    first = api.client.get(f"{LOG}?count=3", headers=alice).json()
    assert len(first["entries"]) == 3 and first["next_before"]
    second = api.client.get(f"{LOG}?count=3&before={first['next_before']}", headers=alice).json()
    assert max(e["seq"] for e in second["entries"]) < min(e["seq"] for e in first["entries"])
    for persona in (personas.carol, personas.mallory, personas.olivia, personas.dan):
        assert api.client.get(LOG, headers=api.headers(**persona)).status_code == 403
    assert api.client.get(LOG).status_code == 401


@pytest.mark.parametrize(
    ("persona", "method", "url"),
    [
        (personas.carol, "GET", "/fhir/Observation/oa"),
        (
            personas.carol,
            "GET",
            "/fhir/Observation?subject=Patient/alice&_include=Observation:subject",
        ),
        (personas.carol, "GET", "/fhir/Patient?_revinclude=Observation:subject"),
        (personas.carol, "GET", "/fhir/Observation/oa/_history"),
        (personas.alice, "GET", "/fhir/Patient/alice/$everything"),
        (personas.alice, "GET", "/fhir/Observation/oz"),  # denied
        (personas.mallory, "GET", "/fhir/Observation/oa"),  # denied
        (personas.carol, "POST", "/fhir/Observation"),
        (personas.alice, "DELETE", "/fhir/Observation/oa"),  # denied
    ],
)
def test_every_request_writes_exactly_one_audit_event(
    api: Api, store: Any, persona: dict[str, Any], method: str, url: str
) -> None:
    body = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": "Patient/alice"}}  # fmt: skip
    before = _events(store)
    response = api.client.request(method, url, headers=api.headers(**persona),
                                  json=body if method == "POST" else None)  # fmt: skip
    assert response.status_code < 500
    assert _events(store) == before + 1


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_request_whose_audit_cannot_be_written_fails_and_leaves_nothing(
    api: Api, store: Any
) -> None:
    with store.engine.begin() as conn:
        if store.is_postgres:
            conn.execute(text(
                "CREATE OR REPLACE FUNCTION test_no_audit() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'audit store down'; END; $$ LANGUAGE plpgsql"))  # fmt: skip
            conn.execute(text("CREATE TRIGGER test_no_audit BEFORE INSERT ON audit_log "
                              "FOR EACH ROW EXECUTE FUNCTION test_no_audit()"))  # fmt: skip
        else:
            conn.execute(text("CREATE TRIGGER test_no_audit BEFORE INSERT ON audit_log "
                              "BEGIN SELECT RAISE(ABORT, 'audit store down'); END"))  # fmt: skip
    try:
        h = api.headers()
        made = api.client.put(
            "/fhir/Patient/new1", json={"resourceType": "Patient", "id": "new1"}, headers=h
        )
        assert made.status_code >= 500
        assert api.client.get("/fhir/Observation/oa", headers=h).status_code >= 500
    finally:
        with store.engine.begin() as conn:
            conn.execute(
                text("DROP TRIGGER test_no_audit" + (" ON audit_log" if store.is_postgres else ""))
            )
    assert api.client.get("/fhir/Patient/new1", headers=api.headers()).status_code == 404
