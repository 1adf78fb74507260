"""patient goals

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_goal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("target_pain_nrs", sa.Integer(), nullable=True),
        sa.Column("set_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("set_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_goal_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_patient_goal_set_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_goal")),
    )
    with op.batch_alter_table("patient_goal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_goal_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("patient_goal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_goal_patient_id"))

    op.drop_table("patient_goal")
