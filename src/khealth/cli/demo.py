"""``khealth demo`` (what ``make run`` calls): on first start, generate a small synthetic
Gwangju into the embedded database, then serve it and say where to go."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from khealth.cli.main import app

DEMO_SEED = 20261129


def _patient_count(records: object) -> int:
    from khealth.access.context import AccessContext, PurposeOfUse, Role
    from khealth.access.scopes import parse_scopes
    from khealth.fhir.search_model import SearchQuery, TotalMode
    from khealth.records.service import Records

    assert isinstance(records, Records)
    ctx = AccessContext("khealth-demo", Role.SERVICE, parse_scopes("system/Patient.s"),
                        purpose=PurposeOfUse.OPERATIONS)  # fmt: skip
    with records.begin(ctx, "demo-check") as rs:
        page = rs.search(SearchQuery("Patient", count=0, total=TotalMode.ACCURATE)).page
    return page.total or 0


def _load_city(records: object, data_dir: Path, citizens: int) -> None:
    """Generate the city to files (deterministic, fast), then import them; both steps
    show progress and an interrupted first start resumes where it stopped."""
    from khealth.access.context import AccessContext, Role
    from khealth.access.scopes import parse_scopes
    from khealth.cli.importer import _Bar, _tune_garbage_collector
    from khealth.ingest.bulk_import import BulkImporter, discover
    from khealth.records.service import Records
    from khealth.synth import SynthConfig, write_city

    assert isinstance(records, Records)
    out = data_dir / "demo-city"
    if not (out / "manifest.json").exists():
        typer.echo(f"generating a synthetic city of {citizens:,} citizens into {out}")
        config = SynthConfig(
            citizens=citizens, seed=DEMO_SEED, history_years=2, dicom_max_studies=20
        )
        write_city(config, out, progress=True, overwrite=True)
    files = discover([out / "ndjson"])
    _tune_garbage_collector()
    bar = _Bar(sum(f.stat().st_size for f in files), True)
    ctx = AccessContext("khealth-demo", Role.SERVICE, parse_scopes("system/*.cruds"))
    try:
        BulkImporter(records, ctx, progress=bar, report=bar.write).run(files)
    finally:
        bar.close()
    optimize = getattr(records.store, "optimize", None)  # SQL stores: refresh statistics
    if optimize is not None:
        optimize()


def _first_patient(records: object) -> str | None:
    from khealth.access.context import AccessContext, Role
    from khealth.access.scopes import parse_scopes
    from khealth.fhir.search_model import SearchQuery
    from khealth.records.service import Records

    assert isinstance(records, Records)
    ctx = AccessContext("khealth-demo", Role.SERVICE, parse_scopes("system/Patient.s"))
    with records.begin(ctx, "demo-pick") as rs:
        matches = rs.search(SearchQuery("Patient", count=1)).page.matches
    return matches[0].id if matches else None


EMS_SCOPES = ("user/Patient.crs user/Encounter.crus user/ServiceRequest.crus "
              "user/Organization.rs user/Location.rs user/HealthcareService.rs")  # fmt: skip
ER_SCOPES = "user/Patient.rs user/Encounter.rus user/ServiceRequest.rus"


def _emergency_facility(records: object) -> tuple[str, str] | None:
    """(id, name) of the city's first regional emergency centre (else any ER), for the ER
    board's demo token."""
    from khealth.access.context import AccessContext, Role
    from khealth.access.scopes import parse_scopes
    from khealth.emergency.facilities import record_loader
    from khealth.records.service import Records

    assert isinstance(records, Records)
    ctx = AccessContext("khealth-demo", Role.SERVICE, parse_scopes(
        "system/HealthcareService.rs system/Organization.rs system/Location.rs"))  # fmt: skip
    found = sorted(record_loader(records, ctx)(), key=lambda f: (f.tier != "regional-emergency-center", f.id))  # fmt: skip
    return (found[0].id, found[0].name) if found else None


DEMO_PASSWORD = "khealth-demo-only"  # noqa: S105  (printed on purpose: a local demo)
DEMO_CLIENT = "demo-smart-app"


