"""Appointment-book JSON routes: the clinic's chairs, hours, closures and policy (kept by an
admin), free starts, and booking, moving and cancelling sessions (the front desk with the
clinicians). A refused booking answers 409 (the chair is held) or 422 (outside the opening hours),
each naming ``scheduled_at`` and carrying ``alternatives``: the next free starts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.errors import NotFound
from ketaclinic.infusions import service as sessions
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.schemas import ScheduleIn
from ketaclinic.protocols import service as protocols
from ketaclinic.scheduling import core, service
from ketaclinic.scheduling.models import Chair, Closure
from ketaclinic.scheduling.schemas import (
    BookingOut,
    CancelIn,
    ChairIn,
    ChairOut,
    ClosureIn,
    ClosureOut,
    FreeStartOut,
    HoursIn,
    HoursInterval,
    HoursOut,
    PolicyIn,
    PolicyOut,
    RescheduleIn,
)
from ketaclinic.web.fields import ClinicInstant
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import MAX_ID, RecordId

router = APIRouter(
    prefix="/api/v1/scheduling", tags=["appointment book"], route_class=ExactJsonRoute
)

Reader = Annotated[Actor, Depends(require(Permission.SCHEDULE_READ))]
Booker = Annotated[Actor, Depends(require(Permission.SCHEDULE_BOOK))]
Keeper = Annotated[Actor, Depends(require(Permission.SCHEDULE_MANAGE))]
#: Free starts are sought this far ahead at most.
FREE_START_DAYS = 31


def _clinic(actor: Actor) -> int:
    assert actor.clinic_id is not None  # every staff role belongs to a clinic
    return actor.clinic_id


def chair_out(chair: Chair) -> ChairOut:
    return ChairOut(
        id=chair.id,
        name=chair.name,
        room=chair.room,
        active=chair.active,
        display_order=chair.display_order,
    )


@router.get("/chairs", response_model=list[ChairOut])
def list_chairs(actor: Reader, session: SessionDep) -> list[ChairOut]:
    """The clinic's chairs in board order, retired ones included (``active`` false)."""
    with session.begin():
        return [chair_out(c) for c in service.list_chairs(session, clinic_id=_clinic(actor))]


@router.post("/chairs", response_model=ChairOut, status_code=201)
def create_chair(data: ChairIn, actor: Keeper, session: SessionDep) -> ChairOut:
    with session.begin():
        chair = service.create_chair(
            session,
            clinic_id=_clinic(actor),
            name=data.name,
            room=data.room,
            active=data.active,
            display_order=data.display_order,
        )
        return chair_out(chair)


@router.put("/chairs/{chair_id}", response_model=ChairOut)
def update_chair(chair_id: RecordId, data: ChairIn, actor: Keeper, session: SessionDep) -> ChairOut:
    """Rename, move (``display_order``) or retire (``active`` false) a chair."""
    with session.begin():
        chair = service.get_chair(session, clinic_id=_clinic(actor), chair_id=chair_id)
        if chair is None:
            raise NotFound(f"no chair {chair_id} in your clinic", loc=("path", "chair_id"))
        service.update_chair(
            session,
            chair=chair,
            name=data.name,
            room=data.room,
            active=data.active,
            display_order=chair.display_order if data.display_order is None else data.display_order,
        )
        return chair_out(chair)


def _hours_out(session: Session, clinic_id: int, zone: str) -> HoursOut:
    week = service.hours(session, clinic_id=clinic_id)
    return HoursOut(
        timezone=zone,
        set=bool(week),
        intervals=[
            HoursInterval(
                weekday=h.weekday,
                opens=core.clock_text(h.opens_min),
                closes=core.clock_text(h.closes_min),
            )
            for h in week
        ],
    )


@router.get("/hours", response_model=HoursOut)
def read_hours(actor: Reader, session: SessionDep, settings: SettingsDep) -> HoursOut:
    """The weekly opening hours in the clinic's local time (``timezone``)."""
    with session.begin():
        return _hours_out(session, _clinic(actor), settings.clinic_timezone)


@router.put("/hours", response_model=HoursOut)
def set_hours(data: HoursIn, actor: Keeper, session: SessionDep, settings: SettingsDep) -> HoursOut:
    """Replace the week's opening hours; an empty list takes bookings at any time."""
    with session.begin():
        week = [i.as_core() for i in data.intervals]
        service.set_hours(session, clinic_id=_clinic(actor), week=week)
        return _hours_out(session, _clinic(actor), settings.clinic_timezone)


def _closure_out(c: Closure) -> ClosureOut:
    return ClosureOut(id=c.id, first_date=c.first_date, last_date=c.last_date, reason=c.reason)


@router.get("/closures", response_model=list[ClosureOut])
def list_closures(actor: Reader, session: SessionDep, settings: SettingsDep) -> list[ClosureOut]:
    """Closed days from today on."""
    with session.begin():
        today = clock.today(settings.timezone)
        rows = service.list_closures(session, clinic_id=_clinic(actor), since=today)
        return [_closure_out(c) for c in rows]


@router.post("/closures", response_model=ClosureOut, status_code=201)
def add_closure(data: ClosureIn, actor: Keeper, session: SessionDep) -> ClosureOut:
    """Close the clinic on these days; bookings already on them stay for the clinic to move."""
    with session.begin():
        closure = service.add_closure(
            session,
            actor=actor,
            first=data.first_date,
            last=data.last_date or data.first_date,
            reason=data.reason,
        )
        return _closure_out(closure)


