"""The FHIR store benchmark of issue 2 (``make bench``): results into ``docs/benchmarks.md``.

    .venv/bin/python -m bench.run [--resources 1000000] [--backends sqlite,postgres]
                                  [--skip-http] [--skip-profile] [--skip-others] [--output PATH]

On SQLite and on PostgreSQL (a scratch database on 127.0.0.1:5432, created and dropped
here), with a store of ``--resources`` Synthea-shaped resources (see bench/dataset.py):

1. the floor: the same NDJSON into a bare table (bench/floor.py);
2. ``khealth import`` of the NDJSON in a child process: resources/s and its peak RSS;
3. against ``khealth serve`` on a free loopback port: read by id, ``$everything`` of a
   patient with ~1,000 resources, token / date / chained searches (latency percentiles,
   one connection, bounded in count and time), then transaction Bundles from a few
   concurrent clients (resources/s);
4. cProfile of two import batches into the full store (bench/profiling.py).

Scratch data lives in ``var/bench/run-<pid>`` and is deleted at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import report
from bench.dataset import (
    Dataset,
    Source,
    Template,
    fresh_id,
    load_source,
    renamer,
    transaction_templates,
    trimmed,
    unique_resources,
    write_dataset,
)
from bench.floor import FloorTable, fetch_latencies, open_floor
from bench.http_load import Server, client, post_transactions, time_gets
from bench.measure import Latency, LoadSampler, run_import
from bench.report import BackendReport, Figure, Target

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "synthea-r4"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
IMPORT_TARGET = {"sqlite": 5000.0, "postgres": 3000.0}
SEARCHES = (
    ("token search", "Observation?code=http://loinc.org|8302-2&_count=20", Target("<=", 20)),
    ("date search", "Observation?date=ge2015-01-01&date=lt2015-02-01", None),
    ("chained search", "Observation?subject:Patient.name={family}", None),
)


@dataclass(frozen=True, slots=True)
class Options:
    resources: int
    backends: tuple[str, ...]
    skip_http: bool
    skip_profile: bool
    skip_others: bool
    reads: int
    everything_calls: int
    search_calls: int
    phase_seconds: float
    bundles: int
    bundle_seconds: float
    request_timeout: float
    threads: int
    http_workers: int
    everything_size: int
    batch_size: int
    data: Path
    postgres_admin: str
    scratch: Path
    output: Path
    keep: bool
    seed: int


def parse(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument(
        "--resources", type=int, default=1_000_000, help="store size (≥ 1M for the issue)"
    )
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--skip-http", action="store_true", help="import and floor only")
    p.add_argument("--skip-profile", action="store_true")
    p.add_argument("--skip-others", action="store_true", help="don't run the other bench scripts")
    p.add_argument("--reads", type=int, default=3000, help="read-by-id requests")
    p.add_argument("--everything-calls", type=int, default=100)
    p.add_argument("--search-calls", type=int, default=300, help="requests per search")
    p.add_argument(
        "--phase-seconds", type=float, default=90, help="time bound of each latency phase"
    )
    p.add_argument("--bundles", type=int, default=96, help="transaction Bundles to POST")
    p.add_argument("--bundle-seconds", type=float, default=180)
    p.add_argument("--request-timeout", type=float, default=60, help="seconds per HTTP request")
    p.add_argument("--threads", type=int, default=4, help="concurrent HTTP clients for Bundles")
    p.add_argument("--http-workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--everything-size", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--data", type=Path, default=DATA, help="folder of Synthea Bundles")
    p.add_argument("--postgres-admin-url", default=os.environ.get("KHEALTH_BENCH_PG_URL", PG_ADMIN))
    p.add_argument("--scratch", type=Path, default=REPO / "var" / "bench")
    p.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    p.add_argument("--keep", action="store_true", help="keep the scratch data")
    p.add_argument("--seed", type=int, default=2)
    a = p.parse_args(argv)
    backends = tuple(b.strip() for b in a.backends.split(",") if b.strip())
    if not set(backends) <= {"sqlite", "postgres"}:
        p.error("--backends takes sqlite and/or postgres")
    return Options(a.resources, backends, a.skip_http, a.skip_profile, a.skip_others, a.reads,
                   a.everything_calls, a.search_calls, a.phase_seconds, a.bundles,
                   a.bundle_seconds, a.request_timeout, a.threads, a.http_workers, a.everything_size, a.batch_size,
                   a.data, a.postgres_admin_url, a.scratch, a.output, a.keep, a.seed)  # fmt: skip


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- scratch databases -----------------------------------------------------------------
@contextmanager
def scratch_database(backend: str, folder: Path, admin_url: str) -> Iterator[tuple[str, str]]:
    """(URL, server version); dropped or deleted afterwards."""
    if backend == "sqlite":
        import sqlite3

        yield f"sqlite:///{folder / 'khealth.db'}", sqlite3.sqlite_version
        return
    from sqlalchemy import create_engine, text

    name = f"khealth_bench_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        version = str(conn.execute(text("SHOW server_version")).scalar())
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}", version
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def analyze_postgres(url: str) -> None:
    """After a bulk load, as autovacuum would shortly do (and an operator would at once)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


