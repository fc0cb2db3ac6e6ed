"""A pooled PostgreSQL connection that died while idle (database restart, network cut) is
replaced before a request uses it (``store/engine.py``: a ping on checkout after idling)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, exc

from khealth.store import engine as engines
from khealth.store.factory import open_store

pytestmark = pytest.mark.integration


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    admin.dispose()


def test_a_connection_killed_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(postgres_url)
    try:
        with store.engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        _terminate(postgres_url, pid)  # the connection is back in the pool, its server gone
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
    try:
        with store.engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        _terminate(postgres_url, pid)
        monkeypatch.setattr(engines, "PING_AFTER_IDLE_S", 3600.0)
        with pytest.raises(exc.OperationalError), store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        with store.engine.connect() as conn:  # the pool was invalidated: the next one works
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        store.close()
