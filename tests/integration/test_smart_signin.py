"""Sign-in pages over HTTP: staff password + TOTP (enrolment shows the otpauth URI),
a staff app launch, CSRF rejection, 429 rate limits, security headers, the development
SMS outbox only in development mode."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from khealth.access.context import Role
from khealth.auth import totp
from khealth.store.memory import MemoryStore
from tests.auth_support import (
    ALICE,
    STAFF_PASSWORD,
    Launch,
    auth_of,
    authorize_params,
    bearer,
    csrf,
    exchange,
    location,
    pkce,
    public_app,
    query,
    seed_city,
    staff,
)
from tests.support import Api


@pytest.fixture
def api(tmp_path: Path) -> Api:
    api = Api(MemoryStore(), tmp_path)
    seed_city(api)
    public_app(api, scope="openid fhirUser offline_access user/*.rs patient/*.rs launch/patient")
    return api


def _password(api: Api, username: str = "carol", password: str = STAFF_PASSWORD) -> object:
    page = api.client.get("/auth/login?tab=staff")
    return api.client.post("/auth/login/staff", data={"username": username, "password": password,
                                                      "csrf": csrf(page.text)}, follow_redirects=False)  # fmt: skip


def _totp(api: Api) -> object:
    page = api.client.get("/auth/login/totp")
    secret = re.search(r'<code class="key">([A-Z2-7]+)</code>', page.text)
    assert secret, "first sign-in shows the key to enrol"
    assert "otpauth://totp/khealth%3Acarol?secret=" in page.text
    code = totp.code_for(secret.group(1), int(time.time()))
    return api.client.post(
        "/auth/login/totp", data={"code": code, "csrf": csrf(page.text)}, follow_redirects=False
    )


def test_a_clinician_signs_in_with_password_and_totp_and_launches_an_app(api: Api) -> None:
    staff(api)
    verifier, challenge = pkce()
    params = authorize_params(
        "growth-chart", challenge, scope="openid fhirUser user/Observation.rs"
    )
    api.client.get("/auth/authorize?" + urlencode(params), follow_redirects=False)
    assert location(_password(api)) == "/auth/login/totp"
    assert location(_totp(api)) == "/auth/continue"
    consent = api.client.get("/auth/continue")
    back = api.client.post(
        "/auth/consent",
        data={"decision": "allow", "csrf": csrf(consent.text)},
        follow_redirects=False,
    )
    url = location(back)
    body = exchange(
        api, "growth-chart", Launch(query(url)["code"], params["state"], verifier, url)
    ).json()
    ctx = api.tokens.verify(body["access_token"])
    assert (ctx.role, ctx.facility, body["scope"]) == (
        "clinician",
        "facility-a",
        "openid fhirUser user/Observation.rs",
    )
    assert "patient" not in body


def test_a_wrong_password_or_totp_code_is_refused(api: Api) -> None:
    staff(api)
    assert _password(api, password="wrong password!").status_code == 401  # type: ignore[attr-defined]
    assert _password(api, username="nobody").status_code == 401  # type: ignore[attr-defined]
    _password(api)
    page = api.client.get("/auth/login/totp")
    refused = api.client.post("/auth/login/totp", data={"code": "000000", "csrf": csrf(page.text)})
    assert refused.status_code == 401


def test_a_staff_session_without_the_second_factor_cannot_approve_anything(api: Api) -> None:
    staff(api)
    _verifier, challenge = pkce()
    api.client.get(
        "/auth/authorize?" + urlencode(authorize_params("growth-chart", challenge)),
        follow_redirects=False,
    )
    _password(api)
    assert location(api.client.get("/auth/continue", follow_redirects=False)) == "/auth/login"


def test_every_form_refuses_a_missing_or_wrong_csrf_token(api: Api) -> None:
    api.client.get("/auth/login")
    for path, data in [("/auth/login/citizen", ALICE), ("/auth/login/staff", {"username": "carol", "password": "x"}),
                       ("/auth/login/code", {"code": "123456"}), ("/auth/consent", {"decision": "allow"}),
                       ("/auth/pick", {"patient": "alice"}), ("/auth/logout", {})]:  # fmt: skip
        assert api.client.post(path, data=data).status_code == 403, path
        assert api.client.post(path, data={**data, "csrf": "forged"}).status_code == 403, path


def test_staff_sign_in_is_rate_limited_per_account(api: Api) -> None:
    staff(api)
    statuses = [_password(api, password="wrong password!").status_code for _ in range(6)]  # type: ignore[attr-defined]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    limited = _password(api)  # even the right password, until the window passes
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0  # type: ignore[attr-defined]


def test_one_time_codes_are_rate_limited(api: Api) -> None:
    page = api.client.get("/auth/login")
    statuses = [api.client.post("/auth/login/citizen", data={**ALICE, "csrf": csrf(page.text)},
                                follow_redirects=False).status_code for _ in range(4)]  # fmt: skip
    assert statuses == [303, 303, 303, 429]


def test_pages_carry_the_security_headers(api: Api) -> None:
    for path in ("/auth/login", "/auth/login?tab=staff&lang=en"):
        response = api.client.get(path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert (
            "default-src 'none'" in csp
            and "frame-ancestors 'none'" in csp
            and "unsafe-inline" not in csp
        )
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        cookie = response.headers.get("set-cookie", "")
        assert "HttpOnly" in cookie or path != "/auth/login"
    assert "본인인증" in api.client.get("/auth/login?lang=ko").text
    assert "Mobile number" in api.client.get("/auth/login?lang=en").text


def test_the_sms_outbox_exists_only_in_development_mode(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.client.get("/auth/dev/sms-outbox").status_code == 404
    monkeypatch.setenv("KHEALTH_DEV_MODE", "1")
    dev = Api(MemoryStore(), tmp_path / "dev")
    page = dev.client.get("/auth/login")
    dev.client.post("/auth/login/citizen", data={**ALICE, "csrf": csrf(page.text)})
    outbox = dev.client.get("/auth/dev/sms-outbox")
    assert (
        outbox.status_code == 200 and "010-2345-****" in outbox.text and "6789" not in outbox.text
    )


def test_sign_out_ends_the_session(api: Api) -> None:
    staff(api)
    _password(api)
    _totp(api)
    page = api.client.get("/auth/signed-in")
    assert page.status_code == 200
    api.client.post("/auth/logout", data={"csrf": csrf(page.text)})
    assert location(api.client.get("/auth/signed-in", follow_redirects=False)) == "/auth/login"


def test_staff_accounts_need_a_known_role_a_facility_for_clinicians_and_a_long_password(
    api: Api,
) -> None:
    from khealth.auth.accounts import AccountError

    accounts = auth_of(api).accounts
    for args in [("x1", STAFF_PASSWORD, Role.CITIZEN, None), ("x2", STAFF_PASSWORD, Role.CLINICIAN, None),
                 ("x3", "short", Role.OPERATOR, None), ("Bad Name", STAFF_PASSWORD, Role.OPERATOR, None)]:  # fmt: skip
        with pytest.raises(AccountError):
            accounts.add_staff(*args, work_factor=2**10)  # type: ignore[arg-type]
    staff(api, "olivia", Role.OPERATOR, None)
    with pytest.raises(AccountError):
        staff(api, "olivia", Role.OPERATOR, None)


def test_a_revoked_session_token_is_refused_where_the_fhir_api_checks_tokens(api: Api) -> None:
    from tests.auth_support import standalone_launch

    body = exchange(
        api,
        "growth-chart",
        standalone_launch(api, "growth-chart", scope="launch/patient patient/*.rs"),
    ).json()
    h = bearer(body["access_token"])
    assert api.client.get("/fhir/Observation?patient=alice", headers=h).status_code == 200
    auth_of(api).server.revoke_app(api.tokens.verify(body["access_token"]).subject, "growth-chart")
    assert api.client.get("/fhir/Observation?patient=alice", headers=h).status_code == 401
