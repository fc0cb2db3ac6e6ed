"""GET /api/citizen/health-report for a synthetic citizen loaded from ``khealth.synth`` into the
SQLite store: the latest checkup judged item by item, trends for charts, risks that say what is
missing, next steps with sources, the disclaimer, English on request, and another citizen's
token refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from khealth.records.service import Records
from khealth.store.factory import open_store
from tests.cds_city import SyntheticCitizen, citizens, load
from tests.support import Api, FrozenClock

pytestmark = pytest.mark.integration
URL = "/api/citizen/health-report"
CITIZEN_ID = "c0000002"  # a woman of 55 whose last national checkup was in October 2025


@pytest.fixture
def api(tmp_path: Path, sqlite_template: Path) -> Iterator[Api]:
    path = tmp_path / "khealth.db"
    shutil.copy(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    client = Api(store, tmp_path)
    records: Records = client.app.state.services.records
    records.clock = FrozenClock()
    load(records, citizens()[CITIZEN_ID], citizens()["c0000001"])
    with client.client:
        yield client
    store.close()


def citizen_token(patient: str) -> dict[str, str]:
    return {"scope": "patient/*.rs", "role": "citizen", "subject": f"app-{patient}",
            "patient": patient}  # fmt: skip


@pytest.fixture
def person() -> SyntheticCitizen:
    return citizens()[CITIZEN_ID]


def test_a_citizen_gets_the_latest_checkup_judged_with_trends_and_next_steps(
    api: Api, person: SyntheticCitizen
) -> None:
    patient = person.checkup_patient()
    response = api.client.get(URL, headers=api.headers(**citizen_token(patient)))
    assert response.status_code == 200, response.text
    report = response.json()
    checkup = report["latest_checkup"]
    assert checkup["date"] <= report["as_of"]
    judged = {i["item"]: i for i in checkup["items"]}
    assert {"systolic_bp", "fasting_glucose", "hemoglobin", "egfr"} <= set(judged)
    assert {i["judgement"] for i in judged.values()} <= {
        "normal_a", "normal_b", "suspected_disease", "unclassified", None,
    }  # fmt: skip
    glucose = judged["fasting_glucose"]
    assert glucose["unit"] == "mg/dL" and glucose["judgement_label"] and glucose["explanation"]
    assert glucose["provenance"]["resource"].startswith("Observation/")
    assert glucose["provenance"]["facility"].startswith("Organization/")
    assert checkup["overall"] in ("normal_a", "normal_b", "suspected_disease")
    points = report["trends"]["systolic_bp"]["points"]
    assert len(points) >= 2 and [p["date"] for p in points] == sorted(p["date"] for p in points)
    kinds = {step["kind"] for step in report["next_steps"]}
    assert {"screening", "lifestyle"} <= kinds
    assert all(step["source"]["label"] for step in report["next_steps"])
    screenings = {s["programme"]: s for s in report["next_steps"] if s["kind"] == "screening"}
    assert {"general_checkup", "stomach", "colorectal", "breast", "cervical"} <= set(screenings)
    assert "lung" not in screenings or report["patient"]["age"] >= 54
    assert not screenings["general_checkup"]["due"]  # checked up 13 months ago
    assert "진단이 아닙니다" in report["disclaimer"]


def test_risks_are_explained_or_name_the_inputs_that_are_missing(
    api: Api, person: SyntheticCitizen
) -> None:
    patient = person.checkup_patient()
    report = api.client.get(URL, headers=api.headers(**citizen_token(patient))).json()
    risks = {r["name"]: r for r in report["risks"]}
    assert set(risks) == {"pce", "framingham", "ckd_epi_2021", "findrisc"}
    for risk in risks.values():
        if risk["computed"]:
            assert risk["explanation"] and risk["source"]["label"]
        else:
            assert risk["missing_inputs"] or risk["out_of_range_inputs"]
            assert "계산하지 않았습니다" in risk["explanation"]
    # the questionnaire items of FINDRISC are not in any record
    assert not risks["findrisc"]["computed"]
    assert any("직접 답변" in m for m in risks["findrisc"]["missing_inputs"])
    assert risks["ckd_epi_2021"]["computed"]  # checkups measure creatinine


def test_the_citizen_can_give_the_answers_a_score_needs(api: Api, person: SyntheticCitizen) -> None:
    patient = person.checkup_patient()
    answers = "physically_active=true&daily_vegetables=false&family_diabetes=none"
    report = api.client.get(f"{URL}?{answers}", headers=api.headers(**citizen_token(patient)))
    findrisc = next(r for r in report.json()["risks"] if r["name"] == "findrisc")
    assert findrisc["computed"] and findrisc["unit"] == "points"


def test_english_is_available(api: Api, person: SyntheticCitizen) -> None:
    patient = person.checkup_patient()
    report = api.client.get(f"{URL}?lang=en", headers=api.headers(**citizen_token(patient))).json()
    assert report["language"] == "en" and "not a medical diagnosis" in report["disclaimer"]
    assert report["trends"]["fasting_glucose"]["label"] == "Fasting glucose"


def test_another_citizens_token_cannot_read_this_report(api: Api, person: SyntheticCitizen) -> None:
    patient = person.checkup_patient()
    other = citizens()["c0000001"].patient_ids[0]
    response = api.client.get(
        f"{URL}?patient={patient}", headers=api.headers(**citizen_token(other))
    )
    assert response.status_code in (403, 404)
    assert patient not in response.text
    assert api.client.get(URL).status_code == 401
    unknown = api.client.get(URL, headers=api.headers(**citizen_token("nobody")))
    assert unknown.status_code == 404
