"""Registers every command group on the Typer app (one line per module)."""

from __future__ import annotations

from khealth.cli import (
    audit,  # noqa: F401
    auth,  # noqa: F401
    cds,  # noqa: F401
    checkups,  # noqa: F401
    demo,  # noqa: F401
    emergency,  # noqa: F401
    feeds,  # noqa: F401
    importer,  # noqa: F401
    mpi,  # noqa: F401
    server,  # noqa: F401
    synth,  # noqa: F401
)
