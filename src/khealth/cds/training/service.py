"""The use case behind `khealth cds train`: build the table once, train each requested outcome,
register it, write its model card."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from khealth.cds.training import card, registry
from khealth.cds.training.dataset import build_table, write_csv
from khealth.cds.training.pipeline import TrainConfig, TrainingResult, train_outcome


@dataclass(frozen=True)
class Trained:
    result: TrainingResult
    version: str
    card_path: Path | None


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def train(
    config: TrainConfig,
    outcomes: Sequence[str],
    out: Path,
    *,
    key: str,
    cards: Path | None,
    command: str,
    progress: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> list[Trained]:
    started = time.perf_counter()
    say(
        f"generating {config.data.citizens:,} citizens (seed {config.data.seed}) and reading records"
    )
    table = build_table(config.data, key, progress=progress)
    write_csv(table, out / "dataset" / "person-table.csv")
    built = time.perf_counter() - started
    say(f"table: {len(table.values):,} people, {built:.0f} s; written to {out / 'dataset'}")
    trained = []
    for outcome in outcomes:
        began = time.perf_counter()
        say(f"training {outcome}")
        result = train_outcome(table, outcome, config)
        run = {
            "command": f"`{command}`",
            "machine": machine(),
            "time": f"table {built:.0f} s (shared by all outcomes), this model "
            f"{time.perf_counter() - began:.0f} s",
        }
        text = card.render(result, registry.version_for(result), run)
        version = registry.register(result, out / "registry", text)
        card_path = None
        if cards is not None:
            cards.mkdir(parents=True, exist_ok=True)
            card_path = cards / f"{outcome}.md"
            card_path.write_text(text, encoding="utf-8")
        trained.append(Trained(result, version, card_path))
    return trained
