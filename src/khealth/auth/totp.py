"""TOTP second factor for staff (RFC 6238 over HOTP, RFC 4226), with hmac and hashlib.

Codes are 6 digits, 30-second steps, HMAC-SHA1 (what every authenticator app supports);
one step of clock drift either way is accepted, and a step once accepted is refused
again, so an observed code cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP = 30
DIGITS = 6
_ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def new_secret() -> str:
    """160 random bits, base32 without padding (RFC 4226 §4 recommends ≥ 160)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret_b32: str) -> bytes:
    return base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)


def hotp(key: bytes, counter: int, digits: int = DIGITS, algorithm: str = "SHA1") -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), _ALGORITHMS[algorithm]).digest()
    offset = mac[-1] & 0x0F  # dynamic truncation, RFC 4226 §5.3
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_at(key: bytes, unix_time: int, digits: int = DIGITS, algorithm: str = "SHA1") -> str:
    return hotp(key, unix_time // STEP, digits, algorithm)


def code_for(secret_b32: str, unix_time: int) -> str:
    return totp_at(_key(secret_b32), unix_time)


def accepted_step(secret_b32: str, code: str, unix_time: int, last_step: int) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), or None; a step
    at or before ``last_step`` (already used) is refused."""
    if not (code.isdigit() and len(code) == DIGITS):
        return None
    key = _key(secret_b32)
    now_step = unix_time // STEP
    for step in (now_step, now_step - 1, now_step + 1):
        if step > last_step and hmac.compare_digest(hotp(key, step), code):
            return step
    return None


def provisioning_uri(secret_b32: str, account: str, issuer: str = "khealth") -> str:
    """The ``otpauth://`` URI an authenticator app reads (shown as text and a QR code)."""
    label = quote(f"{issuer}:{account}")
    query = urlencode({"secret": secret_b32, "issuer": issuer, "algorithm": "SHA1",
                       "digits": DIGITS, "period": STEP})  # fmt: skip
    return f"otpauth://totp/{label}?{query}"
