"""The audit trail is append-only and tamper-evident, and complete (issue 5 parts 5 and 6).

Tampering is done the way a database administrator could: straight SQL with the append-only
triggers disabled.  ``verify`` must then name the place."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from khealth.records.audit_chain import GENESIS, entry_hash, merkle_root
from khealth.store.sql import SqlStore
from tests.security.audit_support import check, fill, row, sealed_records, tamper

pytestmark = pytest.mark.security
SQL = pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)


def _recursive_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1 written as the RFC writes it, to cross-check the iterative one."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = _recursive_root(leaves[:k]), _recursive_root(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def test_merkle_root_matches_the_rfc_6962_test_vectors() -> None:
    inputs = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243",
                                          "5051525354555657", "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
    assert merkle_root([]).hex() == hashlib.sha256(b"").hexdigest()
    assert merkle_root(inputs[:1]).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert merkle_root(inputs).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )
    for n in range(1, 40):
        leaves = [bytes([i]) * 3 for i in range(n)]
        assert merkle_root(leaves) == _recursive_root(leaves)


@SQL
def test_an_untouched_log_verifies_with_signed_checkpoints(store: SqlStore) -> None:
    """Checkpoints at 1 (the first entry: none before it), 6 and 11 (every five)."""
    fill(sealed_records(store))
    report = check(store)
    assert report.ok, report.findings
    assert (report.entries, report.head_seq, report.checkpoints, report.unsealed) == (12, 12, 3, 1)
    first = row(store, 1)
    assert bytes(first.prev_hash) == GENESIS
    assert bytes(first.entry_hash) == entry_hash(1, first.recorded, bytes(first.content), GENESIS)


@SQL
def test_the_audit_tables_refuse_update_and_delete(store: SqlStore) -> None:
    fill(sealed_records(store), reads=1)
    for sql in ("UPDATE audit_log SET recorded = 0", "DELETE FROM audit_log",
                "DELETE FROM audit_checkpoint", "UPDATE audit_patient SET seq = 9"):  # fmt: skip
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert check(store).ok


@SQL
def test_verify_names_an_edited_entry(store: SqlStore) -> None:
    fill(sealed_records(store))
    content = bytes(row(store, 7).content).replace(b'"read"', b'"vread"')
    tamper(store, "UPDATE audit_log SET content = :c WHERE seq = 7", c=content)
    kinds = {(f.seq, f.kind) for f in check(store).findings}
    assert kinds == {(7, "edited")}


@SQL
def test_verify_names_a_deleted_entry(store: SqlStore) -> None:
    fill(sealed_records(store))
    tamper(store, "DELETE FROM audit_log WHERE seq = 7")
    assert (7, "deleted") in {(f.seq, f.kind) for f in check(store).findings}


@SQL
def test_verify_notices_entries_cut_from_the_end_under_a_checkpoint(store: SqlStore) -> None:
    fill(sealed_records(store))
    tamper(store, "DELETE FROM audit_log WHERE seq >= 9")
    assert (11, "deleted") in {(f.seq, f.kind) for f in check(store).findings}


@SQL
def test_verify_names_an_inserted_entry(store: SqlStore) -> None:
    fill(sealed_records(store))
    # make room at seq 7 (negative first: PostgreSQL checks the key row by row)
    tamper(store, "UPDATE audit_log SET seq = -seq - 1 WHERE seq >= 7")
    tamper(store, "UPDATE audit_log SET seq = -seq WHERE seq < 0")
    before = row(store, 6)
    forged = b'{"resourceType":"AuditEvent","note":"forged"}'
    digest = entry_hash(7, before.recorded, forged, bytes(before.entry_hash))
    tamper(store, "INSERT INTO audit_log (seq, recorded, content, prev_hash, entry_hash) "
           "VALUES (7, :r, :c, :p, :h)", r=before.recorded, c=forged,
           p=bytes(before.entry_hash), h=digest)  # fmt: skip
    findings = check(store).findings
    assert (8, "inserted") in {(f.seq, f.kind) for f in findings}


@SQL
def test_verify_names_a_reordered_pair(store: SqlStore) -> None:
    fill(sealed_records(store))
    tamper(store, "UPDATE audit_log SET seq = -1 WHERE seq = 7")
    tamper(store, "UPDATE audit_log SET seq = 7 WHERE seq = 8")
    tamper(store, "UPDATE audit_log SET seq = 8 WHERE seq = -1")
    kinds = {(f.seq, f.kind) for f in check(store).findings}
    assert {(7, "reordered"), (8, "reordered")} <= kinds


@SQL
def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(store: SqlStore) -> None:
    """Whoever recomputes every hash after an edit still cannot sign a checkpoint."""
    fill(sealed_records(store))
    prev = bytes(row(store, 2).entry_hash)
    for seq in range(3, 13):
        r = row(store, seq)
        content = bytes(r.content).replace(b'"read"', b'"vread"') if seq == 3 else bytes(r.content)
        digest = entry_hash(seq, r.recorded, content, prev)
        tamper(store, "UPDATE audit_log SET content = :c, prev_hash = :p, entry_hash = :h "
               "WHERE seq = :s", c=content, p=prev, h=digest, s=seq)  # fmt: skip
        prev = digest
    findings = check(store).findings
    assert {(f.seq, f.kind) for f in findings} == {(6, "checkpoint"), (11, "checkpoint")}


@SQL
def test_verify_names_a_forged_checkpoint(store: SqlStore) -> None:
    fill(sealed_records(store))
    tamper(store, "UPDATE audit_checkpoint SET merkle_root = :m WHERE seq = 6", m=bytes(32))
    findings = check(store).findings
    assert any(f.seq == 6 and "signature" in f.detail for f in findings)


def test_khealth_audit_verify_exits_1_and_names_the_entry(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from khealth.access.tokens import load_or_create_key
    from khealth.cli.main import _register, app
    from khealth.store.factory import open_store

    db = tmp_path / "khealth.db"
    shutil.copy(sqlite_template, db)
    monkeypatch.setenv("KHEALTH_DATA_DIR", str(tmp_path))
    from khealth.core.config import get_settings

    get_settings.cache_clear() if hasattr(get_settings, "cache_clear") else None
    load_or_create_key(tmp_path)
    store = open_store(f"sqlite:///{db}")
    from khealth.access.audit_signing import KeySigner
    from khealth.records.service import Records
    from khealth.store.audit_log import seal_audit_log
    from tests.support import FrozenClock

    seal_audit_log(store, KeySigner(load_or_create_key(tmp_path)))
    fill(Records(store, FrozenClock()), reads=3)
    _register()
    runner = CliRunner()
    url = f"sqlite:///{db}"
    ok = runner.invoke(app, ["audit", "verify", "--database", url])
    assert ok.exit_code == 0, ok.output
    assert "audit log ok: 4 entries" in ok.output
    tamper(store, "DELETE FROM audit_log WHERE seq = 2")
    broken = runner.invoke(app, ["audit", "verify", "--database", url])
    assert broken.exit_code == 1
    assert "BROKEN seq 2: deleted" in broken.output
    store.close()
