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
    peak_rss_mb: float  # the importer's and its prepare workers' own peaks, added up
    cpu_seconds: float  # user + system of the child and its workers: the CPU the import took
    summary: str  # the importer's own last line
    peak_rss_parts: tuple[float, ...] = ()  # each process's peak (MB), the importer first

    @property
    def rate(self) -> float:
        return self.resources / self.seconds


def run_import(files: Sequence[Path], url: str, env: dict[str, str], log: Path) -> ImportRun:
    """``khealth import`` in a child process.  ``wait4`` gives the CPU time of that child
    and of the prepare workers it ran (``RUSAGE_CHILDREN`` would mix in every other
    child, such as the server); peak memory is each process's high-water mark (VmHWM,
    polled), added up: an upper bound of what they held at once."""
    command = [str(KHEALTH), "import", *map(str, files), "--database", url, "--no-progress"]
    started = time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        with PeakMemory(child.pid) as peaks:
            _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = log.read_text(errors="replace").strip().splitlines()
    summary = lines[-1] if lines else ""
    if child.returncode != 0:
        raise RuntimeError(f"khealth import failed ({child.returncode}): {summary}")
    created = _created(summary)
    cpu = usage.ru_utime + usage.ru_stime
    parts = peaks.parts() or (usage.ru_maxrss / 1024,)
    return ImportRun(created, seconds, sum(parts), cpu, summary, parts)


class PeakMemory:
    """The high-water mark of a process and of its children, sampled every half second."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid = pid
        self.every = every
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def parts(self) -> tuple[float, ...]:
        return tuple(self.peaks[p] for p in sorted(self.peaks, key=lambda p: p != self.pid))

    def _run(self) -> None:
        while True:
            for pid in (self.pid, *_children(self.pid)):
                mb = _high_water_mb(pid)
                if mb is not None:
                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), mb)
            if self._stop.wait(self.every):
                return


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def _high_water_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


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
