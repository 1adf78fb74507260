"""password changes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "password_must_change", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "credentials_version", sa.Integer(), server_default=sa.text("1"), nullable=False
            )
        )
        batch_op.drop_index(batch_op.f("ix_user_account_patient_id"))
        batch_op.create_index(batch_op.f("ix_user_account_patient_id"), ["patient_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_account_patient_id"))
        batch_op.create_index(
            batch_op.f("ix_user_account_patient_id"), ["patient_id"], unique=False
        )
        batch_op.drop_column("credentials_version")
        batch_op.drop_column("password_must_change")
