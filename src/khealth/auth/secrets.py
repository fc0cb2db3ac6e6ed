"""Random secrets and their stored form.  A secret handed to a browser or app (a code, a
refresh token, a session id) is 256 random bits; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_id() -> str:
    return secrets.token_hex(12)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
