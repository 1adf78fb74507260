"""Reminder use-cases: queue what is due, claim it once, decide at sending time, record the result.

Each function runs in the caller's transaction. The worker (``reminders_worker``) calls them in
this order, one short transaction each, and talks to the mail server between them, never inside a
transaction. Reading a patient's address to send them a reminder is audited as the system's act
(``Actor`` without a user, username ``reminders``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit import service as audit
from ketaclinic.dosing.protocol import MIN_OBSERVATION_MIN
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.patients.contact_core import Channel
from ketaclinic.patients.contact_models import PatientContact
from ketaclinic.patients.models import Patient
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling.reminders_core import (
    CLAIM_LEASE,
    ReminderState,
    Visit,
    due_offset,
    retry_at,
    skip_reason,
)
from ketaclinic.scheduling.reminders_models import Reminder

SYSTEM_USERNAME = "reminders"
#: Used for the calendar event's end when a protocol names no duration (DESIGN §3: 45–300 min).
FALLBACK_DURATION_MIN = 60
CLAIM_BATCH = 20


def system_actor(clinic_id: int) -> Actor:
    return Actor(user_id=None, username=SYSTEM_USERNAME, role=None, clinic_id=clinic_id)


def enabled_channels(*, email: bool, sms: bool) -> tuple[Channel, ...]:
    """The channels the clinic has configured (SMTP server, SMS webhook)."""
    return tuple(c for c, on in ((Channel.EMAIL, email), (Channel.SMS, sms)) if on)


def queue_due(
    session: Session, *, now: datetime, offsets_min: Sequence[int], channels: Sequence[Channel]
) -> int:
    """Add a row for each reminder that has come due, once: a row already there (queued by
    another worker, or sent) is left alone by the unique key. Returns how many were added."""
    if not channels:
        return 0
    horizon = now + timedelta(minutes=max(offsets_min))
    rows = session.execute(
        select(
            InfusionSession.id,
            InfusionSession.clinic_id,
            InfusionSession.patient_id,
            InfusionSession.scheduled_at,
            PatientContact.consent_email,
            PatientContact.consent_sms,
        )
        .join(PatientContact, PatientContact.patient_id == InfusionSession.patient_id)
        .where(
            InfusionSession.state == State.SCHEDULED.value,
            InfusionSession.scheduled_at > now,
            InfusionSession.scheduled_at <= horizon,
            or_(PatientContact.consent_email, PatientContact.consent_sms),
        )
    ).all()
    values = []
    for session_id, clinic_id, patient_id, starts_at, consent_email, consent_sms in rows:
        offset = due_offset(starts_at, offsets_min, now)
        if offset is None:
            continue
        consented = {Channel.EMAIL: consent_email, Channel.SMS: consent_sms}
        values += [
            {
                "clinic_id": clinic_id,
                "session_id": session_id,
                "patient_id": patient_id,
                "channel": channel.value,
                "offset_min": offset,
                "session_at": starts_at,
                "state": ReminderState.DUE.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for channel in channels
            if consented[channel]
        ]
    if not values:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # RETURNING counts what went in: rowcount is not reliable here on every driver.
    added = session.scalars(
        insert(Reminder).values(values).on_conflict_do_nothing().returning(Reminder.id)
    ).all()
    return len(added)


def claim(session: Session, *, worker: str, now: datetime, limit: int = CLAIM_BATCH) -> list[int]:
    """Move up to ``limit`` ready rows to ``sending`` for ``worker``, with an UPDATE that only
    takes rows still ready: of two workers, each row goes to exactly one. PostgreSQL skips rows
    another worker has locked instead of waiting; SQLite has one writer at a time. A row left in
    ``sending`` longer than the lease belonged to a worker that died, and is taken again."""
    ready = or_(
        and_(Reminder.state == ReminderState.DUE.value, Reminder.next_attempt_at <= now),
        and_(
            Reminder.state == ReminderState.SENDING.value,
            Reminder.claimed_at < now - CLAIM_LEASE,
        ),
    )
    candidates = select(Reminder.id).where(ready).order_by(Reminder.next_attempt_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    # Two statements, not UPDATE … WHERE id IN (subquery): PostgreSQL may run a LIMITed locking
    # subquery more than once inside an UPDATE and so take more rows than asked for.
    ids = session.scalars(candidates).all()
    if not ids:
        return []
    claimed = session.scalars(
        update(Reminder)
        .where(Reminder.id.in_(ids), ready)
        .values(state=ReminderState.SENDING.value, claimed_by=worker, claimed_at=now)
        .returning(Reminder.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(claimed)


@dataclass(frozen=True)
class Outgoing:
    """A claimed reminder ready to send: the address, and what the message may say."""

    reminder_id: int
    channel: Channel
    to: str
    visit: Visit


def prepare(
    session: Session, *, reminder_id: int, worker: str, now: datetime, zone: ZoneInfo
) -> Outgoing | None:
    """The message to send for a claimed row, decided from the session and consent as they are
    now; None (and the row skipped, with why) when it must not go out."""
    reminder = _claimed(session, reminder_id=reminder_id, worker=worker)
    if reminder is None:
        return None
    booking = session.get(InfusionSession, reminder.session_id)
    assert booking is not None  # a foreign key
    reason = skip_reason(
        booked_at=reminder.session_at,
        current_at=booking.scheduled_at,
        still_booked=booking.state == State.SCHEDULED.value,
        now=now,
    )
    contact = session.get(PatientContact, reminder.patient_id)
    channel = Channel(reminder.channel)
    audit.record(
        session,
        actor=system_actor(reminder.clinic_id),
        action="reminder.contact.read",
        patient_id=reminder.patient_id,
        detail=f"reminder={reminder.id} channel={channel.value}",
    )
    to = _address(contact, channel)
    if reason is None and to is None:
        reason = "the patient no longer consents to reminders on this channel"
    if reason is not None or to is None:
        _finish(reminder, state=ReminderState.SKIPPED, now=now, note=reason)
        return None
    return Outgoing(reminder.id, channel, to, visit_of(session, booking, zone=zone))


def visit_of(session: Session, booking: InfusionSession, *, zone: ZoneInfo) -> Visit:
    """The booking as a reminder may describe it: start, expected end (the protocol's usual
    infusion time plus its observation time), and the clinic."""
    clinic = session.get(Clinic, booking.clinic_id)
    protocol = session.get(ProtocolVersion, booking.protocol_version_id)
    assert clinic is not None and protocol is not None  # foreign keys
    definition = protocol.definition or {}
    minutes = int(definition.get("default_duration_min") or FALLBACK_DURATION_MIN) + int(
        definition.get("observation_min") or MIN_OBSERVATION_MIN
    )
    return Visit(
        session_id=booking.id,
        starts_at=booking.scheduled_at,
        ends_at=booking.scheduled_at + timedelta(minutes=minutes),
        clinic_name=clinic.name,
        clinic_code=clinic.code,
        zone=zone,
    )


def mark_sent(session: Session, *, reminder_id: int, worker: str, now: datetime) -> None:
    reminder = _claimed(session, reminder_id=reminder_id, worker=worker)
    if reminder is not None:
        _finish(reminder, state=ReminderState.SENT, now=now, note=None)
        reminder.sent_at = now


def mark_failed(
    session: Session,
    *,
    reminder_id: int,
    worker: str,
    now: datetime,
    error: str,
    max_attempts: int,
) -> ReminderState | None:
    """Count a failed try: back to ``due`` after a delay, or ``failed`` (shown to staff) once
    the tries are used up. ``error`` names the failure, never the patient."""
    reminder = _claimed(session, reminder_id=reminder_id, worker=worker)
    if reminder is None:
        return None
    reminder.attempts += 1
    again = retry_at(reminder.attempts, now, max_attempts=max_attempts)
    state = ReminderState.DUE if again is not None else ReminderState.FAILED
    _finish(reminder, state=state, now=now, note=error[:300])
    reminder.next_attempt_at = again or now
    return state


def _claimed(session: Session, *, reminder_id: int, worker: str) -> Reminder | None:
    """The row if this worker still holds its claim (a lease taken over by another worker
    after a long stall is theirs now)."""
    reminder = session.get(Reminder, reminder_id, populate_existing=True)
    if reminder is None or reminder.state != ReminderState.SENDING.value:
        return None
    return reminder if reminder.claimed_by == worker else None


def _finish(reminder: Reminder, *, state: ReminderState, now: datetime, note: str | None) -> None:
    reminder.state = state.value
    reminder.last_error = note
    reminder.claimed_by = None
    reminder.claimed_at = None


def _address(contact: PatientContact | None, channel: Channel) -> str | None:
    if contact is None:
        return None
    if channel is Channel.EMAIL:
        return contact.email if contact.consent_email else None
    return contact.phone if contact.consent_sms else None


# --- for staff ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderRow:
    reminder: Reminder
    patient: Patient
    session_at: datetime


def list_for_staff(
    session: Session, *, actor: Actor, states: Sequence[ReminderState], limit: int = 200
) -> list[ReminderRow]:
    """The clinic's reminders in ``states``, newest session first, with the patient's name."""
    rows = session.execute(
        select(Reminder, Patient)
        .join(Patient, Patient.id == Reminder.patient_id)
        .where(
            Reminder.clinic_id == actor.clinic_id,
            Reminder.state.in_([s.value for s in states]),
        )
        .order_by(Reminder.session_at.desc(), Reminder.id.desc())
        .limit(limit)
    ).all()
    audit.record(session, actor=actor, action="reminder.list", detail=f"results={len(rows)}")
    return [ReminderRow(r, p, r.session_at) for r, p in rows]


def retry(session: Session, *, actor: Actor, reminder_id: int, now: datetime) -> Reminder | None:
    """Staff send a failed reminder again (after fixing an address or the mail server): it is
    queued now with its tries counted afresh. None if there is no such failed row."""
    reminder = session.get(Reminder, reminder_id)
    if (
        reminder is None
        or reminder.clinic_id != actor.clinic_id
        or reminder.state != ReminderState.FAILED.value
    ):
        return None
    reminder.state = ReminderState.DUE.value
    reminder.attempts = 0
    reminder.next_attempt_at = now
    audit.record(
        session,
        actor=actor,
        action="reminder.retry",
        patient_id=reminder.patient_id,
        detail=f"reminder={reminder.id}",
    )
    return reminder
