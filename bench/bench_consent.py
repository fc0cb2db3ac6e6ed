"""What the consent decision point adds to a read and to a search of 100 results.

Run: ``.venv/bin/python bench/bench_consent.py [--patients 50] [--calls 300] [--database URL]``.
Loads ``--patients`` patients with 100 Observations each (held by facility B, one with a
sensitive code) and an active cross-hospital treatment Consent each into a fresh SQLite file
(or the PostgreSQL database given), then times through the record service, for clinician
carol of facility A:

* a read by id (one session: the patient's Consents are fetched, the resource classified and
  decided), and
* ``Observation?subject=Patient/x&_count=100`` (100 results classified and decided),

each with the gate on and with the gate off (the same calls with the decision point bypassed),
interleaved so that both see the same cache state.  Targets (issue 5): <= 1 ms added at p95 to a
read, <= 10 % added to a search of 100 results.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from khealth.access.context import AccessContext, Role  # noqa: E402
from khealth.access.scopes import parse_scopes  # noqa: E402
from khealth.fhir.search_parse import parse_search  # noqa: E402
from khealth.records import consent_gate  # noqa: E402
from khealth.records.service import Records  # noqa: E402
from khealth.store.factory import open_store  # noqa: E402
from tests.consent_support import consent  # noqa: E402

SERVICE = AccessContext("bench", Role.SERVICE, parse_scopes("system/*.cruds"))
WRITER = AccessContext("doc-b", Role.CLINICIAN, parse_scopes("user/*.cruds"), facility="fb")
CAROL = AccessContext("carol", Role.CLINICIAN, parse_scopes("user/*.rs"), facility="fa")


def observation(patient: str, n: int) -> dict[str, Any]:
    code = "7917-8" if n == 0 else "2339-0"  # one HIV test per patient: hidden by default
    return {"resourceType": "Observation", "id": f"{patient}-o{n}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "valueQuantity": {"value": 90 + n % 40, "unit": "mg/dL",
                              "system": "http://unitsofmeasure.org", "code": "mg/dL"}}  # fmt: skip


def load(records: Records, patients: int) -> None:
    for p in range(patients):
        pid = f"p{p}"
        with records.begin(SERVICE, "bench-load") as rs:
            rs.update("Patient", pid, {"resourceType": "Patient", "id": pid})
            rs.create(consent(pid))
        with records.begin(WRITER, "bench-load") as rs:
            for n in range(100):
                rs.update("Observation", f"{pid}-o{n}", observation(pid, n))


@contextmanager
def gate_off() -> Iterator[None]:
    """The same record-service calls with the decision point bypassed (every caller is
    treated as exempt): the cost of everything else."""
    original = consent_gate.exempt
    consent_gate.exempt = lambda ctx: True
    try:
        yield
    finally:
        consent_gate.exempt = original


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def measure(records: Records, patients: int, calls: int) -> dict[str, dict[str, list[float]]]:
    def read(i: int) -> Callable[[], Any]:
        def run() -> None:
            with records.begin(CAROL, "read") as rs:
                rs.read("Observation", f"p{i % patients}-o{1 + i % 99}")

        return run

    def search(i: int) -> Callable[[], Any]:
        query = parse_search(
            "Observation", [("subject", f"Patient/p{i % patients}"), ("_count", "100")]
        )

        def run() -> None:
            with records.begin(CAROL, "search-type") as rs:
                found = rs.search(query).page.matches
                assert len(found) in (99, 100)

        return run

    times: dict[str, dict[str, list[float]]] = {
        "read": {"on": [], "off": []}, "search": {"on": [], "off": []},
    }  # fmt: skip
    for i in range(calls):
        for name, make in (("read", read), ("search", search)):
            times[name]["on"].append(timed(make(i)))
            with gate_off():
                times[name]["off"].append(timed(make(i)))
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def report(times: dict[str, dict[str, list[float]]]) -> None:
    print(f"{'call':8} {'gate':4} {'p50 ms':>8} {'p95 ms':>8}")
    for name, runs in times.items():
        for state in ("off", "on"):
            v = runs[state]
            print(f"{name:8} {state:4} {statistics.median(v):8.3f} {p95(v):8.3f}")
    read, search = times["read"], times["search"]
    added_read = p95(read["on"]) - p95(read["off"])
    added_search = statistics.median(search["on"]) / statistics.median(search["off"]) - 1
    added_search95 = p95(search["on"]) / p95(search["off"]) - 1
    print(f"read: +{added_read:.3f} ms at p95 (target <= 1 ms)")
    print(f"search of 100: +{added_search:.1%} at p50, +{added_search95:.1%} at p95 "
          "(target <= 10 %)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--database", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = open_store(url, migrate=True)
        records = Records(store)
        load(records, args.patients)
        gc.collect()
        measure(records, args.patients, 20)  # warm caches
        report(measure(records, args.patients, args.calls))
        store.close()


if __name__ == "__main__":
    main()
