"""``khealth serve``, ``khealth db upgrade``, ``khealth token issue``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from khealth.cli.main import app

db_app = typer.Typer(help="Database schema")
token_app = typer.Typer(help="Bearer tokens for scripts and services")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    database: Annotated[
        str | None, typer.Option(help="database URL (KHEALTH_DATABASE_URL)")
    ] = None,
    mllp_port: Annotated[int | None, typer.Option(help="HL7 v2 MLLP port (off by default)")] = None,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Serve the FHIR API and pages; creates or upgrades the schema first."""
    import uvicorn

    if database:
        os.environ["KHEALTH_DATABASE_URL"] = database
    if mllp_port is not None:
        typer.echo("the HL7 v2 MLLP listener arrives with issue 4; ignoring --mllp-port", err=True)
    from khealth.core.logging import configure_logging

    configure_logging()
    uvicorn.run(
        "khealth.web.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        timeout_graceful_shutdown=20,
    )


@db_app.command("upgrade")
def db_upgrade(
    database: Annotated[str | None, typer.Option(help="database URL")] = None,
) -> None:
    """Create or upgrade the schema to the latest migration."""
    from khealth.core.config import get_settings
    from khealth.store.factory import open_store

    url = database or get_settings().resolved_database_url()
    open_store(url, migrate=True).close()
    typer.echo("database schema is up to date")


@token_app.command("issue")
def token_issue(
    scope: Annotated[str, typer.Option(help="SMART scopes, e.g. 'system/*.cruds'")],
    patient: Annotated[str | None, typer.Option(help="launch patient for patient/ scopes")] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
    subject: Annotated[str, typer.Option(help="who the token stands for")] = "cli",
    role: Annotated[str, typer.Option(help="role: service, citizen, clinician, ...")] = "service",
) -> None:
    """Print a signed bearer token."""
    from khealth.access.context import Role
    from khealth.access.tokens import TokenService, load_or_create_key
    from khealth.core.config import get_settings
    from khealth.core.errors import KhealthError

    settings = get_settings()
    service = TokenService(load_or_create_key(settings.data_dir), settings.token_issuer)
    try:
        typer.echo(service.issue(scope, subject=subject, role=Role(role), patient=patient, ttl=ttl))
    except (KhealthError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
