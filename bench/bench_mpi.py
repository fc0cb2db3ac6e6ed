"""The master patient index at city scale (issue 4): batch linkage time and memory, linkage
precision and recall against the generator's ground truth, and online $match latency.

    .venv/bin/python -m bench.bench_mpi --citizens 187200          # 1.42 M facility Patients
    .venv/bin/python -m bench.bench_mpi --citizens 10000 --work /tmp/mpi-bench   # ~75 k, minutes

1. Patients: ``bench.mpi_city`` (the real generator, Patients and ground truth only), cached
   under ``--work``.
2. Store: ``khealth import`` of them into SQLite (or ``--database``), cached; a copy of the
   database without Persons is kept so that a first run can be measured again (``--first``).
3. ``khealth mpi link --full`` in a child process: wall time, CPU time of the process and its
   workers (``wait4``), peak RSS of the process tree (the sum over its processes, sampled
   every 0.1 s from /proc: an upper bound, pages shared between them count twice), the
   1-minute load average during the run.  With ``--first`` the first run (every Person
   created) is measured, then a second run over the same data (Persons unchanged).
4. Precision and recall: every active Person's links against ``ground-truth.csv``.
5. ``$match``: the online index built in this process, then 500 Patients drawn at random,
   queried without their resident-number token (the probabilistic path).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.mpi_city import write_patients

KHEALTH = str(Path(sys.executable).with_name("khealth"))


def _tree_rss_kb(root: int) -> int:
    """Sum of VmRSS over ``root`` and its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields.get("PPid", "0").strip() or 0)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0) for pid in tree)


def run_measured(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``; wall, CPU (with its children), peak tree RSS, load, its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    peak, loads, done = [0], [], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(process.pid))
            loads.append(os.getloadavg()[0])
            done.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode})")
    return {
        "wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "cpu_user_s": round(usage.ru_utime, 1), "peak_rss_tree_mb": round(peak[0] / 1024),
        "peak_rss_largest_process_mb": round(usage.ru_maxrss / 1024),
        "load_mean": round(sum(loads) / max(len(loads), 1), 1),
        "load_range": [round(min(loads, default=0), 1), round(max(loads, default=0), 1)],
        "stats": json.loads(out),
    }  # fmt: skip


def prepare(args: argparse.Namespace) -> tuple[Path, Path, str]:
    city = args.work / f"city-{args.citizens}-{args.seed}"
    if not (city / "mpi-city.json").exists():
        print(f"generating the Patients of {args.citizens:,} citizens…", file=sys.stderr)
        write_patients(args.citizens, args.seed, city, args.workers)
    data = args.work / f"data-{args.citizens}-{args.seed}"
    database = args.database or f"sqlite:///{data / 'khealth.db'}"
    pristine = data / "unlinked.db"
    if not (data / "imported").exists():
        data.mkdir(parents=True, exist_ok=True)
        print("importing…", file=sys.stderr)
        subprocess.run([KHEALTH, "import", str(city / "ndjson" / "Patient.ndjson"), "--batch-size", "5000",
                        "--no-progress", "--database", database], env=_env(data), check=True)  # fmt: skip
        if database.startswith("sqlite:///"):
            shutil.copy(data / "khealth.db", pristine)
        (data / "imported").write_text(database)
    if args.first:
        if not database.startswith("sqlite:///"):
            raise SystemExit("--first restores the SQLite copy; for PostgreSQL, import afresh")
        for suffix in ("-wal", "-shm"):
            (data / f"khealth.db{suffix}").unlink(missing_ok=True)
        shutil.copy(pristine, data / "khealth.db")
    return city, data, database


def _env(data: Path) -> dict[str, str]:
    return {**os.environ, "KHEALTH_DATA_DIR": str(data)}


def evaluate(database: str, data: Path, city: Path, queries: int) -> dict[str, Any]:
    os.environ["KHEALTH_DATA_DIR"] = str(data)
    from khealth.identity.evaluate import pairwise, read_ground_truth
    from khealth.identity.matcher import OnlineIndex
    from khealth.identity.model import PatientRecord
    from khealth.identity.service import SERVICE_CONTEXT, PatientIndex
    from khealth.records.service import Records
    from khealth.store.factory import open_store

    store = open_store(database)
    index = PatientIndex(Records(store))
    online = OnlineIndex(index, SERVICE_CONTEXT)
    started, cpu = time.perf_counter(), time.process_time()
    online.refresh(force=True)
    build = {"build_s": round(time.perf_counter() - started, 1), "build_cpu_s": round(time.process_time() - cpu, 1)}  # fmt: skip
    base = online.base
    assert base is not None
    persons = base.person_of_row
    predicted = {pid: base.person_ids[j] for pid, j in zip(base.columns.ids, persons.tolist(), strict=True) if j >= 0}  # fmt: skip
    score = pairwise(predicted, read_ground_truth(city / "ground-truth.csv"))
    rng = random.Random(5)
    latencies, right = [], 0
    fields = ("name", "surname", "birth_date", "sex", "phone", "district", "road")
    for row in rng.sample(range(len(base)), min(queries, len(base))):
        known = base.record(row)
        query = PatientRecord("query", None, *(getattr(known, f) for f in fields))
        began = time.perf_counter()
        found = online.match(query, 10)
        latencies.append((time.perf_counter() - began) * 1000)
        right += bool(found) and found[0].person_id == base.person(row)
    lat = np.array(latencies)
    store.close()
    return {
        "records": score.records, "precision": round(score.precision, 6),
        "recall": round(score.recall, 6), "true_pairs": score.true_pairs,
        "predicted_pairs": score.predicted_pairs, "correct_pairs": score.correct_pairs,
        "match": {**build, "queries": len(lat), "p50_ms": round(float(np.percentile(lat, 50)), 2),
                  "p95_ms": round(float(np.percentile(lat, 95)), 2),
                  "max_ms": round(float(lat.max()), 1), "top_match_in_own_person": right,
                  "index_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=187_200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("var/bench/mpi"))
    parser.add_argument("--database", help="a database URL instead of SQLite under --work")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--first", action="store_true", help="measure the first run (restores the database without Persons)")  # fmt: skip
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    city, data, database = prepare(args)
    link = [KHEALTH, "mpi", "link", "--full", "--workers", str(args.workers), "--database", database]  # fmt: skip
    report: dict[str, Any] = {"command": " ".join(link), "uptime_before": os.getloadavg()}
    if args.first:
        print("first run (every Person created)…", file=sys.stderr)
        report["first_run"] = run_measured(link, _env(data))
    print("run over linked data…", file=sys.stderr)
    report["rerun"] = run_measured(link, _env(data))
    print("precision, recall and $match…", file=sys.stderr)
    report["evaluation"] = evaluate(database, data, city, args.queries)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
