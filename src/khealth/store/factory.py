"""Open the configured store, creating or upgrading the schema when asked."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from khealth.store.engine import make_engine
from khealth.store.migrate import upgrade
from khealth.store.sql import SqlStore


def open_store(url: str, migrate: bool = False) -> SqlStore:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    store = SqlStore(url, engine)
    if migrate and not store.is_postgres and not _has_statistics(store):
        store.optimize()  # PostgreSQL's autovacuum analyses; SQLite never does by itself
    return store


def _has_statistics(store: SqlStore) -> bool:
    """Has ANALYZE run on this SQLite database (planner statistics present)?"""
    with store.engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).scalar_one()
        if not found:
            return False
        return bool(conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar_one())
