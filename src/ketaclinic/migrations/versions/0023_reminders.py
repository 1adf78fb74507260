"""patient contact details and reminder consent, the reminder outbox, reschedule requests

Contact details live in their own table (one row per patient) so that a change of phone number
does not touch the patient row. A reminder row is unique per session, offset, channel and session
time: a moved session gets new rows, and the rows for its old time are skipped when reached.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_contact",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("consent_email", sa.Boolean(), nullable=False),
        sa.Column("consent_sms", sa.Boolean(), nullable=False),
        sa.Column("consent_changed_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consent_recorded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_recorded_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_patient_contact_consent_recorded_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_contact_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_contact")),
    )
    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("offset_min", sa.Integer(), nullable=False),
        sa.Column("session_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("claimed_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_reminder_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_reminder_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_reminder_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder")),
        sa.UniqueConstraint(
            "session_id",
            "offset_min",
            "channel",
            "session_at",
            name=op.f("uq_reminder_session_id_offset_min_channel_session_at"),
        ),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_session_id"), ["session_id"], unique=False)
        batch_op.create_index(
            "ix_reminder_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "reschedule_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("preferred_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handled_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_reschedule_request_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["handled_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_reschedule_request_handled_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_reschedule_request_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_reschedule_request_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reschedule_request")),
    )
    with op.batch_alter_table("reschedule_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reschedule_request_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reschedule_request_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reschedule_request_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reschedule_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reschedule_request_session_id"))
        batch_op.drop_index(batch_op.f("ix_reschedule_request_patient_id"))
        batch_op.drop_index(batch_op.f("ix_reschedule_request_clinic_id"))

    op.drop_table("reschedule_request")
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_state_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_reminder_session_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_patient_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_clinic_id"))

    op.drop_table("reminder")
    op.drop_table("patient_contact")
