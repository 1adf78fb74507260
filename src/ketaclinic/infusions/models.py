"""Stored infusion sessions, their signed order and their timeline of events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ketaclinic.db import Base, UTCDateTime
from ketaclinic.scheduling.models import Chair

#: One clinic's sessions by date, and what the dashboard counts of each (migration 0026).
WINDOW_INDEX_COLUMNS = (
    "clinic_id",
    "scheduled_at",
    "state",
    "protocol_version_id",
    "chair_id",
    "patient_id",
    "chair_held_until",
)


class InfusionSession(Base):
    """One chair visit. It keeps the protocol version it used, whatever is edited later.

    The signed order (the dose plan as calculated, and the pump rate) and the second nurse's
    verification live on the row: a session has at most one order in force.
    """

    __tablename__ = "infusion_session"
    # The dashboard and the chair board read one clinic's sessions by date (bench/pages_bench.py);
    # the dashboard's counts read every other column they need from the index too (SQLite reads
    # no table row; migration 0026).
    __table_args__ = (
        Index("ix_infusion_session_clinic_window", *WINDOW_INDEX_COLUMNS),
        # A booking's conflicts are one chair's sessions around a time (``scheduling.service``).
        Index("ix_infusion_session_chair_id_scheduled_at", "chair_id", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    chair_id: Mapped[int] = mapped_column(ForeignKey("chair.id"))
    #: When the chair is free again: the planned visit's end plus the clinic's turnover time
    #: (``scheduling.core``), kept on the row so that a conflict is one indexed range query.
    chair_held_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    order_signed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    order_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    order_plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    order_rate_mg_per_h: Mapped[Decimal | None] = mapped_column(Numeric(24, 12))
    order_pump_rate_ml_per_h: Mapped[Decimal | None] = mapped_column(Numeric(24, 12))
    verified_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version_id: Mapped[int] = mapped_column(default=1)

    events: Mapped[list[SessionEvent]] = relationship(
        order_by="(SessionEvent.at, SessionEvent.id)", cascade="all, delete-orphan"
    )
    chair: Mapped[Chair] = relationship(lazy="joined", innerjoin=True)
    alerts: Mapped[list[SessionAlert]] = relationship(
        order_by="(SessionAlert.raised_at, SessionAlert.id)", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012


class SessionEvent(Base):
    """One thing that happened to a session; ``kind`` is one of ``service.EVENT_KINDS``.

    ``at`` is when it happened: for a late entry, the time the nurse observed it, with the time it
    was typed in kept in ``recorded_at`` (``None`` on rows older than migration 0015). A charted
    observation is never deleted: one found wrong is marked *entered in error* (who, when, why)
    and every reading of the record skips it from then on.
    """

    __tablename__ = "session_event"
    # The dashboard looks up one kind of event (check-in, start, discharge) of many sessions, and
    # reads the instant of a check-in or discharge from the index alone (migration 0026).
    # PostgreSQL finds the (few) side-effect events by kind rather than reading every event.
    __table_args__ = (
        Index("ix_session_event_session_id_kind_at", "session_id", "kind", "at"),
        Index("ix_session_event_kind_session_id", "kind", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("infusion_session.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    rate_mg_per_h: Mapped[Decimal | None] = mapped_column(Numeric(24, 12))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    entered_in_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    entered_in_error_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    entered_in_error_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def in_error(self) -> bool:
        return self.entered_in_error_at is not None

    @property
    def is_late_entry(self) -> bool:
        """Typed in after the time it was observed (a late entry)."""
        return self.recorded_at is not None and self.at < self.recorded_at


class SessionAlert(Base):
    """An alert raised by a rule on a bedside reading; it stays open until acknowledged by name.

    ``event_id`` is the reading that raised it (``None`` on rows older than migration 0015);
    ``observed_at`` is when that reading was observed, which a late entry puts before
    ``raised_at``. An alert whose reading is marked entered in error is withdrawn
    (``withdrawn_at``), never deleted, and no longer counts as open.
    """

    __tablename__ = "session_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("infusion_session.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    suggested_action: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    event_id: Mapped[int | None] = mapped_column(ForeignKey("session_event.id"), index=True)
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    event: Mapped[SessionEvent | None] = relationship()

    @property
    def is_open(self) -> bool:
        """Waiting for someone to acknowledge it: neither acknowledged nor withdrawn."""
        return self.acknowledged_at is None and self.withdrawn_at is None
