"""/api/access/break-glass and /api/citizen/notifications over HTTP, and consent at /fhir:
a clinician of another facility is refused, an EMS crew breaks the glass and reads, the
citizen sees the notice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from khealth.store.memory import MemoryStore
from tests import personas
from tests.consent_support import consent
from tests.support import Api

pytestmark = pytest.mark.integration
URL = "/api/access/break-glass"
REASON = {"patient": "alice", "reason_code": "unconscious", "reason_text": "found unresponsive"}


@pytest.fixture
def api(tmp_path: Path) -> Api:
    client = Api(MemoryStore(), tmp_path)
    h = client.headers()
    assert client.client.put("/fhir/Patient/alice", json={"resourceType": "Patient", "id": "alice"}, headers=h).status_code == 201  # fmt: skip
    obs = {"resourceType": "Observation", "id": "o1", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
           "subject": {"reference": "Patient/alice"}}  # fmt: skip
    writer = client.headers(
        "user/*.cruds", subject="doc-b", role="clinician", facility="facility-b"
    )
    assert client.client.put("/fhir/Observation/o1", json=obs, headers=writer).status_code == 201
    return client


def test_a_clinician_of_another_facility_needs_the_citizens_consent(api: Api) -> None:
    carol = api.headers(**personas.carol)
    assert api.client.get("/fhir/Observation/o1", headers=carol).status_code == 403
    bundle = api.client.get("/fhir/Observation?_total=accurate", headers=carol).json()
    assert bundle["total"] == 0 and not bundle.get("entry")
    alice = api.headers(**personas.alice)
    made = api.client.post("/fhir/Consent", json=consent("alice"), headers=api.headers())
    assert made.status_code == 201
    assert api.client.get("/fhir/Observation/o1", headers=carol).status_code == 200
    assert api.client.get("/fhir/Consent", headers=alice).json()["total"] == 1


def test_an_ems_crew_breaks_the_glass_and_the_citizen_is_told(api: Api) -> None:
    dan = api.headers(**personas.dan)
    assert api.client.get("/fhir/Observation/o1", headers=dan).status_code == 403
    response = api.client.post(URL, json=REASON, headers=dan)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["read_only"] and body["patient"] == "alice" and body["expires"] > body["created"]
    assert api.client.get("/fhir/Observation/o1", headers=dan).status_code == 200
    notices = api.client.get("/api/citizen/notifications", headers=api.headers(**personas.alice))
    assert notices.status_code == 200
    [notice] = notices.json()["notifications"]
    assert notice["category"] == "break-glass" and "ems dan" in notice["text"]


@pytest.mark.parametrize("persona", ["carol", "rita", "olivia", "alice", "bob", "mallory"])
def test_other_roles_cannot_break_the_glass(api: Api, persona: str) -> None:
    response = api.client.post(URL, json=REASON, headers=api.headers(**getattr(personas, persona)))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_break_the_glass_wants_a_known_reason_and_patient(api: Api) -> None:
    dan = api.headers(**personas.dan)
    bad = api.client.post(URL, json={**REASON, "reason_code": "curious"}, headers=dan)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "reason_code"
    assert api.client.post(URL, json={**REASON, "reason_text": ""}, headers=dan).status_code == 422
    assert (
        api.client.post(URL, json={**REASON, "patient": "nobody"}, headers=dan).status_code == 404
    )
    assert api.client.post(URL, json=REASON).status_code == 401


def test_notifications_need_a_patient_bound_token(api: Api) -> None:
    r = api.client.get("/api/citizen/notifications", headers=api.headers(**personas.carol))
    assert r.status_code == 403
