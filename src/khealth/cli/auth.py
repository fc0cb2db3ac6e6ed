"""``khealth auth user add``, ``khealth auth client add``, ``khealth auth guardian add``:
accounts and apps of the authorisation server (docs/auth.md)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from khealth.cli.main import app

auth_app = typer.Typer(help="Sign-in accounts and registered apps (the /auth server)")
user_app = typer.Typer(help="Staff accounts")
client_app = typer.Typer(help="Registered apps (OAuth clients)")
guardian_app = typer.Typer(help="Who may act for whom")
auth_app.add_typer(user_app, name="user")
auth_app.add_typer(client_app, name="client")
auth_app.add_typer(guardian_app, name="guardian")
app.add_typer(auth_app, name="auth")


def open_auth() -> Any:
    """The trust layer over the configured database (migrated first)."""
    from khealth.access.tokens import TokenService, load_or_create_key
    from khealth.auth.service import build_auth
    from khealth.core.config import get_settings
    from khealth.store.auth_sql import SqlAuthStore
    from khealth.store.factory import open_store

    settings = get_settings()
    store = open_store(settings.resolved_database_url(), migrate=True)
    tokens = TokenService(load_or_create_key(settings.data_dir), settings.token_issuer)
    return build_auth(SqlAuthStore(store.engine), tokens, settings.data_dir)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="sign-in name (a-z 0-9 . _ -)")],
    role: Annotated[
        str, typer.Option(help="clinician, hospital-system, ems, researcher, operator, auditor")
    ],
    facility: Annotated[
        str | None, typer.Option(help="Organization id (clinicians, hospital systems)")
    ] = None,
    fhir_user: Annotated[str | None, typer.Option(help="e.g. Practitioner/123")] = None,
    password_env: Annotated[
        str | None,
        typer.Option(help="read the password from this environment variable instead of a prompt"),
    ] = None,
) -> None:
    """Add a staff account; the second factor (TOTP) is enrolled at the first sign-in."""
    from khealth.access.context import Role
    from khealth.auth.accounts import AccountError

    password = os.environ.get(password_env, "") if password_env else getpass.getpass("password: ")
    try:
        account = open_auth().accounts.add_staff(
            username, password, Role(role), facility, fhir_user
        )
    except (AccountError, ValueError) as bad:
        raise typer.BadParameter(str(bad)) from None
    typer.echo(f"staff account {username} ({role}) added: subject {account.id}")


@client_app.command("add")
def client_add(
    name: Annotated[str, typer.Argument(help="the app's name, shown to citizens")],
    redirect_uri: Annotated[
        list[str] | None, typer.Option(help="exact redirect URI (repeatable)")
    ] = None,
    jwks: Annotated[
        Path | None, typer.Option(help="JWKS file of the client's public keys (private_key_jwt)")
    ] = None,
    public: Annotated[bool, typer.Option(help="a public client (PKCE, no keys)")] = False,
    backend: Annotated[
        bool, typer.Option(help="SMART Backend Services (client_credentials)")
    ] = False,
    scope: Annotated[str | None, typer.Option(help="the most this client may be granted")] = None,
    facility: Annotated[
        str | None, typer.Option(help="backend clients: the hospital's Organization id")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="choose the client_id (default: random)")
    ] = None,
) -> None:
    """Register an app; prints its client_id."""
    from khealth.auth.clients import RegistrationError, register_client
    from khealth.auth.model import ClientKind

    if public and (backend or jwks):
        raise typer.BadParameter("--public takes no --jwks and no --backend")
    kind = (
        ClientKind.BACKEND if backend else ClientKind.PUBLIC if public else ClientKind.CONFIDENTIAL
    )
    try:
        client = register_client(open_auth().store, name, kind, list(redirect_uri or []), scope=scope,
                                 jwks=jwks.read_text() if jwks else None, facility=facility,
                                 client_id=client_id)  # fmt: skip
    except RegistrationError as bad:
        raise typer.BadParameter(str(bad)) from None
    typer.echo(f"client_id {client.client_id} ({kind}); scope ceiling: {client.scope}")


@guardian_app.command("add")
def guardian_add(
    account: Annotated[str, typer.Argument(help="the guardian's account subject")],
    patient: Annotated[str, typer.Argument(help="the dependant's Patient id")],
) -> None:
    """Let a citizen act for a dependant (after the paperwork is checked)."""
    from khealth.auth.accounts import AccountError

    try:
        open_auth().accounts.add_guardianship(account, patient)
    except AccountError as bad:
        raise typer.BadParameter(str(bad)) from None
    typer.echo(f"{account} may now act for Patient/{patient}")
