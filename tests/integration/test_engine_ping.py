"""A pooled PostgreSQL connection that died while idle (database restart, network cut) is
replaced before a request uses it (``store/engine.py``: a ping on checkout after idling)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, exc

from khealth.store import engine as engines
from khealth.store.factory import open_store
from khealth.store.sql import SqlStore

pytestmark = pytest.mark.integration


def _kill_the_pooled_connection(store: SqlStore, url: str) -> int:
    """Use a connection and give it back to the pool, then end its server process: the
    pool holds a dead connection, as after a database restart.  Its server's pid."""
    with store.engine.connect() as conn:
        pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    admin = create_engine(url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    admin.dispose()
    return pid


def test_a_connection_killed_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(postgres_url)
    assert isinstance(store, SqlStore)
    try:
        pid = _kill_the_pooled_connection(store, postgres_url)
        monkeypatch.setattr(engines, "PING_AFTER_IDLE_S", 0.0)  # it has idled long enough
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
    finally:
        store.close()


def test_without_the_idle_check_the_dead_connection_fails_its_request(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the check above is what saved the request."""
    store = open_store(postgres_url)
    assert isinstance(store, SqlStore)
    try:
        _kill_the_pooled_connection(store, postgres_url)
        monkeypatch.setattr(engines, "PING_AFTER_IDLE_S", 3600.0)
        with pytest.raises(exc.OperationalError), store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        with store.engine.connect() as conn:  # the pool was invalidated: the next one works
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        store.close()
