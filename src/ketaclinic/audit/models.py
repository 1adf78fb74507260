"""Audit events and the seals that close them into a chain (see ``audit.core``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime


class AuditEvent(Base):
    """Who did what to which record, when, from where. Never updated, never deleted.

    Appending one reads and updates nothing else, so unrelated requests never wait for each other.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        # Only PostgreSQL fills xact_id; on SQLite this index stays empty and costs no write.
        Index(
            "ix_audit_event_xact_id_id",
            "xact_id",
            "id",
            postgresql_where=text("xact_id IS NOT NULL"),
            sqlite_where=text("xact_id IS NOT NULL"),
        ),
    )

    #: 64-bit on PostgreSQL: a busy clinic network can outrun 2**31 events; SQLite's rowid is.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: Not indexed: nothing looks events up by action, and every index is paid on every request.
    action: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    client_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    #: PostgreSQL: the writing transaction's id, which the sealer orders events by (an event
    #: whose transaction is still open must not be passed over). SQLite has one writer at a time
    #: and orders by ``id``; this stays empty there.
    xact_id: Mapped[int | None] = mapped_column(BigInteger)
    #: HMAC-SHA256 of the fields above with the audit key (``audit.core.event_mac``).
    mac: Mapped[str] = mapped_column(String(64))


class AuditSeal(Base):
    """A batch of events closed into the chain: which, their digest, and a MAC over it all."""

    __tablename__ = "audit_seal"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_from: Mapped[int] = mapped_column(BigInteger)
    key_to: Mapped[int] = mapped_column(BigInteger)
    event_count: Mapped[int]
    first_event_id: Mapped[int | None] = mapped_column(BigInteger)
    last_event_id: Mapped[int | None] = mapped_column(BigInteger)
    events_digest: Mapped[str] = mapped_column(String(64))
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))
