"""Validation speed on the Synthea sample (one core): `.venv/bin/python bench/bench_validation.py`.

Reports the one-off compile time of the structure model and resources validated per second,
overall and for the most frequent resource types.  The bulk-import target needs about
20,000 resources/s from validation alone (5,000/s including the database on two cores).
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from khealth.fhir.structure import structure_model
from khealth.fhir.validation import validate_resource

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "synthea-r4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of Bundles")
    parser.add_argument("--rounds", type=int, default=5, help="passes over all resources")
    args = parser.parse_args()
    bundles = sorted(args.data.glob("*.json"))
    if not bundles:
        print(f"no Synthea bundles in {args.data}", file=sys.stderr)
        return 1

    started = time.perf_counter()
    structure_model()
    print(f"compile: {time.perf_counter() - started:.3f} s (definitions parsed and compiled)")

    resources = [
        entry["resource"] for path in bundles for entry in orjson.loads(path.read_bytes())["entry"]
    ]
    invalid = sum(1 for resource in resources if validate_resource(resource))  # also warms up
    print(f"{len(resources)} resources from {len(bundles)} bundles, {invalid} invalid")

    best = min(_seconds_per_pass(resources) for _ in range(args.rounds))
    print(f"all resources: {len(resources) / best:,.0f} resources/s (best of {args.rounds})")
    _per_type(resources)
    return 0


def _seconds_per_pass(resources: list[Any]) -> float:
    started = time.perf_counter()
    for resource in resources:
        validate_resource(resource)
    return time.perf_counter() - started


def _per_type(resources: list[Any]) -> None:
    by_type: dict[str, list[Any]] = collections.defaultdict(list)
    for resource in resources:
        by_type[resource["resourceType"]].append(resource)
    for name, group in sorted(by_type.items(), key=lambda item: -len(item[1]))[:8]:
        best = min(_seconds_per_pass(group) for _ in range(3))
        size = sum(len(orjson.dumps(resource)) for resource in group) / len(group)
        print(f"  {name:<22} {len(group):>5}  {len(group) / best:>9,.0f}/s  ~{size:,.0f} B each")


if __name__ == "__main__":
    raise SystemExit(main())
