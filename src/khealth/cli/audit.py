"""``khealth audit``: verify the tamper-evident audit log, sign a checkpoint now.

``verify`` streams every entry in seq order, recomputes the hash chain and each signed
checkpoint's Merkle root and signature, and prints where it breaks (exit code 1) or a one-line
summary (exit code 0).  docs/security.md describes the format and the procedure.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from khealth.cli.main import app

if TYPE_CHECKING:
    from joserfc.jwk import ECKey

audit_app = typer.Typer(no_args_is_help=True, help="the tamper-evident audit log")
app.add_typer(audit_app, name="audit")
Database = Annotated[str | None, typer.Option(help="database URL (KHEALTH_DATABASE_URL)")]


@audit_app.command("verify")
def verify_command(
    database: Database = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(help="JWK file(s) of checkpoint keys (default: the platform's key)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Recompute the chain and checkpoints; name every edited, deleted, inserted or
    reordered entry and every forged checkpoint."""
    from khealth.access.audit_signing import KeyChecker
    from khealth.records.audit_verify import verify
    from khealth.store.audit_log import load_checkpoints, stream_rows
    from khealth.store.engine import make_engine

    engine = make_engine(_url(database))
    started = time.perf_counter()
    report = verify(stream_rows(engine), load_checkpoints(engine), KeyChecker(_keys(public_key)))
    elapsed = time.perf_counter() - started
    engine.dispose()
    summary = {
        "ok": report.ok, "entries": report.entries, "head_seq": report.head_seq,
        "head_hash": report.head_hash.hex(), "checkpoints": report.checkpoints,
        "unsealed": report.unsealed, "seconds": round(elapsed, 2),
        "findings": [str(f) for f in report.findings], "more_findings": report.more_findings,
    }  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        for finding in report.findings:
            typer.echo(f"BROKEN {finding}")
        if report.more_findings:
            typer.echo(f"... and {report.more_findings} more")
        state = "ok" if report.ok else "TAMPERED"
        typer.echo(
            f"audit log {state}: {report.entries} entries, head seq {report.head_seq}, "
            f"{report.checkpoints} signed checkpoints, {report.unsealed} entries after the "
            f"last checkpoint, {elapsed:.1f} s"
        )
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint_command(database: Database = None) -> None:
    """Sign a checkpoint over the entries since the last one (e.g. from cron, or after an
    import run outside the server)."""
    from khealth.access.audit_signing import KeySigner
    from khealth.access.tokens import load_or_create_key
    from khealth.core.config import get_settings
    from khealth.store.audit_log import checkpoint_head
    from khealth.store.factory import open_store

    settings = get_settings()
    signer = KeySigner(load_or_create_key(settings.data_dir))
    store = open_store(_url(database), migrate=True)
    with store.session() as session:
        seq = checkpoint_head(session.conn, store.is_postgres, signer, time.time_ns() // 1000)
    store.close()
    typer.echo(f"checkpoint signed at seq {seq}" if seq else "nothing new since the last one")


def _url(database: str | None) -> str:
    from khealth.core.config import get_settings

    return database or get_settings().resolved_database_url()


def _keys(files: list[Path] | None) -> list[ECKey]:
    from joserfc.jwk import ECKey

    from khealth.access.tokens import KEY_FILE
    from khealth.core.config import get_settings

    paths = files or [get_settings().data_dir / KEY_FILE]
    return [ECKey.import_key(json.loads(p.read_text())) for p in paths]
