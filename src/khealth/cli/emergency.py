"""`khealth emergency ...`: the AI-ambulance commands (`simulate` for the destination policies)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

from khealth.cli.main import app

emergency_app = typer.Typer(no_args_is_help=True, help="emergency care: the ambulance simulator")
app.add_typer(emergency_app, name="emergency")


@emergency_app.command("simulate")
def simulate(
    days: Annotated[int, typer.Option(min=1, max=366, help="simulated days")] = 7,
    policy: Annotated[
        list[str] | None,
        typer.Option(help="nearest or recommended; repeat for both (the default)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the synthetic city and of every draw")] = 1,
    today: Annotated[
        str, typer.Option(help="the run covers the days before (YYYY-MM-DD)")
    ] = "2026-11-29",
    population: Annotated[
        int, typer.Option(min=1000, help="people whose incidents are replayed (Gwangju: 1.41 M)")
    ] = 1_410_000,
    report: Annotated[Path | None, typer.Option(help="write the Markdown report here")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the JSON here")] = None,
    sensitivity: Annotated[
        bool, typer.Option(help="re-run both policies under alternative assumptions")
    ] = False,
) -> None:
    """Replay the synthetic city's EMS incidents against its ER capacity and compare policies."""
    from dataclasses import replace

    from khealth.emergency.simulation import PolicyName, SimulationConfig
    from khealth.emergency.simulation import simulate as run
    from khealth.emergency.simulation.assumptions import DEFAULT
    from khealth.emergency.simulation.report import console, markdown, result_json
    from khealth.emergency.simulation.report import sensitivity as vary

    try:
        names = tuple(PolicyName(p) for p in (policy or ["nearest", "recommended"]))
        day = dt.date.fromisoformat(today)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    config = SimulationConfig(days=days, seed=seed, today=day, policies=names,
                              assumptions=replace(DEFAULT, population=population))  # fmt: skip
    started = time.perf_counter()
    result = run(config)
    seconds = time.perf_counter() - started
    run_info = {
        "command": "khealth " + shlex.join(sys.argv[1:])
        if sys.argv[1:2] == ["emergency"]
        else "khealth emergency simulate",
        "machine": _machine(),
        "seconds": round(seconds, 2),
        "seconds_per_day": round(seconds / days, 3),
    }
    rows = vary(config) if sensitivity and len(names) == 2 else None
    data = result_json(result, run_info, rows)
    typer.echo(console(data))
    typer.echo(f"{seconds:.1f} s ({seconds / days:.2f} s per simulated day)", err=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))  # fmt: skip
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(markdown(data, run_info), encoding="utf-8")


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"  # fmt: skip
