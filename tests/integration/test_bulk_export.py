"""Bulk Data $export as a client sees it (https://hl7.org/fhir/uv/bulkdata/export.html),
on every backend: kick-off, status polling, the manifest, NDJSON files, cancel.

The city here: patients p1, p2, p3; observations o1, o2 (p1), o3 (p2), o4 (p3); condition
c1 (p2); organization org1 (in no compartment); Group g1 with members p1 and p2 (a Group
is in its members' compartments, so g1 belongs to p1's and p2's).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from httpx import Response

from khealth.records.ports import JobState
from tests.support import Api

pytestmark = pytest.mark.integration

BASE = "http://test/fhir"
BULK = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition"
WAIT_S = 20.0


def _observation(id: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
    }  # fmt: skip


CITY: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1", "gender": "female"},
    {"resourceType": "Patient", "id": "p2", "gender": "male"},
    {"resourceType": "Patient", "id": "p3", "gender": "other"},
    _observation("o1", "p1"),
    _observation("o2", "p1"),
    _observation("o3", "p2"),
    _observation("o4", "p3"),
    {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p2"},
     "code": {"text": "x"}},
    {"resourceType": "Organization", "id": "org1", "name": "A"},
    {"resourceType": "Group", "id": "g1", "type": "person", "actual": True,
     "member": [{"entity": {"reference": "Patient/p1"}},
                {"entity": {"reference": "Patient/p2"}},
                {"entity": {"reference": "Patient/p3"}, "inactive": True}]},
]  # fmt: skip
EVERYTHING = {f"{r['resourceType']}/{r['id']}" for r in CITY}
P1 = {"Patient/p1", "Observation/o1", "Observation/o2", "Group/g1"}
P2 = {"Patient/p2", "Observation/o3", "Condition/c1", "Group/g1"}
P3 = {"Patient/p3", "Observation/o4", "Group/g1"}  # g1 names p3, inactive but in compartment


@pytest.fixture
def api(store: Any, tmp_path: Path) -> Iterator[Api]:
    api = Api(store, tmp_path)
    headers = api.headers()
    for resource in CITY:
        url = f"/fhir/{resource['resourceType']}/{resource['id']}"
        assert api.client.put(url, json=resource, headers=headers).status_code == 201
    yield api
    api.app.state.bulk_exports.shutdown()


def _kick_headers(api: Api, scope: str = "system/*.rs", **claims: Any) -> dict[str, str]:
    claims.setdefault("subject", "exporter")
    return {
        **api.headers(scope, **claims),
        "Accept": "application/fhir+json",
        "Prefer": "respond-async",
    }


def _path(url: str) -> str:
    assert url.startswith(BASE)
    return url.removeprefix("http://test")


def kick_off(api: Api, path: str, headers: dict[str, str] | None = None) -> str:
    """Start an export; the status URL's path."""
    response = api.client.get(path, headers=headers or _kick_headers(api))
    assert response.status_code == 202, response.text
    return _path(response.headers["content-location"])


def wait(api: Api, status_path: str, headers: dict[str, str] | None = None) -> Response:
    """Poll until the job is no longer running (bounded)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        response = api.client.get(status_path, headers=headers or _kick_headers(api))
        if response.status_code != 202:
            return response
        assert response.headers["retry-after"].isdigit()
        assert "x-progress" in response.headers
        assert time.monotonic() < deadline, "the export did not finish in time"
        time.sleep(0.02)


def manifest(api: Api, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = wait(api, kick_off(api, path, headers), headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def exported(api: Api, body: dict[str, Any], headers: dict[str, str] | None = None) -> set[str]:
    """Every ``type/id`` in the manifest's output files, checking lines and counts."""
    found: list[str] = []
    for output in body["output"]:
        response = api.client.get(_path(output["url"]), headers=headers or _kick_headers(api))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = response.content.splitlines()
        assert len(lines) == output["count"]
        for line in lines:
            resource = orjson.loads(line)
            assert resource["resourceType"] == output["type"]
            found.append(f"{resource['resourceType']}/{resource['id']}")
    assert len(found) == len(set(found)), "a resource was exported twice"
    return set(found)


# -- kick-off, manifest, files ----------------------------------------------------------------


def test_system_export_writes_every_resource_once_in_ndjson_per_type(api: Api) -> None:
    body = manifest(api, "/fhir/$export")
    assert body["requiresAccessToken"] is True
    assert body["request"] == f"{BASE}/$export"
    assert body["transactionTime"].endswith("Z")
    assert body["error"] == []
    counts = {o["type"]: o["count"] for o in body["output"]}
    assert counts == {"Patient": 3, "Observation": 4, "Condition": 1, "Organization": 1,
                      "Group": 1}  # fmt: skip
    assert exported(api, body) == EVERYTHING


