"""infusion sessions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 19:30:21.360677
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "infusion_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("scheduled_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("chair", sa.String(length=40), nullable=False),
        sa.Column("created_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("order_signed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("order_signed_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("order_plan", sa.JSON(), nullable=True),
        sa.Column("order_rate_mg_per_h", sa.Numeric(precision=24, scale=12), nullable=True),
        sa.Column("order_pump_rate_ml_per_h", sa.Numeric(precision=24, scale=12), nullable=True),
        sa.Column("verified_by_user_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_infusion_session_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_infusion_session_created_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["order_signed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_infusion_session_order_signed_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_infusion_session_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_infusion_session_protocol_version_id_protocol_version"),
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_infusion_session_verified_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infusion_session")),
    )
    with op.batch_alter_table("infusion_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_infusion_session_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_infusion_session_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "session_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("rate_mg_per_h", sa.Numeric(precision=24, scale=12), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["user_account.id"],
            name=op.f("fk_session_event_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_session_event_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_event")),
    )
    with op.batch_alter_table("session_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_event_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("session_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_event_session_id"))

    op.drop_table("session_event")
    with op.batch_alter_table("infusion_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_infusion_session_patient_id"))
        batch_op.drop_index(batch_op.f("ix_infusion_session_clinic_id"))

    op.drop_table("infusion_session")
