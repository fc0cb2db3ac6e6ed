"""/api/cds/calculators as a client sees it: the list, a computation, 422 problem details naming
the input, 404 for an unknown calculator, and the OpenAPI document generated from the registry.

The calculators read no record, so one in-memory store is enough and no token is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from khealth.store.memory import MemoryStore
from tests.support import Api

pytestmark = pytest.mark.integration

BASE = "/api/cds/calculators"
PCE = {"age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl": 50,
       "systolic_bp": 120, "on_bp_treatment": False, "smoker": False, "diabetes": False}  # fmt: skip


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with Api(MemoryStore(), tmp_path).client as client:
        yield client


def problem_pointers(response: Any) -> list[str | None]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["pointer"] for e in response.json()["errors"]]


def test_it_lists_every_calculator_with_titles_inputs_units_ranges_and_source(
    client: TestClient,
) -> None:
    response = client.get(BASE)
    assert response.status_code == 200
    listed = {c["name"]: c for c in response.json()["calculators"]}
    assert {"pce", "framingham", "ckd_epi_2021", "fib4", "findrisc", "news2", "qsofa", "bmi",
            "metabolic_syndrome", "checkup"} <= set(listed)  # fmt: skip
    pce = listed["pce"]
    assert pce["title"]["ko"] and pce["title"]["en"]
    assert "Goff" in pce["source"]
    age = next(i for i in pce["inputs"] if i["name"] == "age")
    assert (age["unit"], age["minimum"], age["maximum"], age["required"]) == ("years", 40, 79, True)
    race = next(i for i in pce["inputs"] if i["name"] == "race")
    assert race["enum"] == ["white", "african_american", "other"]


def test_it_shows_one_calculator(client: TestClient) -> None:
    response = client.get(f"{BASE}/news2")
    assert response.status_code == 200
    scale = next(i for i in response.json()["inputs"] if i["name"] == "spo2_scale")
    assert scale["enum"] == [1, 2]


def test_it_computes_the_pce_worked_example(client: TestClient) -> None:
    """Goff 2013 white woman: 2.1 %; tolerance 0.1 percentage point (see the unit tests)."""
    response = client.post(f"{BASE}/pce", json=PCE)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"result", "unit", "category", "source", "detail"}
    assert body["result"] == pytest.approx(2.1, abs=0.1)
    assert (body["unit"], body["category"]) == ("%", "low")


def test_it_answers_news2_with_points_per_parameter(client: TestClient) -> None:
    vitals = {"respiratory_rate": 24, "spo2": 95, "spo2_scale": 1, "on_oxygen": False,
              "systolic_bp": 105, "heart_rate": 112, "consciousness": "A", "temperature": 38.4}  # fmt: skip
    body = client.post(f"{BASE}/news2", json=vitals).json()
    assert body["detail"]["points"] == {"respiratory_rate": 2, "spo2": 1, "air_or_oxygen": 0,
        "systolic_bp": 1, "heart_rate": 2, "consciousness": 0, "temperature": 1}  # fmt: skip
    assert (body["result"], body["category"]) == (7, "high")


def test_it_stages_kidney_function(client: TestClient) -> None:
    inputs = {"age": 70, "sex": "male", "creatinine": 2.0, "acr": 350}
    body = client.post(f"{BASE}/ckd_epi_2021", json=inputs).json()
    assert body["category"] == "G3b"
    assert body["detail"]["a_stage"] == "A3"


def test_an_out_of_range_input_is_422_naming_the_input_and_its_range(client: TestClient) -> None:
    response = client.post(f"{BASE}/pce", json={**PCE, "age": 85})
    assert response.status_code == 422
    assert problem_pointers(response) == ["age"]
    assert "between 40 and 79 years" in response.json()["detail"]
    assert "85" not in response.text  # the clinical value is not echoed


def test_a_missing_input_is_422_naming_it(client: TestClient) -> None:
    inputs = {k: v for k, v in PCE.items() if k != "hdl"}
    response = client.post(f"{BASE}/pce", json=inputs)
    assert response.status_code == 422
    assert problem_pointers(response) == ["hdl"]
    assert response.json()["errors"][0]["detail"] == "hdl is required"


def test_an_unknown_input_is_422_naming_it(client: TestClient) -> None:
    response = client.post(f"{BASE}/qsofa", json={"respiratory_rate": 20, "systolic_bp": 120,
                                                  "gcs": 15, "lactate": 3})  # fmt: skip
    assert response.status_code == 422
    assert problem_pointers(response) == ["lactate"]


def test_a_body_that_is_not_an_object_is_422(client: TestClient) -> None:
    response = client.post(f"{BASE}/qsofa", json=[1, 2, 3])
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_unknown_calculator_is_404_problem_details(client: TestClient) -> None:
    for response in (client.post(f"{BASE}/qrisk3", json={}), client.get(f"{BASE}/qrisk3")):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 404


def test_no_token_is_needed_for_the_calculators(client: TestClient) -> None:
    assert "authorization" not in {k.lower() for k in client.headers}
    assert client.post(f"{BASE}/bmi", json={"height": 170, "weight": 65}).status_code == 200


def test_the_openapi_document_shows_each_calculators_inputs(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert f"{BASE}" in paths
    operation = paths[f"{BASE}/pce"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["age"]["minimum"] == 40
    assert schema["properties"]["race"]["enum"] == ["white", "african_american", "other"]
    assert "diabetes" in schema["required"]
    assert schema["additionalProperties"] is False
    assert "422" in operation["responses"] and "404" in operation["responses"]
    assert f"{BASE}/news2" in paths and f"{BASE}/checkup" in paths
