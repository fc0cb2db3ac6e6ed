"""/ems and /er/{facility-id} as served (shells, security headers, no inline script) and the stream
tickets that open the ER board's event stream (short-lived, one facility, one use, no bearer)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import Unauthorized
from khealth.records.service import Records
from khealth.store.memory import MemoryStore
from khealth.web.stream_tickets import TICKET_SECONDS, StreamTickets
from tests.emergency_support import city_facilities, load_facilities
from tests.support import Api

pytestmark = pytest.mark.integration

STEMI = {"age": 67, "sex": "male", "chief_complaint": "흉통", "systolic_bp": 105, "heart_rate": 115, "stemi_ecg": True}  # fmt: skip
CREW = {"scope": "user/Patient.crs user/Encounter.crus user/ServiceRequest.crus", "subject": "dan", "role": "ems"}  # fmt: skip


def hospital(facility_id: str) -> dict[str, Any]:
    return {"scope": "user/Encounter.rus user/ServiceRequest.rus", "subject": f"er-{facility_id}",
            "role": "clinician", "facility": facility_id}  # fmt: skip


@pytest.fixture
def api(tmp_path: Path) -> Api:
    store = MemoryStore()
    load_facilities(Records(store))
    return Api(store, tmp_path)


# -- the pages ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/ems", "/ems?lang=en", "/er/org-99010000", "/er/org-99010000?lang=en"])  # fmt: skip
def test_the_pages_are_shells_with_strict_security_headers(api: Api, path: str) -> None:
    r = api.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp  # fmt: skip
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
    scripts = re.findall(r"<script([^>]*)>", r.text)
    assert scripts and all("src=" in s or 'type="application/json"' in s for s in scripts)
    assert "style=" not in r.text and "<style" not in r.text and " on" + "click=" not in r.text
    assert "빛고을대학교병원" not in r.text  # no facility or patient data is rendered server-side


def test_the_console_speaks_korean_first_and_english_on_request(api: Api) -> None:
    assert "추천 병원" in api.client.get("/ems").text
    english = api.client.get("/ems?lang=en").text
    assert "Recommend hospitals" in english and '<html lang="en">' in english


def test_a_malformed_facility_id_is_a_404_page(api: Api) -> None:
    r = api.client.get("/er/%3Cscript%3E")
    assert r.status_code == 404 and "<script>" not in r.text


def test_the_scripts_and_styles_are_served_from_this_origin(api: Api) -> None:
    for name in ("common.js", "citymap.js", "ems.js", "er.js", "emergency.css"):
        assert api.client.get(f"/static/khealth/{name}").status_code == 200


# -- stream tickets ----------------------------------------------------------------------------
def ticket_for(api: Api, facility_id: str, claims: dict[str, Any]) -> dict[str, Any]:
    r = api.client.post(f"/api/emergency/facilities/{facility_id}/events/ticket", headers=api.headers(**claims))  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_ticket_opens_the_facilitys_stream_once(api: Api) -> None:
    fid = city_facilities()[0].id
    api.client.post("/api/emergency/notifications", json={"assessment": STEMI, "location": {"lat": 35.16, "lon": 126.85}, "facility_id": fid}, headers=api.headers(**CREW))  # fmt: skip
    issued = ticket_for(api, fid, hospital(fid))
    assert issued["expires_in"] == TICKET_SECONDS
    assert issued["events_url"].startswith(f"/api/emergency/facilities/{fid}/events?ticket=")
    stream = api.client.get(issued["events_url"] + "&follow=false")
    assert stream.status_code == 200 and "event: notified" in stream.text
    again = api.client.get(issued["events_url"] + "&follow=false")
    assert again.status_code == 401  # one use


def test_a_ticket_is_bound_to_its_facility_and_is_no_bearer_token(api: Api) -> None:
    first, second = city_facilities()[0].id, city_facilities()[1].id
    ticket = ticket_for(api, first, hospital(first))["ticket"]
    other = api.client.get(f"/api/emergency/facilities/{second}/events?follow=false&ticket={ticket}")  # fmt: skip
    assert other.status_code == 401
    as_bearer = api.client.get(f"/api/emergency/facilities/{first}/incoming", headers={"Authorization": f"Bearer {ticket}"})  # fmt: skip
    assert as_bearer.status_code == 401
    forged = api.client.get(f"/api/emergency/facilities/{first}/events?follow=false&ticket={api.token()}")  # fmt: skip
    assert forged.status_code == 401  # a bearer token is no ticket either


def test_only_a_caller_who_may_read_the_stream_gets_a_ticket(api: Api) -> None:
    first, second = city_facilities()[0].id, city_facilities()[1].id
    url = f"/api/emergency/facilities/{first}/events/ticket"
    assert api.client.post(url).status_code == 401
    assert api.client.post(url, headers=api.headers(**CREW)).status_code == 403
    assert api.client.post(url, headers=api.headers(**hospital(second))).status_code == 403
    assert api.client.post("/api/emergency/facilities/org-nowhere/events/ticket", headers=api.headers()).status_code == 404  # fmt: skip


def test_a_ticket_expires_after_sixty_seconds(api: Api) -> None:
    now = [time.time()]
    tickets = StreamTickets(api.tokens, clock=lambda: now[0])
    ctx = AccessContext(
        "carol", Role.CLINICIAN, parse_scopes("user/Encounter.rs"), facility="org-1"
    )
    ticket = tickets.issue(ctx, "org-1")
    now[0] += TICKET_SECONDS + 1
    with pytest.raises(Unauthorized):
        tickets.redeem(ticket, "org-1")
    fresh = tickets.issue(ctx, "org-1")
    redeemed = tickets.redeem(fresh, "org-1")
    assert (redeemed.subject, redeemed.role, redeemed.facility) == (
        "carol",
        Role.CLINICIAN,
        "org-1",
    )
    assert [str(s) for s in redeemed.scopes] == ["user/Encounter.rs"]
