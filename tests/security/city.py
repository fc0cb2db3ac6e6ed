"""A two-citizen city for the security suite: alice (persona) and zed (nobody's persona),
each with an Observation carrying a marker string that must never reach the wrong caller."""

from __future__ import annotations

from typing import Any

from tests import personas
from tests.consent_support import consent
from tests.support import Api

ALICE_MARK = "ALICE-MARK-7731"
ZED_MARK = "ZED-MARK-4410"


def observation(id: str, patient: str, mark: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
        "subject": {"reference": f"Patient/{patient}"}, "note": [{"text": mark}],
    }  # fmt: skip


def seed(api: Api) -> None:
    h = api.headers()
    writes = [
        ("/fhir/Patient/alice", {"resourceType": "Patient", "id": "alice", "gender": "female"}),
        ("/fhir/Patient/zed", {"resourceType": "Patient", "id": "zed", "gender": "male"}),
        ("/fhir/Observation/oa", observation("oa", personas.ALICE_PATIENT, ALICE_MARK)),
        ("/fhir/Observation/oz", observation("oz", "zed", ZED_MARK)),
        ("/fhir/Group/g1", {"resourceType": "Group", "id": "g1", "type": "person",
                            "actual": True, "member": [{"entity": {"reference": "Patient/zed"}}]}),
    ]  # fmt: skip
    for url, body in writes:
        response = api.client.put(url, json=body, headers=h)
        assert response.status_code in (200, 201), response.text
    for patient in ("alice", "zed"):  # both share their records for treatment
        assert api.client.post("/fhir/Consent", json=consent(patient), headers=h).status_code == 201
