"""every HL7 v2 message received, unique per sender and MSH-10

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hl7_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("received_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sending_application", sa.String(length=227), nullable=True),
        sa.Column("sending_facility", sa.String(length=227), nullable=True),
        sa.Column("control_id", sa.String(length=199), nullable=True),
        sa.Column("message_type", sa.String(length=16), nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("ack_text", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("handled_by_user_id", sa.Integer(), nullable=True),
        sa.Column("handled_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handled_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_hl7_message_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_hl7_message_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_hl7_message_session_id_infusion_session"),
        ),
        sa.ForeignKeyConstraint(
            ["handled_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_hl7_message_handled_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_message")),
        sa.UniqueConstraint(
            "sending_application",
            "sending_facility",
            "control_id",
            name="uq_hl7_message_sender_control_id",
        ),
    )
    op.create_index("ix_hl7_message_outcome_received_at", "hl7_message", ["outcome", "received_at"])
    op.create_index(op.f("ix_hl7_message_clinic_id"), "hl7_message", ["clinic_id"])
    op.create_index(op.f("ix_hl7_message_patient_id"), "hl7_message", ["patient_id"])
    op.create_index(op.f("ix_hl7_message_session_id"), "hl7_message", ["session_id"])


def downgrade() -> None:
    op.drop_table("hl7_message")