def _demo_sign_ins(base: str, er_facility: str | None) -> None:
    """Demo staff accounts and a demo SMART app (created once), and how to sign in."""
    from khealth.access.context import Role
    from khealth.auth.clients import register_client
    from khealth.auth.model import ClientKind
    from khealth.cli.auth import open_auth

    auth = open_auth()
    staff = [("carol", Role.CLINICIAN, er_facility or "demo-facility"), ("dan", Role.EMS, None),
             ("olivia", Role.OPERATOR, None), ("audrey", Role.AUDITOR, None)]  # fmt: skip
    for username, role, facility in staff:
        if auth.store.account_by_username(username) is None:
            auth.accounts.add_staff(username, DEMO_PASSWORD, role, facility)
    if auth.store.get_client(DEMO_CLIENT) is None:
        register_client(auth.store, "khealth 데모 앱", ClientKind.PUBLIC,
                        ["http://127.0.0.1:9000/callback"], client_id=DEMO_CLIENT)  # fmt: skip
    typer.echo(
        f"Sign-in pages ({base}/auth/login):\n"
        f"  staff: carol (clinician), dan (EMS), olivia (operator), audrey (auditor); password "
        f"'{DEMO_PASSWORD}'; the first sign-in enrols a TOTP authenticator\n"
        f"  citizens: any row of var/demo-city/citizens.csv (name, birth date, mobile); the "
        f"one-time code appears at {base}/auth/dev/sms-outbox (a stand-in, no real SMS)\n"
        f"  SMART app: client_id {DEMO_CLIENT}, redirect http://127.0.0.1:9000/callback, discovery "
        f"{base}/fhir/.well-known/smart-configuration\n"
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    citizens: Annotated[int | None, typer.Option(help="citizens (KHEALTH_DEMO_CITIZENS)")] = None,
    serve: Annotated[bool, typer.Option(help="serve after loading")] = True,
) -> None:
    """Load the demo city on first start (embedded SQLite by default), then serve it."""
    from khealth.access.context import Role
    from khealth.access.tokens import TokenService, load_or_create_key
    from khealth.core.config import get_settings
    from khealth.records.service import Records
    from khealth.store.factory import open_store

    os.environ.setdefault("KHEALTH_DEV_MODE", "1")  # the identity stand-in's SMS outbox page
    settings = get_settings()
    store = open_store(settings.resolved_database_url(), migrate=True)
    records = Records(store)
    if _patient_count(records) == 0:
        _load_city(records, settings.data_dir, citizens or settings.demo_citizens)
    patient = _first_patient(records)
    emergency = _emergency_facility(records)
    store.close()
    tokens = TokenService(load_or_create_key(settings.data_dir), settings.token_issuer)
    base = f"http://{host}:{port}"
    typer.echo(
        f"\nkhealth demo is ready: {base}/  (한국어; English: {base}/?lang=en)\n"
        f"  API documentation   {base}/docs\n"
        f"  FHIR API            {base}/fhir  (metadata: {base}/fhir/metadata)\n"
        f"  health / metrics    {base}/health  {base}/metrics\n"
        f"  HL7 v2 (MLLP)       {host}:2575  (feed health: {base}/api/feeds/health)\n"
        f"  DICOMweb            {base}/dicomweb  (C-STORE SCP: AE title KHEALTH on {host}:11112)\n\n"
        f"Demo tokens for scripts and pages (valid 12 hours; people sign in at {base}/auth/login):\n"
        f"  platform service (scripts; every record):  {tokens.issue('system/*.cruds', subject='demo-script', role=Role.SERVICE, ttl=43200)}\n"
    )
    if patient:
        citizen = tokens.issue("patient/*.rs", subject="demo-citizen", role=Role.CITIZEN,
                               patient=patient, ttl=43200)  # fmt: skip
        typer.echo(f"  citizen (Patient/{patient} only):  {citizen}\n")
    ems = tokens.issue(EMS_SCOPES, subject="demo-crew", role=Role.EMS, ttl=43200)
    typer.echo(f"  EMS crew (console {base}/ems):  {ems}\n")
    if emergency:
        clinician = tokens.issue(ER_SCOPES, subject="demo-er-clinician", role=Role.CLINICIAN,
                                 facility=emergency[0], ttl=43200)  # fmt: skip
        typer.echo(
            f"  ER clinician, {emergency[1]} (board {base}/er/{emergency[0]}):  {clinician}\n"
        )
    typer.echo(f"  try: curl -H 'Authorization: Bearer <token>' '{base}/fhir/Patient?_count=5'\n")
    _demo_sign_ins(base, emergency[0] if emergency else None)
    if serve:
        from khealth.cli.server import serve as serve_command

        serve_command(host=host, port=port, database=None, mllp_port=2575, workers=1,
                      dicom_port=11112)  # fmt: skip
