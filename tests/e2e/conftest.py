"""Browser tests: a real server (uvicorn subprocess on a free loopback port, SQLite in a temporary
folder, the synthetic city's emergency facilities loaded through the record service) driven by
Playwright in Debian's Chromium (``/usr/bin/chromium``; no browser is ever downloaded).

Without ``/usr/bin/chromium`` these tests skip with the reason, unless ``REQUIRE_BROWSER=1``
(set by ``.ci/run``), when they fail. ``make browser`` installs Debian's package.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from khealth.access.context import Role
from khealth.access.tokens import TokenService, load_or_create_key
from khealth.records.service import Records
from khealth.store.factory import open_store
from tests.emergency_support import city_facilities, load_facilities

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
CREW_SCOPES = ("user/Patient.crs user/Encounter.crus user/ServiceRequest.crus "
               "user/Organization.rs user/Location.rs user/HealthcareService.rs")  # fmt: skip
ER_SCOPES = "user/Patient.rs user/Encounter.rus user/ServiceRequest.rus"
OPEN = {"hvec": 6, "hvoc": 2, "hvicc": 3, "hvctayn": "Y", "hvangioayn": "Y", "MKioskTy1": "Y",
        "MKioskTy2": "Y", "MKioskTy28": "Y", "on_call": {"01": True, "02": True, "04": True, "06": True}}  # fmt: skip
STATUS_COUNT = 6  # "a status for a few ERs": the rest have none and rank with its penalty


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {CHROMIUM} is missing (run `make browser`)")
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium (`make browser`) to run e2e tests"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base: str
    tokens: TokenService
    log: Path

    def crew_token(self) -> str:
        return self.tokens.issue(CREW_SCOPES, subject="dan", role=Role.EMS, ttl=600)

    def er_token(self, facility_id: str) -> str:
        return self.tokens.issue(ER_SCOPES, subject=f"carol-{facility_id}", role=Role.CLINICIAN,
                                 facility=facility_id, ttl=600)  # fmt: skip

    def get(self, path: str) -> Any:
        token = self.tokens.issue("system/*.rs", subject="e2e-check", ttl=60)
        response = httpx.get(self.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
        response.raise_for_status()
        return response.json()


def _wait_until_up(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not start within 60 s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``khealth serve`` as an operator runs it, over a fresh SQLite file."""
    _require_chromium()
    data_dir = tmp_path_factory.mktemp("e2e-server")
    url = f"sqlite:///{data_dir / 'khealth.db'}"
    store = open_store(url, migrate=True)
    load_facilities(Records(store))
    store.close()
    tokens = TokenService(load_or_create_key(data_dir), "khealth")
    port, log = _free_port(), data_dir / "server.log"
    env = {**os.environ, "KHEALTH_DATA_DIR": str(data_dir), "KHEALTH_DATABASE_URL": url}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "khealth"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, base, log)
        operator = tokens.issue("system/*.cruds", subject="e2e-simulator", ttl=600)
        for facility in city_facilities()[:STATUS_COUNT]:
            r = httpx.put(f"{base}/api/emergency/facilities/{facility.id}/status", json=OPEN,
                          headers={"Authorization": f"Bearer {operator}"}, timeout=10)  # fmt: skip
            assert r.status_code == 200, r.text
        yield Server(base, tokens, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()
