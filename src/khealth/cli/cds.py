"""`khealth cds ...`: clinical decision support commands (`train` for the risk models)."""

from __future__ import annotations

import os
import shlex
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from khealth.cli.main import app

cds_app = typer.Typer(no_args_is_help=True, help="clinical decision support: risk models")
app.add_typer(cds_app, name="cds")


class ModelChoice(StrEnum):
    diabetes = "diabetes"
    ckd = "ckd"
    cvd = "cvd"
    all = "all"


@cds_app.command("train")
def train(
    model: Annotated[ModelChoice, typer.Option(help="outcome to train, or all")] = ModelChoice.all,
    citizens: Annotated[int, typer.Option(min=100, help="synthetic citizens to generate")] = 20000,
    seed: Annotated[int, typer.Option(help="seed of the city and of the split")] = 1,
    out: Annotated[Path, typer.Option(help="output directory (dataset/, registry/)")] = Path(
        "var/cds"
    ),
    cards: Annotated[
        Path | None, typer.Option(help="also write model cards here (e.g. docs/model-cards)")
    ] = None,
    key_env: Annotated[
        str, typer.Option(help="environment variable holding the pseudonym key")
    ] = "KHEALTH_PSEUDONYM_KEY",
    progress: Annotated[bool, typer.Option(help="progress bar on stderr")] = True,
) -> None:
    """Train risk models on a synthetic city; write the registry and the model cards."""
    from khealth.cds.training import OUTCOMES, DataConfig, TrainConfig
    from khealth.cds.training import train as run
    from khealth.cds.training.deid import DEVELOPMENT_KEY
    from khealth.cds.training.pipeline import TooFewEvents

    key = os.environ.get(key_env, "")
    if not key:
        typer.echo(f"{key_env} is not set: using the synthetic-data development key", err=True)
        key = DEVELOPMENT_KEY
    outcomes = list(OUTCOMES) if model is ModelChoice.all else [model.value]
    config = TrainConfig(DataConfig(citizens=citizens, seed=seed))
    command = (
        "khealth " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["cds"] else "khealth cds train"
    )
    try:
        trained = run(
            config, outcomes, out, key=key, cards=cards, command=command,
            progress=progress, say=lambda text: typer.echo(text, err=True),
        )  # fmt: skip
    except TooFewEvents as error:
        typer.echo(f"cannot train: {error}; try more --citizens", err=True)
        raise typer.Exit(code=1) from error
    for item in trained:
        held_out = item.result.metrics["held_out"]
        figures = ", ".join(f"{n} AUROC {held_out[n]['auroc']}" for n in held_out)
        typer.echo(f"{item.result.outcome} {item.version}: {figures}")
