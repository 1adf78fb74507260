"""A patient's contact details and consent to reminders (one row per patient, kept apart from
the patient row so that a change of phone number does not bump the record's version)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime


class PatientContact(Base):
    """Phone in E.164, e-mail normalised; consent per channel with when and who recorded it.

    Consent is the patient's decision; the row records who wrote it down and when. Withdrawing
    it clears the channel's flag and keeps the time of the change.
    """

    __tablename__ = "patient_contact"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    consent_email: Mapped[bool] = mapped_column(default=False)
    consent_sms: Mapped[bool] = mapped_column(default=False)
    consent_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent_recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (optimistic locking)