# -- one backend -----------------------------------------------------------------------
def run_backend(
    backend: str, opts: Options, data: Dataset, source: Source, scratch: Path
) -> BackendReport:
    folder = scratch / backend
    folder.mkdir(parents=True, exist_ok=True)
    with (
        LoadSampler() as load,
        scratch_database(backend, folder, opts.postgres_admin) as (url, version),
    ):
        result = BackendReport(backend, version)
        env = {**os.environ, "KHEALTH_DATA_DIR": str(folder / "data"), "KHEALTH_DATABASE_URL": url}
        floor = open_floor(backend, folder, url)
        try:
            _floor_and_import(result, opts, data, floor, url, env, folder)
            if backend == "postgres":
                analyze_postgres(url)
            if not opts.skip_http:
                _guarded(result, "HTTP", lambda: _http(result, opts, data, source, floor, url, env, folder))  # fmt: skip
            if not opts.skip_profile:
                _guarded(result, "profile", lambda: _profile(result, source, url, folder))
        except Exception as error:  # what was measured so far is still reported
            result.notes.append(f"the run stopped: {type(error).__name__}: {error}")
        finally:
            floor.close()
    result.load = load.describe()
    return result


def _floor_and_import(
    result: BackendReport, opts: Options, data: Dataset, floor: FloorTable,
    url: str, env: dict[str, str], folder: Path,
) -> None:  # fmt: skip
    say(f"{result.backend}: floor insert of {data.resources:,} resources")
    bare = floor.insert(data.files, opts.batch_size)
    result.figures.append(Figure("floor: bare-table insert", bare.rate, "resources/s"))
    say(f"{result.backend}: floor {bare.rate:,.0f}/s; khealth import")
    run = run_import(data.files, url, env, folder / "import.log")
    say(f"{result.backend}: import {run.rate:,.0f}/s, peak RSS {run.peak_rss_mb:,.0f} MB")
    target = IMPORT_TARGET[result.backend]
    result.figures += [
        Figure("bulk import (`khealth import`, validation + indexing)", run.rate, "resources/s",
               Target(">=", target), bare.rate, f"{run.resources:,} in {run.seconds:,.0f} s"),
        Figure("bulk import peak memory (RSS of the importer and its workers)", run.peak_rss_mb, "MB",
               Target("<=", 500), note=_parts(run.peak_rss_parts)),
    ]  # fmt: skip
    result.notes.append(f"importer's own summary: {run.summary}")
    result.notes.append(
        f"importer CPU time (user + system, its prepare workers included): {run.cpu_seconds:,.0f} s, "
        f"{run.cpu_seconds / max(run.resources, 1) * 1000:,.2f} CPU-s per 1,000 resources "
        "(on PostgreSQL the server's own CPU comes on top)"
    )
    result.notes.append(f"floor insert: {bare.resources:,} rows in {bare.seconds:,.1f} s")
    result.floor_rate = bare.rate


