"""Stored protocol versions. A version is never changed: editing adds the next version."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime


class ProtocolVersion(Base):
    __tablename__ = "protocol_version"
    __table_args__ = (UniqueConstraint("clinic_id", "key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class SavedDosePlan(Base):
    """A dose plan a physician kept on the patient's record: the inputs the order form of the
    patient's next session starts from (never the order itself: the order is computed again
    against the session's own protocol version and signed)."""

    __tablename__ = "saved_dose_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"))
    weight_kg: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # the actual weight it used
    weight_basis: Mapped[str] = mapped_column(String(16))
    dose: Mapped[Decimal] = mapped_column(Numeric(10, 6))  # in the protocol's dose unit
    duration_min: Mapped[int]
    bolus_mg_per_kg: Mapped[Decimal | None] = mapped_column(Numeric(8, 6))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)  # the computed plan, as shown when saved
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    saved_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
