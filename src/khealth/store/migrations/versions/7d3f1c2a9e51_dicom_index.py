"""dicom index: studies, series and instances for DICOMweb (issue 4 part 2)

Revision ID: 7d3f1c2a9e51
Revises: 5c1e0a7b9d24
Create Date: 2026-11-29 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7d3f1c2a9e51"
down_revision = "5c1e0a7b9d24"
branch_labels = None
depends_on = None

UID = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "dicom_study",
        sa.Column("study_uid", UID, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("imaging_study_id", sa.String(length=64), nullable=False),
        sa.Column("study_date", sa.String(length=8), nullable=False),
        sa.Column("accession_number", sa.String(length=64), nullable=False),
        sa.Column("dicom_patient_id", sa.String(length=64), nullable=False),
        sa.Column("attrs", sa.LargeBinary(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("study_uid"),
    )
    with op.batch_alter_table("dicom_study", schema=None) as batch_op:
        batch_op.create_index("ix_dicom_study_patient", ["patient_id", "study_date"], unique=False)
        batch_op.create_index("ix_dicom_study_dicom_patient", ["dicom_patient_id"], unique=False)
        batch_op.create_index("ix_dicom_study_date", ["study_date"], unique=False)
        batch_op.create_index("ix_dicom_study_accession", ["accession_number"], unique=False)

    op.create_table(
        "dicom_series",
        sa.Column("series_uid", UID, nullable=False),
        sa.Column("study_uid", UID, nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("series_number", sa.Integer(), nullable=True),
        sa.Column("attrs", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("series_uid"),
    )
    with op.batch_alter_table("dicom_series", schema=None) as batch_op:
        batch_op.create_index("ix_dicom_series_study", ["study_uid"], unique=False)
        batch_op.create_index("ix_dicom_series_modality", ["modality", "study_uid"], unique=False)

    op.create_table(
        "dicom_instance",
        sa.Column("sop_uid", UID, nullable=False),
        sa.Column("study_uid", UID, nullable=False),
        sa.Column("series_uid", UID, nullable=False),
        sa.Column("sop_class_uid", UID, nullable=False),
        sa.Column("instance_number", sa.Integer(), nullable=True),
        sa.Column("transfer_syntax", UID, nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("attrs", sa.LargeBinary(), nullable=False),
        sa.Column("stored", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sop_uid"),
    )
    with op.batch_alter_table("dicom_instance", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dicom_instance_study", ["study_uid", "series_uid", "instance_number"], unique=False
        )


def downgrade() -> None:
    op.drop_table("dicom_instance")
    op.drop_table("dicom_series")
    op.drop_table("dicom_study")
