"""The clinic's chairs, opening hours, closures and booking policy (clinic data, kept by an admin).

A booking itself is an ``infusions.models.InfusionSession``: its ``chair_id`` names the chair and
``chair_held_until`` when the chair is free again (see ``scheduling.core``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime


class Chair(Base):
    """One infusion chair. A chair is never deleted (old sessions name it); it is retired."""

    __tablename__ = "chair"
    __table_args__ = (UniqueConstraint("clinic_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    room: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True)
    display_order: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __str__(self) -> str:
        return self.name


class OpeningHours(Base):
    """One interval the clinic is open on a weekday (0 = Monday), in minutes after local
    midnight; a weekday may have several (a lunch break) or none (closed)."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
        CheckConstraint(
            "opens_min >= 0 AND opens_min < closes_min AND closes_min <= 1440", name="span"
        ),
        Index("ix_opening_hours_clinic_id_weekday", "clinic_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    weekday: Mapped[int]
    opens_min: Mapped[int]
    closes_min: Mapped[int]


class Closure(Base):
    """Days the clinic is closed (a holiday, a training day), first to last inclusive."""

    __tablename__ = "closure"
    __table_args__ = (
        CheckConstraint("first_date <= last_date", name="order"),
        Index("ix_closure_clinic_id_last_date", "clinic_id", "last_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    first_date: Mapped[date] = mapped_column(Date())
    last_date: Mapped[date] = mapped_column(Date())
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class BookingPolicy(Base):
    """The clinic's booking rules; a clinic without a row has the defaults of ``core.Policy``."""

    __tablename__ = "booking_policy"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), primary_key=True)
    turnover_min: Mapped[int]
    max_concurrent_bookings: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
