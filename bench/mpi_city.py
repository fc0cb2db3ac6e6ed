"""The facility Patients of a synthetic city, and nothing else: input for the MPI benchmark.

A whole city of 190,000 citizens is ~39 GB of NDJSON (Observations, Encounters…) and an hour
of generation; linkage needs only the Patients.  This runs the real generator
(``khealth.synth.city.City.citizens``: the same citizens, facility registrations, identity
noise and ids as ``khealth synth`` with the same seed and size) and keeps only the Patient
resources and the ground truth, in contiguous shards on worker processes concatenated in
order, so ``ndjson/Patient.ndjson`` and ``ground-truth.csv`` are byte for byte those of
``khealth synth --citizens N --seed S`` (checked by ``--check DIR``).

    .venv/bin/python -m bench.mpi_city --citizens 190000 --seed 7 --out var/bench/mpi-city
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

from khealth.synth.city import City
from khealth.synth.config import SynthConfig
from khealth.synth.writer import GROUND_TRUTH_COLUMNS


def _shard(args: tuple[int, int, int, Path]) -> tuple[int, float]:
    citizens, seed, bounds, part = args[0], args[1], args[2], args[3]
    start, stop = divmod(bounds, 1 << 32)
    config = SynthConfig(citizens=citizens, seed=seed, dicom_max_studies=0, emergency_days=0)
    city, count, cpu = City(config), 0, time.process_time()
    with (
        open(part.with_suffix(".ndjson"), "wb", buffering=1 << 20) as patients,
        open(part.with_suffix(".csv"), "w", newline="", encoding="utf-8") as truth_file,
    ):
        truth = csv.DictWriter(truth_file, fieldnames=GROUND_TRUTH_COLUMNS, lineterminator="\n")
        for records in city.citizens(start, stop):
            for resource in records.output.resources:
                if resource["resourceType"] == "Patient":
                    patients.write(orjson.dumps(resource) + b"\n")
            for t in records.output.ground_truth:
                truth.writerow({"patient_id": t.patient_id, "citizen_id": t.citizen_id,
                                "facility_id": t.facility_id, "mrn": t.mrn,
                                "duplicate_of": t.duplicate_of, "noise": ";".join(t.noise)})  # fmt: skip
                count += 1
    return count, time.process_time() - cpu


def write_patients(citizens: int, seed: int, out: Path, workers: int, shards: int = 64) -> int:
    """Writes ``out/ndjson/Patient.ndjson`` and ``out/ground-truth.csv``; returns the count."""
    parts = out / ".parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    (out / "ndjson").mkdir(exist_ok=True)
    count = max(1, min(shards, citizens))
    bounds = [citizens * k // count for k in range(count + 1)]
    jobs = [(citizens, seed, (bounds[k] << 32) | bounds[k + 1], parts / f"{k:04d}") for k in range(count)]  # fmt: skip
    context = multiprocessing.get_context("spawn")
    total, cpu = 0, 0.0
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for done, (n, seconds) in enumerate(pool.map(_shard, jobs), 1):
            total, cpu = total + n, cpu + seconds
            print(f"\rshard {done}/{count}: {total:,} Patients", end="", file=sys.stderr)
    print(file=sys.stderr)
    with open(out / "ndjson" / "Patient.ndjson", "wb") as ndjson, open(out / "ground-truth.csv", "w", encoding="utf-8") as truth:  # fmt: skip
        truth.write(",".join(GROUND_TRUTH_COLUMNS) + "\n")
        for job in jobs:
            with open(job[3].with_suffix(".ndjson"), "rb") as part:
                shutil.copyfileobj(part, ndjson, 1 << 20)
            truth.write(job[3].with_suffix(".csv").read_text(encoding="utf-8"))
    shutil.rmtree(parts)
    (out / "mpi-city.json").write_bytes(orjson.dumps({"citizens": citizens, "seed": seed, "patients": total, "generator_cpu_seconds": round(cpu, 1)}))  # fmt: skip
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=190_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--check", type=Path, help="a 'khealth synth' city of the same size and seed to compare with")  # fmt: skip
    args = parser.parse_args()
    started = time.perf_counter()
    total = write_patients(args.citizens, args.seed, args.out, args.workers)
    print(f"{total:,} Patients of {args.citizens:,} citizens in {time.perf_counter() - started:.0f} s")  # fmt: skip
    if args.check:
        for name in ("ndjson/Patient.ndjson", "ground-truth.csv"):
            same = (args.out / name).read_bytes() == (args.check / name).read_bytes()
            print(f"{name}: {'identical to' if same else 'DIFFERS from'} {args.check / name}")
            if not same:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
