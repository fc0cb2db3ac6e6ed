"""``khealth mpi link|merge|unmerge|move|stats|evaluate``: the master patient index."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from khealth.cli.main import app

if TYPE_CHECKING:
    from khealth.access.context import AccessContext
    from khealth.identity.service import PatientIndex
    from khealth.ingest.prepare_pool import PreparePool
    from khealth.records.clock import Clock
    from khealth.records.ports import ResourceStore
    from khealth.records.service import Records

mpi_app = typer.Typer(no_args_is_help=True, help="master patient index: one Person per citizen")
app.add_typer(mpi_app, name="mpi")
Database = Annotated[str | None, typer.Option(help="database URL (KHEALTH_DATABASE_URL)")]


Workers = Annotated[
    int, typer.Option(min=1, help="processes reading Patients (default: the CPU count, at most 4)")
]
DEFAULT_WORKERS = min(os.cpu_count() or 1, 4)


@dataclass(frozen=True)
class RecordsAt:
    """Opens a record service over the database at ``url`` (picklable: a batch run's
    worker processes each open their own)."""

    url: str

    def __call__(self) -> AbstractContextManager[Records]:
        return _records_at(self.url)


@contextmanager
def _records_at(url: str) -> Iterator[Records]:
    from khealth.records.service import Records
    from khealth.store.factory import open_store

    store = open_store(url)
    try:
        yield Records(store)
    finally:
        store.close()


def _index(database: str | None, workers: int = 1) -> tuple[PatientIndex, ResourceStore]:
    from khealth.core.config import get_settings
    from khealth.identity.service import PatientIndex
    from khealth.records.service import Records
    from khealth.store.factory import open_store

    url = database or get_settings().resolved_database_url()
    store = open_store(url, migrate=True)
    preparer = _prepare_pool if workers > 1 else None
    return PatientIndex(Records(store), RecordsAt(url), workers, preparer), store


def _prepare_pool(ctx: AccessContext, clock: Clock) -> PreparePool:
    """New Persons prepared in a process of bulk import's pool while this one writes."""
    from khealth.ingest.prepare_pool import PreparePool

    return PreparePool(ctx, clock, workers=1)


def _context() -> AccessContext:
    from khealth.identity.service import SERVICE_CONTEXT

    return SERVICE_CONTEXT


@mpi_app.command("link")
def link(
    full: Annotated[bool, typer.Option(help="recompute every Person's links")] = False,
    database: Database = None,
    workers: Workers = DEFAULT_WORKERS,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1, help="Persons per transaction (larger: faster first run, longer write locks)"
        ),
    ] = 1000,
) -> None:
    """Link facility Patients to Persons (only the unlinked ones unless --full)."""
    index, store = _index(database, workers)
    try:
        summary = index.link(_context(), full=full, batch=batch_size)
    finally:
        store.close()
    typer.echo(json.dumps({**summary.stats, "persons_written": summary.persons_written}))


@mpi_app.command("merge")
def merge(survivor: str, merged: str, database: Database = None) -> None:
    """Merge Person MERGED into Person SURVIVOR; prints the merge id for unmerge."""
    index, store = _index(database)
    try:
        typer.echo(index.merge(_context(), survivor, merged))
    finally:
        store.close()


@mpi_app.command("move")
def move(patient: str, person: str, database: Database = None) -> None:
    """Move one Patient's link to another Person; prints the merge id for unmerge."""
    index, store = _index(database)
    try:
        typer.echo(index.move(_context(), patient, person))
    finally:
        store.close()


@mpi_app.command("unmerge")
def unmerge(merge_id: str, database: Database = None) -> None:
    """Restore every Person a merge (or move) touched to its content before it."""
    index, store = _index(database)
    try:
        index.unmerge(_context(), merge_id)
    finally:
        store.close()


@mpi_app.command("stats")
def stats(database: Database = None) -> None:
    index, store = _index(database)
    try:
        typer.echo(json.dumps(index.stats(_context()), indent=2))
    finally:
        store.close()


@mpi_app.command("evaluate")
def evaluate(
    city: Annotated[Path, typer.Option(help="a city written by 'khealth synth'")],
    database: Database = None,
    full: Annotated[bool, typer.Option(help="link with --full first")] = True,
    workers: Workers = DEFAULT_WORKERS,
) -> None:
    """Link, then score the Persons against the city's ground-truth.csv (pairwise
    precision and recall); the city's Patients must have been imported."""
    from khealth.identity.evaluate import pairwise, read_ground_truth

    index, store = _index(database, workers)
    try:
        started = time.perf_counter()
        summary = index.link(_context(), full=full)
        elapsed = time.perf_counter() - started
        _, persons = index.read(_context())
    finally:
        store.close()
    links = zip(persons.link_person.tolist(), persons.link_patient, strict=True)
    predicted = {patient: persons.ids[j] for j, patient in links if persons.active[j]}
    score = pairwise(predicted, read_ground_truth(city / "ground-truth.csv"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    typer.echo(json.dumps({
        "records": score.records, "true_pairs": score.true_pairs,
        "predicted_pairs": score.predicted_pairs, "correct_pairs": score.correct_pairs,
        "precision": round(score.precision, 6), "recall": round(score.recall, 6),
        "link_seconds": round(elapsed, 2), "linkage_seconds": summary.stats.get("seconds"),
        "read_seconds": summary.stats.get("read_seconds"),
        "write_seconds": summary.stats.get("write_seconds"),
        "persons_written": summary.persons_written,
        "peak_rss_mb": round(peak_mb), "review_pending": summary.stats.get("review"),
    }, indent=2))  # fmt: skip
