"""Registers every command group on the Typer app (one line per module)."""

from __future__ import annotations

from khealth.cli import server  # noqa: F401
from khealth.cli import synth  # noqa: F401
