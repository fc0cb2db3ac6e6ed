"""`python -m bench.run` end to end on a tiny store: the table is produced (timings unchecked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_the_benchmark_writes_its_table_for_a_small_sqlite_store(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n\nHand-written narrative.\n")
    command = [
        sys.executable, "-m", "bench.run", "--resources", "2000", "--backends", "sqlite",
        "--skip-others", "--skip-profile", "--reads", "50", "--everything-calls", "5",
        "--search-calls", "5", "--bundles", "4", "--everything-size", "200",
        "--output", str(output), "--scratch", str(tmp_path / "scratch"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    text = output.read_text()
    assert text.startswith("# Benchmarks\n\nHand-written narrative.\n")
    for measure in (
        "| sqlite | floor: bare-table insert |",
        "| sqlite | bulk import (`khealth import`, validation + indexing) |",
        "| sqlite | bulk import peak memory",
        "| sqlite | read by id p95 |",
        "| sqlite | `$everything` p95 |",
        "| sqlite | token search p95 |",
        "| sqlite | date search p95 |",
        "| sqlite | chained search p95 |",
        "| sqlite | transaction Bundles over HTTP |",
    ):
        assert measure in text
    rows = [line for line in text.splitlines() if line.startswith("| sqlite |")]
    assert not [row for row in rows if "failed" in row or "errors" in row]
    assert not any((tmp_path / "scratch").iterdir()), "scratch data is deleted"
