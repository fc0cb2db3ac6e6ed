"""How fast search values are extracted from Synthea resources, on one core.

Run: ``.venv/bin/python bench/bench_extract.py [--rounds 20]``.  Reads every Bundle in
``../shared/data/synthea-r4``, compiles the plans once (reported separately), then times
``extract`` and ``patient_compartments`` over all resources, best of several rounds.
The import path needs >= 20,000 resources/s here (docs: issue on bulk import).
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path
from typing import Any

import orjson

from khealth.fhir import fhirdates, fhirnumbers, index_values, reference_parts
from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.fhir.extract import extract, patient_compartments, uncompiled

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "synthea-r4"


def load(resolve: bool) -> list[dict[str, Any]]:
    """Every resource of every Bundle; with ``resolve``, ``urn:uuid:`` references are
    rewritten to ``Type/id`` as a transaction would store them (so ``patient`` and the
    compartment rows exist, as in production)."""
    resources: list[dict[str, Any]] = []
    for path in sorted(DATA.glob("*.json")):
        entries = orjson.loads(path.read_bytes())["entry"]
        local = {
            e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in entries
            if "fullUrl" in e and "id" in e["resource"]
        }
        found = [e["resource"] for e in entries]
        resources.extend([_rewritten(r, local) for r in found] if resolve else found)
    return resources


def _rewritten(value: Any, local: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: local.get(v, v) if k == "reference" and isinstance(v, str) else _rewritten(v, local)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewritten(v, local) for v in value]
    return value


def clear_value_caches() -> None:
    """Forget memoised dates, numbers, texts and references, as for never-seen data."""
    for cached in (
        fhirdates.date_range,
        fhirnumbers._json_range,
        index_values._normalized,
        reference_parts.parse_reference_string,
    ):
        cached.cache_clear()


def best_rate(
    resources: list[dict[str, Any]], rounds: int, with_compartments: bool, cold: bool = False
) -> float:
    best = float("inf")
    for _ in range(rounds):
        if cold:
            clear_value_caches()
        start = time.perf_counter()
        for resource in resources:
            index = extract(resource)
            if with_compartments:
                patient_compartments(resource, index)
        best = min(best, time.perf_counter() - start)
    return len(resources) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    resources = load(resolve=False)
    if not resources:
        raise SystemExit(f"no Synthea bundles in {DATA}")
    start = time.perf_counter()
    for resource_type in SUPPORTED_TYPES:
        uncompiled(resource_type)  # compiles the plan of every supported type
    print(f"compile all {len(SUPPORTED_TYPES)} plans: {time.perf_counter() - start:.2f} s")
    counts = collections.Counter(r["resourceType"] for r in resources)
    rows = sum(len(extract(r).params()) for r in resources)
    print(f"{len(resources)} resources, {rows / len(resources):.1f} parameters with values each")
    print("mix:", ", ".join(f"{t} {n}" for t, n in counts.most_common()))
    print(f"extract: {best_rate(resources, rounds, False):,.0f} resources/s (best of {rounds})")
    both = best_rate(resources, rounds, True)
    print(f"extract + patient_compartments: {both:,.0f} resources/s")
    resolved = load(resolve=True)
    rows = sum(len(extract(r).params()) for r in resolved)
    print(f"with urn:uuid references resolved to Type/id ({rows / len(resolved):.1f} params):")
    print(f"  extract: {best_rate(resolved, rounds, False):,.0f} resources/s")
    print(f"  extract + patient_compartments: {best_rate(resolved, rounds, True):,.0f} resources/s")
    cold = best_rate(resolved, rounds, True, cold=True)
    print(f"  the same, value caches cleared before each round: {cold:,.0f} resources/s")
    for resource_type in sorted(counts):
        subset = [r for r in resources if r["resourceType"] == resource_type]
        rate = best_rate(subset, max(3, rounds // 4), False)
        print(f"  {resource_type:22} {rate:>10,.0f} /s")


if __name__ == "__main__":
    main()
