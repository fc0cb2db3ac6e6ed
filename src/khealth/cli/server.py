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
    mllp_processes: Annotated[
        int, typer.Option(min=1, help="HL7 v2 listener processes sharing the MLLP port")
    ] = 1,
    dicom_port: Annotated[
        int | None, typer.Option(help="DICOM C-STORE SCP port (off by default)")
    ] = None,
    dicom_ae_title: Annotated[str, typer.Option(help="the C-STORE SCP's AE title")] = "KHEALTH",
    dicom_peer: Annotated[
        list[str] | None,
        typer.Option(
            help="CALLING_AE=ORGANIZATION_ID: a sender and its facility (repeatable; "
            "when given, other calling AE titles are rejected)"
        ),
    ] = None,
) -> None:
    """Serve the FHIR API and pages; creates or upgrades the schema first."""
    import uvicorn

    if database:
        os.environ["KHEALTH_DATABASE_URL"] = database
    from khealth.core.logging import configure_logging

    configure_logging()
    if mllp_port is not None:
        from khealth.cli.mllp_processes import start_listeners

        start_listeners(host, mllp_port, mllp_processes)
    if dicom_port is not None:
        _start_dicom(host, dicom_port, port, dicom_ae_title, dicom_peer or [])
    if mllp_port is not None and workers == 1:
        _freeze_startup_heap()
    uvicorn.run(
        "khealth.web.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        # The app logs each request by route template (web/app.py); uvicorn's access log would
        # add full URLs, whose queries can hold search values or an event-stream ticket.
        access_log=False,
        timeout_graceful_shutdown=20,
    )


def _freeze_startup_heap() -> None:
    """Load what stays for the life of the process (the web app, the FHIR definitions and
    the validator built from them), then take it out of the cyclic garbage collector's
    walk (``gc.freeze``): a full collection otherwise walks all of it, which cost the HL7
    v2 feed about a quarter of its CPU under sustained load (docs/benchmarks.md)."""
    import gc
    import importlib

    from khealth.fhir.validation import check_resource

    importlib.import_module("khealth.web.main")  # the module object uvicorn then imports
    check_resource({"resourceType": "Patient", "id": "warm-up"})
    gc.collect()
    gc.freeze()


def _start_dicom(host: str, port: int, http_port: int, ae_title: str, peers: list[str]) -> None:
    """The C-STORE SCP in this process (pynetdicom's threads), over its own imaging service
    and database connections, storing as STOW-RS does (docs/imaging.md)."""
    from khealth.core.config import get_settings
    from khealth.imaging.dimse import DimseSettings, StoreScp, parse_peers
    from khealth.imaging.objectstore import FileObjectStore
    from khealth.imaging.service import Imaging
    from khealth.records.service import Records
    from khealth.store.factory import open_store
    from khealth.web.dicomweb import dicom_index

    settings = get_settings()
    configured = str(settings.base_url or "").rstrip("/")
    base = configured.removesuffix("/fhir") if configured else f"http://{host}:{http_port}"
    store = open_store(settings.resolved_database_url(), migrate=True)
    imaging = Imaging(Records(store), dicom_index(store), FileObjectStore(settings.data_dir / "objects"))  # fmt: skip
    try:
        scp = StoreScp(imaging, DimseSettings(host=host, port=port, ae_title=ae_title,
                                              peers=parse_peers(peers),
                                              endpoint_address=f"{base}/dicomweb"))  # fmt: skip
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    scp.start()
    typer.echo(f"DICOM C-STORE SCP {ae_title} listening on {host}:{port}", err=True)


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