def test_type_parameter_limits_the_export_to_those_types(api: Api) -> None:
    body = manifest(api, "/fhir/$export?_type=Observation,Patient&_outputFormat=ndjson")
    assert {o["type"] for o in body["output"]} == {"Observation", "Patient"}
    assert exported(api, body) == {
        r for r in EVERYTHING if r.split("/")[0] in {"Observation", "Patient"}
    }


def test_since_keeps_only_resources_updated_at_or_after_it(api: Api) -> None:
    changed = {**_observation("o3", "p2"), "status": "amended"}
    response = api.client.put("/fhir/Observation/o3", json=changed, headers=api.headers())
    since = response.json()["meta"]["lastUpdated"]
    body = manifest(api, f"/fhir/$export?_since={since}")
    assert exported(api, body) == {"Observation/o3"}


def test_since_takes_an_offset_whose_plus_sign_was_not_encoded(api: Api) -> None:
    body = manifest(api, "/fhir/$export?_since=2999-01-01T09:00:00+09:00")
    assert body["output"] == []


def test_patient_level_export_holds_every_patient_compartment_and_nothing_else(api: Api) -> None:
    body = manifest(api, "/fhir/Patient/$export")
    assert exported(api, body) == P1 | P2 | P3


def test_group_export_holds_exactly_the_active_members_compartments(api: Api) -> None:
    body = manifest(api, "/fhir/Group/g1/$export")
    assert exported(api, body) == P1 | P2


def test_post_kick_off_takes_a_parameters_body(api: Api) -> None:
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Condition"},
        {"name": "_outputFormat", "valueString": "application/fhir+ndjson"},
    ]}  # fmt: skip
    response = api.client.post(
        "/fhir/Group/g1/$export", json=parameters, headers=_kick_headers(api)
    )
    assert response.status_code == 202, response.text
    body = wait(api, _path(response.headers["content-location"])).json()
    assert exported(api, body) == {"Condition/c1"}


def test_large_types_are_split_into_several_files(api: Api) -> None:
    api.app.state.bulk_exports.file_limit = 3
    body = manifest(api, "/fhir/$export?_type=Observation")
    assert [o["count"] for o in body["output"]] == [3, 1]
    assert len({o["url"] for o in body["output"]}) == 2
    assert len(exported(api, body)) == 4


def test_the_export_is_audited_once_with_counts_per_type(api: Api, store: Any) -> None:
    manifest(api, "/fhir/$export?_type=Patient,Observation")
    deadline = time.monotonic() + WAIT_S
    while not (events := _export_audits(store)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert len(events) == 1
    counts = {
        e["type"]["code"]: e["detail"][0]["valueString"]
        for e in events[0]["entity"]
        if "detail" in e
    }
    assert counts == {"Patient": "3", "Observation": "4"}
    assert "o1" not in orjson.dumps(events[0]).decode()


def _export_audits(store: Any) -> list[dict[str, Any]]:
    if hasattr(store, "_audit"):
        raw = [event for _, event in store._audit]
    else:
        from sqlalchemy import select

        from khealth.store.schema import audit_log

        with store.engine.connect() as conn:
            raw = [bytes(c) for c in conn.execute(select(audit_log.c.content)).scalars()]
    events = [orjson.loads(e) for e in raw]
    return [e for e in events if e["subtype"][0]["code"] == "export"]


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "prefer"),
    [
        ("", ""),  # Prefer: respond-async is required
        ("?_outputFormat=application/fhir%2Bjson", "respond-async"),
        ("?_type=NoSuchType", "respond-async"),
        ("?_since=yesterday", "respond-async"),
        ("?_since=2026-01-01", "respond-async"),  # a date, not an instant
        ("?_typeFilter=Observation%3Fstatus%3Dfinal", "respond-async"),
    ],
)
def test_bad_kick_offs_answer_400_with_an_operation_outcome(
    api: Api, query: str, prefer: str
) -> None:
    headers = {**_kick_headers(api), "Prefer": prefer}
    response = api.client.get(f"/fhir/$export{query}", headers=headers)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_an_unknown_group_is_404_at_kick_off(api: Api) -> None:
    response = api.client.get("/fhir/Group/nobody/$export", headers=_kick_headers(api))
    assert response.status_code == 404


