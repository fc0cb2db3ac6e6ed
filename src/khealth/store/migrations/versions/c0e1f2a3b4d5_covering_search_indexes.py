"""covering search indexes: res_pk appended to every value index

Revision ID: c0e1f2a3b4d5
Revises: 7e189b0be4eb
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "c0e1f2a3b4d5"
down_revision = "7e189b0be4eb"
branch_labels = None
depends_on = None

#: (table, index columns after type and param), as in store/schema.py
INDEXES = (
    ("sp_token", ("code", "system")),
    ("sp_string", ("value",)),
    ("sp_date", ("low", "high")),
    ("sp_number", ("value",)),
    ("sp_quantity", ("code", "value")),
    ("sp_uri", ("value",)),
    ("sp_reference", ("target_id", "target_type")),
    ("sp_composite", ("c1_code",)),
)


def _rebuild(with_key: bool) -> None:
    for table, columns in INDEXES:
        name = f"ix_{table}_{'_'.join(columns)}"
        op.drop_index(name, table_name=table)
        keys = ["type", "param", *columns, *(["res_pk"] if with_key else [])]
        op.create_index(name, table, keys, unique=False)


def upgrade() -> None:
    _rebuild(with_key=True)


def downgrade() -> None:
    _rebuild(with_key=False)
