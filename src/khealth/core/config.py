"""Settings from ``KHEALTH_*`` environment variables; a bad value fails at start, loudly."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KHEALTH_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="database, keys, exports")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in data_dir")
    base_url: str = Field(
        default="", description="public base of /fhir for links; default from request"
    )
    max_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=64, ge=8, le=1000)
    token_issuer: str = "khealth"  # noqa: S105  (an issuer name, not a secret)
    default_token_ttl: int = Field(default=3600, ge=1)
    log_level: str = "INFO"
    demo_citizens: int = Field(default=2000, ge=0)  # with two years of history each

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "KHEALTH_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL"
            )
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'khealth.db').resolve()}"


@functools.cache
def get_settings() -> Settings:
    return Settings()
