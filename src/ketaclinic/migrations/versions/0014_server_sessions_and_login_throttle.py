"""server-side sessions and tokens; failed logins per typed username

Browser sessions and API tokens become rows (``login_session``) that logout, revocation, a
password change and deactivation end, so the credentials version is no longer needed. Failed
logins move from the user row to ``login_throttle``, keyed by the typed username's hash, so an
unknown username locks exactly like a real one. Signed cookies and tokens issued before this
revision stop working: everyone signs in again once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_login_session_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_login_session_key_hash")),
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "login_throttle",
        sa.Column("username_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("window_started_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", ketaclinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("forget_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username_hash", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttle_forget_at"), ["forget_at"], unique=False
        )

    # SQLite (3.35+) drops and adds these plain columns in place. Rebuilding the table instead
    # would DROP TABLE user_account, which every audit event and signed record references: with
    # foreign keys on, that fails on any database that has data.
    with op.batch_alter_table("user_account", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("credentials_version")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_login_count")


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column(
                "failed_login_count", sa.Integer(), server_default=sa.text("0"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("locked_until", ketaclinic.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "credentials_version", sa.Integer(), server_default=sa.text("1"), nullable=False
            )
        )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_forget_at"))
    op.drop_table("login_throttle")
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_session_user_id"))
    op.drop_table("login_session")
