"""Clinics and users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ketaclinic.db import Base, UTCDateTime


class Clinic(Base):
    __tablename__ = "clinic"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_login_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: A portal account belongs to one patient record, and a record has at most one account.
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patient.id"), index=True, unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set when someone else chose the password (an admin's reset); the user must pick their own
    #: before doing anything else.
    password_must_change: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Moves on every password change; sessions and tokens carry it, so older ones stop working.
    credentials_version: Mapped[int] = mapped_column(default=1, server_default=text("1"))

    clinic: Mapped[Clinic] = relationship(lazy="joined")
