"""The trust layer's services, assembled once per app over one :class:`AuthStore`."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from khealth.access.tokens import TokenService
from khealth.auth.accounts import Accounts
from khealth.auth.config import AuthSettings
from khealth.auth.identity_verification import DevMobileVerifier, IdentityVerifier
from khealth.auth.ports import AuthStore
from khealth.auth.rate_limit import RateLimiter
from khealth.auth.server import AuthorizationServer
from khealth.auth.sessions import Sessions

SECRET_FILE = "auth-secret.key"  # noqa: S105  (a file name)


def load_or_create_secret(data_dir: Path) -> bytes:
    """32 random bytes in the data directory (mode 0600): the key of the CI hashes and of
    the development verifier's synthetic CIs."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_bytes()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(secrets.token_bytes(32))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path.read_bytes()


def _now() -> int:
    return int(time.time())


@dataclass
class Auth:
    settings: AuthSettings
    store: AuthStore
    server: AuthorizationServer
    sessions: Sessions
    accounts: Accounts
    verifier: IdentityVerifier
    limiter: RateLimiter
    secret: bytes


def build_auth(
    store: AuthStore,
    tokens: TokenService,
    data_dir: Path,
    settings: AuthSettings | None = None,
    clock: Callable[[], int] = _now,
) -> Auth:
    settings = settings or AuthSettings()
    secret = load_or_create_secret(data_dir)
    limiter = RateLimiter(clock)
    verifier = DevMobileVerifier(store, secret, clock, limiter)  # the only one: "dev"
    server = AuthorizationServer(store, tokens, clock)
    tokens.use_revocation(server.is_revoked)
    return Auth(settings, store, server, Sessions(store, clock), Accounts(store, limiter, clock),
                verifier, limiter, secret)  # fmt: skip
