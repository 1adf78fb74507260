"""courses and session questionnaires

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "course",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("started_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_course_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_course_created_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_course_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_course_protocol_version_id_protocol_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course")),
    )
    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_course_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_course_patient_id"), ["patient_id"], unique=False)

    with op.batch_alter_table("infusion_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_infusion_session_course_id"), ["course_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_infusion_session_course_id_course"), "course", ["course_id"], ["id"]
        )

    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_measurement_session_id"), ["session_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_measurement_session_id_infusion_session"),
            "infusion_session",
            ["session_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_measurement_session_id_infusion_session"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_measurement_session_id"))
        batch_op.drop_column("session_id")

    with op.batch_alter_table("infusion_session", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_infusion_session_course_id_course"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_infusion_session_course_id"))
        batch_op.drop_column("course_id")

    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_patient_id"))
        batch_op.drop_index(batch_op.f("ix_course_clinic_id"))

    op.drop_table("course")
