"""chairside pages: dose plans saved on the patient

A dose plan saved on the patient's dose-plan page carries into the order form of the patient's
session.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_dose_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("weight_kg", sa.Numeric(5, 2), nullable=False),
        sa.Column("weight_basis", sa.String(length=16), nullable=False),
        sa.Column("dose", sa.Numeric(10, 6), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("bolus_mg_per_kg", sa.Numeric(8, 6), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("saved_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("saved_by_user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_saved_dose_plan_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_saved_dose_plan_protocol_version_id_protocol_version"),
        ),
        sa.ForeignKeyConstraint(
            ["saved_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_saved_dose_plan_saved_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_dose_plan")),
    )
    with op.batch_alter_table("saved_dose_plan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_saved_dose_plan_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("saved_dose_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_dose_plan_patient_id"))
    op.drop_table("saved_dose_plan")
