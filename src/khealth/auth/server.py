"""The authorisation server's use cases: approve an authorisation request, the token
endpoint (authorization_code, refresh_token, client_credentials), introspection
(RFC 7662), revocation (RFC 7009), and a person's connected apps.

Access tokens are ES256 JWTs from :class:`~khealth.access.tokens.TokenService` (so the
FHIR API verifies them as before) carrying ``client_id``, ``fhirUser`` and ``grant``;
the verifier asks :meth:`AuthorizationServer.is_revoked` on every request, so a revoked
grant or token is refused on the next request, whatever its ``exp``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from khealth.access.context import PurposeOfUse, Role
from khealth.access.tokens import ALGORITHM, TokenService
from khealth.auth.client_assertion import ASSERTION_TYPE, assertion_client_id, verify_assertion
from khealth.auth.errors import OAuthError, invalid_client, invalid_grant, invalid_request
from khealth.auth.model import (
    Account,
    AccountKind,
    AuthorizationCode,
    Client,
    ClientKind,
    Grant,
    RefreshToken,
)
from khealth.auth.ports import AuthStore
from khealth.auth.requests import AuthorizeRequest
from khealth.auth.scope_policy import grant_scopes
from khealth.auth.secrets import digest, new_id, new_secret
from khealth.core.errors import KhealthError

CODE_LIFETIME = 60  # seconds; single use
ACCESS_LIFETIME = 3600
REFRESH_LIFETIME = 30 * 24 * 3600  # offline_access; each use rotates it
ONLINE_REFRESH_LIFETIME = 8 * 3600


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where this server is, as the request saw it (or KHEALTH_BASE_URL)."""

    fhir_base: str

    @property
    def root(self) -> str:
        return self.fhir_base.removesuffix("/fhir")

    @property
    def token(self) -> str:
        return f"{self.root}/auth/token"


def _now() -> int:
    return int(time.time())


