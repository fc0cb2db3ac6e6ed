"""The authorisation request (RFC 6749 §4.1.1 + PKCE + SMART's ``aud``), checked.

Errors about the client or its redirect URI are shown on a page and never redirected
(RFC 6749 §4.1.2.1: the redirect URI cannot be trusted); every other error goes back to
the client's redirect URI with ``error`` and the ``state`` it sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from khealth.auth.errors import OAuthError, invalid_request
from khealth.auth.model import Client, ClientKind
from khealth.auth.pkce import check_challenge
from khealth.auth.ports import AuthStore

MAX_STATE = 512


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str
    code_challenge: str
    nonce: str = ""

    def to_data(self) -> dict[str, str]:
        return {f"req_{k}": v for k, v in asdict(self).items()}

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> AuthorizeRequest | None:
        try:
            return cls(**{k[4:]: v for k, v in data.items() if k.startswith("req_")})
        except TypeError:
            return None

    @property
    def wants_patient(self) -> bool:
        return "launch/patient" in self.scope.split()


def _client_and_redirect(store: AuthStore, params: Mapping[str, str]) -> tuple[Client, str]:
    client = store.get_client(params.get("client_id", ""))
    if client is None or client.kind == ClientKind.BACKEND:
        raise OAuthError("invalid_client", "unknown client_id", 400, redirect=False)
    redirect_uri = params.get("redirect_uri", "")
    # exact string match against the registered URIs: no prefixes, no wildcards
    if redirect_uri not in client.redirect_uris:
        raise OAuthError("invalid_request", "redirect_uri is not registered", 400, redirect=False)
    return client, redirect_uri


def check_authorize(
    store: AuthStore, params: Mapping[str, str], fhir_base: str
) -> AuthorizeRequest:
    client, redirect_uri = _client_and_redirect(store, params)
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code")
    state = params.get("state", "")
    if not state or len(state) > MAX_STATE:
        raise invalid_request("state is required (at most 512 characters)")
    challenge = check_challenge(params.get("code_challenge"), params.get("code_challenge_method"))
    aud = params.get("aud")
    if aud is not None and aud.rstrip("/") != fhir_base.rstrip("/"):
        raise invalid_request("aud is not this FHIR server")
    scope = params.get("scope", "").strip()
    if not scope:
        raise OAuthError("invalid_scope", "scope is required")
    return AuthorizeRequest(client.client_id, redirect_uri, scope, state, challenge,
                            params.get("nonce", "")[:256])  # fmt: skip
