"""screening

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screening",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("indication_id", sa.String(length=64), nullable=True),
        sa.Column("treatments_failed", sa.JSON(), nullable=False),
        sa.Column("systolic_mmhg", sa.Integer(), nullable=False),
        sa.Column("diastolic_mmhg", sa.Integer(), nullable=False),
        sa.Column("heart_rate_per_min", sa.Integer(), nullable=False),
        sa.Column("spo2_percent", sa.Integer(), nullable=False),
        sa.Column("resp_rate_per_min", sa.Integer(), nullable=False),
        sa.Column("contraindications_present", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("matched_indications", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("signed_by_user_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_screening_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_screening_signed_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening")),
    )
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_screening_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_patient_id"))

    op.drop_table("screening")
