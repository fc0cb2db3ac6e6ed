"""Client registration (by an operator: ``POST /auth/register`` or ``khealth auth client
add``).  Redirect URIs are stored exactly and matched exactly: https, or http on the
loopback interface for native and development apps (RFC 8252 §7.3); no fragments, no
wildcards."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from khealth.auth.model import Client, ClientKind
from khealth.auth.ports import AuthStore
from khealth.auth.secrets import new_id

DEFAULT_SCOPES = {
    ClientKind.PUBLIC: "openid fhirUser launch/patient offline_access online_access patient/*.rs user/*.rs",
    ClientKind.CONFIDENTIAL: "openid fhirUser launch/patient offline_access online_access patient/*.rs user/*.cruds",
    ClientKind.BACKEND: "system/*.rs",
}  # fmt: skip
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


class RegistrationError(ValueError):
    """A bad registration; the message is safe to show (RFC 7591 invalid_client_metadata)."""


def check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.fragment or "*" in uri or not parts.netloc:
        raise RegistrationError("redirect URIs are absolute, without fragment or wildcard")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return uri
    raise RegistrationError("redirect URIs must be https (or http on the loopback interface)")


def check_jwks(jwks: str) -> str:
    try:
        keys = KeySet.import_key_set(json.loads(jwks))
    except (JoseError, ValueError, TypeError, KeyError):
        raise RegistrationError("jwks is not a JSON Web Key Set") from None
    if not keys.keys or any(key.is_private for key in keys.keys):
        raise RegistrationError("jwks must hold public keys only")
    return jwks


def register_client(
    store: AuthStore,
    name: str,
    kind: ClientKind,
    redirect_uris: list[str],
    *,
    scope: str | None = None,
    jwks: str | None = None,
    role: str = "hospital-system",
    facility: str | None = None,
    client_id: str | None = None,
) -> Client:
    if not name.strip() or len(name) > 200:
        raise RegistrationError("client_name is required (at most 200 characters)")
    uris = tuple(check_redirect_uri(u) for u in redirect_uris)
    if kind != ClientKind.BACKEND and not uris:
        raise RegistrationError("at least one redirect URI is required")
    if kind != ClientKind.PUBLIC:
        if not jwks:
            raise RegistrationError("private_key_jwt clients must register a jwks")
        jwks = check_jwks(jwks)
    client = Client(client_id or new_id(), name.strip(), kind, uris,
                    scope or DEFAULT_SCOPES[kind], jwks if kind != ClientKind.PUBLIC else None,
                    role, facility, int(time.time()))  # fmt: skip
    try:
        store.add_client(client)
    except ValueError:
        raise RegistrationError("that client_id is taken") from None
    return client
