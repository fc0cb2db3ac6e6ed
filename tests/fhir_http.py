"""Helpers for the HTTP tests: a thin FHIR client over ``tests.support.Api`` and
resource factories (synthetic data only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support import Api

BASE = "http://test/fhir"
FHIR_JSON = "application/fhir+json"
MRN = "urn:oid:1.2.410.100.1"


def patient(
    family: str = "김", given: str = "민지", gender: str = "female", mrn: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "gender": gender,
        "birthDate": "1980-05-17",
        "name": [{"family": family, "given": [given]}],
    }
    if mrn is not None:
        body["identifier"] = [{"system": MRN, "value": mrn}]
    return body


def observation(patient_id: str, code: str = "2345-7", value: float = 99.0) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-03-01T08:00:00Z",
        "valueQuantity": {
            "value": value,
            "unit": "mg/dL",
            "system": "http://unitsofmeasure.org",
            "code": "mg/dL",
        },
    }


def local(url: str) -> str:
    """A link of a Bundle (absolute, under the configured base) as a client path."""
    parts = urlsplit(url)
    assert url.startswith(BASE), url
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Fhir:
    """Authorised requests with one token; ``as_(...)`` gives a client with another."""

    def __init__(self, api: Api, scope: str = "system/*.cruds", **claims: Any) -> None:
        self.api = api
        self.auth = api.headers(scope, **claims)

    def as_(self, scope: str, **claims: Any) -> Fhir:
        return Fhir(self.api, scope, **claims)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
        content: bytes | None = None, data: dict[str, str] | None = None,
    ) -> httpx.Response:  # fmt: skip
        merged = {**self.auth, **(headers or {})}
        response: httpx.Response
        if data is not None:
            merged["Content-Type"] = "application/x-www-form-urlencoded"
            response = self.api.client.request(method, path, headers=merged, data=data)
        elif body is not None:
            response = self.api.client.request(method, path, headers=merged, json=body)
        else:
            response = self.api.client.request(method, path, headers=merged, content=content)
        return response

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return self.request("POST", path, body, headers=headers)

    def put(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return self.request("PUT", path, body, headers=headers)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(f"/fhir/{body['resourceType']}", body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def ids(self, path: str) -> list[str]:
        """Ids of the matches of one search page."""
        response = self.get(path)
        assert response.status_code == 200, response.text
        return match_ids(response.json())

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every page of a search, following ``next`` links."""
        url: str | None = path
        while url is not None:
            response = self.get(url)
            assert response.status_code == 200, response.text
            bundle: dict[str, Any] = response.json()
            yield bundle
            url = next_link(bundle)

    def count(self) -> int:
        """How many live resources the store holds, all types."""
        response = self.get("/fhir?_summary=count&_total=accurate")
        assert response.status_code == 200, response.text
        total: int = response.json()["total"]
        return total


def match_ids(bundle: dict[str, Any]) -> list[str]:
    return [
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == "match"
    ]


def entries_of(bundle: dict[str, Any], mode: str) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    ]


def next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link", []):
        if link["relation"] == "next":
            return local(link["url"])
    return None


def link(bundle: dict[str, Any], relation: str) -> str | None:
    for item in bundle.get("link", []):
        if item["relation"] == relation:
            return str(item["url"])
    return None


def assert_outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response has ``status`` and an OperationOutcome body with at least one issue."""
    assert response.status_code == status, (response.status_code, response.text[:800])
    outcome: dict[str, Any] = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"]
    return outcome


def expressions(outcome: dict[str, Any]) -> list[str]:
    return [e for issue in outcome["issue"] for e in issue.get("expression", [])]
