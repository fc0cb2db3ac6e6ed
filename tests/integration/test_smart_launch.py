"""SMART App Launch 2.x standalone patient launch over HTTP: authorize → sign-in (the
mobile identity verification stand-in) → consent → code → token → FHIR reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.auth_support import (
    ALICE,
    BOB,
    REDIRECT,
    authorize_params,
    bearer,
    exchange,
    location,
    pkce,
    public_app,
    query,
    seed_city,
    standalone_launch,
)
from tests.support import Api


@pytest.fixture
def api(store: Any, tmp_path: Path) -> Api:
    """Over memory, SQLite and PostgreSQL (the conftest ``store`` fixture)."""
    api = Api(store, tmp_path)
    seed_city(api)
    public_app(api)
    return api


def test_a_citizen_completes_a_standalone_launch_and_reads_only_her_record(api: Api) -> None:
    launch = standalone_launch(api, "growth-chart")
    assert launch.redirect.startswith(REDIRECT + "?")
    assert launch.code
    response = exchange(api, "growth-chart", launch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["patient"] == "alice"
    assert {"id_token", "refresh_token", "access_token"} <= body.keys()
    assert response.headers["cache-control"] == "no-store"
    h = bearer(body["access_token"])
    assert api.client.get("/fhir/Patient/alice", headers=h).status_code == 200
    assert api.client.get("/fhir/Observation/o-alice", headers=h).status_code == 200
    assert api.client.get("/fhir/Observation/o-bob", headers=h).status_code in (403, 404)
    assert api.client.get("/fhir/Patient/bob", headers=h).status_code in (403, 404)


def test_it_echoes_the_state_it_was_given(api: Api) -> None:
    launch = standalone_launch(api, "growth-chart", state="opaque-Ünïcode-state")
    assert launch.state == "opaque-Ünïcode-state"


def test_a_citizen_found_by_demographics_gets_her_own_record(api: Api) -> None:
    body = exchange(api, "growth-chart", standalone_launch(api, "growth-chart", BOB)).json()
    assert body["patient"] == "bob"


def test_a_guardian_picks_the_child_and_gets_a_guardian_token_for_the_child(api: Api) -> None:
    from tests.auth_support import auth_of, citizen_account_id, citizen_sign_in

    citizen_sign_in(api, ALICE)  # creates alice's account, linked to Patient/alice
    auth_of(api).accounts.add_guardianship(citizen_account_id(api, ALICE), "charlie")
    api.client.cookies.clear()
    body = exchange(
        api, "growth-chart", standalone_launch(api, "growth-chart", pick="charlie")
    ).json()
    assert body["patient"] == "charlie"
    h = bearer(body["access_token"])
    assert api.client.get("/fhir/Observation/o-charlie", headers=h).status_code == 200
    assert api.client.get("/fhir/Observation/o-alice", headers=h).status_code in (403, 404)
    claims = api.tokens.verify(body["access_token"])
    assert claims.role == "guardian" and claims.patient == "charlie"


def test_a_guardian_cannot_pick_someone_not_in_their_care(api: Api) -> None:
    from tests.auth_support import auth_of, citizen_account_id, citizen_sign_in, csrf

    citizen_sign_in(api, ALICE)
    auth_of(api).accounts.add_guardianship(citizen_account_id(api, ALICE), "charlie")
    api.client.cookies.clear()
    _verifier, challenge = pkce()
    api.client.get(
        "/auth/authorize?" + urlencode(authorize_params("growth-chart", challenge)),
        follow_redirects=False,
    )
    from tests.auth_support import citizen_sign_in as sign_in

    page = sign_in(api, ALICE)
    refused = api.client.post(
        "/auth/pick", data={"patient": "bob", "csrf": csrf(page.text)}, follow_redirects=False
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"aud": "https://elsewhere.example/fhir"}, "invalid_request"),
    ],
)
def test_it_refuses_a_bad_authorisation_request_back_to_the_app_with_the_state(
    api: Api, overrides: dict[str, str], error: str
) -> None:
    _verifier, challenge = pkce()
    params = authorize_params("growth-chart", challenge, **overrides)
    url = location(api.client.get("/auth/authorize?" + urlencode(params), follow_redirects=False))
    assert url.startswith(REDIRECT)
    assert query(url)["error"] == error and query(url)["state"] == params["state"]


@pytest.mark.parametrize(
    "redirect_uri",
    [REDIRECT + "/evil", "https://app.example/callback?x=1", "https://app.example/Callback",
     "https://evil.example/callback"],
)  # fmt: skip
def test_it_never_redirects_to_an_unregistered_uri(api: Api, redirect_uri: str) -> None:
    _verifier, challenge = pkce()
    params = authorize_params("growth-chart", challenge, redirect_uri=redirect_uri)
    response = api.client.get("/auth/authorize?" + urlencode(params), follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


def test_an_unknown_client_gets_a_page_not_a_redirect(api: Api) -> None:
    _verifier, challenge = pkce()
    params = authorize_params("nobody", challenge)
    response = api.client.get("/auth/authorize?" + urlencode(params), follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


def test_a_code_works_once_and_its_reuse_revokes_what_it_issued(api: Api) -> None:
    launch = standalone_launch(api, "growth-chart")
    first = exchange(api, "growth-chart", launch).json()
    again = exchange(api, "growth-chart", launch)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert (
        api.client.get("/fhir/Patient/alice", headers=bearer(first["access_token"])).status_code
        == 401
    )


def test_the_token_request_must_repeat_the_redirect_uri_and_prove_the_verifier(api: Api) -> None:
    launch = standalone_launch(api, "growth-chart")
    wrong_verifier = exchange(api, "growth-chart", launch, code_verifier="x" * 50)
    assert wrong_verifier.json()["error"] == "invalid_grant"
    launch = standalone_launch(api, "growth-chart")
    wrong_redirect = exchange(api, "growth-chart", launch, redirect_uri=REDIRECT + "/other")
    assert wrong_redirect.json()["error"] == "invalid_grant"


def test_the_citizen_can_deny_the_app(api: Api) -> None:
    from tests.auth_support import citizen_sign_in, csrf

    _verifier, challenge = pkce()
    params = authorize_params("growth-chart", challenge)
    api.client.get("/auth/authorize?" + urlencode(params), follow_redirects=False)
    page = citizen_sign_in(api, ALICE)
    back = api.client.post(
        "/auth/consent", data={"decision": "deny", "csrf": csrf(page.text)}, follow_redirects=False
    )
    assert query(location(back)) == {"error": "access_denied", "state": params["state"]}
