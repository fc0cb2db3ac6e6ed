"""Where an import batch spends its time: cProfile over ``BulkImporter`` in a child process.

    python -m bench.profiling --database URL --warmup A.ndjson --profile B.ndjson

The child is set up as ``khealth import`` is (compiled validator frozen out of the garbage
collector), imports the warm-up file unprofiled (plans compile lazily per type), then
profiles the import of the second file into the same store, and prints JSON: the total,
the time under each stage of the write path, and the functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from pathlib import Path
from typing import Any

import orjson

# (label, file suffix, function): a stage's time is the largest cumulative time among
# its matches, so a function calling itself or a same-named helper is not counted twice.
STAGES = (
    ("read and parse NDJSON lines", "khealth/ingest/bulk_import.py", "_read_batch"),
    ("validation (check_resource)", "khealth/fhir/validation.py", "check_resource"),
    ("search-value extraction (extract)", "khealth/fhir/extract.py", "extract"),
    ("patient compartments", "khealth/fhir/extract.py", "patient_compartments"),
    ("current versions lookup (current_many)", "khealth/store/sql.py", "current_many"),
    ("database writes (put_many: resource, history, index rows)", "khealth/store/sql.py", "put_many"),
    ("audit event", "khealth/records/service.py", "write_audit"),
    ("job progress row", "khealth/ingest/bulk_import.py", "save"),
    ("commit", "sqlalchemy/engine/base.py", "commit"),
)  # fmt: skip


def profile_import(database: str, warmup: Path, target: Path) -> dict[str, Any]:
    from khealth.access.context import AccessContext, Role
    from khealth.access.scopes import parse_scopes
    from khealth.cli.importer import _tune_garbage_collector
    from khealth.ingest.bulk_import import BulkImporter, ImportOptions
    from khealth.records.service import Records
    from khealth.store.factory import open_store

    _tune_garbage_collector()
    store = open_store(database, migrate=False)
    ctx = AccessContext(subject="bench", role=Role.SERVICE, scopes=parse_scopes("system/*.cruds"))
    BulkImporter(Records(store), ctx).run([warmup])
    importer = BulkImporter(Records(store), ctx, ImportOptions(batch_size=1000))
    profiler = cProfile.Profile()
    profiler.runcall(importer.run, [target])
    store.close()
    return summarise(pstats.Stats(profiler, stream=io.StringIO()), importer.summary.resources)


def summarise(stats: pstats.Stats, resources: int, top: int = 12) -> dict[str, Any]:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = float(stats.total_tt)  # type: ignore[attr-defined]
    stages = []
    for label, suffix, name in STAGES:
        cumulative = [
            ct for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in table.items()
            if func == name and path.replace("\\", "/").endswith(suffix)
        ]  # fmt: skip
        stages.append({"stage": label, "seconds": max(cumulative, default=0.0)})
    own = sorted(table.items(), key=lambda item: -item[1][2])[:top]
    functions = [
        {"function": f"{_short(path)}:{line}({func})", "calls": nc, "seconds": tt}
        for (path, line, func), (_cc, nc, tt, _ct, _callers) in own
    ]
    return {"resources": resources, "total": total, "stages": stages, "functions": functions}


def _short(path: str) -> str:
    path = path.replace("\\", "/")
    for marker in ("/site-packages/", "/src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--warmup", type=Path, required=True)
    parser.add_argument("--profile", type=Path, required=True)
    args = parser.parse_args()
    result = profile_import(args.database, args.warmup, args.profile)
    sys.stdout.buffer.write(orjson.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
