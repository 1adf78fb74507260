"""the appointment book: chairs, opening hours, closures, booking policy; sessions on a chair

A session's free-text ``chair`` becomes ``chair_id``: one chair record per distinct (clinic, chair
name) found, in name order, and every session points to its record. ``chair_held_until`` is
backfilled as the booking rule says (``scheduling.core``): start + the signed order's duration (or
the protocol version's default) + max(60, the protocol's observation) + 15 min turnover; an
aborted session holds its chair until the abort + 15 min when that is earlier.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import ketaclinic.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

#: The defaults of ``scheduling.core`` when this migration was written (copied: a migration
#: never follows later code).
_TURNOVER = timedelta(minutes=15)
_MIN_OBSERVATION_MIN = 60


def upgrade() -> None:
    _create_tables()
    with op.batch_alter_table("infusion_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chair_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("chair_held_until", ketaclinic.db.UTCDateTime(timezone=True), nullable=True)
        )
    _backfill()
    with op.batch_alter_table("infusion_session", schema=None) as batch_op:
        batch_op.alter_column("chair_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column(
            "chair_held_until",
            existing_type=ketaclinic.db.UTCDateTime(timezone=True),
            nullable=False,
        )
        batch_op.create_index(
            "ix_infusion_session_chair_id_scheduled_at", ["chair_id", "scheduled_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_infusion_session_chair_id_chair"), "chair", ["chair_id"], ["id"]
        )
        batch_op.drop_column("chair")


def _create_tables() -> None:
    op.create_table(
        "chair",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("room", sa.String(length=80), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("display_order", sa.Integer(), nullable=False),
        sa.Column("created_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_chair_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chair")),
        sa.UniqueConstraint("clinic_id", "name", name=op.f("uq_chair_clinic_id_name")),
    )
    with op.batch_alter_table("chair", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chair_clinic_id"), ["clinic_id"], unique=False)
    op.create_table(
        "opening_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens_min", sa.Integer(), nullable=False),
        sa.Column("closes_min", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "opens_min >= 0 AND opens_min < closes_min AND closes_min <= 1440",
            name=op.f("ck_opening_hours_span"),
        ),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name=op.f("ck_opening_hours_weekday")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_opening_hours_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_hours")),
    )
    with op.batch_alter_table("opening_hours", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opening_hours_clinic_id_weekday", ["clinic_id", "weekday"], unique=False
        )
    op.create_table(
        "closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("first_date <= last_date", name=op.f("ck_closure_order")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_closure_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_closure_created_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure")),
    )
    with op.batch_alter_table("closure", schema=None) as batch_op:
        batch_op.create_index(
            "ix_closure_clinic_id_last_date", ["clinic_id", "last_date"], unique=False
        )
    op.create_table(
        "booking_policy",
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("turnover_min", sa.Integer(), nullable=False),
        sa.Column("max_concurrent_bookings", sa.Integer(), nullable=True),
        sa.Column("updated_at", ketaclinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_booking_policy_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_booking_policy_updated_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_booking_policy")),
    )


def _chair_key(name: str) -> tuple[str, int, str]:
    """'Chair 2' before 'Chair 10', as the board used to order them."""
    match = re.fullmatch(r"(.*?)(\d+)", name)
    if match is None:
        return name.lower(), -1, name
    return match.group(1).lower(), int(match.group(2)), name


def _json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return value if isinstance(value, dict) else dict(json.loads(value))


def _aware(value: Any) -> datetime:
    """A stored instant as UTC, whatever the driver hands back (SQLite gives text)."""
    instant: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _backfill() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    chair = sa.table(
        "chair",
        sa.column("id", sa.Integer),
        sa.column("clinic_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("room", sa.String),
        sa.column("active", sa.Boolean),
        sa.column("display_order", sa.Integer),
        sa.column("created_at", ketaclinic.db.UTCDateTime(timezone=True)),
    )
    pairs = bind.execute(sa.text("SELECT DISTINCT clinic_id, chair FROM infusion_session")).all()
    by_clinic: dict[int, list[str]] = {}
    for clinic_id, name in pairs:
        by_clinic.setdefault(clinic_id, []).append(name)
    for clinic_id, names in by_clinic.items():
        for order, name in enumerate(sorted(names, key=_chair_key), start=1):
            bind.execute(
                chair.insert().values(
                    clinic_id=clinic_id,
                    name=name,
                    room=None,
                    active=True,
                    display_order=order,
                    created_at=now,
                )
            )
    bind.execute(
        sa.text(
            "UPDATE infusion_session SET chair_id = (SELECT chair.id FROM chair "
            "WHERE chair.clinic_id = infusion_session.clinic_id "
            "AND chair.name = infusion_session.chair)"
        )
    )
    _backfill_held_until(bind)


def _backfill_held_until(bind: sa.Connection) -> None:
    definitions = {
        pid: _json(definition)
        for pid, definition in bind.execute(sa.text("SELECT id, definition FROM protocol_version"))
    }
    aborts = {
        sid: _aware(at)
        for sid, at in bind.execute(
            sa.text(
                "SELECT session_id, MAX(at) FROM session_event WHERE kind = 'abort' "
                "GROUP BY session_id"
            )
        )
    }
    held = sa.table(
        "infusion_session",
        sa.column("id", sa.Integer),
        sa.column("chair_held_until", ketaclinic.db.UTCDateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.text("SELECT id, scheduled_at, protocol_version_id, order_plan FROM infusion_session")
    ).all()
    for sid, scheduled_at, protocol_id, plan in rows:
        definition = definitions.get(protocol_id, {})
        duration = _json(plan).get("duration_min") or definition.get("default_duration_min") or 0
        observation = max(_MIN_OBSERVATION_MIN, int(definition.get("observation_min") or 0))
        until = _aware(scheduled_at) + timedelta(minutes=int(duration) + observation) + _TURNOVER
        if sid in aborts:
            until = min(until, aborts[sid] + _TURNOVER)
        bind.execute(held.update().where(held.c.id == sid).values(chair_held_until=until))


def downgrade() -> None:
    with op.batch_alter_table("infusion_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chair", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE infusion_session SET chair = (SELECT chair.name FROM chair "
        "WHERE chair.id = infusion_session.chair_id)"
    )
    with op.batch_alter_table("infusion_session", schema=None) as batch_op:
        batch_op.alter_column("chair", existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_constraint(
            batch_op.f("fk_infusion_session_chair_id_chair"), type_="foreignkey"
        )
        batch_op.drop_index("ix_infusion_session_chair_id_scheduled_at")
        batch_op.drop_column("chair_held_until")
        batch_op.drop_column("chair_id")
    op.drop_table("booking_policy")
    with op.batch_alter_table("closure", schema=None) as batch_op:
        batch_op.drop_index("ix_closure_clinic_id_last_date")
    op.drop_table("closure")
    with op.batch_alter_table("opening_hours", schema=None) as batch_op:
        batch_op.drop_index("ix_opening_hours_clinic_id_weekday")
    op.drop_table("opening_hours")
    with op.batch_alter_table("chair", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chair_clinic_id"))
    op.drop_table("chair")
