"""The reminder outbox and patients' requests to move a booking."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime


class Reminder(Base):
    """One reminder of one session on one channel, at one offset before the session's time.

    The unique key includes the session time the row was made for: a rescheduled session gets
    new rows for its new time, and rows for the old time are skipped when a worker reaches them.
    A worker claims a row by moving it from ``due`` to ``sending`` in one UPDATE that only
    succeeds while it is still ``due``, so two workers never both send it.
    """

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("session_id", "offset_min", "channel", "session_at"),
        Index("ix_reminder_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("infusion_session.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    offset_min: Mapped[int]
    session_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Why the last try failed or why the row was skipped; never patient data.
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RescheduleRequest(Base):
    """A patient's request from the portal to move a booking. It moves nothing: staff decide
    and rebook, then mark the request handled."""

    __tablename__ = "reschedule_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("infusion_session.id"), index=True)
    preferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
