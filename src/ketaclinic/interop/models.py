"""Every HL7 v2 message received, kept whatever became of it (issue #14: nothing dropped)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ketaclinic.db import Base, UTCDateTime

#: What became of a message: charted (``accepted``), refused as malformed (``refused``), kept for
#: a nurse to place (``inbox``), and what the nurse then decided (``dismissed``, ``matched``).
OUTCOMES = ("accepted", "refused", "inbox", "dismissed", "matched")


class Hl7Message(Base):
    """One received message. The sender's MSH-10 is unique per sending application and
    facility, so a repeated message is acknowledged again from ``ack_text`` and stored once."""

    __tablename__ = "hl7_message"
    __table_args__ = (
        UniqueConstraint(
            "sending_application",
            "sending_facility",
            "control_id",
            name="uq_hl7_message_sender_control_id",
        ),
        Index("ix_hl7_message_outcome_received_at", "outcome", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: None when the MSH could not be read (such messages are each kept, never deduplicated).
    sending_application: Mapped[str | None] = mapped_column(String(227))
    sending_facility: Mapped[str | None] = mapped_column(String(227))
    control_id: Mapped[str | None] = mapped_column(String(199))
    message_type: Mapped[str] = mapped_column(String(16))
    raw_text: Mapped[str] = mapped_column(Text())
    outcome: Mapped[str] = mapped_column(String(12))
    ack_code: Mapped[str] = mapped_column(String(2))
    ack_text: Mapped[str] = mapped_column(Text())
    reason: Mapped[str | None] = mapped_column(String(500))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("infusion_session.id"), index=True)
    handled_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_reason: Mapped[str | None] = mapped_column(String(500))


class Hl7Monitor(Base):
    """A bedside monitor the clinic has placed at a chair. When one is mapped, its vitals are
    charted only on the session at that chair, so a wrong MRN keyed at the monitor cannot put one
    patient's values on another's flowsheet (issue #14: "where configured, by the monitor's chair").

    ``monitor_id`` is the equipment instance identifier the monitor sends in OBX-18 (its EUI-64
    under IHE PCD-01), or MSH-3 when it sends no OBX-18; see ``hl7_monitors.monitor_of``."""

    __tablename__ = "hl7_monitor"
    __table_args__ = (
        UniqueConstraint("clinic_id", "monitor_id", name="uq_hl7_monitor_clinic_id_monitor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    monitor_id: Mapped[str] = mapped_column(String(227))
    chair_id: Mapped[int] = mapped_column(ForeignKey("chair.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