def _parts(peaks: tuple[float, ...]) -> str:
    """The importer's and each prepare worker's own peak, when there are workers."""
    if len(peaks) < 2:
        return ""
    return f"importer {peaks[0]:,.0f} MB + workers " + " + ".join(
        f"{mb:,.0f} MB" for mb in peaks[1:]
    )


def _http(
    result: BackendReport, opts: Options, data: Dataset, source: Source, floor: FloorTable,
    url: str, env: dict[str, str], folder: Path,
) -> None:  # fmt: skip
    from khealth.access.tokens import TokenService, load_or_create_key
    from khealth.core.config import Settings

    settings = Settings(data_dir=folder / "data")
    tokens = TokenService(load_or_create_key(settings.data_dir), settings.token_issuer)
    token = tokens.issue("system/*.cruds", subject="bench", ttl=24 * 3600)
    with Server(url, env, folder / "server.log", opts.http_workers) as server:
        say(f"{result.backend}: serving on {server.base}; reads")
        with client(server.base, token, opts.request_timeout) as http:
            _reads(result, opts, data, floor, http)
            _everything(result, opts, data, floor, http)
            _transactions(result, opts, source, server.base, token)
            for name, query, target in SEARCHES:  # last: a slow one must not hold up the rest
                say(f"{result.backend}: {name}")
                found = query.format(family=data.family_name)
                _search(result, opts, floor, http, name, found, target)


def _transactions(
    result: BackendReport, opts: Options, source: Source, base: str, token: str
) -> None:
    say(f"{result.backend}: transaction Bundles over HTTP")
    run = post_transactions(base, token, transaction_templates(source), opts.threads,
                            opts.bundles, opts.bundle_seconds)  # fmt: skip
    note = f"{run.bundles} Bundles, {run.resources:,} resources, {run.threads} clients" + (
        f", {run.errors} failed" if run.errors else ""
    )
    result.figures.append(Figure("transaction Bundles over HTTP", run.rate, "resources/s",
                                 Target(">=", 1500), result.floor_rate, note))  # fmt: skip


def _percentiles(
    result: BackendReport, name: str, http: Latency, floor: list[float], target: Target | None,
    which: Sequence[str] = ("p50", "p95", "p99"), note: str = "",
) -> None:  # fmt: skip
    bare = Latency(tuple(floor))
    n = f"n={len(http.samples)}" + (f", {http.errors} errors" if http.errors else "")
    if http.timeouts:
        n += ", then a request timed out"
    for p in which:
        t = target if p == "p95" else None
        value, under = getattr(http, p), getattr(bare, p)
        result.figures.append(Figure(f"{name} {p}", value, "ms", t, under, ", ".join(x for x in (n, note) if x)))  # fmt: skip


def _reads(
    result: BackendReport, opts: Options, data: Dataset, floor: FloorTable, http: httpx.Client
) -> None:
    rng = random.Random(opts.seed)
    picks = [(rng.choice(data.keys), rng.randrange(data.copies)) for _ in range(opts.reads + 50)]
    paths = [f"{t}/{fresh_id(k, i)}" for (t, i), k in picks]
    time_gets(http, paths[:50], opts.phase_seconds)  # warm-up
    measured = time_gets(http, paths[50:], opts.phase_seconds)
    ids = [[p.split("/", 1)[1]] for p in paths[50 : 50 + len(measured.samples)]]
    _percentiles(result, "read by id", measured, fetch_latencies(floor, ids), Target("<=", 5))


