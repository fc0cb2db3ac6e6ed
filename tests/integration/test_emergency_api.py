"""/api/emergency through the real app: live status (PUT, GET, history, 422, 403, 404), the
recommendation contract, and the pre-notification loop (choose → incoming → decline with a
reason → a different next recommendation → accept → arrived → in-progress)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from khealth.records.service import Records
from tests.emergency_support import CITY_CENTRE, city_facilities, load_facilities
from tests.support import Api

pytestmark = pytest.mark.integration

STEMI = {"age": 67, "sex": "male", "chief_complaint": "흉통", "respiratory_rate": 22, "spo2": 95,
         "on_oxygen": False, "systolic_bp": 105, "heart_rate": 115, "temperature": 38.5,
         "consciousness": "A", "gcs": 15, "pain": 7, "glucose": 140, "stemi_ecg": True}  # fmt: skip
LOCATION = {"lat": CITY_CENTRE[0], "lon": CITY_CENTRE[1]}
OPEN = {"hvec": 6, "hvoc": 2, "hvicc": 3, "hvctayn": "Y", "hvangioayn": "Y", "MKioskTy1": "Y",
        "MKioskTy2": "Y", "MKioskTy28": "Y",
        "on_call": {"01": True, "02": True, "04": True, "06": True}}  # fmt: skip
CREW = {"scope": "user/Patient.crs user/Encounter.crus user/ServiceRequest.crus",
        "subject": "dan", "role": "ems"}  # fmt: skip


def hospital(facility_id: str) -> dict[str, Any]:
    return {"scope": "user/Encounter.rus user/ServiceRequest.rus", "subject": f"er-{facility_id}",
            "role": "hospital-system", "facility": facility_id}  # fmt: skip


@pytest.fixture
def api(store: Any, tmp_path: Path) -> Api:
    load_facilities(Records(store))
    return Api(store, tmp_path)


def headers(api: Api, **claims: Any) -> dict[str, str]:
    return {**api.headers(**claims), "Content-Type": "application/json"}


def open_everything(api: Api) -> None:
    for f in city_facilities():
        r = api.client.put(f"/api/emergency/facilities/{f.id}/status", json=OPEN, headers=headers(api))  # fmt: skip
        assert r.status_code == 200, r.text


# -- live status -------------------------------------------------------------------------------
def test_a_hospital_reports_its_status_and_every_update_is_kept(api: Api) -> None:
    fid = city_facilities()[0].id
    own = headers(api, **hospital(fid))
    first = api.client.put(f"/api/emergency/facilities/{fid}/status", json={"hvec": 3, "MKioskTy1": "Y"}, headers=own)  # fmt: skip
    assert first.status_code == 200, first.text
    assert first.json()["hvec"] == 3 and first.json()["stale"] is False
    api.client.put(f"/api/emergency/facilities/{fid}/status", json={"hvec": 0, "MKioskTy1": "N"}, headers=own)  # fmt: skip
    now = api.client.get(f"/api/emergency/facilities/{fid}/status", headers=headers(api, **CREW)).json()  # fmt: skip
    assert now["hvec"] == 0 and now["MKioskTy1"] == "N" and now["facility_id"] == fid
    history = api.client.get(f"/api/emergency/facilities/{fid}/status/history", headers=own).json()["history"]  # fmt: skip
    assert [h["hvec"] for h in history] == [0, 3]
    older = api.client.get(f"/api/emergency/facilities/{fid}/status/history?before={history[0]['seq']}", headers=own)  # fmt: skip
    assert [h["hvec"] for h in older.json()["history"]] == [3]


def test_a_status_older_than_ten_minutes_is_flagged_stale(api: Api) -> None:
    fid = city_facilities()[0].id
    r = api.client.put(f"/api/emergency/facilities/{fid}/status", json={"hvidate": "2020-01-01T00:00:00+09:00", "hvec": 2}, headers=headers(api))  # fmt: skip
    assert r.status_code == 200 and r.json()["stale"] is True


def test_bad_status_fields_are_named_in_a_422(api: Api) -> None:
    fid = city_facilities()[0].id
    r = api.client.put(f"/api/emergency/facilities/{fid}/status", json={"hvec": "many", "MKioskTy99": "Y", "hvctayn": 3}, headers=headers(api))  # fmt: skip
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert {e["pointer"] for e in r.json()["errors"]} == {"hvec", "MKioskTy99", "hvctayn"}


def test_only_the_facilitys_own_hospital_or_a_system_token_may_report(api: Api) -> None:
    first, second = city_facilities()[0].id, city_facilities()[1].id
    url = f"/api/emergency/facilities/{first}/status"
    assert api.client.put(url, json=OPEN, headers=headers(api, **hospital(second))).status_code == 403  # fmt: skip
    assert api.client.put(url, json=OPEN, headers=headers(api, **CREW)).status_code == 403
    clinician = {"scope": "user/*.rs", "subject": "carol", "role": "clinician", "facility": first}
    assert api.client.put(url, json=OPEN, headers=headers(api, **clinician)).status_code == 200
    assert api.client.put(url, json=OPEN).status_code == 401


def test_an_unknown_facility_is_404(api: Api) -> None:
    r = api.client.put("/api/emergency/facilities/org-nowhere/status", json=OPEN, headers=headers(api))  # fmt: skip
    assert r.status_code == 404
    assert api.client.get("/api/emergency/facilities/org-nowhere/status", headers=headers(api)).status_code == 404  # fmt: skip


def test_the_facility_list_and_the_numbering_table_are_served(api: Api) -> None:
    listed = api.client.get("/api/emergency/facilities", headers=headers(api, **CREW)).json()
    assert len(listed["facilities"]) == 18 and listed["facilities"][0]["status"] is None
    table = api.client.get("/api/emergency/acceptance-codes", headers=headers(api, **CREW)).json()
    assert table["items"][0]["field"] == "MKioskTy1" and table["items"][0]["y_code"] == "Y0010"


# -- recommendations ---------------------------------------------------------------------------
def test_recommendations_answer_the_contract_best_first_with_the_triage(api: Api) -> None:
    open_everything(api)
    r = api.client.post("/api/emergency/recommendations", json={"assessment": STEMI, "location": LOCATION}, headers=headers(api, **CREW))  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["triage"]["pathway"] == "stemi" and body["triage"]["ktas_level"] <= 2
    recs = body["recommendations"]
    assert 1 <= len(recs) <= 5
    for rec in recs:
        assert {"facility_id", "name", "eta_minutes", "capabilities", "explanation"} <= set(rec)
    assert "pci" in recs[0]["capabilities"] and "PCI" in recs[0]["explanation"]
    definitive = [x["definitive_minutes"] for x in recs if x["meets_need"] and x["within_window"]]
    assert definitive == sorted(definitive)


def test_a_bad_assessment_or_location_is_a_422_and_a_citizen_cannot_route(api: Api) -> None:
    bad = {"assessment": {**STEMI, "spo2": 140}, "location": {"lat": 95, "lon": 126.8}}
    r = api.client.post("/api/emergency/recommendations", json=bad, headers=headers(api, **CREW))
    assert r.status_code == 422
    citizen = {"scope": "patient/*.rs", "subject": "alice", "role": "citizen", "patient": "alice"}
    ok = {"assessment": STEMI, "location": LOCATION}
    assert api.client.post("/api/emergency/recommendations", json=ok, headers=headers(api, **citizen)).status_code == 403  # fmt: skip


# -- the pre-notification loop ---------------------------------------------------------------------
def fhir(api: Api, reference: str) -> dict[str, Any]:
    r = api.client.get(f"/fhir/{reference}", headers=api.headers())
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_choose_decline_reroute_accept_arrive(api: Api) -> None:
    open_everything(api)
    crew = headers(api, **CREW)
    ranked = api.client.post("/api/emergency/recommendations", json={"assessment": STEMI, "location": LOCATION}, headers=crew).json()  # fmt: skip
    first = ranked["recommendations"][0]["facility_id"]

    chosen = api.client.post("/api/emergency/notifications", json={"assessment": STEMI, "location": LOCATION, "facility_id": first}, headers=crew)  # fmt: skip
    assert chosen.status_code == 201, chosen.text
    note = chosen.json()["notification"]
    assert note["state"] == "pending" and note["facility_id"] == first
    encounter = fhir(api, note["encounter"])
    assert encounter["status"] == "planned" and encounter["class"]["code"] == "EMER"
    assert encounter["serviceProvider"]["reference"] == f"Organization/{first}"

    er = headers(api, **hospital(first))
    incoming = api.client.get(f"/api/emergency/facilities/{first}/incoming", headers=er).json()["incoming"]  # fmt: skip
    assert [i["id"] for i in incoming] == [note["id"]]
    request = incoming[0]["service_request_resource"]
    assert request["status"] == "active" and "Pre-KTAS" in request["note"][0]["text"]
    assert "occurrenceDateTime" in request and request["priority"] == "stat"
    events = api.client.get(f"/api/emergency/facilities/{first}/events?follow=false", headers=er)
    assert events.headers["content-type"].startswith("text/event-stream")
    assert "event: notified" in events.text and "id: " in events.text

    other = api.client.post(f"/api/emergency/notifications/{note['id']}/accept", headers=headers(api, **hospital("org-someone-else")))  # fmt: skip
    assert other.status_code == 403
    declined = api.client.post(f"/api/emergency/notifications/{note['id']}/decline", json={"reason": "no_specialist"}, headers=er)  # fmt: skip
    assert declined.status_code == 200, declined.text
    after = declined.json()
    assert after["notification"]["state"] == "declined"
    next_ids = [r["facility_id"] for r in after["recommendations"]]
    assert first not in next_ids and next_ids[0] != first
    assert next_ids[0] == ranked["recommendations"][1]["facility_id"]
    assert fhir(api, note["encounter"])["status"] == "cancelled"
    assert fhir(api, note["service_request"])["status"] == "revoked"
    assert api.client.post(f"/api/emergency/notifications/{note['id']}/accept", headers=er).status_code == 409  # fmt: skip

    again = api.client.post("/api/emergency/recommendations", json={"assessment": STEMI, "location": LOCATION, "incident_id": note["incident_id"]}, headers=crew).json()  # fmt: skip
    assert first not in [r["facility_id"] for r in again["recommendations"]]
    fresh = api.client.post("/api/emergency/recommendations", json={"assessment": STEMI, "location": LOCATION, "top": 30}, headers=crew).json()  # fmt: skip
    refused = [r["recent_declines"] for r in fresh["recommendations"] if r["facility_id"] == first]
    assert refused == [1]  # the refusal is remembered for other patients' ranking

    second = next_ids[0]
    rechosen = api.client.post("/api/emergency/notifications", json={"assessment": STEMI, "location": LOCATION, "facility_id": second, "incident_id": note["incident_id"]}, headers=crew).json()["notification"]  # fmt: skip
    er2 = headers(api, **hospital(second))
    accepted = api.client.post(f"/api/emergency/notifications/{rechosen['id']}/accept", headers=er2)
    assert accepted.status_code == 200 and accepted.json()["notification"]["state"] == "accepted"
    assert fhir(api, rechosen["encounter"])["status"] == "planned"  # accepted, still on the way
    assert api.client.post(f"/api/emergency/notifications/{rechosen['id']}/arrive", headers=er2).status_code == 200  # fmt: skip
    assert fhir(api, rechosen["encounter"])["status"] == "arrived"
    assert api.client.post(f"/api/emergency/notifications/{rechosen['id']}/start", headers=er2).status_code == 200  # fmt: skip
    final = fhir(api, rechosen["encounter"])
    assert final["status"] == "in-progress"
    assert [h["status"] for h in final["statusHistory"]] == ["planned", "arrived", "in-progress"]
    assert all("start" in h["period"] for h in final["statusHistory"])
    assert fhir(api, rechosen["service_request"])["status"] == "completed"
    stream = api.client.get(f"/api/emergency/facilities/{second}/events?follow=false", headers=er2).text  # fmt: skip
    assert [line.split(": ")[1] for line in stream.splitlines() if line.startswith("event:")] == ["notified", "accepted", "arrived", "in-progress"]  # fmt: skip
    history = api.client.get(f"/fhir/Encounter/{rechosen['encounter'].split('/')[1]}/_history", headers=api.headers()).json()  # fmt: skip
    assert history["total"] == 3  # every step is a version


def test_an_unknown_decline_reason_is_a_422(api: Api) -> None:
    open_everything(api)
    first = city_facilities()[0].id
    note = api.client.post("/api/emergency/notifications", json={"assessment": STEMI, "location": LOCATION, "facility_id": first}, headers=headers(api, **CREW)).json()["notification"]  # fmt: skip
    r = api.client.post(f"/api/emergency/notifications/{note['id']}/decline", json={"reason": "busy"}, headers=headers(api, **hospital(first)))  # fmt: skip
    assert r.status_code == 422
