"""Helpers for tests: a frozen clock, tokens, an app client over any store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.core.config import Settings
from khealth.records.clock import parse_instant
from khealth.web.app import create_app


class FrozenClock:
    """Starts at a fixed instant and ticks one millisecond per call, so that versions
    keep their order and results do not depend on the wall clock."""

    def __init__(self, start: str = "2026-11-29T09:00:00Z") -> None:
        self.now = parse_instant(start)

    def now_us(self) -> int:
        self.now += 1000
        return self.now


def system_context(scopes: str = "system/*.cruds") -> AccessContext:
    return AccessContext(subject="test-service", role=Role.SERVICE, scopes=parse_scopes(scopes))


class Api:
    """A TestClient that signs its own tokens."""

    def __init__(self, store: Any, data_dir: Path) -> None:
        settings = Settings(
            data_dir=data_dir, database_url="sqlite:///unused", base_url="http://test/fhir"
        )
        self.app = create_app(settings, store=store)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.tokens = self.app.state.services.tokens

    def token(self, scope: str = "system/*.cruds", **claims: Any) -> str:
        return str(self.tokens.issue(scope, **claims))

    def headers(self, scope: str = "system/*.cruds", **claims: Any) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token(scope, **claims)}",
            "Content-Type": "application/fhir+json",
        }
