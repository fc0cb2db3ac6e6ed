"""The trust layer's settings (``KHEALTH_*``); a bad value fails at start."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KHEALTH_", extra="ignore")

    #: Development conveniences: the SMS outbox page of the identity verification stand-in.
    #: ``khealth demo`` sets it; never set it in production.
    dev_mode: bool = False
    #: Which identity verifier signs citizens in; ``dev`` is the stand-in (only one so far).
    identity_verifier: Literal["dev"] = "dev"
