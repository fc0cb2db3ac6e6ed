"""Latency of a CDS Hooks ``patient-view`` call for a patient with ten years of records.

Run: ``.venv/bin/python bench/bench_cds_hooks.py [--citizens 200] [--calls 200]``.
Generates a synthetic city (``khealth.synth``, ten years of history), loads it into a fresh
SQLite file, links each citizen's facility Patients with a Person (as the MPI will), picks the
citizen with the most records, and times POST /cds-services/khealth-risk-summary through the
full HTTP stack (TestClient, bearer token, record service, audit) without prefetch (the city
record is read through the one door) and with prefetch. Target (issue 7): p95 <= 200 ms.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from khealth.store.factory import open_store  # noqa: E402
from khealth.synth import City, SynthConfig  # noqa: E402
from tests.cds_city import SyntheticCitizen, load  # noqa: E402
from tests.consent_support import share_for_treatment  # noqa: E402
from tests.support import Api  # noqa: E402

URL = "/cds-services/khealth-risk-summary"
# carol works at a facility that holds none of the records: the citizen shares them for
# treatment (as in tests/integration/test_cds_hooks.py), so the consent gate runs as in use
CLINICIAN = {"scope": "user/*.rs", "subject": "carol", "role": "clinician", "facility": "fa"}


def build(directory: Path, citizens: int) -> tuple[Api, SyntheticCitizen]:
    store = open_store(f"sqlite:///{directory / 'bench.db'}", migrate=True)
    api = Api(store, directory)
    records = api.app.state.services.records
    heaviest: SyntheticCitizen | None = None
    for c in City(SynthConfig(citizens=citizens, seed=7)).citizens():
        person = SyntheticCitizen(c.citizen.id, tuple(c.output.resources))
        load(records, person)
        if heaviest is None or len(person.resources) > len(heaviest.resources):
            heaviest = person
    assert heaviest is not None
    share_for_treatment(records, list(heaviest.patient_ids))
    return api, heaviest


def call(api: Api, patient_id: str, prefetch: dict[str, Any] | None) -> float:
    body: dict[str, Any] = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                            "context": {"userId": "Practitioner/carol", "patientId": patient_id}}  # fmt: skip
    if prefetch is not None:
        body["prefetch"] = prefetch
    headers = api.headers(**CLINICIAN)
    started = time.perf_counter()
    response = api.client.post(URL, json=body, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    assert response.json()["cards"], "the clinician must see the record (consent)"
    return elapsed


def prefetch_of(person: SyntheticCitizen, patient_id: str) -> dict[str, Any]:
    mine = person.compartment(patient_id)

    def bundle(kind: str) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": r} for r in mine if r["resourceType"] == kind]}  # fmt: skip

    patient = next(r for r in mine if r["resourceType"] == "Patient")
    return {"patient": patient, "observations": bundle("Observation"),
            "conditions": bundle("Condition"), "medications": bundle("MedicationRequest")}  # fmt: skip


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"{name:<40} n={len(samples)} p50={statistics.median(samples):.1f} ms "
          f"p95={p95:.1f} ms max={ordered[-1]:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        api, person = build(Path(tmp), args.citizens)
        print(f"loaded {args.citizens} citizens in {time.perf_counter() - started:.1f} s; "
              f"patient: {len(person.resources)} resources, {len(person.patient_ids)} facility "
              "Patients over ten years")  # fmt: skip
        patient_id = person.patient_with("Observation")
        # the generated city stays in this process's heap; a server would not hold it, so
        # keep it out of the collector's full passes (they otherwise dominate the tail)
        gc.collect()
        gc.freeze()
        with api.client:
            for _ in range(10):  # warm up
                call(api, patient_id, None)
            report("patient-view, record service (all Patients)",
                   [call(api, patient_id, None) for _ in range(args.calls)])  # fmt: skip
            prefetch = prefetch_of(person, patient_id)
            report("patient-view, with prefetch",
                   [call(api, patient_id, prefetch) for _ in range(args.calls)])  # fmt: skip


if __name__ == "__main__":
    main()
