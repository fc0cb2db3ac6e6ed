"""Bulk-import throughput and peak memory: `.venv/bin/python bench/bench_import.py`.

Writes the Synthea sample as NDJSON (one file per resource type, ``urn:uuid:``
references rewritten to ``Type/id``), repeated ``--copies`` times under distinct ids,
then runs ``khealth import`` on it in a subprocess against a fresh SQLite file or a
PostgreSQL database and reports resources/s and the child's peak RSS.  Also imports the
16 Bundles themselves.  Options: ``--postgres URL`` (a database that may be emptied).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "synthea-r4"
KHEALTH = Path(sys.executable).with_name("khealth")
_UUID_REF = re.compile(rb'"urn:uuid:([0-9a-f-]{36})"')


def synthea_resources(data: Path) -> Iterator[dict[str, Any]]:
    """Every resource of the Bundles, references to fullUrls rewritten to Type/id."""
    for path in sorted(data.glob("*.json")):
        entries = orjson.loads(path.read_bytes())["entry"]
        types = {e["resource"]["id"]: e["resource"]["resourceType"] for e in entries}
        for e in entries:
            raw = orjson.dumps(e["resource"])
            raw = _UUID_REF.sub(
                lambda m, t=types: b'"%s/%s"' % (t[m[1].decode()].encode(), m[1]), raw
            )
            yield orjson.loads(raw)


def write_ndjson(data: Path, out: Path, copies: int) -> int:
    """``copies`` renamed copies of the sample (ids prefixed ``c{k}-``); returns the count."""
    out.mkdir(parents=True, exist_ok=True)
    resources = list(synthea_resources(data))
    files: dict[str, Any] = {}
    written = 0
    try:
        for k in range(copies):
            for r in resources:
                raw = orjson.dumps(r)
                raw = re.sub(rb'"id":"([0-9a-f-]{36})"', rb'"id":"c%d-\1"' % k, raw, count=1)
                raw = re.sub(
                    rb'"reference":"([A-Za-z]+)/([0-9a-f-]{36})"',
                    rb'"reference":"\1/c%d-\2"' % k,
                    raw,
                )
                t = r["resourceType"]
                if t not in files:
                    files[t] = (out / f"{t}.ndjson").open("wb")
                files[t].write(raw + b"\n")
                written += 1
    finally:
        for f in files.values():
            f.close()
    return written


def run_import(paths: list[Path], url: str, extra: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(KHEALTH), "import", *map(str, paths), "--database", url, "--no-progress", *extra],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KHEALTH_DATABASE_URL": url},
    )
    return time.perf_counter() - started, done.stderr.strip() or done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--copies", type=int, default=20, help="copies of the sample in NDJSON")
    parser.add_argument("--postgres", help="postgresql+psycopg:// URL of a scratch database")
    parser.add_argument("--batch-size", default="1000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ndjson = Path(tmp) / "ndjson"
        count = write_ndjson(args.data, ndjson, args.copies)
        targets = [("sqlite", f"sqlite:///{tmp}/bench.db")]
        if args.postgres:
            _empty_postgres(args.postgres)
            targets.append(("postgresql", args.postgres))
        for name, url in targets:
            seconds, line = run_import([args.data], url, ["--batch-size", args.batch_size])
            print(f"{name} bundles (16 files, 3,195 entries): {seconds:.2f} s wall; {line}")
            seconds, line = run_import([ndjson], url, ["--batch-size", args.batch_size])
            print(
                f"{name} ndjson ({count:,} resources): {seconds:.2f} s wall, {count / seconds:,.0f}/s wall; {line}"
            )
            seconds, line = run_import([ndjson], url, [])
            print(f"{name} re-run: {seconds:.2f} s wall; {line}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak RSS of the largest import process: {peak:,.0f} MB")
    return 0


def _empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from khealth.store.migrate import upgrade
    from khealth.store.schema import metadata

    engine = create_engine(url)
    upgrade(engine)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
