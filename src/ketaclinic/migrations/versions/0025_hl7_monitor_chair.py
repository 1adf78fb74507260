"""bedside monitors mapped to chairs, for HL7 chair matching

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hl7_monitor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("monitor_id", sa.String(length=227), nullable=False),
        sa.Column("chair_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_hl7_monitor_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["chair_id"], ["chair.id"], name=op.f("fk_hl7_monitor_chair_id_chair")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_monitor")),
        sa.UniqueConstraint("clinic_id", "monitor_id", name="uq_hl7_monitor_clinic_id_monitor_id"),
    )
    op.create_index(op.f("ix_hl7_monitor_clinic_id"), "hl7_monitor", ["clinic_id"])
    op.create_index(op.f("ix_hl7_monitor_chair_id"), "hl7_monitor", ["chair_id"])


def downgrade() -> None:
    op.drop_table("hl7_monitor")
