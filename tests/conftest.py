"""Shared fixtures: the three repository backends, an app client, personas.

Backends: ``memory`` (the reference), ``sqlite`` (a fresh file per test, copied from a
migrated template), ``postgres`` (one database per xdist worker, tables emptied between
tests).  Without PostgreSQL its cases skip, unless REQUIRE_POSTGRES=1 (CI), when they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from khealth.records.service import Records
from khealth.store.engine import make_engine
from khealth.store.factory import open_store
from khealth.store.memory import MemoryStore
from khealth.store.migrate import upgrade
from tests.postgres import PostgresUnavailable, empty_tables, private_database

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BACKENDS = ["memory", "sqlite", "postgres"]


def shared_data(*parts: str) -> Path:
    """A file of ../shared/data, or a skip when the folder is absent (a user's clone)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public test data not present at {path}")
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    # The pid keeps concurrent runs (several developers, CI) from dropping each other's database.
    try:
        with private_database(f"khealth_test_{_worker()}_{os.getpid()}") as url:
            yield url
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL is not reachable: {error}")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """Each repository backend in turn."""
    kind = request.param
    if kind == "memory":
        yield MemoryStore()
        return
    if kind == "sqlite":
        path = tmp_path / "khealth.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        sqlite_store = open_store(f"sqlite:///{path}")
        yield sqlite_store
        sqlite_store.close()
        return
    url = request.getfixturevalue("postgres_url")
    pg_store = open_store(url)
    empty_tables(pg_store)
    yield pg_store
    pg_store.close()


@pytest.fixture
def records(store: object) -> Records:
    from tests.support import FrozenClock

    return Records(store, FrozenClock())  # type: ignore[arg-type]
