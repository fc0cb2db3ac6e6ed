"""``khealth import-checkups FILE``: the national checkup CSV as grouped Observations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from khealth.cli.main import app


@app.command("import-checkups")
def import_checkups_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="checkups.csv")],
    database: Annotated[
        str | None, typer.Option(help="database URL (KHEALTH_DATABASE_URL)")
    ] = None,
) -> None:
    """Import checkup rows; bad rows are reported (row, column, problem) and skipped, good
    rows kept; a repeated run adds nothing. Exit status 1 when any row was refused."""
    from khealth.access.context import AccessContext, Role
    from khealth.access.scopes import parse_scopes
    from khealth.core.config import get_settings
    from khealth.ingest.checkups import CheckupFileError, import_checkups
    from khealth.records.service import Records
    from khealth.store.factory import open_store

    settings = get_settings()
    store = open_store(database or settings.resolved_database_url(), migrate=True)
    ctx = AccessContext(
        subject="checkup-import",
        role=Role.SERVICE,
        scopes=parse_scopes("system/Observation.crs system/Patient.rs system/Encounter.r"),
    )
    try:
        report = import_checkups(Records(store), ctx, file)
    except CheckupFileError as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    for line in report.errors:
        typer.echo(line, err=True)
    typer.echo(report.describe())
    raise typer.Exit(1 if report.errors else 0)
