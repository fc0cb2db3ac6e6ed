"""authorisation server and sign-in (issue 5 parts 1-2)

Revision ID: a3c5e7f90b12
Revises: 7d3f1c2a9e51
Create Date: 2026-11-29 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a3c5e7f90b12"
down_revision = "7d3f1c2a9e51"
branch_labels = None
depends_on = None

ID = sa.String(length=64)
TIME = sa.BigInteger()


def upgrade() -> None:
    op.create_table(
        "auth_client",
        sa.Column("client_id", ID, primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("jwks", sa.Text()),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("facility", ID),
        sa.Column("created", TIME, nullable=False),
    )
    op.create_table(
        "auth_grant",
        sa.Column("id", ID, primary_key=True),
        sa.Column("client_id", ID, nullable=False),
        sa.Column("subject", ID, nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("patient", ID),
        sa.Column("facility", ID),
        sa.Column("created", TIME, nullable=False),
        sa.Column("revoked", TIME),
    )
    op.create_index("ix_auth_grant_subject", "auth_grant", ["subject", "client_id"])
    op.create_table(
        "auth_code",
        sa.Column("code_hash", sa.String(length=64), primary_key=True),
        sa.Column("grant_id", ID, nullable=False),
        sa.Column("client_id", ID, nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=256)),
        sa.Column("expires", TIME, nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "auth_refresh_token",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("grant_id", ID, nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("expires", TIME, nullable=False),
        sa.Column("used", TIME),
    )
    op.create_index("ix_auth_refresh_token_grant", "auth_refresh_token", ["grant_id"])
    op.create_table(
        "auth_seen_jti",
        sa.Column("kind", sa.String(length=16), primary_key=True),
        sa.Column("jti", sa.String(length=200), primary_key=True),
        sa.Column("expires", TIME, nullable=False),
    )
    op.create_table(
        "auth_account",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), unique=True),
        sa.Column("password_hash", sa.String(length=200)),
        sa.Column("totp_secret", sa.String(length=64)),
        sa.Column("totp_confirmed", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", TIME, nullable=False),
        sa.Column("facility", ID),
        sa.Column("ci_hash", sa.String(length=64), unique=True),
        sa.Column("fhir_user", sa.String(length=200)),
        sa.Column("created", TIME, nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "auth_patient_link",
        sa.Column("account_id", ID, primary_key=True),
        sa.Column("patient_id", ID, primary_key=True),
        sa.Column("relationship", sa.String(length=16), nullable=False),
    )
    op.create_table(
        "auth_session",
        sa.Column("id_hash", sa.String(length=64), primary_key=True),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=False),
        sa.Column("account_id", ID),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_table(
        "auth_verification",
        sa.Column("id", ID, primary_key=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("expires", TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "auth_sms_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("created", TIME, nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in ("auth_sms_outbox", "auth_verification", "auth_session", "auth_patient_link",
                  "auth_account", "auth_seen_jti", "auth_refresh_token", "auth_code",
                  "auth_grant", "auth_client"):  # fmt: skip
        op.drop_table(table)
