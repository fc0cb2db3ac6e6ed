"""break-the-glass grants (issue 5, trust layer)

Revision ID: 5c1e0a7b9d24
Revises: f90bbdf2d798
Create Date: 2026-11-29 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5c1e0a7b9d24"
down_revision = "f90bbdf2d798"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "break_glass_grant",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("reason_text", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("break_glass_grant", schema=None) as batch_op:
        batch_op.create_index(
            "ix_break_glass_grant_subject_patient",
            ["subject", "patient_id", "expires"],
            unique=False,
        )
        batch_op.create_index(
            "ix_break_glass_grant_patient", ["patient_id", "created"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("break_glass_grant", schema=None) as batch_op:
        batch_op.drop_index("ix_break_glass_grant_patient")
        batch_op.drop_index("ix_break_glass_grant_subject_patient")
    op.drop_table("break_glass_grant")
