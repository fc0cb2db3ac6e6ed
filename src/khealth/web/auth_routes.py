"""The authorisation server on the wire (issue 5 part 1; docs/auth.md):

* ``GET /.well-known/openid-configuration``, ``GET /auth/jwks``;
* ``POST /auth/token`` — authorization_code (PKCE S256), refresh_token (rotation; reuse
  revokes the chain), client_credentials (SMART Backend Services, private_key_jwt);
* ``POST /auth/introspect`` (RFC 7662), ``POST /auth/revoke`` (RFC 7009);
* ``POST /auth/register`` — client registration by an operator (bearer token, role
  operator), RFC 7591-shaped;
* ``GET /api/citizen/apps``, ``DELETE /api/citizen/apps/{client_id}`` — the citizen's
  connected apps; revoking one refuses its tokens on their next request.

The pages (sign-in, picker, consent) are :mod:`khealth.web.auth_pages`.  :func:`install`
also gives the app's :class:`~khealth.access.tokens.TokenService` its revocation check.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from khealth.access.context import AccessContext, Role
from khealth.auth.clients import RegistrationError, register_client
from khealth.auth.errors import OAuthError, RateLimited
from khealth.auth.model import ClientKind
from khealth.auth.server import Endpoints
from khealth.auth.service import Auth, build_auth
from khealth.core.errors import Forbidden, Issue, NotFound
from khealth.web import auth_pages
from khealth.web.auth_pages import auth_of
from khealth.web.deps import access_context, services
from khealth.web.fhir_out import base_url

router = APIRouter(tags=["auth"])
Caller = Annotated[AccessContext, Depends(access_context)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def _store_for(store: object) -> Any:
    from khealth.store.sql import SqlStore

    if isinstance(store, SqlStore):
        from khealth.store.auth_sql import SqlAuthStore

        return SqlAuthStore(store.engine)
    from khealth.store.auth_memory import MemoryAuthStore

    return MemoryAuthStore()


def install(app: FastAPI) -> Auth:
    svc = app.state.services
    auth = build_auth(_store_for(svc.store), svc.tokens, svc.settings.data_dir)
    app.state.auth = auth
    app.include_router(router)
    app.include_router(auth_pages.router)
    return auth


def endpoints(request: Request) -> Endpoints:
    return Endpoints(base_url(request))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, {**NO_STORE, **(headers or {})},
                    media_type="application/json")  # fmt: skip


def oauth_error(error: OAuthError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="khealth"'} if error.status == 401 else {}
    return _json(error.body(), error.status, headers)


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


# -- discovery ----------------------------------------------------------------------------
@router.get("/.well-known/openid-configuration", summary="OpenID Connect discovery")
async def openid_configuration(request: Request) -> Response:
    root = endpoints(request).root
    body = {
        "issuer": root,
        "authorization_endpoint": f"{root}/auth/authorize",
        "token_endpoint": f"{root}/auth/token",
        "jwks_uri": f"{root}/auth/jwks",
        "registration_endpoint": f"{root}/auth/register",
        "introspection_endpoint": f"{root}/auth/introspect",
        "revocation_endpoint": f"{root}/auth/revoke",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "fhirUser", "launch/patient", "offline_access"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES384", "RS384"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser"],
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/auth/jwks", summary="The public keys that sign access and ID tokens")
async def jwks(request: Request) -> Response:
    key = services(request).tokens.key
    public = key.as_dict(private=False) | {"use": "sig", "alg": "ES256"}
    return Response(orjson.dumps({"keys": [public]}), media_type="application/json")


# -- token, introspection, revocation -----------------------------------------------------
@router.post("/auth/token", summary="OAuth 2.0 token endpoint (form-encoded)")
async def token(request: Request) -> Response:
    auth, form = auth_of(request), await _form(request)
    try:
        body = await run_in_threadpool(auth.server.token, form, endpoints(request))
    except OAuthError as error:
        return oauth_error(error)
    return _json(body)


@router.post("/auth/introspect", summary="RFC 7662 token introspection (form-encoded)")
async def introspect(request: Request) -> Response:
    auth, form = auth_of(request), await _form(request)
    try:
        client = await run_in_threadpool(auth.server.authenticate, form, endpoints(request))
    except OAuthError as error:
        return oauth_error(error)
    found = await run_in_threadpool(auth.server.introspect, form.get("token", ""), client)
    return _json(found)


@router.post("/auth/revoke", summary="RFC 7009 token revocation (form-encoded)")
async def revoke(request: Request) -> Response:
    auth, form = auth_of(request), await _form(request)
    try:
        client = await run_in_threadpool(auth.server.authenticate, form, endpoints(request))
    except OAuthError as error:
        return oauth_error(error)
    await run_in_threadpool(auth.server.revoke, form.get("token", ""), client)
    return Response(status_code=200, headers=NO_STORE)


# -- registration -------------------------------------------------------------------------
class RegistrationIn(BaseModel):
    client_name: str = Field(min_length=1, max_length=200)
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    token_endpoint_auth_method: str = Field("none", pattern="^(none|private_key_jwt)$")
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code"])
    scope: str | None = Field(None, max_length=2000)
    jwks: dict[str, Any] | None = None
    facility: str | None = Field(None, max_length=64)


@router.post(
    "/auth/register",
    status_code=201,
    summary="Register an app (operators only)",
    responses={401: {"description": "no valid token", **PROBLEM},
               403: {"description": "not an operator", **PROBLEM},
               400: {"description": "invalid client metadata"}},
)  # fmt: skip
async def register(request: Request, body: RegistrationIn, caller: Caller) -> Response:
    if caller.role != Role.OPERATOR:
        raise Forbidden([Issue("forbidden", "only operators register clients")])
    kind = ClientKind.PUBLIC
    if "client_credentials" in body.grant_types:
        kind = ClientKind.BACKEND
    elif body.token_endpoint_auth_method == "private_key_jwt":  # noqa: S105  (a method name)
        kind = ClientKind.CONFIDENTIAL
    try:
        client = register_client(
            auth_of(request).store, body.client_name, kind, body.redirect_uris, scope=body.scope,
            jwks=json.dumps(body.jwks) if body.jwks else None, facility=body.facility,
        )  # fmt: skip
    except RegistrationError as bad:
        return _json({"error": "invalid_client_metadata", "error_description": str(bad)}, 400)
    return _json({"client_id": client.client_id, "client_name": client.name,
                  "redirect_uris": list(client.redirect_uris), "scope": client.scope,
                  "token_endpoint_auth_method": body.token_endpoint_auth_method,
                  "grant_types": body.grant_types}, 201)  # fmt: skip


# -- the citizen's connected apps ---------------------------------------------------------
class ConnectedApp(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    patients: list[str]
    authorised: int = Field(description="when first authorised (seconds since the epoch)")


class ConnectedApps(BaseModel):
    apps: list[ConnectedApp]


def _citizen(caller: AccessContext) -> str:
    if caller.role not in (Role.CITIZEN, Role.GUARDIAN):
        raise Forbidden([Issue("forbidden", "connected apps are a citizen's own list")])
    return caller.subject


@router.get(
    "/api/citizen/apps",
    response_model=ConnectedApps,
    summary="The apps the citizen has authorised",
    responses={401: {"description": "no valid token", **PROBLEM},
               403: {"description": "not a citizen", **PROBLEM}},
)  # fmt: skip
async def connected_apps(request: Request, caller: Caller) -> ConnectedApps:
    subject = _citizen(caller)
    found = await run_in_threadpool(auth_of(request).server.connected_apps, subject)
    return ConnectedApps(apps=[
        ConnectedApp(client_id=client.client_id, name=client.name,
                     scopes=sorted({s for g in grants for s in g.scope.split()}),
                     patients=sorted({g.patient for g in grants if g.patient}),
                     authorised=min(g.created for g in grants))
        for client, grants in found
    ])  # fmt: skip


@router.delete(
    "/api/citizen/apps/{client_id}",
    status_code=204,
    summary="Revoke an app: its tokens stop working at once",
    responses={401: {"description": "no valid token", **PROBLEM},
               403: {"description": "not a citizen", **PROBLEM},
               404: {"description": "no such connected app", **PROBLEM}},
)  # fmt: skip
async def revoke_app(request: Request, client_id: str, caller: Caller) -> Response:
    subject = _citizen(caller)
    revoked = await run_in_threadpool(auth_of(request).server.revoke_app, subject, client_id)
    if revoked == 0:
        raise NotFound([Issue("not-found", "no such connected app")])
    return Response(status_code=204)


__all__ = ["RateLimited", "install"]
