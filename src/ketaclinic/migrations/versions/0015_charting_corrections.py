"""charting corrections: entered in error, late entries, alerts tied to their reading

A charted observation found wrong is marked entered in error (who, when, why) instead of being
deleted; a late entry keeps the time it was typed in (``recorded_at``) beside the time it was
observed (``at``); an alert names the reading that raised it and can be withdrawn with it.

Existing rows: every event was charted when it happened, so ``recorded_at`` = ``at``; every alert
was observed when it was raised, so ``observed_at`` = ``raised_at``. Which reading raised an old
alert was not stored, so its ``event_id`` stays empty (it can never be withdrawn).

On SQLite the two tables are rebuilt to add their foreign keys: session_event first, while no
table references it yet; on the way down session_alert first, for the same reason. The way down
is refused while any entry is marked entered in error: 0014 has nowhere to keep the mark.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _instant(name: str) -> sa.Column[object]:
    return sa.Column(name, ketaclinic.db.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("session_event", schema=None) as batch_op:
        batch_op.add_column(_instant("recorded_at"))
        batch_op.add_column(_instant("entered_in_error_at"))
        batch_op.add_column(sa.Column("entered_in_error_by_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("entered_in_error_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_session_event_entered_in_error_by_user_id_user_account"),
            "user_account",
            ["entered_in_error_by_user_id"],
            ["id"],
        )
    with op.batch_alter_table("session_alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch_op.add_column(_instant("observed_at"))
        batch_op.add_column(_instant("withdrawn_at"))
        batch_op.create_foreign_key(
            batch_op.f("fk_session_alert_event_id_session_event"),
            "session_event",
            ["event_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_session_alert_event_id"), ["event_id"], unique=False)
    op.execute("UPDATE session_event SET recorded_at = at")
    op.execute("UPDATE session_alert SET observed_at = raised_at")


def downgrade() -> None:
    # Without these columns a reading entered in error would count again (alerts, totals, charts):
    # a clinic record may not silently change its meaning, so the way down is refused instead.
    corrected = op.get_bind().execute(
        sa.text("SELECT count(*) FROM session_event WHERE entered_in_error_at IS NOT NULL")
    )
    count = corrected.scalar_one()
    if count:
        raise RuntimeError(
            f"refused: {count} charted entries are marked entered in error, and revision 0014 "
            "cannot keep that mark (they would count again); stay on 0015 or later"
        )
    with op.batch_alter_table("session_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_alert_event_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_session_alert_event_id_session_event"), type_="foreignkey"
        )
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("observed_at")
        batch_op.drop_column("event_id")
    with op.batch_alter_table("session_event", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_session_event_entered_in_error_by_user_id_user_account"),
            type_="foreignkey",
        )
        batch_op.drop_column("entered_in_error_reason")
        batch_op.drop_column("entered_in_error_by_user_id")
        batch_op.drop_column("entered_in_error_at")
        batch_op.drop_column("recorded_at")
