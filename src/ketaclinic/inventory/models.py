"""Controlled-substance tables: the registration, products, lots, locked locations, receipts and
the append-only ledger every balance is derived from (``inventory.core``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, ExactQuantity, UTCDateTime

#: Exact quantities (mg, mL): whole numbers of 10**-9 units, so a SUM is exact on both databases.
Quantity = ExactQuantity


class DeaRegistration(Base):
    """The clinic's DEA registration (one per registered location: CODES.md §2.1)."""

    __tablename__ = "dea_registration"
    # A renewal keeps the number and gets a new expiry: one record per number and expiry.
    __table_args__ = (UniqueConstraint("clinic_id", "dea_number", "expires_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    registrant_name: Mapped[str] = mapped_column(String(200))
    dea_number: Mapped[str] = mapped_column(String(9))
    schedules: Mapped[str] = mapped_column(String(40))  # e.g. "CIII CIV"
    address: Mapped[str] = mapped_column(Text)
    expires_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))


class DrugProduct(Base):
    """A stocked product: what one container holds and how the law counts it."""

    __tablename__ = "drug_product"
    __table_args__ = (UniqueConstraint("clinic_id", "ndc"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    substance: Mapped[str] = mapped_column(String(40))  # "ketamine", "midazolam"
    schedule: Mapped[str] = mapped_column(String(4))
    form: Mapped[str] = mapped_column(String(60))  # "injectable solution, multi-dose vial"
    concentration_mg_per_ml: Mapped[Decimal] = mapped_column(Quantity())
    container_ml: Mapped[Decimal] = mapped_column(Quantity())
    ndc: Mapped[str] = mapped_column(String(11))  # 11 digits, 5-4-2 without hyphens
    manufacturer: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StorageLocation(Base):
    """A securely locked, substantially constructed cabinet or safe (21 CFR 1301.75)."""

    __tablename__ = "storage_location"
    __table_args__ = (UniqueConstraint("clinic_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StockReceipt(Base):
    """An invoice's delivery: entered by one person, confirmed by a second, never edited."""

    __tablename__ = "stock_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    supplier_name: Mapped[str] = mapped_column(String(200))
    supplier_address: Mapped[str] = mapped_column(Text)
    supplier_dea_number: Mapped[str] = mapped_column(String(9))
    invoice_number: Mapped[str] = mapped_column(String(80))
    received_date: Mapped[date] = mapped_column(Date)
    location_id: Mapped[int] = mapped_column(ForeignKey("storage_location.id"))
    entered_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReceiptLine(Base):
    """One lot on a receipt and how many containers of it arrived."""

    __tablename__ = "receipt_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("stock_receipt.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("stock_lot.id"))
    containers: Mapped[int] = mapped_column(Integer)


class StockLot(Base):
    """A manufacturer's lot of one product. Its balance lives only in the ledger."""

    __tablename__ = "stock_lot"
    __table_args__ = (UniqueConstraint("product_id", "lot_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("drug_product.id"))
    lot_number: Mapped[str] = mapped_column(String(40))
    expiry_date: Mapped[date] = mapped_column(Date)


class LedgerEntry(Base):
    """One movement of a controlled substance. The database refuses UPDATE and DELETE.

    ``quantity_mg`` is the amount moved (positive, except an adjustment, which carries its sign);
    ``stock_delta_mg`` is what it does to the stock of ``location_id`` (``core.STOCK_SIGN``), so a
    balance is one indexed SUM.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        # A lot's stock at a location, and the clinic's balance grouped by lot and location, are
        # summed from these indexes alone (covering stock_delta_mg): 100,000 entries summed in
        # milliseconds on both databases (bench/inventory_bench.py).
        Index("ix_ledger_entry_lot_id_location_id", "lot_id", "location_id", "stock_delta_mg"),
        Index(
            "ix_ledger_entry_clinic_id_lot_id_location_id",
            "clinic_id",
            "lot_id",
            "location_id",
            "stock_delta_mg",
        ),
        Index("ix_ledger_entry_clinic_id_at", "clinic_id", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    witness_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("drug_product.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("stock_lot.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("storage_location.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("infusion_session.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("stock_receipt.id"), index=True)
    quantity_mg: Mapped[Decimal] = mapped_column(Quantity())
    volume_ml: Mapped[Decimal] = mapped_column(Quantity())
    containers: Mapped[int | None] = mapped_column(Integer)
    stock_delta_mg: Mapped[Decimal] = mapped_column(Quantity())
    reason: Mapped[str | None] = mapped_column(Text)
    #: How waste or stock was disposed of, or to whom (a reverse distributor and its DEA number).
    manner: Mapped[str | None] = mapped_column(Text)
