"""Per-request plumbing: the app's services and the caller's AccessContext."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from khealth.access.context import AccessContext
from khealth.access.tokens import TokenService
from khealth.core.config import Settings
from khealth.core.errors import Issue, Unauthorized
from khealth.records.ports import ResourceStore
from khealth.records.service import Records


@dataclass
class Services:
    settings: Settings
    store: ResourceStore
    records: Records
    tokens: TokenService


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def access_context(request: Request) -> AccessContext:
    """The verified caller. No token, no health data: there is no anonymous mode."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized([Issue("login", "a bearer token is required")])
    return services(request).tokens.verify(token.strip())
