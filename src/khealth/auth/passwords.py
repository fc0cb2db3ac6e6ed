"""Staff passwords, hashed with scrypt (memory-hard; RFC 7914) from the standard library.

n=2**15, r=8, p=1 uses 32 MiB and ~0.1 s per check: slow enough to make a stolen table
expensive to crack, cheap enough for sign-in behind the rate limit.  The parameters are
stored with each hash so that they can be raised later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**15, 8, 1
MIN_LENGTH = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = N) -> str:
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode(), salt=salt, n=n, r=R, p=P, maxmem=2**26, dklen=32)
    return f"scrypt${n}${R}${P}${_b64(salt)}${_b64(derived)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                 r=int(r), p=int(p), maxmem=2**26, dklen=32)  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, base64.b64decode(expected))


# A hash of nothing in particular: checking an unknown username against it costs the same
# time as checking a known one, so timing does not tell which usernames exist.
_DUMMY = hash_password(secrets.token_hex(16))


def burn_time(password: str) -> None:
    verify_password(password, _DUMMY)
