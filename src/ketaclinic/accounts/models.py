"""Clinics, users, their sign-ins, and failed logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, false
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
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: A portal account belongs to one patient record, and a record has at most one account.
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patient.id"), index=True, unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set when someone else chose the password (an admin's reset); the user must pick their own
    #: before doing anything else.
    password_must_change: Mapped[bool] = mapped_column(default=False, server_default=false())

    clinic: Mapped[Clinic] = relationship(lazy="joined")


class LoginSession(Base):
    """One sign-in: a browser's page session (``web``) or an API bearer token (``api``).

    The cookie or the token carries a random key; only its SHA-256 is stored, so a copy of the
    database signs nobody in. Logout, revocation, a password change and deactivation set
    ``ended_at``, so a copied cookie or token stops working at once. Requests only read this row
    (one lookup by the unique hash); nothing writes to it per request.
    """

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginThrottle(Base):
    """Recent failed logins for one typed username, whether or not such a user exists, so an
    unknown name answers and locks exactly like a real one (no username enumeration).

    Keyed by the SHA-256 of the name as typed (trimmed), so nothing typed into the username box is
    kept in clear; a row is deleted once ``forget_at`` passes, so the table holds only the last
    lockout window's names.
    """

    __tablename__ = "login_throttle"

    username_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_count: Mapped[int] = mapped_column()
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    forget_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
