"""A stored course of treatment: one patient, one protocol, many sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime


class Course(Base):
    """Sessions of one patient under one protocol version. Its phase (stabilisation series or
    maintenance) is derived from its sessions, never stored, so it cannot disagree with them."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(Text)
    #: The patient's portal questionnaires for this course, ``{instrument: every_days}``; ``None``
    #: keeps the clinic default (``portal.core.DEFAULT_SCHEDULE``).
    questionnaire_schedule: Mapped[dict[str, int] | None] = mapped_column(JSON)
    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012
