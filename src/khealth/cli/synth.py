"""`khealth synth`: write a synthetic Gwangju (FHIR NDJSON, ground truth, checkups, DICOM, HL7 v2,
EMS streams) to a directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from khealth.cli.main import app


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="output directory")],
    citizens: Annotated[int, typer.Option(min=0, help="number of citizens")] = 1000,
    seed: Annotated[int, typer.Option(help="seed; same seed and size give identical bytes")] = 1,
    today: Annotated[str, typer.Option(help="the fixed 'today' (YYYY-MM-DD)")] = "2026-11-29",
    dicom_max_studies: Annotated[
        int, typer.Option(min=0, help="write DICOM files for at most this many studies")
    ] = 100,
    emergency_days: Annotated[
        int, typer.Option(min=0, help="days of EMS incidents and ED capacity before today")
    ] = 7,
    bundles: Annotated[
        bool, typer.Option(help="also write per-facility transaction Bundles under bundles/")
    ] = False,
    bundle_size: Annotated[int, typer.Option(min=1, help="entries per Bundle at most")] = 500,
    workers: Annotated[
        int, typer.Option(min=1, help="processes; the output is the same bytes for any number")
    ] = 1,
    force: Annotated[bool, typer.Option(help="replace the output of an earlier run")] = False,
    progress: Annotated[bool, typer.Option(help="progress bar on stderr")] = True,
) -> None:
    """Generate a synthetic city deterministically from a seed."""
    from khealth.synth import OutputExistsError, SynthConfig, write_city

    try:
        day = dt.date.fromisoformat(today)
    except ValueError as error:
        raise typer.BadParameter(f"--today must be YYYY-MM-DD, got {today!r}") from error
    config = SynthConfig(
        citizens=citizens,
        seed=seed,
        today=day,
        dicom_max_studies=dicom_max_studies,
        emergency_days=emergency_days,
        bundles=bundles,
        bundle_size=bundle_size,
    )
    try:
        manifest = write_city(config, out, progress=progress, overwrite=force, workers=workers)
    except OutputExistsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=1) from error
    total = sum(manifest["resources"].values())
    typer.echo(
        f"wrote {total} resources for {citizens} citizens and "
        f"{manifest['facilities']} facilities to {out}"
    )
