"""Stored infusion sessions, their signed order and their timeline of events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ketaclinic.db import Base, UTCDateTime


class InfusionSession(Base):
    """One chair visit. It keeps the protocol version it used, whatever is edited later.

    The signed order (the dose plan as calculated, and the pump rate) and the second nurse's
    verification live on the row: a session has at most one order in force.
    """

    __tablename__ = "infusion_session"
    # The dashboard and the chair board read one clinic's sessions by date (bench/pages_bench.py).
    __table_args__ = (
        Index("ix_infusion_session_clinic_id_scheduled_at", "clinic_id", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    chair: Mapped[str] = mapped_column(String(40))
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
    alerts: Mapped[list[SessionAlert]] = relationship(
        order_by="(SessionAlert.raised_at, SessionAlert.id)", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012


class SessionEvent(Base):
    """One thing that happened to a session; ``kind`` is one of ``service.EVENT_KINDS``."""

    __tablename__ = "session_event"
    # The dashboard looks up one kind of event (check-in, start, discharge) of many sessions.
    __table_args__ = (Index("ix_session_event_session_id_kind", "session_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("infusion_session.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    rate_mg_per_h: Mapped[Decimal | None] = mapped_column(Numeric(24, 12))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SessionAlert(Base):
    """An alert raised by a rule on a bedside reading; it stays open until acknowledged by name."""

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
