"""Patients' requests to move a booking, from the portal. A request moves nothing: the front desk
decides, rebooks if they can, and marks the request handled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import Conflict, InvalidInput, NotFound
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.reminders_models import RescheduleRequest

NOTE_MAX_LENGTH = 500


def own_upcoming_session(
    session: Session, *, patient: Patient, session_id: int, now: datetime
) -> InfusionSession:
    """The patient's own booked, future session, or NotFound (never another patient's)."""
    booking = session.get(InfusionSession, session_id)
    if (
        booking is None
        or booking.patient_id != patient.id
        or booking.state != State.SCHEDULED.value
        or booking.scheduled_at <= now
    ):
        raise NotFound("no upcoming booking of yours with that number")
    return booking


def request(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    booking: InfusionSession,
    preferred_at: datetime | None,
    note: str,
) -> RescheduleRequest:
    now = clock.now()
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidInput(
            f"a note has at most {NOTE_MAX_LENGTH} characters (yours has {len(note)})",
            loc=("body", "note"),
        )
    if preferred_at is not None and preferred_at <= now:
        raise InvalidInput("the preferred time must be in the future", loc=("body", "preferred_at"))
    if open_request(session, booking_id=booking.id) is not None:
        raise Conflict("you have already asked to move this booking; the clinic will contact you")
    row = RescheduleRequest(
        clinic_id=booking.clinic_id,
        patient_id=patient.id,
        session_id=booking.id,
        preferred_at=preferred_at,
        note=note or None,
        requested_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="reschedule.request",
        patient_id=patient.id,
        detail=f"session={booking.id}",
    )
    return row


def open_request(session: Session, *, booking_id: int) -> RescheduleRequest | None:
    return session.scalars(
        select(RescheduleRequest).where(
            RescheduleRequest.session_id == booking_id, RescheduleRequest.handled_at.is_(None)
        )
    ).first()


def list_open(
    session: Session, *, actor: Actor
) -> Sequence[tuple[RescheduleRequest, Patient, InfusionSession]]:
    rows = session.execute(
        select(RescheduleRequest, Patient, InfusionSession)
        .join(Patient, Patient.id == RescheduleRequest.patient_id)
        .join(InfusionSession, InfusionSession.id == RescheduleRequest.session_id)
        .where(
            RescheduleRequest.clinic_id == actor.clinic_id,
            RescheduleRequest.handled_at.is_(None),
        )
        .order_by(RescheduleRequest.requested_at, RescheduleRequest.id)
    ).all()
    audit.record(session, actor=actor, action="reschedule.list", detail=f"results={len(rows)}")
    return [(r, p, s) for r, p, s in rows]


def mark_handled(session: Session, *, actor: Actor, request_id: int) -> RescheduleRequest | None:
    row = session.get(RescheduleRequest, request_id)
    if row is None or row.clinic_id != actor.clinic_id:
        return None
    if row.handled_at is None:
        row.handled_at = clock.now()
        row.handled_by_user_id = actor.user_id
        audit.record(
            session,
            actor=actor,
            action="reschedule.handled",
            patient_id=row.patient_id,
            detail=f"request={row.id}",
        )
    return row
