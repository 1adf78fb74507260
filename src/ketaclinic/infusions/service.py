"""Infusion-session use-cases: schedule, order, verify and run the pump.

One transaction each (the caller's), each audited. Every move goes through
``infusions.core.transition`` with a ``GuardContext`` built from what is stored; an illegal move is
an ``InvalidTransition`` naming the state and the moves it allows. Check-in and discharge live in
``assessments``, bedside charting in ``charting`` and what the record says now in ``readings``;
all are re-exported here so that routes need one import.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.courses import service as courses
from ketaclinic.errors import Conflict, DoseOutOfRange, Forbidden, InvalidInput, NotFound
from ketaclinic.infusions import pump
from ketaclinic.infusions.assessments import check_in, discharge, record_clearance
from ketaclinic.infusions.charting import (
    acknowledge_alert,
    give_bolus,
    record_adjunct,
    record_side_effects,
    record_vitals,
)
from ketaclinic.infusions.core import (
    GuardContext,
    Move,
    State,
    allowed_moves,
    booking_time_problem,
    transition,
)
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.pump_checks import (
    ordered_pump,
    reading_as_ordered,
    stop_confirmation,
    stop_is_early,
    verify,
)
from ketaclinic.infusions.readings import (
    current_setting,
    delivered,
    earliest_discharge,
    open_blocks,
    so_far,
    to_out,
    vitals_due_at,
)
from ketaclinic.infusions.recording import (
    audit_session,
    clinic_of,
    event,
    move,
    patient_of,
    protocol_of,
    protocol_row,
    touch,
    user_of,
)
from ketaclinic.infusions.schemas import OrderIn, ScheduleIn
from ketaclinic.patients import service as patients
from ketaclinic.protocols import dose
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.schemas import DoseCalculationIn, DosePlanOut
from ketaclinic.scheduling import service as scheduling
from ketaclinic.scheduling.models import Chair

__all__ = [
    "acknowledge_alert",
    "check_in",
    "current_setting",
    "delivered",
    "discharge",
    "earliest_discharge",
    "give_bolus",
    "open_blocks",
    "ordered_pump",
    "reading_as_ordered",
    "record_adjunct",
    "record_clearance",
    "record_side_effects",
    "record_vitals",
    "stop_confirmation",
    "stop_is_early",
    "to_out",
    "verify",
    "vitals_due_at",
]

#: An order may be signed (or signed again, which clears the verification) before the pump runs.
_ORDERABLE = frozenset({State.SCHEDULED, State.CHECKED_IN})


def get(
    session: Session, *, actor: Actor, session_id: int, lock: bool = False
) -> InfusionSession | None:
    """The session when it belongs to the actor's clinic, else ``None``.

    Every write passes ``lock``: the session row is locked (``SELECT ... FOR UPDATE`` on
    PostgreSQL; SQLite's one writer at a time, since every transaction begins IMMEDIATE) as the
    transaction's first statement, so writes to one session queue behind each other (one patient,
    never the clinic) and hold no other lock while they wait for it.
    """
    row = session.get(InfusionSession, session_id, with_for_update=True if lock else None)
    if row is None or row.clinic_id != actor.clinic_id:
        return None
    audit_session(session, actor, row, "session.read")
    return row


def board(session: Session, *, actor: Actor, day: date, zone: tzinfo) -> Sequence[InfusionSession]:
    """The clinic's sessions scheduled on ``day`` (the clinic's local day), by time and chair.
    Every patient shown is a patient record read, so each is audited."""
    start = datetime.combine(day, time(), tzinfo=zone)
    rows = session.scalars(
        select(InfusionSession)
        .where(
            InfusionSession.clinic_id == clinic_of(actor),
            InfusionSession.scheduled_at >= start,
            InfusionSession.scheduled_at < start + timedelta(days=1),
        )
        .order_by(InfusionSession.scheduled_at, InfusionSession.chair_id, InfusionSession.id)
        # Every row's timeline and alerts are read: one query each, not one per session.
        .options(selectinload(InfusionSession.events), selectinload(InfusionSession.alerts))
    ).all()
    for row in rows:
        audit_session(session, actor, row, "session.board")
    return rows


def schedule(
    session: Session, *, actor: Actor, data: ScheduleIn, zone: ZoneInfo
) -> InfusionSession:
    """Book a session on a chair. A time more than an hour in the past is refused
    (``core.PAST_GRACE``); where it may go is ``scheduling.service.place``'s rule (opening
    hours, closures, the chair's other bookings, the clinic's cap), the chair locked until the
    booking is written."""
    _require_bookable_time(data.scheduled_at)
    clinic_id = clinic_of(actor)
    patient = patients.get(session, actor=actor, patient_id=data.patient_id)
    if patient is None:
        raise NotFound(f"no patient {data.patient_id} in your clinic", loc=("body", "patient_id"))
    protocol = _protocol(session, clinic_id, data.protocol_id)
    if data.course_id is not None:
        courses.require_open_course(
            session,
            actor=actor,
            course_id=data.course_id,
            patient_id=patient.id,
            protocol_version_id=protocol.id,
        )
    placed = scheduling.place(
        session,
        clinic_id=clinic_id,
        chair=_chair_asked(session, clinic_id, data),
        start=data.scheduled_at,
        visit_min=scheduling.visit_minutes(protocol),
        zone=zone,
    )
    now = clock.now()
    row = InfusionSession(
        patient_id=patient.id,
        clinic_id=clinic_id,
        protocol_version_id=protocol.id,
        course_id=data.course_id,
        state=State.SCHEDULED.value,
        scheduled_at=data.scheduled_at,
        chair_id=placed.chair.id,
        chair=placed.chair,
        chair_held_until=placed.held_until,
        created_at=now,
        updated_at=now,
        created_by_user_id=user_of(actor),
    )
    session.add(row)
    session.flush()
    audit_session(session, actor, row, "session.schedule")
    return row


def reschedule(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    scheduled_at: datetime,
    chair_id: int | None,
    zone: ZoneInfo,
) -> InfusionSession:
    """Move a booking that has not started to another time or chair (``chair_id`` ``None``
    keeps its chair), refused as a new booking would be; the move is kept on the timeline."""
    if State(row.state) is not State.SCHEDULED:
        raise Conflict(
            f"only a scheduled session is moved; this one is {row.state}", loc=("state",)
        )
    _require_bookable_time(scheduled_at)
    chair = (
        row.chair
        if chair_id is None
        else scheduling.require_chair(session, clinic_id=row.clinic_id, chair_id=chair_id)
    )
    placed = scheduling.place(
        session,
        clinic_id=row.clinic_id,
        chair=chair,
        start=scheduled_at,
        visit_min=scheduling.visit_minutes(protocol_row(session, row)),
        zone=zone,
        exclude_session_id=row.id,
    )
    event(
        row,
        actor,
        "reschedule",
        data={
            "from_at": row.scheduled_at.isoformat(),
            "to_at": scheduled_at.isoformat(),
            "from_chair_id": row.chair_id,
            "to_chair_id": placed.chair.id,
        },
    )
    row.scheduled_at = scheduled_at
    row.chair_id = placed.chair.id
    row.chair = placed.chair
    row.chair_held_until = placed.held_until
    touch(session, actor, row, "session.reschedule")
    return row


def _require_bookable_time(scheduled_at: datetime) -> None:
    late = booking_time_problem(scheduled_at, clock.now())
    if late:
        raise InvalidInput(f"the session time {late}", loc=("body", "scheduled_at"))


def _chair_asked(session: Session, clinic_id: int, data: ScheduleIn) -> Chair | None:
    """The chair named by id or by name, or ``None`` for the first free one."""
    if data.chair_id is not None:
        return scheduling.require_chair(session, clinic_id=clinic_id, chair_id=data.chair_id)
    if data.chair is not None:
        chair = scheduling.chair_by_name(session, clinic_id=clinic_id, name=data.chair)
        if chair is None:
            names = ", ".join(
                c.name
                for c in scheduling.list_chairs(session, clinic_id=clinic_id, active_only=True)
            )
            raise InvalidInput(
                f"the clinic has no chair named {data.chair!r}; its chairs: {names or 'none'}",
                loc=("body", "chair"),
            )
        return chair
    return None


def _protocol(session: Session, clinic_id: int, protocol_id: int) -> ProtocolVersion:
    protocol = protocols.get(session, clinic_id=clinic_id, protocol_id=protocol_id)
    if protocol is None:
        raise NotFound(f"no protocol {protocol_id}", loc=("body", "protocol_id"))
    return protocol


# --- the order -----------------------------------------------------------------------------------


def plan_order(
    session: Session, *, actor: Actor, row: InfusionSession, data: OrderIn
) -> DosePlanOut:
    """The order as it would be signed, computed without writing: the page's preview and the
    signature compute it the same way. Height and sex come from the record unless given."""
    if actor.role is not Role.PHYSICIAN:
        raise Forbidden("only a physician signs an infusion order")
    if State(row.state) not in _ORDERABLE:
        raise Conflict(
            f"the order cannot be signed in state {row.state}; only before the infusion starts",
            loc=("state",),
        )
    patient = patient_of(session, actor, row)
    weight_kg = data.weight_kg
    if weight_kg is None:
        current = patient.current_weight
        if current is None:
            raise InvalidInput("no weight on record: give weight_kg", loc=("body", "weight_kg"))
        weight_kg = current.weight_kg
    calc = DoseCalculationIn(
        protocol_id=row.protocol_version_id,
        weight_kg=weight_kg,
        height_cm=data.height_cm if data.height_cm is not None else patient.height_cm,
        sex=data.sex or _SEXES.get(patient.sex),
        weight_basis=data.weight_basis,
        dose=data.dose,
        duration_min=data.duration_min,
        override_reasons=data.override_reasons,
        pump_resolution_ml_per_h=data.pump_resolution_ml_per_h,
    )
    return dose.plan(protocol_row(session, row), calc)


Sex = Literal["female", "male", "other", "unknown"]
_SEXES: dict[str, Sex] = {
    "female": "female",
    "male": "male",
    "other": "other",
    "unknown": "unknown",
}


def sign_order(
    session: Session, *, actor: Actor, row: InfusionSession, data: OrderIn
) -> InfusionSession:
    """The physician's order: the dose plan against the session's protocol version. A hard limit
    is refused; a soft one needs a reason (both as ``protocols.dose.plan`` decides)."""
    plan = plan_order(session, actor=actor, row=row, data=data)
    row.order_signed_by_user_id = user_of(actor)
    row.order_signed_at = clock.now()
    row.order_plan = plan.model_dump(mode="json")
    row.order_rate_mg_per_h = plan.rate_mg_per_h
    row.order_pump_rate_ml_per_h = plan.pump_rate_ml_per_h
    row.verified_by_user_id = None
    row.verified_at = None
    event(
        row,
        actor,
        "order",
        rate_mg_per_h=plan.rate_mg_per_h,
        data={"pump_rate_ml_per_h": str(plan.pump_rate_ml_per_h)},
    )
    touch(session, actor, row, "session.order")
    return row


# --- the pump ------------------------------------------------------------------------------------


def start(session: Session, *, actor: Actor, row: InfusionSession) -> InfusionSession:
    """Start the pump at the ordered rate; never by the nurse who did the second check."""
    return move(
        session,
        actor,
        row,
        Move.START,
        _context(row, actor=actor),
        rate_mg_per_h=row.order_rate_mg_per_h,
    )


def change_rate(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    rate_mg_per_h: Decimal | None = None,
    rate_ml_per_h: Decimal | None = None,
    reason: str | None,
) -> InfusionSession:
    """A new pump rate given in one unit (the other follows from the order's concentration),
    judged against the protocol version's mg/h limits and against its total limit for what has
    been given plus the new rate for the rest of the planned running time: above a hard limit is
    refused; above a soft one needs a reason. Never clamped or rounded."""
    if State(row.state) is not State.INFUSING:
        allowed = ", ".join(allowed_moves(row.state)) or "none (final state)"
        raise Conflict(
            f"cannot change the rate from {row.state}; allowed: {allowed}", loc=("move",)
        )
    plan = row.order_plan
    assert plan is not None  # infusing means ordered
    new = pump.setting(
        ml_per_h=rate_ml_per_h,
        mg_per_h=rate_mg_per_h,
        concentration_mg_per_ml=Decimal(str(plan["concentration_mg_per_ml"])),
        resolution_ml_per_h=Decimal(str(plan["pump_resolution_ml_per_h"])),
    )
    protocol = protocol_of(session, row)
    entered = "ml_per_h" if rate_ml_per_h is not None else "mg_per_h"
    try:
        pump.judge_rate(
            new.mg_per_h,
            so_far(row),
            rate_limit=protocol.rate_limit_mg_per_h,
            total_limit=protocol.total_limit_mg,
            reason=reason,
        )
    except DoseOutOfRange as error:
        if error.loc == ("body", "rate_mg_per_h"):
            error.loc = ("body", f"rate_{entered}")  # the box the nurse typed in
        raise
    event(
        row,
        actor,
        "rate",
        rate_mg_per_h=new.mg_per_h,
        reason=reason or None,
        data={"pump_rate_ml_per_h": str(new.ml_per_h), "entered_as": entered},
    )
    touch(session, actor, row, "session.rate")
    return row


def pause(session: Session, *, actor: Actor, row: InfusionSession, reason: str) -> InfusionSession:
    return move(session, actor, row, Move.PAUSE, _context(row, reason))


def resume(session: Session, *, actor: Actor, row: InfusionSession, reason: str) -> InfusionSession:
    """Resume after a pause, saying why it is safe to go on."""
    return move(session, actor, row, Move.RESUME, _context(row, reason))


def stop(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    category: str | None = None,
    note: str | None = None,
) -> InfusionSession:
    """Stop the pump; observation starts now. Before the planned end with the ordered dose not
    all given, the stop needs a reason category (and words for ``other``), kept on the event."""
    transition(row.state, Move.STOP, _context(row))  # a stop from the wrong state: 409 first
    early = stop_is_early(row)
    reason = None if category is None else pump.StopReason(category)
    problem = pump.stop_reason_problem(early, reason, note)
    if problem is not None:
        raise InvalidInput(problem[1], loc=("body", problem[0]))
    given = delivered(row)
    assert given is not None and row.order_plan is not None  # stop follows a start
    ordered = Decimal(str(row.order_plan["total_mg"]))
    data = pump.stop_record(early, reason, given.total_mg, ordered)
    return move(session, actor, row, Move.STOP, _context(row, note or None), data=data)


def abort(session: Session, *, actor: Actor, row: InfusionSession, reason: str) -> InfusionSession:
    """End the session where it stands; its chair is free again after the turnover."""
    moved = move(session, actor, row, Move.ABORT, _context(row, reason))
    scheduling.release_on_abort(session, row=row, at=clock.now())
    session.flush()
    return moved


def cancel(session: Session, *, actor: Actor, row: InfusionSession, reason: str) -> InfusionSession:
    """Cancel a session that has not started (the patient or the clinic called it off)."""
    if not reason.strip():
        raise InvalidInput("a cancellation needs a reason", loc=("body", "reason"))
    return move(session, actor, row, Move.CANCEL, _context(row, reason))


def mark_no_show(session: Session, *, actor: Actor, row: InfusionSession) -> InfusionSession:
    return move(session, actor, row, Move.MARK_NO_SHOW, _context(row))


def require_version(row: InfusionSession, version: int | None) -> None:
    """A stale ``version`` from the client is a conflict (someone else moved the session, or
    changed its order or dose). Observations do not ask: they never conflict."""
    if version is not None and version != row.version_id:
        raise Conflict(
            f"the session is at version {row.version_id}, not {version}; reload it and try again",
            loc=("body", "version"),
        )


# --- helpers --------------------------------------------------------------------------------------


def _context(
    row: InfusionSession, reason: str | None = None, *, actor: Actor | None = None
) -> GuardContext:
    verifier = row.verified_by_user_id
    return GuardContext(
        order_signed=row.order_signed_by_user_id is not None,
        second_nurse_verified=verifier is not None,
        starter_is_not_verifier=actor is not None and actor.user_id != verifier,
        no_bp_block=not open_blocks(row),
        reason=reason,
    )
