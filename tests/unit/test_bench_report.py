"""``make bench`` rewrites only its generated section of docs/benchmarks.md: the hand-written
text above and below it (other benchmarks' sections) stays."""

from __future__ import annotations

from pathlib import Path

from bench.report import BEGIN, END, write_document


def test_the_text_around_the_generated_section_is_kept(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Head\n\nby hand\n\n{BEGIN}\n\nold figures\n{END}\n\n## MLLP\n\nkept\n")
    write_document(doc, ["new figures"])
    text = doc.read_text()
    assert text.startswith("# Head\n\nby hand\n\n" + BEGIN)
    assert "new figures" in text and "old figures" not in text
    assert text.endswith(f"{END}\n\n## MLLP\n\nkept\n")
    write_document(doc, ["newer figures"])  # idempotent around the section
    assert doc.read_text().endswith(f"{END}\n\n## MLLP\n\nkept\n")


def test_a_document_without_markers_gets_the_section_appended(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n")
    write_document(doc, ["figures"])
    assert doc.read_text() == f"# Benchmarks\n\nintro\n\n{BEGIN}\n\nfigures\n{END}\n"
