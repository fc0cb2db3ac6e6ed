"""Helpers for the authorisation server's tests: a city of two citizens (alice, and her
child charlie for whom bob is guardian), a registered app, and the browser side of the
authorization-code flow driven by hand (TestClient, redirects followed one by one)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from khealth.access.context import Role
from khealth.auth.clients import register_client
from khealth.auth.model import ClientKind
from khealth.auth.service import Auth
from tests.support import Api

REDIRECT = "https://app.example/callback"
FHIR = "http://test/fhir"
TOKEN_URL = "http://test/auth/token"
ALICE = {"name": "김앨리스", "birth_date": "1985-03-14", "phone": "010-2345-6789", "carrier": "SKT"}
BOB = {"name": "박밥", "birth_date": "1980-07-01", "phone": "010-9876-5432", "carrier": "KT"}
STAFF_PASSWORD = "correct horse battery"


def auth_of(api: Api) -> Auth:
    found: Auth = api.app.state.auth
    return found


def patient(
    pid: str, person: dict[str, str] | None = None, ci: str | None = None
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if person:
        resource |= {"name": [{"text": person["name"]}], "birthDate": person["birth_date"],
                     "telecom": [{"system": "phone", "value": person["phone"], "use": "mobile"}]}  # fmt: skip
    if ci:
        resource["identifier"] = [
            {"system": "https://khealth.example.org/fhir/sid/kr-ci", "value": ci}
        ]
    return resource


def observation(oid: str, pid: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
            "subject": {"reference": f"Patient/{pid}"}}  # fmt: skip


def seed_city(api: Api) -> None:
    """alice (found by her CI), charlie (her child), bob (found by demographics)."""
    verifier = auth_of(api).verifier
    alice_ci = verifier.synthetic_ci(ALICE["name"], ALICE["birth_date"], ALICE["phone"])  # type: ignore[attr-defined]
    h = api.headers()
    for resource in (patient("alice", ALICE, alice_ci), patient("charlie"), patient("bob", BOB),
                     observation("o-alice", "alice"), observation("o-charlie", "charlie"),
                     observation("o-bob", "bob")):  # fmt: skip
        url = f"/fhir/{resource['resourceType']}/{resource['id']}"
        assert api.client.put(url, json=resource, headers=h).status_code == 201


def public_app(api: Api, client_id: str = "growth-chart", scope: str | None = None) -> str:
    register_client(auth_of(api).store, "성장 차트 앱", ClientKind.PUBLIC, [REDIRECT],
                    scope=scope, client_id=client_id)  # fmt: skip
    return client_id


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


def authorize_params(client_id: str, challenge: str, **overrides: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
              "scope": "launch/patient openid fhirUser offline_access patient/*.rs",
              "state": "st-" + secrets.token_hex(4), "aud": FHIR,
              "code_challenge": challenge, "code_challenge_method": "S256"}  # fmt: skip
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def location(response: Any) -> str:
    assert response.status_code in (302, 303, 307), (response.status_code, response.text[:300])
    return str(response.headers["location"])


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def last_code(api: Api) -> str:
    body = auth_of(api).store.recent_sms(1)[0].body
    found = re.search(r"\[(\d{6})\]", body)
    assert found
    return found.group(1)


def citizen_sign_in(api: Api, person: dict[str, str]) -> Any:
    """From the login page to the page after sign-in; returns that response."""
    c = api.client
    page = c.get("/auth/login")
    start = c.post(
        "/auth/login/citizen", data={**person, "csrf": csrf(page.text)}, follow_redirects=False
    )
    form = c.get(location(start))
    done = c.post("/auth/login/code", data={"code": last_code(api), "csrf": csrf(form.text)},
                  follow_redirects=False)  # fmt: skip
    return c.get(location(done), follow_redirects=False)


@dataclass
class Launch:
    code: str
    state: str
    verifier: str
    redirect: str


def standalone_launch(api: Api, client_id: str, person: dict[str, str] = ALICE,
                      pick: str | None = None, **overrides: str) -> Launch:  # fmt: skip
    verifier, challenge = pkce()
    params = authorize_params(client_id, challenge, **overrides)
    c = api.client
    first = c.get("/auth/authorize?" + urlencode(params), follow_redirects=False)
    assert location(first) == "/auth/continue"
    page = citizen_sign_in(api, person)
    if pick is not None:
        assert 'name="patient"' in page.text
        chosen = c.post(
            "/auth/pick", data={"patient": pick, "csrf": csrf(page.text)}, follow_redirects=False
        )
        page = c.get(location(chosen), follow_redirects=False)
    assert "/auth/consent" in page.text, page.text[:500]
    back = c.post(
        "/auth/consent", data={"decision": "allow", "csrf": csrf(page.text)}, follow_redirects=False
    )
    url = location(back)
    return Launch(query(url).get("code", ""), query(url).get("state", ""), verifier, url)


def exchange(api: Api, client_id: str, launch: Launch, **overrides: str) -> Any:
    form = {"grant_type": "authorization_code", "code": launch.code, "redirect_uri": REDIRECT,
            "client_id": client_id, "code_verifier": launch.verifier, **overrides}  # fmt: skip
    return api.client.post("/auth/token", data=form)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def staff(
    api: Api,
    username: str = "carol",
    role: Role = Role.CLINICIAN,
    facility: str | None = "facility-a",
) -> Any:
    return auth_of(api).accounts.add_staff(
        username, STAFF_PASSWORD, role, facility, work_factor=2**10
    )


def citizen_account_id(api: Api, person: dict[str, str]) -> str:
    """The account a citizen got at sign-in (found as the server finds it: by CI hash)."""
    from khealth.auth.identity_verification import ci_hash

    auth = auth_of(api)
    ci = auth.verifier.synthetic_ci(person["name"], person["birth_date"], person["phone"])  # type: ignore[attr-defined]
    account = auth.store.account_by_ci(ci_hash(auth.secret, ci))
    assert account is not None
    return account.id
