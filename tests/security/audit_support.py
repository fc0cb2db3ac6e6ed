"""Helpers of the audit-trail security tests: fill a chained log, tamper with it directly
in SQL (as a database administrator could), and verify it."""

from __future__ import annotations

from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy import text

from khealth.access.audit_signing import KeyChecker, KeySigner
from khealth.records.audit_chain import SealPolicy
from khealth.records.audit_verify import Report, verify
from khealth.records.service import Records
from khealth.store.audit_log import load_checkpoints, seal_audit_log, stream_rows
from khealth.store.sql import SqlStore
from tests.support import FrozenClock, system_context

KEY = ECKey.generate_key("P-256", parameters={"kid": "test-audit"}, private=True)


def sealed_records(store: SqlStore, every: int = 5) -> Records:
    seal_audit_log(store, KeySigner(KEY), SealPolicy(every_entries=every, every_us=10**12))
    return Records(store, FrozenClock())


def fill(records: Records, reads: int = 11) -> None:
    """One create and ``reads`` reads: 1 + reads chained entries."""
    ctx = system_context()
    with records.begin(ctx, "create") as rs:
        rs.update("Patient", "p1", {"resourceType": "Patient", "id": "p1", "gender": "female"})
    for _ in range(reads):
        with records.begin(ctx, "read") as rs:
            rs.read("Patient", "p1")


def check(store: SqlStore) -> Report:
    return verify(stream_rows(store.engine), load_checkpoints(store.engine), KeyChecker([KEY]))


def tamper(store: SqlStore, sql: str, **params: Any) -> None:
    """Run SQL with the append-only triggers out of the way, as a superuser could."""
    with store.engine.begin() as conn:
        if store.is_postgres:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("audit_log", "audit_checkpoint", "audit_patient"):
                for verb in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        conn.execute(text(sql), params)


def row(store: SqlStore, seq: int) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT seq, recorded, content, prev_hash, entry_hash FROM audit_log WHERE seq = :s"
            ),
            {"s": seq},
        ).one()
