"""Client authentication with ``private_key_jwt`` (RFC 7523; SMART Backend Services,
"Authenticating to the Token endpoint").

The client signs a short JWT with a key whose public half it registered (its JWKS).  We
check the signature and that ``iss`` = ``sub`` = the client id, ``aud`` = our token
endpoint, ``exp`` is in the future and at most five minutes away, and that ``jti`` has
not been seen before (kept until the assertion would have expired anyway).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from khealth.auth.errors import OAuthError, invalid_client
from khealth.auth.model import Client
from khealth.auth.ports import AuthStore

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["ES384", "RS384", "ES256", "RS256"]  # SMART requires ES384 and RS384
MAX_LIFETIME = 300


def assertion_client_id(assertion: str) -> str:
    """The ``iss`` of an assertion, read before its signature is checked (to find the
    client whose keys check it)."""
    claims = _unverified_claims(assertion)
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise invalid_client("the client assertion has no issuer")
    return issuer


def _unverified_claims(assertion: str) -> dict[str, Any]:
    try:
        payload = assertion.split(".")[1]
        found = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise invalid_client("the client assertion is not a JWT") from None
    return found if isinstance(found, dict) else {}


def verify_assertion(
    store: AuthStore, client: Client, assertion: str, token_endpoint: str, now: int
) -> None:
    if not client.jwks:
        raise invalid_client("the client has no registered keys")
    try:
        keys = KeySet.import_key_set(json.loads(client.jwks))
        claims = jwt.decode(assertion, keys, algorithms=ALGORITHMS).claims
    except (JoseError, ValueError, TypeError):
        raise invalid_client("the client assertion's signature does not verify") from None
    _check_claims(claims, client.client_id, token_endpoint, now)
    jti = str(claims["jti"])
    if not store.remember_assertion(f"{client.client_id}:{jti}", int(claims["exp"]), now):
        raise invalid_client("the client assertion was already used (jti replay)")


def _check_claims(claims: dict[str, Any], client_id: str, token_endpoint: str, now: int) -> None:
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise invalid_client("the client assertion's iss and sub must be the client id")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if token_endpoint not in audiences:
        raise invalid_client("the client assertion's aud must be the token endpoint")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise invalid_client("the client assertion has expired")
    if exp > now + MAX_LIFETIME:
        raise invalid_client("the client assertion may live at most five minutes")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise OAuthError("invalid_client", "the client assertion needs a jti", 401)
