"""The audit log in SQL: chained appends, signed checkpoints, the patient index, and the
streams ``khealth audit verify`` reads.

Appends are serialised so that seq order is chain order: PostgreSQL takes a transaction-level
advisory lock (held until commit, so the next writer sees this entry as the head); SQLite
writers are already serialised by ``BEGIN IMMEDIATE``.  The seq is the head's plus one, never
a database sequence: a rolled-back transaction must not leave a gap that reads as a deletion.
The audit is written last in a transaction, so the lock is held only until the commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from khealth.records.audit_chain import (
    GENESIS,
    Checkpoint,
    SealPolicy,
    Signer,
    entry_hash,
    make_checkpoint,
)
from khealth.records.audit_verify import Row
from khealth.records.ports import AuditEntry
from khealth.store.schema import audit_checkpoint, audit_log, audit_patient

#: pg_advisory_xact_lock key of the audit head (any constant unlikely to meet hashtext())
AUDIT_LOCK = 0x6B_68_61_75_64_69_74  # "khaudit"
FETCH = 20_000  # rows per round trip when streaming the log

_HEAD = select(audit_log.c.seq, audit_log.c.entry_hash).order_by(audit_log.c.seq.desc()).limit(1)
_INSERT_ENTRY = insert(audit_log)
_INSERT_PATIENT = insert(audit_patient)
_LAST_CHECKPOINT = (
    select(audit_checkpoint.c.seq, audit_checkpoint.c.recorded)
    .order_by(audit_checkpoint.c.seq.desc())
    .limit(1)
)


@dataclass(slots=True)
class Sealing:
    """Signs checkpoints as entries are appended (set up by the app with the platform key)."""

    signer: Signer
    policy: SealPolicy = field(default_factory=SealPolicy)
    #: (seq, recorded) of the last checkpoint this process read from the database.  It can
    #: only be older than the real last one, and an older one makes a checkpoint look due
    #: sooner, never later: so "not due" by it is final, and "due" is checked in the database.
    seen: tuple[int, int] = (0, 0)


def seal_audit_log(store: object, signer: Signer, policy: SealPolicy | None = None) -> None:
    """Let a SQL store sign checkpoints; other stores (memory) keep no chain."""
    if hasattr(store, "sealing"):
        store.sealing = Sealing(signer, policy or SealPolicy())


def append(
    conn: Connection, is_postgres: bool, event: bytes, recorded: int,
    patients: Collection[str], sealing: Sealing | None,
) -> int:  # fmt: skip
    """Chain one entry onto the head; index its patients; checkpoint when due."""
    if is_postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK})
    head = conn.execute(_HEAD).first()
    seq, prev = (int(head.seq) + 1, bytes(head.entry_hash)) if head else (1, GENESIS)
    digest = entry_hash(seq, recorded, event, prev)
    conn.execute(
        _INSERT_ENTRY,
        {
            "seq": seq,
            "recorded": recorded,
            "content": event,
            "prev_hash": prev,
            "entry_hash": digest,
        },
    )
    if patients:
        conn.execute(_INSERT_PATIENT, [{"seq": seq, "patient_id": p} for p in patients])
    if sealing is not None:
        _checkpoint_if_due(conn, sealing, seq, recorded)
    return seq


def _checkpoint_if_due(conn: Connection, sealing: Sealing, seq: int, recorded: int) -> None:
    seen_seq, seen_recorded = sealing.seen
    if 0 < seen_seq < seq and not sealing.policy.due(seq - seen_seq, recorded, seen_recorded):
        return
    last = conn.execute(_LAST_CHECKPOINT).first()
    last_seq, last_recorded = (int(last.seq), int(last.recorded)) if last else (0, 0)
    sealing.seen = (last_seq, last_recorded)
    if sealing.policy.due(seq - last_seq, recorded, last_recorded):
        write_checkpoint(conn, sealing.signer, last_seq + 1, seq, recorded)


def write_checkpoint(conn: Connection, signer: Signer, first: int, seq: int, recorded: int) -> None:
    hashes = [
        bytes(h)
        for h in conn.execute(
            select(audit_log.c.entry_hash)
            .where(audit_log.c.seq >= first, audit_log.c.seq <= seq)
            .order_by(audit_log.c.seq)
        ).scalars()
    ]
    c = make_checkpoint(signer, seq, first, recorded, hashes)
    conn.execute(
        insert(audit_checkpoint).values(
            seq=c.seq, first_seq=c.first, recorded=c.recorded, head_hash=c.head_hash,
            merkle_root=c.root, key_id=c.key_id, signature=c.signature,
        )
    )  # fmt: skip


def checkpoint_head(conn: Connection, is_postgres: bool, signer: Signer, recorded: int) -> int:
    """Sign a checkpoint over everything since the last one now (``khealth audit checkpoint``);
    the head seq it covers, or 0 when there was nothing new."""
    if is_postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK})
    head = conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq.desc()).limit(1)).first()
    last = conn.execute(
        select(audit_checkpoint.c.seq).order_by(audit_checkpoint.c.seq.desc()).limit(1)
    ).first()
    head_seq, last_seq = (int(head.seq) if head else 0), (int(last.seq) if last else 0)
    if head_seq <= last_seq:
        return 0
    write_checkpoint(conn, signer, last_seq + 1, head_seq, recorded)
    return head_seq


def load_checkpoints(engine: Engine) -> list[Checkpoint]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_checkpoint).order_by(audit_checkpoint.c.seq)).all()
    return [
        Checkpoint(int(r.seq), int(r.first_seq), int(r.recorded), bytes(r.head_hash),
                   bytes(r.merkle_root), r.key_id, bytes(r.signature))
        for r in rows
    ]  # fmt: skip


def stream_rows(engine: Engine) -> Iterator[Row]:
    """Every entry in seq order through a server-side cursor (PostgreSQL) or SQLite's
    incremental cursor, ``FETCH`` rows per round trip, straight from the driver."""
    sql = "SELECT seq, recorded, content, prev_hash, entry_hash FROM audit_log ORDER BY seq"
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        if engine.dialect.name == "postgresql":  # named: a server-side cursor
            cursor = raw.cursor(name="khealth_audit_verify")
        else:
            cursor = raw.cursor()
        try:
            cursor.execute(sql)
            while batch := cursor.fetchmany(FETCH):
                yield from batch  # both drivers hand BLOB/bytea over as bytes
        finally:
            cursor.close()
            conn.rollback()


def access_log(
    conn: Connection, patients: Sequence[str], before: int | None, count: int
) -> list[AuditEntry]:
    """Entries naming any of ``patients``, newest first, ``count`` of them below ``before``."""
    p, log = audit_patient.c, audit_log.c
    seqs = select(p.seq).where(p.patient_id.in_(list(patients)))
    if before is not None:
        seqs = seqs.where(p.seq < before)
    wanted = seqs.distinct().order_by(p.seq.desc()).limit(count).subquery()
    rows = conn.execute(
        select(log.seq, log.recorded, log.content)
        .where(log.seq.in_(select(wanted.c.seq)))
        .order_by(log.seq.desc())
    ).all()
    return [AuditEntry(int(r.seq), int(r.recorded), bytes(r.content)) for r in rows]