class AuthorizationServer:
    def __init__(
        self, store: AuthStore, tokens: TokenService, clock: Callable[[], int] = _now
    ) -> None:
        self.store, self.tokens, self.clock = store, tokens, clock

    # -- revocation (called by TokenService.verify) -----------------------------------------
    def is_revoked(self, jti: str | None, grant_id: str | None) -> bool:
        return self.store.is_revoked(jti, grant_id)

    # -- authorisation --------------------------------------------------------------------
    def approve(
        self, request: AuthorizeRequest, account: Account, patient: str | None, relationship: str
    ) -> str:
        """The person approved: a grant and a one-use code for it."""
        client = self._client(request.client_id)
        contexts = frozenset({"patient"} if account.kind == AccountKind.CITIZEN else {"user"})
        scope = grant_scopes(request.scope, client.scope, contexts)
        if account.kind == AccountKind.CITIZEN and patient is None:
            raise OAuthError("access_denied", "no patient record to act for")
        role = account.role
        if account.kind == AccountKind.CITIZEN:
            role = str(Role.CITIZEN if relationship == "self" else Role.GUARDIAN)
        now = self.clock()
        grant = Grant(new_id(), client.client_id, account.id, role, scope, patient,
                      account.facility, now)  # fmt: skip
        self.store.add_grant(grant)
        code = new_secret()
        self.store.add_code(AuthorizationCode(
            digest(code), grant.id, client.client_id, request.redirect_uri,
            request.code_challenge, request.nonce or None, now + CODE_LIFETIME,
        ))  # fmt: skip
        return code

    # -- token endpoint -------------------------------------------------------------------
    def token(self, form: Mapping[str, str], endpoints: Endpoints) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._authorization_code(form, endpoints)
        if grant_type == "refresh_token":
            return self._refresh(form, endpoints)
        if grant_type == "client_credentials":
            return self._client_credentials(form, endpoints)
        raise OAuthError("unsupported_grant_type", "grant_type is not supported")

    def _authorization_code(self, form: Mapping[str, str], endpoints: Endpoints) -> dict[str, Any]:
        from khealth.auth.pkce import check_verifier

        client = self.authenticate(form, endpoints)
        taken = self.store.take_code(digest(form.get("code", "")))
        if taken is None:
            raise invalid_grant("the code is not valid")
        code, first_use = taken
        if not first_use:  # RFC 6749 §4.1.2: a reused code revokes what it issued
            self.store.revoke_grants([code.grant_id], self.clock())
            raise invalid_grant("the code was already used")
        if code.client_id != client.client_id:
            raise invalid_grant("the code was issued to another client")
        if code.expires < self.clock():
            raise invalid_grant("the code has expired")
        if form.get("redirect_uri") != code.redirect_uri:
            raise invalid_grant("redirect_uri differs from the authorisation request")
        check_verifier(form.get("code_verifier"), code.code_challenge)
        grant = self._live_grant(code.grant_id)
        return self._issue(grant, client, endpoints, nonce=code.nonce)

    def _refresh(self, form: Mapping[str, str], endpoints: Endpoints) -> dict[str, Any]:
        client = self.authenticate(form, endpoints)
        now = self.clock()
        taken = self.store.take_refresh_token(digest(form.get("refresh_token", "")), now)
        if taken is None:
            raise invalid_grant("the refresh token is not valid")
        token, first_use = taken
        if not first_use:  # reuse of a rotated token: it leaked; revoke the whole chain
            self.store.revoke_grants([token.grant_id], now)
            raise invalid_grant("the refresh token was already used; the grant is revoked")
        grant = self._live_grant(token.grant_id)
        if grant.client_id != client.client_id:
            raise invalid_grant("the refresh token was issued to another client")
        if token.expires < now:
            raise invalid_grant("the refresh token has expired")
        if form.get("scope"):  # RFC 6749 §6: a narrower scope may be asked for
            narrower = grant_scopes(form["scope"], grant.scope, _contexts(grant.scope))
            grant = replace(grant, scope=narrower)
        return self._issue(grant, client, endpoints, nonce=None, refresh_only=True)

    def _client_credentials(self, form: Mapping[str, str], endpoints: Endpoints) -> dict[str, Any]:
        client = self.authenticate(form, endpoints)
        if client.kind != ClientKind.BACKEND:
            raise OAuthError("unauthorized_client", "client_credentials is for backend clients")
        scope = grant_scopes(form.get("scope", ""), client.scope, frozenset({"system"}))
        now = self.clock()
        grant = Grant(new_id(), client.client_id, client.client_id, client.role, scope, None,
                      client.facility, now)  # fmt: skip
        self.store.add_grant(grant)
        return self._issue(grant, client, endpoints, nonce=None, refresh=False)

    def authenticate(self, form: Mapping[str, str], endpoints: Endpoints) -> Client:
        """The calling client: a public client names itself; a confidential or backend
        client proves itself with a private_key_jwt assertion."""
        assertion = form.get("client_assertion")
        if assertion:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise invalid_client("client_assertion_type must be jwt-bearer")
            client_id = assertion_client_id(assertion)
            if form.get("client_id") not in (None, "", client_id):
                raise invalid_client("client_id differs from the assertion's issuer")
            client = self._client(client_id)
            verify_assertion(self.store, client, assertion, endpoints.token, self.clock())
            return client
        client = self._client(form.get("client_id", ""))
        if client.kind != ClientKind.PUBLIC:
            raise invalid_client("this client must authenticate with private_key_jwt")
        return client

    def _client(self, client_id: str) -> Client:
        client = self.store.get_client(client_id) if client_id else None
        if client is None:
            raise invalid_client("unknown client")
        return client

    def _live_grant(self, grant_id: str) -> Grant:
        grant = self.store.get_grant(grant_id)
        if grant is None or grant.revoked is not None:
            raise invalid_grant("the authorisation has been revoked")
        return grant

    # -- issuing ----------------------------------------------------------------------------
    def _issue(
        self,
        grant: Grant,
        client: Client,
        endpoints: Endpoints,
        *,
        nonce: str | None,
        refresh: bool = True,
        refresh_only: bool = False,
    ) -> dict[str, Any]:
        account = self.store.get_account(grant.subject)
        fhir_user = _fhir_user(account, grant)
        words = grant.scope.split()
        extra: dict[str, Any] = {"client_id": client.client_id, "grant": grant.id,
                                 "jti": new_id()}  # fmt: skip
        if fhir_user and "fhirUser" in words:
            extra["fhirUser"] = fhir_user
        access = self.tokens.issue(
            grant.scope, subject=grant.subject, role=Role(grant.role), patient=grant.patient,
            ttl=ACCESS_LIFETIME, purpose=_purpose(grant.role), facility=grant.facility,
            extra_claims=extra,
        )  # fmt: skip
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                "expires_in": ACCESS_LIFETIME, "scope": grant.scope}  # fmt: skip
        if grant.patient and "launch/patient" in words:
            body["patient"] = grant.patient
            body["need_patient_banner"] = True
        if "openid" in words and not refresh_only:
            body["id_token"] = self._id_token(grant, client, endpoints, nonce, fhir_user)
        wants_refresh = "offline_access" in words or "online_access" in words
        if refresh and wants_refresh:
            body["refresh_token"] = self._new_refresh_token(grant, "offline_access" in words)
        return body

    def _new_refresh_token(self, grant: Grant, offline: bool) -> str:
        secret, now = new_secret(), self.clock()
        lifetime = REFRESH_LIFETIME if offline else ONLINE_REFRESH_LIFETIME
        self.store.add_refresh_token(RefreshToken(digest(secret), grant.id, now, now + lifetime))
        return secret

    def _id_token(
        self,
        grant: Grant,
        client: Client,
        endpoints: Endpoints,
        nonce: str | None,
        fhir_user: str | None,
    ) -> str:
        now = self.clock()
        claims: dict[str, Any] = {"iss": endpoints.root, "sub": grant.subject,
                                  "aud": client.client_id, "iat": now,
                                  "exp": now + ACCESS_LIFETIME, "auth_time": grant.created}  # fmt: skip
        if nonce:
            claims["nonce"] = nonce
        if fhir_user and "fhirUser" in grant.scope.split():
            claims["fhirUser"] = f"{endpoints.fhir_base}/{fhir_user}"
        header = {"alg": ALGORITHM, "kid": self.tokens.key.kid}
        return jwt.encode(header, claims, self.tokens.key)

    # -- introspection and revocation -------------------------------------------------------
    def introspect(self, token: str, caller: Client) -> dict[str, Any]:
        """RFC 7662.  A client learns only about tokens issued to it."""
        claims = self._access_claims(token)
        if claims is not None and claims.get("client_id") == caller.client_id:
            try:
                self.tokens.verify(token)  # expiry, issuer and the revocation list
            except KhealthError:
                return {"active": False}
            keys = ("scope", "client_id", "sub", "exp", "iat", "iss", "patient", "fhirUser", "jti")
            found = {k: claims[k] for k in keys if k in claims}
            return {"active": True, "token_type": "Bearer", **found}
        stored = self._refresh_grant(token)
        if stored is not None and stored[1].client_id == caller.client_id:
            refresh, grant = stored
            return {"active": True, "token_type": "refresh_token", "scope": grant.scope,
                    "client_id": grant.client_id, "sub": grant.subject, "exp": refresh.expires}  # fmt: skip
        return {"active": False}

    def revoke(self, token: str, caller: Client) -> None:
        """RFC 7009: a refresh token revokes its grant (and so every access token of it); an
        access token is put on the revocation list.  Unknown tokens are ignored (§2.2)."""
        stored = self._refresh_grant(token)
        if stored is not None and stored[1].client_id == caller.client_id:
            self.store.revoke_grants([stored[1].id], self.clock())
            return
        claims = self._access_claims(token)
        if claims is not None and claims.get("client_id") == caller.client_id:
            self.store.revoke_token_id(str(claims.get("jti", "")), int(claims.get("exp", 0)))

    def _access_claims(self, token: str) -> dict[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.tokens.key, algorithms=[ALGORITHM]
            ).claims
        except (JoseError, ValueError):
            return None
        return claims if claims.get("iss") == self.tokens.issuer else None

    def _refresh_grant(self, token: str) -> tuple[RefreshToken, Grant] | None:
        refresh = self.store.get_refresh_token(digest(token))
        if refresh is None or refresh.used is not None or refresh.expires < self.clock():
            return None
        grant = self.store.get_grant(refresh.grant_id)
        if grant is None or grant.revoked is not None:
            return None
        return refresh, grant

    # -- connected apps ---------------------------------------------------------------------
    def connected_apps(self, subject: str) -> list[tuple[Client, list[Grant]]]:
        by_client: dict[str, list[Grant]] = {}
        for grant in self.store.grants_of(subject):
            by_client.setdefault(grant.client_id, []).append(grant)
        found: list[tuple[Client, list[Grant]]] = []
        for client_id, grants in sorted(by_client.items()):
            client = self.store.get_client(client_id)
            if client is not None:
                found.append((client, grants))
        return found

    def revoke_app(self, subject: str, client_id: str) -> int:
        """Revoke every grant ``subject`` gave ``client_id``; its tokens stop working at once."""
        grants = [g.id for g in self.store.grants_of(subject) if g.client_id == client_id]
        if grants:
            self.store.revoke_grants(grants, self.clock())
        return len(grants)


def _contexts(scope: str) -> frozenset[str]:
    return frozenset(
        w.split("/")[0] for w in scope.split() if "/" in w and not w.startswith("launch")
    )


def _purpose(role: str) -> PurposeOfUse:
    if role in (Role.CITIZEN, Role.GUARDIAN):
        return PurposeOfUse.PATIENT_REQUEST
    if role == Role.EMS:
        return PurposeOfUse.EMERGENCY
    if role == Role.RESEARCHER:
        return PurposeOfUse.RESEARCH
    if role in (Role.OPERATOR, Role.AUDITOR):
        return PurposeOfUse.OPERATIONS
    return PurposeOfUse.TREATMENT


def _fhir_user(account: Account | None, grant: Grant) -> str | None:
    if account is None:
        return None
    if account.fhir_user:
        return account.fhir_user
    if grant.role == Role.CITIZEN and grant.patient:
        return f"Patient/{grant.patient}"
    return None


__all__ = ["AuthorizationServer", "Endpoints", "invalid_request"]
