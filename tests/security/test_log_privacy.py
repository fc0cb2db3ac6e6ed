"""Logs are free of names, resident numbers, CI, phone numbers, addresses and clinical values
(ARCHITECTURE rule 5), asserted on everything logged while synthetic patients are created,
read and searched over HTTP (stdlib logging through caplog, structlog through capsys)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from khealth.store.memory import MemoryStore
from khealth.synth.city import generate_city
from khealth.synth.config import SynthConfig
from tests.support import Api

pytestmark = pytest.mark.security


def _secrets(patients: list[dict[str, Any]], clinical: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for p in patients:
        for name in p.get("name", []):
            found.add(name.get("text", ""))
            found.update(name.get("given", []))
        found.update(i["value"] for i in p.get("identifier", []))
        found.update(t["value"] for t in p.get("telecom", []))
        found.update(a.get("text", "") for a in p.get("address", []))
    for r in clinical:
        value = (r.get("valueQuantity") or {}).get("value")
        if value is not None and len(str(value)) >= 4:
            found.add(str(value))
    return {s for s in found if len(s) >= 2}


def test_no_personal_or_clinical_value_reaches_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    city = list(generate_city(SynthConfig(citizens=3, seed=7)))
    patients = [r for r in city if r["resourceType"] == "Patient"][:5]
    ids = {p["id"] for p in patients}
    clinical = [
        r for r in city if r["resourceType"] in ("Observation", "Condition")
        and (r.get("subject") or {}).get("reference", "").removeprefix("Patient/") in ids
    ][:60]  # fmt: skip
    caplog.set_level(logging.DEBUG)
    # the test's own HTTP client logs its URLs; the server's logs are what is judged
    caplog.set_level(logging.WARNING, logger="httpx")
    api = Api(MemoryStore(), tmp_path)
    h = api.headers()
    for r in patients + clinical:
        api.client.put(f"/fhir/{r['resourceType']}/{r['id']}", json=r, headers=h)
    for p in patients:
        api.client.get(f"/fhir/Patient/{p['id']}", headers=h)
        family = p["name"][0]["family"]
        api.client.get(f"/fhir/Patient?family={family}", headers=h)
        api.client.get(f"/fhir/Patient?telecom={p['telecom'][0]['value']}", headers=h)
        api.client.get(f"/fhir/Patient/{p['id']}/$everything", headers=h)
        api.client.get(f"/fhir/Patient/{p['id']}/nonsense", headers=h)  # errors log too
    api.client.put("/fhir/Patient/bad", json={"resourceType": "Patient", "id": "x"}, headers=h)
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    out = capsys.readouterr()
    logged += out.out + out.err
    assert "request" in logged or caplog.records  # something was logged at all
    leaked = sorted(s for s in _secrets(patients, clinical) if s in logged)
    lines = [line for line in logged.splitlines() if any(s in line for s in leaked)]
    assert not leaked, f"{len(leaked)} personal or clinical values in the logs: {lines[:1]!r}"
