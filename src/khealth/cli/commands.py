"""Registers every command group on the Typer app (one line per module)."""

from __future__ import annotations

from khealth.cli import (
    importer,  # noqa: F401
    server,  # noqa: F401
    synth,  # noqa: F401
)
