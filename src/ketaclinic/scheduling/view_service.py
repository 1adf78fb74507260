"""What the day and week views read: the clinic's chairs, opening hours, closures and the bookings
holding a chair in the window, turned into ``grid`` data.

Who sees what: a reader with ``patient.read`` (the clinicians and the front desk, who book) sees
patient names on the day view, and each booking shown with a name is audited as a read of that
patient's session; an admin (``schedule.read`` only) sees the blocks without names. The week view
is for planning and shows no names at all, so it reads no patient record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.audit import service as audit
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import core, grid, service

#: The next-free-slot search looks this far ahead.
FIND_DAYS = 31
FIND_LIMIT = 8


def sees_names(actor: Actor) -> bool:
    return actor.role is not None and may(actor.role, Permission.PATIENT_READ)


def sees_protocols(actor: Actor) -> bool:
    role = actor.role
    return role is not None and (
        may(role, Permission.PROTOCOL_READ) or may(role, Permission.SCHEDULE_BOOK)
    )


def _clinic(actor: Actor) -> int:
    assert actor.clinic_id is not None
    return actor.clinic_id


@dataclass(frozen=True)
class _ProtocolFacts:
    label: str
    visit_min: int


def _protocols(session: Session, ids: set[int]) -> dict[int, _ProtocolFacts]:
    if not ids:
        return {}
    rows = session.scalars(select(ProtocolVersion).where(ProtocolVersion.id.in_(ids)))
    return {p.id: _ProtocolFacts(f"{p.name} v{p.version}", service.visit_minutes(p)) for p in rows}


def longest_hold(session: Session, clinic_id: int) -> timedelta:
    """No booking of the clinic holds its chair longer than this: the longest visit any of its
    protocol versions allows (maximum duration and observation) plus the longest turnover a
    policy may set. A booking's hold is its default duration's visit plus the turnover in force,
    and a move or an abort only shortens it."""
    rows = session.scalars(select(ProtocolVersion).where(ProtocolVersion.clinic_id == clinic_id))
    longest = max(
        (
            core.visit_minutes(d.max_duration_min, d.observation_min)
            for d in (protocols.definition(p) for p in rows)
        ),
        default=0,
    )
    return timedelta(minutes=longest + core.MAX_TURNOVER_MIN)


def bookings_in(
    session: Session, *, actor: Actor, window: core.Interval, names: bool
) -> list[grid.GridBooking]:
    """Every booking holding a chair of the actor's clinic during ``window``, as grid data."""
    columns = [
        InfusionSession.id,
        InfusionSession.chair_id,
        InfusionSession.scheduled_at,
        InfusionSession.chair_held_until,
        InfusionSession.state,
        InfusionSession.protocol_version_id,
        InfusionSession.course_id,
        InfusionSession.patient_id,
    ]
    query = select(*columns, Patient.given_name, Patient.family_name).join(
        Patient, Patient.id == InfusionSession.patient_id
    )
    if not names:
        query = select(*columns)
    clinic_id = _clinic(actor)
    rows = session.execute(
        query.where(
            InfusionSession.clinic_id == clinic_id,
            InfusionSession.state.not_in(service.NOT_HOLDING),
            # A lower bound too, so that the (clinic_id, scheduled_at) index reads the window
            # and not every earlier booking of the clinic.
            InfusionSession.scheduled_at > window.start - longest_hold(session, clinic_id),
            InfusionSession.scheduled_at < window.end,
            InfusionSession.chair_held_until > window.start,
        ).order_by(InfusionSession.scheduled_at, InfusionSession.id)
    ).all()
    facts = _protocols(session, {r.protocol_version_id for r in rows})
    shows_protocol = sees_protocols(actor)
    result = []
    for r in rows:
        protocol = facts[r.protocol_version_id]
        visit_end = r.scheduled_at + timedelta(minutes=protocol.visit_min)
        if names:
            audit.record(
                session,
                actor=actor,
                action="session.book_view",
                patient_id=r.patient_id,
                detail=f"session_id={r.id}",
            )
        result.append(
            grid.GridBooking(
                session_id=r.id,
                chair_id=r.chair_id,
                start=r.scheduled_at,
                visit_end=min(visit_end, r.chair_held_until),
                hold_end=r.chair_held_until,
                state=r.state,
                patient=f"{r.family_name}, {r.given_name}" if names else None,
                protocol=protocol.label if shows_protocol else None,
                course_id=r.course_id,
            )
        )
    return result


