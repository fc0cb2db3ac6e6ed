"""tamper-evident audit log: hash chain, signed checkpoints, patient index (issue 5)

Existing entries are renumbered densely (a PostgreSQL sequence leaves gaps on rollback,
which verification would read as deletions) and chained in seq order.  Triggers make
the three audit tables append-only; a database superuser can still drop them, which
is why ``khealth audit verify`` exists (docs/security.md).

Revision ID: 7e189b0be4eb
Revises: a3c5e7f90b12
Create Date: 2026-11-29 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from khealth.records.audit_chain import GENESIS, entry_hash

revision = "7e189b0be4eb"
down_revision = "a3c5e7f90b12"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_log", "audit_checkpoint", "audit_patient")


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.LargeBinary(), nullable=True))
    _backfill_chain()
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("entry_hash", existing_type=sa.LargeBinary(), nullable=False)
    op.create_table(
        "audit_checkpoint",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("recorded", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(), nullable=False),
        sa.Column("merkle_root", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "audit_patient",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "seq"),
    )
    for table in APPEND_ONLY:
        _create_append_only_triggers(table)


def _backfill_chain() -> None:
    conn = op.get_bind()
    log = sa.table(
        "audit_log",
        sa.column("seq", sa.BigInteger()),
        sa.column("recorded", sa.BigInteger()),
        sa.column("content", sa.LargeBinary()),
        sa.column("prev_hash", sa.LargeBinary()),
        sa.column("entry_hash", sa.LargeBinary()),
    )
    rows = conn.execute(sa.select(log.c.seq, log.c.recorded).order_by(log.c.seq)).all()
    prev = GENESIS
    for new_seq, row in enumerate(rows, start=1):
        content = conn.execute(sa.select(log.c.content).where(log.c.seq == row.seq)).scalar_one()
        digest = entry_hash(new_seq, int(row.recorded), bytes(content), prev)
        conn.execute(
            sa.update(log)
            .where(log.c.seq == row.seq)
            .values(seq=new_seq, prev_hash=prev, entry_hash=digest)
        )
        prev = digest


def _create_append_only_triggers(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION khealth_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION khealth_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def _drop_append_only_triggers(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def downgrade() -> None:
    for table in APPEND_ONLY:
        _drop_append_only_triggers(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS khealth_append_only()")
    op.drop_table("audit_patient")
    op.drop_table("audit_checkpoint")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
