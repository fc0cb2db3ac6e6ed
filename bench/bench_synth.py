"""Benchmark of khealth.synth: resources per second and peak memory.

    .venv/bin/python bench/bench_synth.py --citizens 5000 [--write DIR]

Without --write it only generates (the library stream, as `khealth demo` would consume it);
with --write it writes every output (NDJSON, CSV, HL7 v2, DICOM, EMS) like `khealth synth`.
Peak memory is the process's maximum resident set size (ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import orjson

from khealth.synth import SynthConfig, generate_city, write_city


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    config = SynthConfig(citizens=args.citizens, seed=args.seed)
    started = time.perf_counter()
    if args.write:
        manifest = write_city(config, args.write, progress=False, overwrite=True)
        count = sum(manifest["resources"].values())
        mode = "write_city"
    else:
        count = 0
        for item in generate_city(config):
            orjson.dumps(item)  # serialisation is part of any real consumer
            count += 1
        mode = "generate_city+orjson"
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{mode}: {args.citizens} citizens, {count} resources in {elapsed:.1f} s = "
        f"{count / elapsed:,.0f} resources/s, {args.citizens / elapsed:,.0f} citizens/s, "
        f"peak RSS {peak_mb:.0f} MB",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
