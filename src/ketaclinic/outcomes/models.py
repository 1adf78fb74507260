"""Scored questionnaires as recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime


class Measurement(Base):
    """One completed instrument: the answers, the exact scores, band and flags, and its context."""

    __tablename__ = "measurement"
    # A patient's latest score of one instrument, of any context or of one, is one index probe
    # (the dashboard's overdue list and its baselines, migration 0026).
    __table_args__ = (
        Index(
            "ix_measurement_patient_id_instrument_measured_at",
            "patient_id",
            "instrument",
            "measured_at",
        ),
        Index(
            "ix_measurement_patient_id_instrument_context_measured_at",
            "patient_id",
            "instrument",
            "context",
            "measured_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(16), index=True)
    context: Mapped[str] = mapped_column(String(16))
    #: The infusion session a pre/post questionnaire belongs to, if any.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("infusion_session.id"), index=True)
    answers: Mapped[list[int | None]] = mapped_column(JSON)
    scores: Mapped[dict[str, str]] = mapped_column(JSON)  # name -> exact value ("19/3", "12")
    band: Mapped[str | None] = mapped_column(String(32))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    flag_acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    flag_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PatientGoal(Base):
    """What the patient wants to get back to, in their own words, with an optional pain target
    drawn on their trajectory. A new goal is added, never edited, so the history stays."""

    __tablename__ = "patient_goal"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    target_pain_nrs: Mapped[int | None] = mapped_column()
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())
    set_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
