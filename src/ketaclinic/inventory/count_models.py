"""Counts, discrepancies and disposals of controlled substances (``inventory.counts_core``).

None of these holds a balance: stock moves only by ledger entries, which these records point to.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, ExactQuantity, UTCDateTime


class StockCount(Base):
    """A count by two people: the counter and a licensed witness who signed with their password."""

    __tablename__ = "stock_count"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # counts_core.CountKind
    timing: Mapped[str] = mapped_column(String(8))  # counts_core.CountTiming
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    witness_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)


class StockCountLine(Base):
    """One lot at one location: what the ledger expected at that moment and what was found."""

    __tablename__ = "stock_count_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_count.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("stock_lot.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("storage_location.id"))
    expected_mg: Mapped[Decimal] = mapped_column(ExactQuantity())
    sealed_containers: Mapped[int] = mapped_column(Integer)
    opened_ml: Mapped[Decimal] = mapped_column(ExactQuantity())
    opened_estimated: Mapped[bool] = mapped_column(Boolean)
    counted_mg: Mapped[Decimal] = mapped_column(ExactQuantity())


class Discrepancy(Base):
    """A count line whose count differs from the ledger, until a physician explains it."""

    __tablename__ = "stock_discrepancy"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    count_line_id: Mapped[int] = mapped_column(ForeignKey("stock_count_line.id"), unique=True)
    difference_mg: Mapped[Decimal] = mapped_column(ExactQuantity())  # counted − expected
    resolution: Mapped[str | None] = mapped_column(String(20))  # counts_core.Resolution
    reason: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    significant: Mapped[bool] = mapped_column(Boolean, default=False)
    loss_type: Mapped[str | None] = mapped_column(String(24))  # counts_core.LossType
    dea_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dea_notified_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    dea_notification: Mapped[str | None] = mapped_column(Text)  # how, to whom, reference


class Disposal(Base):
    """Stock handed to a reverse distributor or destroyed on site (the data of DEA Form 41)."""

    __tablename__ = "stock_disposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))  # counts_core.DisposalMethod
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    witness_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    second_witness_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    distributor_name: Mapped[str | None] = mapped_column(String(200))
    distributor_dea_number: Mapped[str | None] = mapped_column(String(9))
    distributor_address: Mapped[str | None] = mapped_column(Text)
    destruction_method: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class DisposalLine(Base):
    """One lot at one location disposed of: its DISPOSE ledger entry."""

    __tablename__ = "stock_disposal_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    disposal_id: Mapped[int] = mapped_column(ForeignKey("stock_disposal.id"), index=True)
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)
