"""Signed bearer tokens (JWT, ES256) for scripts and services until the trust layer's
authorisation server issues them.  The signing key is generated into the data
directory on first use and never leaves it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from khealth.access.context import AccessContext, PurposeOfUse, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import Issue, Unauthorized

ALGORITHM = "ES256"
KEY_FILE = "token-signing-key.json"

#: (jti, grant id) -> revoked?  Installed by the authorisation server (khealth.auth), which
#: keeps the revocation list and the grants; every verified request asks it once.
RevocationCheck = Callable[[str | None, str | None], bool]


def load_or_create_key(data_dir: Path) -> ECKey:
    path = data_dir / KEY_FILE
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text()))
    data_dir.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex[:16]}, private=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(key.as_dict(private=True)))
    tmp.chmod(0o600)
    tmp.replace(path)
    return key


class TokenService:
    def __init__(self, key: ECKey, issuer: str) -> None:
        self.key = key
        self.issuer = issuer
        self.revoked: RevocationCheck | None = None

    def use_revocation(self, check: RevocationCheck) -> None:
        """Refuse tokens revoked at the authorisation server (the one place it is checked)."""
        self.revoked = check

    def issue(
        self,
        scope: str,
        *,
        subject: str = "cli",
        role: Role = Role.SERVICE,
        patient: str | None = None,
        ttl: int = 3600,
        purpose: PurposeOfUse = PurposeOfUse.TREATMENT,
        facility: str | None = None,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> str:
        """``extra_claims`` (the authorisation server's ``client_id``, ``fhirUser``,
        ``grant``, its own ``jti``) are added last."""
        parse_scopes(scope)  # refuse to sign a malformed scope
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": subject, "iat": now, "exp": now + ttl,
            "jti": uuid.uuid4().hex, "scope": scope, "role": str(role), "pou": str(purpose),
        }  # fmt: skip
        if patient:
            claims["patient"] = patient
        if facility:
            claims["facility"] = facility
        claims.update(extra_claims or {})
        return jwt.encode({"alg": ALGORITHM, "kid": self.key.kid}, claims, self.key)

    def verify(self, token: str) -> AccessContext:
        try:
            decoded = jwt.decode(token, self.key, algorithms=[ALGORITHM])
        except (JoseError, ValueError):
            raise _unauthorized("the bearer token is not valid") from None
        claims = decoded.claims
        now = time.time()
        if claims.get("iss") != self.issuer:
            raise _unauthorized("the bearer token was issued elsewhere")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < now:
            raise _unauthorized("the bearer token has expired")
        try:
            role = Role(claims.get("role", "service"))
            purpose = PurposeOfUse(claims.get("pou", "TREAT"))
        except ValueError:
            raise _unauthorized("the bearer token has an unknown role") from None
        if self.revoked is not None and self.revoked(_text(claims, "jti"), _text(claims, "grant")):
            raise _unauthorized("the bearer token has been revoked")
        return AccessContext(
            subject=str(claims.get("sub", "")),
            role=role,
            scopes=parse_scopes(str(claims.get("scope", ""))),
            patient=claims.get("patient"),
            purpose=purpose,
            facility=claims.get("facility"),
            client_id=_text(claims, "client_id"),
            token_id=claims.get("jti"),
        )


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized([Issue("login", message)])
