"""``khealth import PATH...``: bulk import of NDJSON and Bundle files (resumable)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from khealth.cli.main import app


class _Bar:
    """A tqdm bar over bytes on stderr, with the resource count and rate beside it."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            disable=not enabled,
            dynamic_ncols=True,
            desc="import",
        )
        self.resources = 0

    def advance(self, nbytes: int, resources: int) -> None:
        self.resources += resources
        elapsed = self.bar.format_dict["elapsed"] or 1e-9
        self.bar.set_postfix_str(
            f"{self.resources:,} resources, {self.resources / elapsed:,.0f}/s", refresh=False
        )
        self.bar.update(nbytes)

    def write(self, message: str) -> None:
        self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


@app.command("import")
def import_files(
    paths: Annotated[list[Path], typer.Argument(help="NDJSON or Bundle files, or directories")],
    database: Annotated[
        str | None, typer.Option(help="database URL (KHEALTH_DATABASE_URL)")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="NDJSON lines per transaction")
    ] = 1000,
    on_error: Annotated[
        Literal["stop", "skip"],
        typer.Option(help="stop at the first invalid resource, or report it and go on"),
    ] = "stop",
    progress: Annotated[bool, typer.Option(help="progress bar on stderr")] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="processes preparing lines while this one writes (default: 1 with two "
            "or more cores and at least 8 MiB of NDJSON, else 0)",
        ),
    ] = None,
) -> None:
    """Import FHIR resources; an interrupted run resumes, a repeated run adds nothing."""
    from khealth.access.context import AccessContext, Role
    from khealth.access.scopes import parse_scopes
    from khealth.core.config import get_settings
    from khealth.ingest.bulk_import import (
        BulkImporter,
        ImportOptions,
        ImportStopped,
        discover,
        worker_count,
    )
    from khealth.records.service import Records
    from khealth.store.factory import open_store

    try:
        files = discover(paths)
    except FileNotFoundError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    workers = worker_count(files, workers)
    _tune_garbage_collector(build_model=workers == 0)  # else the workers validate
    store = open_store(database or get_settings().resolved_database_url(), migrate=True)
    ctx = AccessContext(
        subject="khealth-import", role=Role.SERVICE, scopes=parse_scopes("system/*.cruds")
    )
    bar = _Bar(sum(f.stat().st_size for f in files), progress)
    importer = BulkImporter(
        Records(store), ctx, ImportOptions(batch_size, on_error, workers), bar, report=bar.write
    )
    code = 0
    try:
        importer.run(files)
        if importer.summary.resources:
            store.optimize()
    except ImportStopped as stopped:
        bar.write(f"stopped: {stopped.summary()} (nothing of that batch was stored)")
        code = 1
    except KeyboardInterrupt:
        bar.write("interrupted: run the same command again to resume")
        code = 130
    finally:
        bar.close()
        store.close()
    typer.echo(importer.summary.describe(), err=code != 0)
    raise typer.Exit(code)


def _tune_garbage_collector(build_model: bool = True) -> None:
    """Build the validator first, then freeze it out of the collector's sight: the
    compiled definitions are ~100k long-lived objects that every full collection would
    walk again, which cost a third of the import's CPU time (measured on Synthea).
    Without ``build_model`` (prepare workers validate) what is loaded is frozen."""
    import gc

    from khealth.fhir.definitions import release_parsed
    from khealth.fhir.structure import structure_model

    if build_model:
        structure_model()
    else:
        release_parsed()  # ~30 MB less; an update's re-validation parses them again
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
