"""PKCE (RFC 7636) with S256 only: ``plain`` sends the verifier itself through the browser,
which is what PKCE exists to avoid, so SMART App Launch 2.x servers refuse it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from khealth.auth.errors import invalid_grant, invalid_request

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 §4.1
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")  # base64url(SHA-256), no padding


def check_challenge(challenge: str | None, method: str | None) -> str:
    if not challenge:
        raise invalid_request("code_challenge is required (PKCE)")
    if method != "S256":
        raise invalid_request("code_challenge_method must be S256")
    if not _CHALLENGE.match(challenge):
        raise invalid_request("code_challenge is not a base64url SHA-256")
    return challenge


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_verifier(verifier: str | None, challenge: str) -> None:
    if not verifier or not _VERIFIER.match(verifier):
        raise invalid_grant("code_verifier is missing or malformed")
    if not hmac.compare_digest(s256(verifier), challenge):
        raise invalid_grant("code_verifier does not match the code_challenge")
