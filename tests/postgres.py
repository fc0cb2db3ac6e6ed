"""Private PostgreSQL databases for tests: created migrated, dropped afterwards.

One process's database is never shared with another test run, which may truncate its own
tables at any moment. Without a server the caller gets a skip, unless REQUIRE_POSTGRES=1
(CI), when it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from khealth.store.engine import make_engine
from khealth.store.migrate import upgrade
from khealth.store.schema import metadata
from khealth.store.sql import SqlStore

PG_ADMIN_URL = os.environ.get(
    "KHEALTH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


class PostgresUnavailable(Exception):
    """No server to create the database on (and REQUIRE_POSTGRES is not set)."""


@contextmanager
def private_database(name: str, create_options: str = "") -> Iterator[str]:
    """A fresh, migrated database named ``name``; yields its URL."""
    try:
        admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" {create_options}'))
    except Exception as error:  # no server: the caller skips, unless CI demands PostgreSQL
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is not reachable: {error}")
        raise PostgresUnavailable(type(error).__name__) from None
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_tables(store: SqlStore) -> None:
    """Remove every row between tests. SQLite keeps the append-only audit tables (their
    triggers refuse DELETE; no search reads them); PostgreSQL's TRUNCATE fires no row
    triggers."""
    names = [t.name for t in metadata.sorted_tables]
    with store.engine.begin() as conn:
        if store.is_postgres:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY"))
            return
        for name in names:
            if not name.startswith("audit_"):
                conn.execute(text(f"DELETE FROM {name}"))
