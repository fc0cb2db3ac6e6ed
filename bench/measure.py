"""Timing helpers: the import subprocess with its own peak RSS, percentiles, load average."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

KHEALTH = Path(sys.executable).with_name("khealth")


@dataclass(frozen=True, slots=True)
class ImportRun:
    resources: int
    seconds: float  # wall time of the whole process, start-up included
    peak_rss_mb: float
    cpu_seconds: float  # user + system time of the child: what it would take on an idle core
    summary: str  # the importer's own last line

    @property
    def rate(self) -> float:
        return self.resources / self.seconds


def run_import(files: Sequence[Path], url: str, env: dict[str, str], log: Path) -> ImportRun:
    """``khealth import`` in a child process; ``wait4`` gives that child's own max RSS
    (``RUSAGE_CHILDREN`` would mix in every other child, such as the server)."""
    command = [str(KHEALTH), "import", *map(str, files), "--database", url, "--no-progress"]
    started = time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = log.read_text(errors="replace").strip().splitlines()
    summary = lines[-1] if lines else ""
    if child.returncode != 0:
        raise RuntimeError(f"khealth import failed ({child.returncode}): {summary}")
    created = _created(summary)
    cpu = usage.ru_utime + usage.ru_stime
    return ImportRun(created, seconds, usage.ru_maxrss / 1024, cpu, summary)


def _created(summary: str) -> int:
    """The resources stored, from '... N created, M updated, K unchanged, ...'."""
    words = summary.replace(",", "").split()
    return sum(int(words[i - 1]) for i, w in enumerate(words) if w in ("created", "updated"))


@dataclass(frozen=True, slots=True)
class Latency:
    samples: tuple[float, ...]  # milliseconds
    errors: int = 0
    timeouts: int = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def p99(self) -> float:
        return self.percentile(99)


class LoadSampler:
    """The 1-minute load average every few seconds while a phase runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def describe(self) -> str:
        mean = statistics.fmean(self.samples)
        return f"{mean:.1f} mean, {min(self.samples):.1f}–{max(self.samples):.1f}"