def _everything(
    result: BackendReport, opts: Options, data: Dataset, floor: FloorTable, http: httpx.Client
) -> None:
    path = f"Patient/{data.everything_patient}/$everything"
    answer = _first(result, http, "`$everything`", path, Target("<=", 150))
    if answer is None:
        return
    ids = _entry_ids(answer)
    calls = [path] * opts.everything_calls
    measured = time_gets(http, calls, opts.phase_seconds)
    bare = fetch_latencies(floor, [ids] * len(measured.samples))
    note = f"{len(ids):,} entries on the first page, total {answer.get('total', '?')}"
    _percentiles(result, "`$everything`", measured, bare, Target("<=", 150), ("p50", "p95"), note)


def _search(
    result: BackendReport, opts: Options, floor: FloorTable, http: httpx.Client,
    name: str, query: str, target: Target | None,
) -> None:  # fmt: skip
    answer = _first(result, http, name, query, target)
    if answer is None:
        return
    ids = _entry_ids(answer)
    measured = time_gets(http, [query] * opts.search_calls, opts.phase_seconds)
    bare = fetch_latencies(floor, [ids] * len(measured.samples))
    note = f"{len(ids)} entries on the page"
    _percentiles(result, name, measured, bare, target, ("p50", "p95"), note)


def _first(
    result: BackendReport, http: httpx.Client, name: str, path: str, target: Target | None
) -> dict[str, Any] | None:
    """The first answer (its ids are the floor's rows), or a figure saying why there is none."""
    started = time.perf_counter()
    try:
        response = http.get(path)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer
    except httpx.HTTPError as error:
        seconds = time.perf_counter() - started
        why = "timed out" if isinstance(error, httpx.TimeoutException) else type(error).__name__
        note = f"first request {why} after {seconds:,.0f} s"
        result.figures.append(Figure(f"{name} p95", float("nan"), "ms", target, None, note))
        return None


def _entry_ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def _guarded(result: BackendReport, stage: str, work: Callable[[], None]) -> None:
    try:
        work()
    except Exception as error:  # the other stages still run and are reported
        say(f"{result.backend}: {stage} stopped: {type(error).__name__}")
        result.notes.append(f"{stage} stopped: {type(error).__name__}: {error}")


def _profile(result: BackendReport, source: Source, url: str, folder: Path) -> None:
    say("profiling two import batches")
    one_copy = unique_resources(source)
    lines = [orjson.dumps(r) for r in one_copy]
    blob = Template(lines, {r["id"] for r in one_copy})
    warm, measured = folder / "profile-warmup.ndjson", folder / "profile.ndjson"
    warm.write_bytes(_head(blob.render(renamer(0xFFFE0000)), 1000))
    measured.write_bytes(_head(blob.render(renamer(0xFFFE0001)), 2000))
    done = subprocess.run(
        [sys.executable, "-m", "bench.profiling", "--database", url, "--warmup", str(warm),
         "--profile", str(measured)],
        capture_output=True, check=True, cwd=REPO,
    )  # fmt: skip
    result.profile = orjson.loads(done.stdout)


def _head(blob: bytes, lines: int) -> bytes:
    return b"".join(line + b"\n" for line in blob.splitlines()[:lines])