def test_another_subject_cannot_poll_or_download_the_export(api: Api) -> None:
    status = kick_off(api, "/fhir/$export?_type=Patient")
    body = wait(api, status).json()
    other = _kick_headers(api, subject="someone-else")
    assert api.client.get(status, headers=other).status_code == 403
    assert api.client.get(_path(body["output"][0]["url"]), headers=other).status_code == 403
    assert api.client.delete(status, headers=other).status_code == 403


def test_a_file_download_without_a_token_is_401(api: Api) -> None:
    body = manifest(api, "/fhir/$export?_type=Patient")
    response = api.client.get(_path(body["output"][0]["url"]))
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_types_the_token_cannot_read_are_left_out_and_reported(api: Api) -> None:
    headers = _kick_headers(api, "system/Patient.rs")
    body = manifest(api, "/fhir/$export?_type=Patient,Observation", headers)
    assert {o["type"] for o in body["output"]} == {"Patient"}
    assert [e["type"] for e in body["error"]] == ["OperationOutcome"]
    response = api.client.get(_path(body["error"][0]["url"]), headers=headers)
    outcome = orjson.loads(response.content.splitlines()[0])
    assert "Observation" in outcome["issue"][0]["diagnostics"]


def test_a_kick_off_with_no_readable_type_is_403(api: Api) -> None:
    headers = _kick_headers(api, "system/Organization.rs")
    response = api.client.get("/fhir/$export?_type=Observation", headers=headers)
    assert response.status_code == 403


def test_a_patient_scoped_token_exports_only_its_patients_compartment(api: Api) -> None:
    headers = _kick_headers(api, "patient/*.rs", patient="p1", subject="citizen-p1")
    assert exported(api, manifest(api, "/fhir/$export", headers), headers) == P1
    assert exported(api, manifest(api, "/fhir/Patient/$export", headers), headers) == P1
    assert exported(api, manifest(api, "/fhir/Group/g1/$export", headers), headers) == P1


# -- cancel, restart --------------------------------------------------------------------------


def test_delete_cancels_the_export_and_removes_its_files(api: Api, tmp_path: Path) -> None:
    status = kick_off(api, "/fhir/$export")
    response = api.client.delete(status, headers=_kick_headers(api))
    assert response.status_code == 202
    assert api.client.get(status, headers=_kick_headers(api)).status_code == 404
    assert api.client.delete(status, headers=_kick_headers(api)).status_code == 404
    folder = tmp_path / "exports" / status.rsplit("/", 1)[1]
    deadline = time.monotonic() + WAIT_S
    while folder.exists():
        assert time.monotonic() < deadline, "the cancelled export's files stayed"
        time.sleep(0.02)


def test_an_unknown_job_is_404(api: Api) -> None:
    response = api.client.get("/fhir/$export-poll-status/nope", headers=_kick_headers(api))
    assert response.status_code == 404


def test_a_finished_export_is_still_known_after_a_restart(
    api: Api, store: Any, tmp_path: Path
) -> None:
    body = manifest(api, "/fhir/$export?_type=Patient")
    restarted = Api(store, tmp_path)  # same database and data directory, new process state
    status = _path(body["output"][0]["url"]).replace("$export-file", "$export-poll-status")
    status = status.rsplit("/", 1)[0]
    response = restarted.client.get(status, headers=_kick_headers(restarted))
    assert response.status_code == 200
    assert exported(restarted, response.json()) == {"Patient/p1", "Patient/p2", "Patient/p3"}


def test_an_export_interrupted_by_a_restart_is_reported_failed(api: Api, store: Any) -> None:
    detail = {"owner": "exporter", "level": "system", "request_url": f"{BASE}/$export",
              "transaction_time": 1, "types": ["Patient"], "denied": [], "since": None,
              "group_id": None, "patients": [], "output": [], "error": [],
              "progress": "exporting Patient", "failure": None}  # fmt: skip
    with store.session() as session:
        session.put_job(JobState("orphan", "bulk-export", "running", 1, 1, orjson.dumps(detail)))
    response = api.client.get("/fhir/$export-poll-status/orphan", headers=_kick_headers(api))
    assert response.status_code == 500
    assert "restart" in response.json()["issue"][0]["diagnostics"]


def test_export_routes_do_not_shadow_reads_and_are_in_the_capability_statement(
    api: Api,
) -> None:
    assert api.client.get("/fhir/Patient/p1", headers=api.headers()).status_code == 200
    statement = api.client.get("/fhir/metadata").json()
    assert {"name": "export", "definition": f"{BULK}/export"} in statement["rest"][0]["operation"]
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for resource_type, operation in (("Patient", "patient-export"), ("Group", "group-export")):
        definitions = [o["definition"] for o in resources[resource_type]["operation"]]
        assert f"{BULK}/{operation}" in definitions
