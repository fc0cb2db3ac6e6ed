"""The issue's "Done when": a SMART app written by someone else — the ``fhirclient``
package — completes a standalone patient launch against a served khealth and reads only
that patient's data.

khealth runs under uvicorn on a loopback port (a real HTTP server, in a thread of this
process so that the test can seed it); fhirclient discovers the authorisation server from
``/fhir/metadata``, builds the authorize URL (with PKCE S256), and exchanges the code; the
test plays the citizen's browser (sign-in with the identity verification stand-in, the
code read from the development SMS outbox page, consent).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fhirclient import client as fhir_client
from fhirclient.models.observation import Observation
from fhirclient.server import FHIRPermissionDeniedException

from khealth.core.config import Settings
from khealth.web.app import create_app
from tests.auth_support import ALICE, REDIRECT, csrf, location, observation, patient

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    monkeypatch.setenv("KHEALTH_DEV_MODE", "1")
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'k.db'}")
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    client_id = _seed(app, base)
    yield base, client_id
    server.should_exit = True
    thread.join(timeout=10)


def _seed(app: object, base: str) -> str:
    tokens = app.state.services.tokens  # type: ignore[attr-defined]
    verifier = app.state.auth.verifier  # type: ignore[attr-defined]
    ci = verifier.synthetic_ci(ALICE["name"], ALICE["birth_date"], ALICE["phone"])
    operator = {
        "Authorization": "Bearer "
        + tokens.issue("system/*.cruds", subject="olivia", role="operator")
    }
    for resource in (patient("alice", ALICE, ci), patient("bob"), observation("o-alice", "alice"),
                     observation("o-bob", "bob")):  # fmt: skip
        url = f"{base}/fhir/{resource['resourceType']}/{resource['id']}"
        assert httpx.put(url, json=resource, headers=operator).status_code == 201
    registered = httpx.post(f"{base}/auth/register", headers=operator, json={
        "client_name": "fhirclient demo", "redirect_uris": [REDIRECT], "client_id": "ignored",
    })  # fmt: skip
    assert registered.status_code == 201, registered.text
    return str(registered.json()["client_id"])


def _browser(base: str, authorize_url: str) -> str:
    """The citizen's browser from the authorize URL to the redirect back to the app."""
    with httpx.Client(base_url=base, follow_redirects=False) as browser:
        assert location(browser.get(authorize_url)) == "/auth/continue"
        assert location(browser.get("/auth/continue")) == "/auth/login"
        page = browser.get("/auth/login")
        started = browser.post("/auth/login/citizen", data={**ALICE, "csrf": csrf(page.text)})
        form = browser.get(location(started))
        outbox = browser.get("/auth/dev/sms-outbox").text
        code = re.search(r"\[(\d{6})\]", outbox)
        assert code, "the development SMS outbox shows the code"
        done = browser.post(
            "/auth/login/code", data={"code": code.group(1), "csrf": csrf(form.text)}
        )
        consent = browser.get(location(done))
        back = browser.post("/auth/consent", data={"decision": "allow", "csrf": csrf(consent.text)})
        return location(back)


def test_fhirclient_completes_a_standalone_patient_launch_and_reads_only_that_patient(
    served: tuple[str, str],
) -> None:
    base, client_id = served
    smart = fhir_client.FHIRClient(settings={
        "app_id": client_id, "api_base": f"{base}/fhir", "redirect_uri": REDIRECT,
        "scope": "launch/patient openid fhirUser patient/*.rs",
    })  # fmt: skip
    authorize_url = smart.authorize_url
    assert authorize_url.startswith(f"{base}/auth/authorize?")
    assert "code_challenge_method=S256" in authorize_url

    smart.handle_callback(_browser(base, authorize_url))

    assert smart.ready and smart.patient_id == "alice"
    assert smart.patient is not None and smart.patient.id == "alice"
    found = Observation.where(struct={"patient": "alice"}).perform_resources_iter(smart.server)
    assert [o.id for o in found] == ["o-alice"]
    with pytest.raises(FHIRPermissionDeniedException):
        smart.server.request_json("Observation/o-bob")
    with pytest.raises(FHIRPermissionDeniedException) as refused:
        smart.server.request_json("Patient/bob")  # another patient's record
    assert refused.value.response.status_code == 403