# -- the whole run ---------------------------------------------------------------------
def method(opts: Options, source: Source, data: Dataset, ndjson_bytes: int) -> list[str]:
    return [
        "### Method (this run)",
        "",
        f"- Command: `{' '.join(['.venv/bin/python -m bench.run', *sys.argv[1:]])}`",
        f"- Data: {source.description}, every resource once per copy, {data.copies} copies of "
        f"{data.per_copy:,} resources under fresh ids (references and identifier values rewritten "
        f"alike), plus one patient whose compartment holds {data.everything_resources:,} resources: "
        f"**{data.resources:,} resources**, {ndjson_bytes / 1e9:.2f} GB of NDJSON in "
        f"{len(data.files)} files (one per type).",
        f"- Import: `khealth import <files> --no-progress` (batches of {opts.batch_size:,} lines, "
        "one transaction each) in a child process; rate = resources stored / wall time of the "
        "process (start-up included); with two or more cores it prepares lines in a worker "
        "process; peak memory = the high-water marks (VmHWM) of the importer and its workers "
        "added up; CPU time = theirs (`wait4`).",
        f"- HTTP: `khealth serve` ({opts.http_workers} uvicorn worker) on a free loopback port, "
        "bearer token `system/*.cruds`; latencies from one keep-alive `httpx` connection, one "
        f"request at a time, after a warm-up: read by id of {opts.reads:,} random resources "
        f"(random copy, random type), `$everything` {opts.everything_calls}×, each search "
        f"{opts.search_calls}× (every phase also stops after {opts.phase_seconds:.0f} s, or at "
        f"a request that takes over {opts.request_timeout:.0f} s). "
        f"Transaction Bundles: the Synthea patient Bundles with every uuid renamed per post, "
        f"up to {opts.bundles} Bundles from {opts.threads} concurrent clients. Order: reads, "
        "`$everything`, Bundles, then the searches (last, so that a slow one holds up nothing; "
        "they see the resources the Bundles added, about 2 % more).",
        "- Searches: "
        + "; ".join(f"{name} `{q.format(family=data.family_name)}`" for name, q, _ in SEARCHES)
        + " (the family name is that of the first Synthea patient; every copy has one).",
        "- Floor: the same NDJSON into a bare table (id, type, content) with the importer's "
        "batch size, one transaction per batch — SQLite `executemany` (WAL, synchronous=NORMAL, "
        "as the store), PostgreSQL `COPY`; each line parsed once for its id. The latency floors "
        "fetch, in-process, the same rows the HTTP answer held, by primary key (added after the "
        "timed insert). Ratio = result ÷ floor: below 1 for rates, above 1 for latencies.",
        "- PostgreSQL: `ANALYZE` after the import (untimed), as autovacuum would do shortly after.",
        "- Load average: the 1-minute load average sampled every 5 s during each backend's run "
        "(the machine is shared with other engineers' test runs).",
        "",
    ]


def generated(opts: Options, source: Source, data: Dataset, ndjson_bytes: int,
              reports: list[BackendReport], others: list[str]) -> list[str]:  # fmt: skip
    pg = next((r.version for r in reports if r.backend == "postgres"), None)
    lines = ["### Machine", "", *report.machine(pg)]
    lines += [f"| load average during the {r.backend} run | {r.load} |" for r in reports]
    lines += ["", *method(opts, source, data, ndjson_bytes), "### Figures", ""]
    lines += report.figures_table(reports)
    lines.append("")
    for r in reports:
        lines += [f"- {r.backend}: {note}" for note in r.notes]
    lines.append("")
    profiles = [line for r in reports for line in report.profile_section(r)]
    if profiles:
        lines += ["### Where the import time goes", "", *profiles]
    if others:
        lines += ["### Other bench scripts (same run)", "", *others]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse(argv)
    free = shutil.disk_usage(opts.scratch.parent if opts.scratch.parent.exists() else REPO).free
    say(f"free disk: {free / 1e9:.0f} GB")
    scratch = opts.scratch / f"run-{os.getpid()}"
    source = load_source(opts.data)
    if opts.resources < len(unique_resources(source)):
        source = trimmed(source, opts.resources)
    try:
        say(f"writing the dataset ({source.description})")
        data = write_dataset(source, scratch / "ndjson", opts.resources, opts.everything_size)
        size = sum(f.stat().st_size for f in data.files)
        say(f"{data.resources:,} resources, {size / 1e9:.2f} GB")
        reports: list[BackendReport] = []
        for backend in opts.backends:
            reports.append(run_backend(backend, opts, data, source, scratch))
            # written after each backend, so that a later failure keeps what was measured
            report.write_document(opts.output, generated(opts, source, data, size, reports, []))
        others = [] if opts.skip_others else _others()
        report.write_document(opts.output, generated(opts, source, data, size, reports, others))
        say(f"wrote {opts.output}")
    finally:
        if not opts.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _others() -> list[str]:
    say("running the other bench scripts")
    return report.run_other_benches(sys.executable)


if __name__ == "__main__":
    raise SystemExit(main())