def _opening(
    session: Session, clinic_id: int, zone: ZoneInfo, window: core.Interval
) -> list[core.Interval]:
    found = service.opening(session, clinic_id=clinic_id, zone=zone, window=window)
    return [window] if found is None else found


def _closed_reason(session: Session, clinic_id: int, day: date) -> str | None:
    closure = service.closure_on(session, clinic_id=clinic_id, day=day)
    return None if closure is None else closure.reason


def _active_or_booked(
    chairs: Sequence[tuple[int, str]],
    active: set[int],
    bookings: Sequence[grid.GridBooking],
) -> list[tuple[int, str]]:
    """Active chairs, and retired ones only where something is still booked on them."""
    booked = {b.chair_id for b in bookings}
    return [(cid, name) for cid, name in chairs if cid in active or cid in booked]


def day_view(session: Session, *, actor: Actor, day: date, zone: ZoneInfo) -> grid.DayGrid:
    clinic_id = _clinic(actor)
    whole = grid.local_day(day, zone)
    bookings = bookings_in(session, actor=actor, window=whole, names=sees_names(actor))
    chairs = service.list_chairs(session, clinic_id=clinic_id)
    found = service.opening(session, clinic_id=clinic_id, zone=zone, window=whole)
    # A clinic without hours books at any time: nothing is shaded, and the axis follows the
    # bookings (or a plain working day).
    axis = grid.axis_for(day, zone, [], bookings) if found is None else None
    return grid.day_grid(
        day=day,
        zone=zone,
        chairs=_active_or_booked(
            [(c.id, c.name) for c in chairs], {c.id for c in chairs if c.active}, bookings
        ),
        opening=[whole] if found is None else found,
        bookings=bookings,
        closed_reason=_closed_reason(session, clinic_id, day),
        axis=axis,
    )


def week_view(
    session: Session, *, actor: Actor, monday: date, zone: ZoneInfo
) -> list[grid.DayGrid]:
    """Seven day grids on one shared clock span, without patient names."""
    clinic_id = _clinic(actor)
    days = grid.week_days(monday)
    window = core.Interval(grid.local_day(days[0], zone).start, grid.local_day(days[-1], zone).end)
    bookings = bookings_in(session, actor=actor, window=window, names=False)
    opening = _opening(session, clinic_id, zone, window)
    has_hours = service.hours(session, clinic_id=clinic_id) != []
    first, last = grid.week_clock_span(zone, opening if has_hours else [])
    chairs = service.list_chairs(session, clinic_id=clinic_id)
    columns = _active_or_booked(
        [(c.id, c.name) for c in chairs], {c.id for c in chairs if c.active}, bookings
    )
    grids = []
    for day in days:
        whole = grid.local_day(day, zone)
        grids.append(
            grid.day_grid(
                day=day,
                zone=zone,
                chairs=columns,
                opening=[
                    core.Interval(max(o.start, whole.start), min(o.end, whole.end))
                    for o in opening
                    if o.overlaps(whole)
                ],
                bookings=[b for b in bookings if b.start < whole.end and b.hold_end > whole.start],
                closed_reason=_closed_reason(session, clinic_id, day),
                axis=grid.axis_between(day, zone, first, last),
            )
        )
    return grids


@dataclass(frozen=True)
class FreeSlot:
    chair_id: int
    chair: str
    start: datetime


def next_free(
    session: Session,
    *,
    actor: Actor,
    protocol: ProtocolVersion,
    after: datetime,
    zone: ZoneInfo,
    limit: int = FIND_LIMIT,
) -> list[FreeSlot]:
    """The earliest starts from ``after`` at which the protocol's visit fits on some active
    chair (the core's ``free_starts`` per chair, merged earliest first)."""
    clinic_id = _clinic(actor)
    window = core.Interval(after, after + timedelta(days=FIND_DAYS))
    visit_min = service.visit_minutes(protocol)
    found: list[FreeSlot] = []
    for chair in service.list_chairs(session, clinic_id=clinic_id, active_only=True):
        for start in service.free_starts(
            session,
            clinic_id=clinic_id,
            chair_id=chair.id,
            window=window,
            visit_min=visit_min,
            zone=zone,
            limit=limit,
        ):
            found.append(FreeSlot(chair.id, chair.name, start))
    found.sort(key=lambda f: (f.start, f.chair_id))
    return found[:limit]


def bookable_protocols(session: Session, *, actor: Actor) -> Sequence[ProtocolVersion]:
    return protocols.list_current(session, clinic_id=_clinic(actor))
