"""POST /api/emergency/triage as a client sees it: the issue's contract example, 422 problem
details naming the field, 401 without a token, and the OpenAPI document.

Triage reads and stores no record, so one in-memory store is enough.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from khealth.store.memory import MemoryStore
from tests import personas
from tests.support import Api

pytestmark = pytest.mark.integration

URL = "/api/emergency/triage"
# The contract example of issue 6, verbatim.
CONTRACT = {
    "age": 67, "sex": "male", "chief_complaint": "흉통", "respiratory_rate": 22, "spo2": 95,
    "on_oxygen": False, "systolic_bp": 105, "heart_rate": 115, "temperature": 38.5,
    "consciousness": "A", "gcs": 15, "pain": 7, "glucose": 140,
    "onset": "2026-11-29T06:30:00+09:00", "stemi_ecg": True,
}  # fmt: skip


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(MemoryStore(), tmp_path)
    with api.client:
        yield api


def crew(api: Api, persona: dict[str, Any] = personas.dan) -> dict[str, str]:
    return {**api.headers(**persona), "Content-Type": "application/json"}


def pointers(response: Any) -> list[str | None]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["pointer"] for e in response.json()["errors"]]


def test_the_contract_example_is_level_1_or_2_on_the_stemi_pathway(api: Api) -> None:
    response = api.client.post(URL, json=CONTRACT, headers=crew(api))
    assert response.status_code == 200
    body = response.json()
    assert body["ktas_level"] in (1, 2)
    assert body["pathway"] == "stemi"
    assert body["news2"] == {"score": 7, "band": "high"}
    assert body["qsofa"] == 1
    assert body["shock_index"] == pytest.approx(115 / 105, abs=0.005)
    assert "pci" in body["needs"]
    assert body["time_window_minutes"] == 90
    ids = {r["id"] for r in body["rules"]}
    assert {"ktas.stemi", "path.stemi.ecg"} <= ids
    assert all(
        r["version"] and r["text_ko"] and r["text_en"] and r["source"] for r in body["rules"]
    )
    assert body["ruleset"].startswith("pre_ktas ")


def test_a_clinician_may_call_it_too(api: Api) -> None:
    response = api.client.post(URL, json={"spo2": 85}, headers=crew(api, personas.carol))
    assert response.status_code == 200
    assert response.json()["ktas_level"] == 1


def test_an_empty_assessment_is_triaged_as_urgent_until_measured(api: Api) -> None:
    response = api.client.post(URL, json={}, headers=crew(api))
    assert response.status_code == 200
    body = response.json()
    assert (body["ktas_level"], body["news2"], body["pathway"]) == (3, None, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [("spo2", 101), ("gcs", 2), ("consciousness", "X"), ("pain", 11), ("age", "old"),
     ("trauma_mechanisms", ["teleported"]), ("heart_rte", 80)],
)  # fmt: skip
def test_bad_input_is_a_422_naming_the_field(api: Api, field: str, value: Any) -> None:
    response = api.client.post(URL, json={**CONTRACT, field: value}, headers=crew(api))
    assert response.status_code == 422
    assert any(p is not None and field in p for p in pointers(response))


def test_an_onset_in_the_future_is_a_422_naming_onset(api: Api) -> None:
    body = {**CONTRACT, "onset": "2999-01-01T00:00:00+09:00"}
    response = api.client.post(URL, json=body, headers=crew(api))
    assert response.status_code == 422
    assert "onset" in pointers(response)


def test_without_a_token_it_is_401(api: Api) -> None:
    response = api.client.post(URL, json=CONTRACT)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_with_a_forged_token_it_is_401(api: Api) -> None:
    headers = {"Authorization": "Bearer not-a-token", "Content-Type": "application/json"}
    assert api.client.post(URL, json=CONTRACT, headers=headers).status_code == 401


def test_the_openapi_document_shows_the_fields_with_units_and_ranges(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    operation = schema["paths"][URL]["post"]
    assert {"401", "422"} <= set(operation["responses"])
    fields = schema["components"]["schemas"]["AssessmentIn"]["properties"]
    spo2 = fields["spo2"]["anyOf"][0]
    assert (spo2["minimum"], spo2["maximum"]) == (0, 100)
    assert "%" in fields["spo2"]["description"]
    assert "ktas_level" in schema["components"]["schemas"]["TriageOut"]["properties"]
