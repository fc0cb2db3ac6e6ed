"""Open the configured store, creating or upgrading the schema when asked."""

from __future__ import annotations

from pathlib import Path

from khealth.store.engine import make_engine
from khealth.store.migrate import upgrade
from khealth.store.sql import SqlStore


def open_store(url: str, migrate: bool = False) -> SqlStore:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return SqlStore(url, engine)
