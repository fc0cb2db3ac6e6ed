"""The token endpoint beyond the first exchange: refresh-token rotation and reuse,
introspection (RFC 7662), revocation (RFC 7009), SMART Backend Services
(client_credentials with private_key_jwt), registration, and the citizen's connected
apps — each revocation refused on the very next request."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from khealth.auth.clients import register_client
from khealth.auth.model import ClientKind
from tests.auth_support import (
    TOKEN_URL,
    auth_of,
    bearer,
    exchange,
    public_app,
    seed_city,
    standalone_launch,
)
from tests.support import Api

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def api(store: Any, tmp_path: Path) -> Api:
    api = Api(store, tmp_path)
    seed_city(api)
    public_app(api)
    return api


def _tokens(api: Api) -> dict[str, Any]:
    response = exchange(api, "growth-chart", standalone_launch(api, "growth-chart"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _refresh(api: Api, token: str) -> Any:
    return api.client.post("/auth/token", data={"grant_type": "refresh_token",
                                                "refresh_token": token, "client_id": "growth-chart"})  # fmt: skip


def _reads(api: Api, access: str) -> int:
    return int(api.client.get("/fhir/Patient/alice", headers=bearer(access)).status_code)


def test_a_refresh_token_rotates_and_the_new_pair_works(api: Api) -> None:
    first = _tokens(api)
    second = _refresh(api, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    assert _reads(api, second["access_token"]) == 200
    assert _refresh(api, second["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_chain(api: Api) -> None:
    first = _tokens(api)
    second = _refresh(api, first["refresh_token"]).json()
    reuse = _refresh(api, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert _reads(api, first["access_token"]) == 401
    assert _reads(api, second["access_token"]) == 401
    assert _refresh(api, second["refresh_token"]).status_code == 400


def test_a_refresh_token_is_bound_to_its_client(api: Api) -> None:
    public_app(api, "other-app")
    first = _tokens(api)
    stolen = api.client.post("/auth/token", data={"grant_type": "refresh_token",
                                                  "refresh_token": first["refresh_token"], "client_id": "other-app"})  # fmt: skip
    assert stolen.json()["error"] == "invalid_grant"


def test_introspection_reports_active_tokens_to_their_client_only(api: Api) -> None:
    tokens = _tokens(api)
    found = api.client.post(
        "/auth/introspect", data={"token": tokens["access_token"], "client_id": "growth-chart"}
    ).json()
    assert (
        found["active"] is True
        and found["patient"] == "alice"
        and found["client_id"] == "growth-chart"
    )
    refresh = api.client.post(
        "/auth/introspect", data={"token": tokens["refresh_token"], "client_id": "growth-chart"}
    ).json()
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    public_app(api, "other-app")
    other = api.client.post(
        "/auth/introspect", data={"token": tokens["access_token"], "client_id": "other-app"}
    ).json()
    assert other == {"active": False}
    junk = api.client.post(
        "/auth/introspect", data={"token": "junk", "client_id": "growth-chart"}
    ).json()
    assert junk == {"active": False}


def test_revoking_an_access_token_refuses_it_on_the_next_request(api: Api) -> None:
    tokens = _tokens(api)
    assert _reads(api, tokens["access_token"]) == 200
    done = api.client.post(
        "/auth/revoke", data={"token": tokens["access_token"], "client_id": "growth-chart"}
    )
    assert done.status_code == 200
    assert _reads(api, tokens["access_token"]) == 401
    found = api.client.post(
        "/auth/introspect", data={"token": tokens["access_token"], "client_id": "growth-chart"}
    )
    assert found.json() == {"active": False}


def test_revoking_a_refresh_token_revokes_the_grant(api: Api) -> None:
    tokens = _tokens(api)
    api.client.post(
        "/auth/revoke", data={"token": tokens["refresh_token"], "client_id": "growth-chart"}
    )
    assert _reads(api, tokens["access_token"]) == 401
    assert _refresh(api, tokens["refresh_token"]).status_code == 400


def test_the_citizen_sees_her_connected_apps_and_revoking_one_takes_effect_at_once(
    api: Api,
) -> None:
    tokens = _tokens(api)
    h = bearer(tokens["access_token"])
    apps = api.client.get("/api/citizen/apps", headers=h).json()["apps"]
    assert [(a["client_id"], a["patients"]) for a in apps] == [("growth-chart", ["alice"])]
    second = _tokens(api)  # the same app authorised again (a second grant)
    # she revokes the app using a token of another session (the phone app of the platform)
    own = api.headers("patient/*.rs", subject=api.tokens.verify(tokens["access_token"]).subject,
                      role="citizen", patient="alice")  # fmt: skip
    assert api.client.delete("/api/citizen/apps/growth-chart", headers=own).status_code == 204
    assert _reads(api, tokens["access_token"]) == 401
    assert _reads(api, second["access_token"]) == 401
    assert _refresh(api, second["refresh_token"]).status_code == 400
    assert api.client.get("/api/citizen/apps", headers=own).json()["apps"] == []
    assert api.client.delete("/api/citizen/apps/growth-chart", headers=own).status_code == 404


def test_connected_apps_are_for_citizens_only(api: Api) -> None:
    clinician = api.headers("user/*.rs", subject="carol", role="clinician", facility="facility-a")
    assert api.client.get("/api/citizen/apps", headers=clinician).status_code == 403
    assert api.client.get("/api/citizen/apps").status_code == 401


# -- SMART Backend Services -------------------------------------------------------------------
@pytest.fixture
def backend(api: Api) -> ECKey:
    key = ECKey.generate_key("P-384", parameters={"kid": "k1"}, private=True)
    jwks = json.dumps({"keys": [key.as_dict(private=False)]})
    register_client(auth_of(api).store, "병원 EMR 연동", ClientKind.BACKEND, [], jwks=jwks,
                    scope="system/Patient.rs system/Observation.rs", facility="facility-a",
                    client_id="hospital-emr")  # fmt: skip
    return key


def _assertion(key: ECKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": "hospital-emr", "sub": "hospital-emr", "aud": TOKEN_URL, "exp": now + 240,
            "jti": uuid.uuid4().hex, **claims}  # fmt: skip
    return jwt.encode({"alg": "ES384", "kid": "k1"}, body, key, algorithms=["ES384"])


def _client_credentials(api: Api, assertion: str, scope: str = "system/Observation.rs") -> Any:
    return api.client.post("/auth/token", data={
        "grant_type": "client_credentials", "scope": scope,
        "client_assertion_type": ASSERTION, "client_assertion": assertion,
    })  # fmt: skip


def test_a_backend_client_gets_a_system_token_with_a_signed_assertion(
    api: Api, backend: ECKey
) -> None:
    response = _client_credentials(
        api, _assertion(backend), "system/Observation.rs system/Encounter.rs"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "system/Observation.rs" and "refresh_token" not in body
    ctx = api.tokens.verify(body["access_token"])
    assert (
        ctx.role == "hospital-system"
        and ctx.facility == "facility-a"
        and ctx.client_id == "hospital-emr"
    )


@pytest.mark.parametrize(
    "claims",
    [{"aud": "http://test/auth/elsewhere"}, {"exp": int(time.time()) - 5},
     {"exp": int(time.time()) + 3600}, {"sub": "someone-else"}, {"jti": ""}],
    ids=["bad-aud", "expired", "lives-too-long", "sub-not-client", "no-jti"],
)  # fmt: skip
def test_it_refuses_a_bad_client_assertion(
    api: Api, backend: ECKey, claims: dict[str, Any]
) -> None:
    response = _client_credentials(api, _assertion(backend, **claims))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_it_refuses_a_replayed_assertion(api: Api, backend: ECKey) -> None:
    assertion = _assertion(backend)
    assert _client_credentials(api, assertion).status_code == 200
    replay = _client_credentials(api, assertion)
    assert replay.status_code == 401 and "jti" in replay.json()["error_description"]


def test_it_refuses_an_assertion_signed_by_another_key(api: Api, backend: ECKey) -> None:
    stranger = ECKey.generate_key("P-384", parameters={"kid": "k1"}, private=True)
    assert _client_credentials(api, _assertion(stranger)).status_code == 401


def test_a_public_client_cannot_use_client_credentials(api: Api) -> None:
    response = api.client.post("/auth/token", data={"grant_type": "client_credentials",
                                                    "client_id": "growth-chart", "scope": "system/*.rs"})  # fmt: skip
    assert response.json()["error"] == "unauthorized_client"


# -- registration -----------------------------------------------------------------------------
def test_only_an_operator_registers_clients_and_redirect_uris_are_checked(api: Api) -> None:
    body = {"client_name": "앱", "redirect_uris": ["https://x.example/cb"]}
    assert api.client.post("/auth/register", json=body).status_code == 401
    clinician = api.headers("user/*.rs", subject="carol", role="clinician", facility="facility-a")
    assert api.client.post("/auth/register", json=body, headers=clinician).status_code == 403
    operator = api.headers("system/*.cruds", subject="olivia", role="operator")
    made = api.client.post("/auth/register", json=body, headers=operator)
    assert made.status_code == 201 and made.json()["client_id"]
    for bad in (["http://x.example/cb"], ["https://x.example/*"], ["https://x.example/cb#f"]):
        refused = api.client.post(
            "/auth/register", json={**body, "redirect_uris": bad}, headers=operator
        )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata"


def test_discovery_advertises_s256_only_and_the_real_endpoints(api: Api) -> None:
    smart = api.client.get("/fhir/.well-known/smart-configuration").json()
    assert smart["code_challenge_methods_supported"] == ["S256"]
    assert smart["token_endpoint"] == TOKEN_URL
    oidc = api.client.get("/.well-known/openid-configuration").json()
    assert oidc["jwks_uri"] == "http://test/auth/jwks"
    keys = api.client.get("/auth/jwks").json()["keys"]
    assert keys and "d" not in keys[0]


def test_the_id_token_names_the_user_and_is_signed_by_the_published_key(api: Api) -> None:
    from joserfc.jwk import KeySet

    id_token = _tokens(api)["id_token"]
    keys = KeySet.import_key_set(api.client.get("/auth/jwks").json())
    claims = jwt.decode(id_token, keys).claims
    assert (
        claims["aud"] == "growth-chart" and claims["fhirUser"] == "http://test/fhir/Patient/alice"
    )
