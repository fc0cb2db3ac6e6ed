"""Registers every command group on the Typer app (one line per module)."""

from __future__ import annotations
from khealth.cli import server  # noqa: F401
