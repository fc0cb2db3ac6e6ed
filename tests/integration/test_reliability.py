"""Reliability under concurrency and crashes, on SQLite and PostgreSQL.

Two writers with the same If-Match: exactly one wins.  Identical conditional creates
racing: one resource.  A server killed with SIGKILL while clients post transactions:
everything acknowledged is there after a restart and no transaction is half-stored.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from khealth.access.tokens import TokenService, load_or_create_key
from khealth.core.errors import KhealthError
from khealth.records.service import Records
from khealth.store.factory import open_store
from khealth.store.sql import SqlStore
from tests.fhir_http import MRN, observation, patient
from tests.postgres import PostgresUnavailable, empty_tables, private_database
from tests.support import system_context

pytestmark = pytest.mark.integration
SQL_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])
MARKER = "urn:khealth:test:bundle"


@pytest.fixture(scope="module")
def private_postgres_url() -> Iterator[str]:
    """A database of this process alone: these tests kill servers and race writers, and
    must not share tables with another test run truncating them meanwhile."""
    try:
        with private_database(f"khealth_reliability_{os.getpid()}") as url:
            yield url
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL is not reachable: {error}")


@pytest.fixture
def sql_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if backend == "sqlite":
        path = tmp_path / "khealth.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        store = open_store(f"sqlite:///{path}")
    else:
        store = open_store(request.getfixturevalue("private_postgres_url"))
        empty_tables(store)
    yield store
    store.close()


def _race(n: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in ``n`` threads released together; each result or the error raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(slot: int) -> None:
        barrier.wait()
        try:
            results[slot] = work()
        except KhealthError as error:
            results[slot] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@SQL_BACKENDS
def test_two_updates_with_the_same_if_match_one_wins_the_other_gets_412(
    sql_store: SqlStore,
) -> None:
    records = Records(sql_store)
    ctx = system_context()
    with records.begin(ctx, "create") as rs:
        pid = rs.create(patient()).stored.id
    names = itertools.count()
    rounds = 3  # a few rounds: one lucky interleaving proves little

    for version in range(1, rounds + 1):

        def update(if_match: int = version) -> int:
            body = {**patient(given=f"n{next(names)}"), "id": pid}  # always a real change
            with records.begin(ctx, "update") as rs:
                return rs.update("Patient", pid, body, if_match).stored.version

        outcomes = _race(2, update)
        assert sorted(o if isinstance(o, int) else o.status for o in outcomes) == [
            version + 1,
            412,
        ], outcomes
    with records.begin(ctx, "read") as rs:
        assert rs.read("Patient", pid).version == rounds + 1


@SQL_BACKENDS
def test_two_http_clients_with_the_same_if_match_one_wins(
    sql_store: SqlStore, tmp_path: Path
) -> None:
    from tests.support import Api

    api = Api(sql_store, tmp_path)
    headers = api.headers()
    created = api.client.post("/fhir/Patient", headers=headers, json=patient()).json()
    url = f"/fhir/Patient/{created['id']}"

    genders = iter(["male", "other"])

    def put() -> int:
        body = {**created, "gender": next(genders)}
        response = api.client.put(url, headers={**headers, "If-Match": 'W/"1"'}, json=body)
        status: int = response.status_code
        return status

    statuses = _race(2, put)
    assert sorted(statuses) == [200, 412]
    final = api.client.get(url, headers=headers)
    assert final.headers["etag"] == 'W/"2"'


@SQL_BACKENDS
def test_concurrent_identical_conditional_creates_make_one_resource(sql_store: SqlStore) -> None:
    records = Records(sql_store)
    ctx = system_context()
    condition = f"identifier={MRN}|RACE-1"

    def create() -> tuple[str, bool]:
        with records.begin(ctx, "create") as rs:
            result = rs.create(patient(mrn="RACE-1"), if_none_exist=condition)
            return result.stored.id, result.created

    outcomes = _race(8, create)
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert len({id for id, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1
    with records.begin(ctx, "search") as rs:
        from khealth.fhir.search_parse import parse_search

        found = rs.search(parse_search("Patient", [("identifier", f"{MRN}|RACE-1")]))
    assert len(found.page.matches) == 1


# -- SIGKILL mid-write -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``uvicorn khealth.web.main:app`` in a subprocess on a loopback port."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "KHEALTH_DATA_DIR": str(self.data_dir),
               "KHEALTH_DATABASE_URL": self.database_url, "KHEALTH_LOG_LEVEL": "WARNING"}  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "khealth.web.main:app",
                 "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("server did not start within 60 s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[[str], Server]]:
    started: list[Server] = []

    def make(database_url: str) -> Server:
        server = Server(tmp_path, database_url)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _bundle(number: int, observations: int = 4) -> dict[str, Any]:
    urn = f"urn:uuid:00000000-0000-4000-8000-{number:012d}"
    tag = {"system": MARKER, "value": str(number)}
    entries = [{"fullUrl": urn, "resource": {**patient(), "identifier": [tag]},
                "request": {"method": "POST", "url": "Patient"}}]  # fmt: skip
    for i in range(observations):
        obs = {**observation("x", value=float(i)), "identifier": [tag],
               "subject": {"reference": urn}}  # fmt: skip
        entries.append({"resource": obs, "request": {"method": "POST", "url": "Observation"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _post_until_killed(
    server: Server, token: str, acknowledged: list[int], stop: threading.Event
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    number = 0
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
        while not stop.is_set():
            number += 1
            try:
                response = client.post("/fhir", json=_bundle(number))
            except httpx.TransportError:
                return  # the server is gone
            if response.status_code == 200:
                acknowledged.append(number)


def _stored_counts(server: Server, token: str) -> Counter[str]:
    """How many resources carry each bundle's marker, per bundle."""
    headers = {"Authorization": f"Bearer {token}"}
    counts: Counter[str] = Counter()
    for resource_type in ("Patient", "Observation"):
        url: str | None = (
            f"{server.base}/fhir/{resource_type}?identifier={MARKER}|&_count=1000&_elements=identifier"
        )
        while url:
            response = httpx.get(url, headers=headers, timeout=30)
            assert response.status_code == 200, response.text[:500]
            bundle = response.json()
            for entry in bundle.get("entry", []):
                counts[entry["resource"]["identifier"][0]["value"]] += 1
            url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
            if url:
                url = url.replace("http://127.0.0.1:" + str(server.port), server.base)
    return counts


@SQL_BACKENDS
def test_a_server_killed_mid_write_keeps_every_acknowledged_bundle_and_no_partial_one(
    sql_store: SqlStore, server_factory: Callable[[str], Server], tmp_path: Path
) -> None:
    url = sql_store.url
    sql_store.close()  # the server owns the database now
    token = TokenService(load_or_create_key(tmp_path), "khealth").issue("system/*.cruds")
    server = server_factory(url)
    server.start()
    acknowledged: list[int] = []
    stop = threading.Event()
    poster = threading.Thread(target=_post_until_killed, args=(server, token, acknowledged, stop))
    poster.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.07)  # land the kill somewhere inside a later transaction
    server.kill()
    stop.set()
    poster.join(timeout=30)
    assert len(acknowledged) >= 8, "the server acknowledged too few bundles to test anything"

    server.start()  # same data directory and database, new process
    counts = _stored_counts(server, token)
    size = len(_bundle(0)["entry"])
    partial = {number: n for number, n in counts.items() if n != size}
    assert partial == {}, f"partially stored transactions: {partial}"
    missing = [n for n in acknowledged if counts[str(n)] != size]
    assert missing == [], f"acknowledged but lost: {missing}"
