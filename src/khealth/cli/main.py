"""The ``khealth`` command: one Typer app, one module per command group."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="khealth: the city's FHIR clinical data platform")


def main() -> None:
    _register()
    app()


def _register() -> None:
    """Import command modules late so that `khealth --help` stays fast."""
    from khealth.cli import commands  # noqa: F401  (registers on import)
