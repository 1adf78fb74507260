"""Signed screenings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime


class Screening(Base):
    """One eligibility screening as the physician signed it, with a snapshot of every finding."""

    __tablename__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    indication_id: Mapped[str | None] = mapped_column(String(64))
    treatments_failed: Mapped[list[str]] = mapped_column(JSON, default=list)
    systolic_mmhg: Mapped[int]
    diastolic_mmhg: Mapped[int]
    heart_rate_per_min: Mapped[int]
    spo2_percent: Mapped[int]
    resp_rate_per_min: Mapped[int]
    contraindications_present: Mapped[list[str]] = mapped_column(JSON, default=list)
    findings: Mapped[list[dict[str, str | None]]] = mapped_column(JSON, default=list)
    matched_indications: Mapped[list[dict[str, str | None]]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    signed_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    baseline_measurement_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
