"""The authorisation server's values: clients, grants, codes, refresh tokens, accounts,
sessions, identity verifications.  Times are whole seconds since the epoch.

Secrets (codes, refresh tokens, session ids) are stored only as SHA-256 hashes
(:func:`khealth.auth.secrets.digest`); a database reader cannot replay them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ClientKind(StrEnum):
    PUBLIC = "public"  # a browser or phone app: PKCE, no secret
    CONFIDENTIAL = "confidential-asymmetric"  # user-facing app with private_key_jwt
    BACKEND = "backend"  # SMART Backend Services: client_credentials + private_key_jwt


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    kind: ClientKind
    redirect_uris: tuple[str, ...]
    scope: str  # the ceiling: what this client may ever be granted
    jwks: str | None = None  # JSON Web Key Set (public keys) for private_key_jwt
    role: str = "hospital-system"  # backend clients: the role their tokens carry
    facility: str | None = None
    created: int = 0


@dataclass(frozen=True, slots=True)
class Grant:
    """One authorisation of one client by one person (or of a backend client by itself):
    the chain every code, access token and refresh token of it belongs to.  Revoking the
    grant refuses all of them on their next use."""

    id: str
    client_id: str
    subject: str
    role: str
    scope: str
    patient: str | None
    facility: str | None
    created: int
    revoked: int | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    expires: int
    used: bool = False


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token_hash: str
    grant_id: str
    created: int
    expires: int
    used: int | None = None  # when it was exchanged (rotated); a second use revokes the grant


class AccountKind(StrEnum):
    CITIZEN = "citizen"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class Account:
    id: str  # the token `sub`: opaque, never a name or identifier of the person
    kind: AccountKind
    role: str  # khealth.access.context.Role value
    username: str | None = None  # staff only
    password_hash: str | None = None  # staff only (scrypt)
    totp_secret: str | None = None  # staff: base32; None until enrolled
    totp_confirmed: bool = False
    totp_last_step: int = 0  # the last time step accepted: a code works once
    facility: str | None = None
    ci_hash: str | None = None  # citizens: keyed hash of the CI, never the CI itself
    fhir_user: str | None = None  # e.g. Practitioner/123 or Patient/456
    created: int = 0
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class PatientLink:
    """Whom an account may act for: ``self`` (their own Patient record) or ``guardian``
    (a dependant, e.g. a child under 14 — PIPA art. 22-2)."""

    account_id: str
    patient_id: str
    relationship: str  # self | guardian


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    csrf: str
    created: int
    last_seen: int
    account_id: str | None = None
    stage: str = "anonymous"  # anonymous | password | active
    # the authorisation request awaiting sign-in / picker / consent, and sign-in state
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verification:
    """A mobile identity verification waiting for its one-time code."""

    id: str
    code_hash: str
    created: int
    expires: int
    attempts: int
    detail: dict[str, str]  # what the verifier needs on confirmation (deleted after)


@dataclass(frozen=True, slots=True)
class SmsMessage:
    id: int
    created: int
    recipient: str  # masked phone number (010-1234-****)
    body: str
