"""Receiving HL7 v2 messages: each stored once, with the ACK its sender got.

Every message is kept (issue #14: nothing silently dropped), so a repeated MSH-10 from the same
sender is answered with that same ACK and stored once. What cannot be placed is answered AE with
the reason and waits in the inbox for a nurse. One transaction per message; nothing about a
patient is logged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.infusions import charting
from ketaclinic.interop.device_codes import DEFAULT_TABLE, DeviceCodeTable
from ketaclinic.interop.hl7_adt import apply_adt
from ketaclinic.interop.hl7_clinic import (
    ERR_CANNOT_PLACE,
    CannotAccept,
    CannotPlace,
    device_actor,
)
from ketaclinic.interop.hl7_core import (
    ERR_DATA_TYPE,
    AckCode,
    Demographics,
    MessageHeader,
    Parsed,
    Refusal,
    build_ack,
    decode_payload,
    parse_message,
)
from ketaclinic.interop.hl7_vitals import chart
from ketaclinic.interop.models import Hl7Message

REASON_MAX = 500
SENDER_MAX = 227
CONTROL_ID_MAX = 199


@dataclass(frozen=True)
class Outcome:
    """What became of one message, before it is stored."""

    outcome: str
    ack_code: AckCode
    reason: str | None = None
    error_code: str | None = None
    patient_id: int | None = None
    session_id: int | None = None


def receive(
    session: Session,
    raw_text: str,
    *,
    clinic_id: int,
    zone: tzinfo,
    now: datetime,
    policy: charting.ChartingPolicy = charting.DEFAULT_POLICY,
    table: DeviceCodeTable = DEFAULT_TABLE,
    device: Actor | None = None,
) -> str:
    """Handle one received message in one transaction and return the ACK to send back.

    ``device`` is the clinic's device account when the caller already has it (the listener
    looks it up once), saving a query per message."""
    parsed = parse_message(raw_text, table=table, assume_tz=zone)
    return _receive(
        session,
        raw_text,
        parsed,
        clinic_id=clinic_id,
        zone=zone,
        now=now,
        policy=policy,
        device=device,
    )


def receive_payload(
    session: Session,
    payload: bytes,
    *,
    clinic_id: int,
    zone: tzinfo,
    now: datetime,
    policy: charting.ChartingPolicy = charting.DEFAULT_POLICY,
    table: DeviceCodeTable = DEFAULT_TABLE,
    device: Actor | None = None,
) -> bytes:
    """An MLLP payload as received: text that is not UTF-8 is refused (AR) and kept as well,
    its undecodable bytes replaced so the stored text shows what arrived."""
    text = decode_payload(payload)
    if isinstance(text, Refusal):
        kept = payload.decode("utf-8", errors="replace")
        ack = _receive(
            session,
            kept,
            text,
            clinic_id=clinic_id,
            zone=zone,
            now=now,
            policy=policy,
            device=device,
        )
    else:
        ack = receive(
            session,
            text,
            clinic_id=clinic_id,
            zone=zone,
            now=now,
            policy=policy,
            table=table,
            device=device,
        )
    return ack.encode("utf-8")


def _receive(
    session: Session,
    raw_text: str,
    parsed: Parsed,
    *,
    clinic_id: int,
    zone: tzinfo,
    now: datetime,
    policy: charting.ChartingPolicy,
    device: Actor | None,
) -> str:
    header = parsed.header
    if header is not None and _too_long(header):
        parsed = Refusal(
            "AR", "MSH-3, MSH-4 or MSH-10 is longer than HL7 allows", ERR_DATA_TYPE, None
        )
        header = None
    try:
        with session.begin():
            if header is not None:
                earlier = _stored(session, header)
                if earlier is not None:
                    return earlier
            outcome = _decide(
                session, parsed, clinic_id=clinic_id, zone=zone, policy=policy, device=device
            )
            ack = _ack(header, outcome, now)
            _store(session, clinic_id, raw_text, header, outcome, ack, now)
            return ack
    except IntegrityError:
        # The same message arrived on another connection at the same moment and was stored
        # first: answer with what that one got. Any other violation is a fault, raised as it is.
        if header is None:
            raise
        with session.begin():
            earlier = _stored(session, header)
        if earlier is None:
            raise
        return earlier


def _too_long(header: MessageHeader) -> bool:
    """Longer than the columns (HL7 v2.6: HD 227, MSH-10 199); such a message is kept whole but
    never deduplicated, since its key cannot be stored."""
    return (
        len(header.sending_application) > SENDER_MAX
        or len(header.sending_facility) > SENDER_MAX
        or len(header.control_id) > CONTROL_ID_MAX
    )


_MESSAGES = cast(Table, Hl7Message.__table__)
#: The ACK a message from this sender with this MSH-10 got (built once: every message asks).
_EARLIER_ACK = select(_MESSAGES.c.ack_text).where(
    _MESSAGES.c.sending_application == bindparam("application"),
    _MESSAGES.c.sending_facility == bindparam("facility"),
    _MESSAGES.c.control_id == bindparam("control_id"),
)
_INSERT_MESSAGE = insert(_MESSAGES)


def _stored(session: Session, header: MessageHeader) -> str | None:
    """The ACK sent for this message when it was received before, else None."""
    found: str | None = (
        session.connection()
        .execute(
            _EARLIER_ACK,
            {
                "application": header.sending_application,
                "facility": header.sending_facility,
                "control_id": header.control_id,
            },
        )
        .scalar()
    )
    return found


def _decide(
    session: Session,
    parsed: Parsed,
    *,
    clinic_id: int,
    zone: tzinfo,
    policy: charting.ChartingPolicy,
    device: Actor | None,
) -> Outcome:
    if isinstance(parsed, Refusal):
        # AR: the message itself cannot be processed; AE: usable but its content cannot be placed.
        where = "refused" if parsed.ack_code == "AR" else "inbox"
        return Outcome(where, parsed.ack_code, parsed.reason, parsed.error_code)
    # The audit events of a refused message (the session read) are kept: they name it.
    actor = device if device is not None else device_actor(session, clinic_id)
    try:
        if isinstance(parsed, Demographics):
            # A savepoint: the patients service may have written before it refuses.
            with session.begin_nested():
                today = clock.now().astimezone(zone).date()
                patient_id = apply_adt(
                    session, parsed, actor=actor, clinic_id=clinic_id, today=today
                )
                return Outcome("accepted", "AA", patient_id=patient_id)
        # No savepoint: ``chart`` checks every reading before it writes any.
        patient_id, session_id, note = chart(
            session, parsed, actor=actor, clinic_id=clinic_id, policy=policy
        )
        return Outcome("accepted", "AA", note, patient_id=patient_id, session_id=session_id)
    except CannotAccept as refused:
        return Outcome("refused", "AR", refused.reason, refused.error_code)
    except CannotPlace as refused:
        return Outcome(
            "inbox",
            "AE",
            refused.reason,
            ERR_CANNOT_PLACE,
            patient_id=refused.patient_id,
        )


def _ack(header: MessageHeader | None, outcome: Outcome, now: datetime) -> str:
    return build_ack(
        header,
        outcome.ack_code,
        control_id=uuid.uuid4().hex[:20],
        timestamp=now,
        text=outcome.reason or "" if outcome.ack_code != "AA" else "",
        error_code=outcome.error_code,
    )


def _store(
    session: Session,
    clinic_id: int,
    raw_text: str,
    header: MessageHeader | None,
    outcome: Outcome,
    ack: str,
    now: datetime,
) -> None:
    message_type = (
        f"{header.message_code}^{header.trigger_event}"[:16] if header is not None else ""
    )
    stored = {
        "clinic_id": clinic_id,
        "received_at": now,
        "sending_application": header.sending_application if header else None,
        "sending_facility": header.sending_facility if header else None,
        "control_id": header.control_id if header else None,
        "message_type": message_type,
        "raw_text": raw_text,
        "outcome": outcome.outcome,
        "ack_code": outcome.ack_code,
        "ack_text": ack,
        "reason": outcome.reason[:REASON_MAX] if outcome.reason else None,
        "patient_id": outcome.patient_id,
        "session_id": outcome.session_id,
    }
    # One INSERT, no object kept: the unique constraint on sender + MSH-10 still decides.
    session.connection().execute(_INSERT_MESSAGE, stored)