@router.delete("/closures/{closure_id}", status_code=204)
def remove_closure(closure_id: RecordId, actor: Keeper, session: SessionDep) -> None:
    with session.begin():
        if not service.remove_closure(session, clinic_id=_clinic(actor), closure_id=closure_id):
            raise NotFound(f"no closure {closure_id} in your clinic", loc=("path", "closure_id"))


@router.get("/policy", response_model=PolicyOut)
def read_policy(actor: Reader, session: SessionDep) -> PolicyOut:
    with session.begin():
        pol = service.policy(session, clinic_id=_clinic(actor))
        return PolicyOut(
            turnover_min=pol.turnover_min, max_concurrent_bookings=pol.max_concurrent_bookings
        )


@router.put("/policy", response_model=PolicyOut)
def set_policy(data: PolicyIn, actor: Keeper, session: SessionDep) -> PolicyOut:
    """Turnover minutes (default 15) and the optional cap on bookings at the same moment."""
    with session.begin():
        pol = service.set_policy(
            session, actor=actor, new=core.Policy(data.turnover_min, data.max_concurrent_bookings)
        )
        return PolicyOut(
            turnover_min=pol.turnover_min, max_concurrent_bookings=pol.max_concurrent_bookings
        )


@router.get("/free-starts", response_model=list[FreeStartOut])
def free_starts(
    actor: Booker,
    session: SessionDep,
    settings: SettingsDep,
    protocol_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    after: Annotated[ClinicInstant | None, Query()] = None,
    chair_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> list[FreeStartOut]:
    """The next starts (from ``after``, default now) at which the protocol's visit fits: on one
    chair, or on any active chair, earliest first."""
    with session.begin():
        clinic_id = _clinic(actor)
        protocol = protocols.get(session, clinic_id=clinic_id, protocol_id=protocol_id)
        if protocol is None:
            raise NotFound(f"no protocol {protocol_id}", loc=("query", "protocol_id"))
        if chair_id is None:
            chairs = service.list_chairs(session, clinic_id=clinic_id, active_only=True)
        else:
            chair = service.get_chair(session, clinic_id=clinic_id, chair_id=chair_id)
            if chair is None:
                raise NotFound(f"no chair {chair_id} in your clinic", loc=("query", "chair_id"))
            chairs = [chair]
        start = max(after or clock.now(), clock.now())
        window = core.Interval(start, start + timedelta(days=FREE_START_DAYS))
        found: list[FreeStartOut] = []
        for c in chairs:
            for at in service.free_starts(
                session,
                clinic_id=clinic_id,
                chair_id=c.id,
                window=window,
                visit_min=service.visit_minutes(protocol),
                zone=settings.timezone,
                limit=limit,
            ):
                found.append(FreeStartOut(chair_id=c.id, chair=c.name, start=at))
        found.sort(key=lambda f: (f.start, f.chair_id))
        return found[:limit]


def booking_out(session: Session, row: InfusionSession) -> BookingOut:
    protocol = protocols.get(session, clinic_id=row.clinic_id, protocol_id=row.protocol_version_id)
    assert protocol is not None  # a foreign key
    return BookingOut(
        id=row.id,
        version=row.version_id,
        patient_id=row.patient_id,
        protocol_id=row.protocol_version_id,
        protocol=f"{protocol.name} v{protocol.version}",
        course_id=row.course_id,
        state=row.state,
        scheduled_at=row.scheduled_at,
        chair_id=row.chair_id,
        chair=row.chair.name,
        chair_held_until=row.chair_held_until,
    )


@router.post("/bookings", response_model=BookingOut, status_code=201)
def book(data: ScheduleIn, actor: Booker, session: SessionDep, settings: SettingsDep) -> BookingOut:
    """Book a session: on ``chair_id`` (or the chair named ``chair``), or on the first free
    active chair when neither is given."""
    with session.begin():
        row = sessions.schedule(session, actor=actor, data=data, zone=settings.timezone)
        return booking_out(session, row)


def _booking(
    session: Session, actor: Actor, session_id: int, version: int | None
) -> InfusionSession:
    row = sessions.get(session, actor=actor, session_id=session_id, lock=True)
    if row is None:
        raise NotFound(f"no session {session_id} in your clinic", loc=("path", "session_id"))
    sessions.require_version(row, version)
    return row


@router.get("/bookings/{session_id}", response_model=BookingOut)
def read_booking(session_id: RecordId, actor: Booker, session: SessionDep) -> BookingOut:
    with session.begin():
        row = sessions.get(session, actor=actor, session_id=session_id)
        if row is None:
            raise NotFound(f"no session {session_id} in your clinic", loc=("path", "session_id"))
        return booking_out(session, row)


@router.post("/bookings/{session_id}/reschedule", response_model=BookingOut)
def reschedule(
    session_id: RecordId,
    data: RescheduleIn,
    actor: Booker,
    session: SessionDep,
    settings: SettingsDep,
) -> BookingOut:
    """Move a scheduled session to another time and/or chair, refused as a booking is."""
    with session.begin():
        row = _booking(session, actor, session_id, data.version)
        sessions.reschedule(
            session,
            actor=actor,
            row=row,
            scheduled_at=data.scheduled_at,
            chair_id=data.chair_id,
            zone=settings.timezone,
        )
        return booking_out(session, row)


@router.post("/bookings/{session_id}/cancel", response_model=BookingOut)
def cancel(session_id: RecordId, data: CancelIn, actor: Booker, session: SessionDep) -> BookingOut:
    """Cancel a scheduled session with the reason; the chair is free again at once."""
    with session.begin():
        row = _booking(session, actor, session_id, data.version)
        sessions.cancel(session, actor=actor, row=row, reason=data.reason)
        return booking_out(session, row)
