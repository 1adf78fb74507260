"""Appointment-book use-cases: the clinic's chairs, hours, closures and policy, and where a booking
may go.

``place`` is what every booking and reschedule calls (``infusions.service``): it locks the chair
row first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's one writer, since every transaction
begins IMMEDIATE), so two people booking the last free slot of a chair queue and the second sees
the first's booking. When the clinic caps concurrent bookings, the policy row is locked as well
(that cap is clinic-wide by nature). ``free_starts`` and ``occupancy`` are what a day or week view
and series placement read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.errors import InvalidInput, NotFound, OutsideHours, SlotTaken
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import core
from ketaclinic.scheduling.models import BookingPolicy, Chair, Closure, OpeningHours

#: Cancelled and no-show sessions free their chair; every other state holds it (an aborted one
#: until the abort plus the turnover, see ``release_on_abort``).
NOT_HOLDING = ("cancelled", "no_show")
#: How far ahead alternatives are sought when a booking is refused.
SEARCH_DAYS = 14
#: Alternatives offered: on the chair asked for, and on the other chairs together.
SAME_CHAIR_OFFERS = 3
OTHER_CHAIR_OFFERS = 3
#: A new clinic starts with these chairs (an admin renames, adds or retires them).
STARTER_CHAIRS = ("Chair 1", "Chair 2", "Chair 3", "Chair 4")


# --- chairs ---------------------------------------------------------------------------------------


def list_chairs(session: Session, *, clinic_id: int, active_only: bool = False) -> list[Chair]:
    """The clinic's chairs in its display order (the room's layout)."""
    query = select(Chair).where(Chair.clinic_id == clinic_id)
    if active_only:
        query = query.where(Chair.active.is_(True))
    return list(session.scalars(query.order_by(Chair.display_order, Chair.name, Chair.id)))


def get_chair(session: Session, *, clinic_id: int, chair_id: int) -> Chair | None:
    chair = session.get(Chair, chair_id)
    return chair if chair is not None and chair.clinic_id == clinic_id else None


def chair_by_name(session: Session, *, clinic_id: int, name: str) -> Chair | None:
    return session.scalar(select(Chair).where(Chair.clinic_id == clinic_id, Chair.name == name))


def create_chair(
    session: Session,
    *,
    clinic_id: int,
    name: str,
    room: str | None = None,
    active: bool = True,
    display_order: int | None = None,
) -> Chair:
    """A new chair; a name already used in the clinic is refused (the board names chairs)."""
    if chair_by_name(session, clinic_id=clinic_id, name=name) is not None:
        raise InvalidInput(f"the clinic already has a chair named {name!r}", loc=("body", "name"))
    if display_order is None:
        last = session.scalar(
            select(func.max(Chair.display_order)).where(Chair.clinic_id == clinic_id)
        )
        display_order = (last or 0) + 1
    chair = Chair(
        clinic_id=clinic_id,
        name=name,
        room=room or None,
        active=active,
        display_order=display_order,
        created_at=clock.now(),
    )
    session.add(chair)
    session.flush()
    return chair


def update_chair(
    session: Session,
    *,
    chair: Chair,
    name: str,
    room: str | None,
    active: bool,
    display_order: int,
) -> Chair:
    """Rename, move or retire a chair. A retired chair keeps its bookings for the clinic to move."""
    other = chair_by_name(session, clinic_id=chair.clinic_id, name=name)
    if other is not None and other.id != chair.id:
        raise InvalidInput(f"the clinic already has a chair named {name!r}", loc=("body", "name"))
    chair.name, chair.room, chair.active, chair.display_order = (
        name,
        room or None,
        active,
        display_order,
    )
    session.flush()
    return chair


def seed_chairs(session: Session, *, clinic_id: int) -> None:
    """A new clinic's starter chairs, so that it can book on day one."""
    for name in STARTER_CHAIRS:
        create_chair(session, clinic_id=clinic_id, name=name)


def ensure_chair(session: Session, *, clinic_id: int, name: str) -> Chair:
    """The chair of this name, created (active, last in order) when the clinic has none: for the
    demo and for tests that set a clinic up."""
    found = chair_by_name(session, clinic_id=clinic_id, name=name)
    return found if found is not None else create_chair(session, clinic_id=clinic_id, name=name)


def lock_chair(session: Session, chair_id: int) -> Chair:
    """The chair's row, held until the transaction ends: every booking of this chair waits here."""
    chair = session.get(Chair, chair_id, with_for_update=True, populate_existing=True)
    assert chair is not None
    return chair


# --- hours, closures, policy ----------------------------------------------------------------------


def hours(session: Session, *, clinic_id: int) -> list[core.DailyHours]:
    rows = session.scalars(
        select(OpeningHours)
        .where(OpeningHours.clinic_id == clinic_id)
        .order_by(OpeningHours.weekday, OpeningHours.opens_min)
    )
    return [core.DailyHours(r.weekday, r.opens_min, r.closes_min) for r in rows]


#: Why an empty week is refused (page and API alike).
NO_HOURS = (
    "give the hours of at least one day: a clinic with no hours set takes bookings at any time; "
    "use closures for days the clinic is shut"
)


def set_hours(session: Session, *, clinic_id: int, week: Sequence[core.DailyHours]) -> None:
    """Replace the clinic's weekly hours. Existing bookings stay; new ones follow the new hours.

    A week with no interval is refused: a clinic without hours takes bookings at any time, so an
    admin who cleared every day meaning "closed" would open the book around the clock."""
    if not week:
        raise InvalidInput(NO_HOURS, loc=("body", "intervals"))
    problem = core.hours_problem(week)
    if problem is not None:
        index, message = problem
        raise InvalidInput(message, loc=("body", "intervals", index))
    session.execute(delete(OpeningHours).where(OpeningHours.clinic_id == clinic_id))
    for h in week:
        session.add(
            OpeningHours(
                clinic_id=clinic_id,
                weekday=h.weekday,
                opens_min=h.opens_min,
                closes_min=h.closes_min,
            )
        )
    session.flush()


def list_closures(session: Session, *, clinic_id: int, since: date | None = None) -> list[Closure]:
    query = select(Closure).where(Closure.clinic_id == clinic_id)
    if since is not None:
        query = query.where(Closure.last_date >= since)
    return list(session.scalars(query.order_by(Closure.first_date, Closure.id)))


def add_closure(session: Session, *, actor: Actor, first: date, last: date, reason: str) -> Closure:
    if last < first:
        raise InvalidInput("the last closed day is before the first", loc=("body", "last_date"))
    if not reason.strip():
        raise InvalidInput("say why the clinic is closed", loc=("body", "reason"))
    assert actor.clinic_id is not None
    closure = Closure(
        clinic_id=actor.clinic_id,
        first_date=first,
        last_date=last,
        reason=reason.strip(),
        created_at=clock.now(),
        created_by_user_id=actor.user_id,
    )
    session.add(closure)
    session.flush()
    return closure


def remove_closure(session: Session, *, clinic_id: int, closure_id: int) -> bool:
    closure = session.get(Closure, closure_id)
    if closure is None or closure.clinic_id != clinic_id:
        return False
    session.delete(closure)
    session.flush()
    return True


def policy(session: Session, *, clinic_id: int, lock: bool = False) -> core.Policy:
    row = session.get(BookingPolicy, clinic_id, with_for_update=True if lock else None)
    if row is None:
        return core.Policy()
    return core.Policy(row.turnover_min, row.max_concurrent_bookings)


def set_policy(session: Session, *, actor: Actor, new: core.Policy) -> core.Policy:
    problem = core.policy_problem(new)
    if problem is not None:
        raise InvalidInput(problem[1], loc=("body", problem[0]))
    assert actor.clinic_id is not None
    row = session.get(BookingPolicy, actor.clinic_id, with_for_update=True)
    if row is None:
        row = BookingPolicy(clinic_id=actor.clinic_id)
        session.add(row)
    row.turnover_min = new.turnover_min
    row.max_concurrent_bookings = new.max_concurrent_bookings
    row.updated_at = clock.now()
    row.updated_by_user_id = actor.user_id
    session.flush()
    return new


def opening(
    session: Session, *, clinic_id: int, zone: ZoneInfo, window: core.Interval
) -> list[core.Interval] | None:
    """When the clinic is open within ``window``; ``None`` when it has set no hours at all (a
    clinic that has not set them books at any time, as before the appointment book)."""
    week = hours(session, clinic_id=clinic_id)
    if not week:
        return None
    days = window.start.astimezone(zone).date() - timedelta(days=1)
    closed = [
        core.ClosedDays(c.first_date, c.last_date, c.reason)
        for c in list_closures(session, clinic_id=clinic_id, since=days)
    ]
    return core.open_intervals(week, closed, zone, window)


def closure_on(session: Session, *, clinic_id: int, day: date) -> Closure | None:
    return session.scalar(
        select(Closure).where(
            Closure.clinic_id == clinic_id, Closure.first_date <= day, Closure.last_date >= day
        )
    )


# --- occupancy ------------------------------------------------------------------------------------


def visit_minutes(protocol: ProtocolVersion) -> int:
    """How long a booking of this protocol version keeps the patient: its default duration and
    its observation time (at least 60 min)."""
    definition = protocols.definition(protocol)
    return core.visit_minutes(definition.default_duration_min, definition.observation_min)


def occupancy(
    session: Session,
    *,
    clinic_id: int,
    window: core.Interval,
    chair_ids: Sequence[int] | None = None,
    exclude_session_id: int | None = None,
) -> list[core.Booked]:
    """Every booking holding a chair of the clinic at some moment of ``window``."""
    query = select(
        InfusionSession.id,
        InfusionSession.chair_id,
        InfusionSession.scheduled_at,
        InfusionSession.chair_held_until,
    ).where(
        InfusionSession.clinic_id == clinic_id,
        InfusionSession.state.not_in(NOT_HOLDING),
        InfusionSession.scheduled_at < window.end,
        InfusionSession.chair_held_until > window.start,
    )
    if chair_ids is not None:
        query = query.where(InfusionSession.chair_id.in_(chair_ids))
    if exclude_session_id is not None:
        query = query.where(InfusionSession.id != exclude_session_id)
    return [
        core.Booked(sid, chair_id, core.Interval(start, max(start, until)))
        for sid, chair_id, start, until in session.execute(
            query.order_by(InfusionSession.scheduled_at)
        )
    ]


def free_starts(
    session: Session,
    *,
    clinic_id: int,
    chair_id: int,
    window: core.Interval,
    visit_min: int,
    zone: ZoneInfo,
    limit: int = 5,
    exclude_session_id: int | None = None,
) -> list[datetime]:
    """Starts within ``window`` at which a visit of ``visit_min`` fits on the chair, earliest
    first: inside the opening hours and clear of every other booking's hold."""
    turnover = policy(session, clinic_id=clinic_id).turnover_min
    horizon = core.Interval(window.start, window.end + timedelta(minutes=visit_min + turnover))
    open_ = opening(session, clinic_id=clinic_id, zone=zone, window=horizon)
    if open_ is None:
        open_ = [horizon]
    busy = [
        b.hold
        for b in occupancy(
            session,
            clinic_id=clinic_id,
            window=horizon,
            chair_ids=[chair_id],
            exclude_session_id=exclude_session_id,
        )
    ]
    starts = core.free_starts(
        visit_min=visit_min,
        turnover_min=turnover,
        opening=open_,
        busy=busy,
        after=window.start,
        limit=limit,
    )
    return [s for s in starts if s < window.end]


@dataclass(frozen=True)
class Placement:
    chair: Chair
    held_until: datetime


def place(
    session: Session,
    *,
    clinic_id: int,
    chair: Chair | None,
    start: datetime,
    visit_min: int,
    zone: ZoneInfo,
    exclude_session_id: int | None = None,
) -> Placement:
    """Where a booking at ``start`` goes, with its chair locked for the rest of the transaction.

    ``chair`` ``None`` takes the first free active chair in the clinic's order. Refused with the
    next free starts: outside the opening hours or on a closed day (``OutsideHours``, 422), or
    when the chair's hold collides with another booking or the clinic's concurrency cap
    (``SlotTaken``, 409, naming the session by number and time, never the patient).
    """
    pol = policy(session, clinic_id=clinic_id)
    visit = core.visit_for(start, visit_min)
    hold = core.hold_for(start, visit_min, pol.turnover_min)
    _require_open(session, clinic_id, chair, visit, visit_min, zone, exclude_session_id)
    if chair is None:
        chair = _first_free_chair(session, clinic_id, hold, visit_min, zone, exclude_session_id)
    elif not chair.active:
        raise InvalidInput(
            f"{chair.name} is retired; choose an active chair", loc=("body", "chair_id")
        )
    lock_chair(session, chair.id)
    taken = core.conflicts(
        hold,
        occupancy(
            session,
            clinic_id=clinic_id,
            window=hold,
            chair_ids=[chair.id],
            exclude_session_id=exclude_session_id,
        ),
    )
    if taken:
        first = taken[0]
        raise SlotTaken(
            f"{chair.name} is held by session #{first.session_id} from "
            f"{_clock(first.hold.start, zone)} to {_clock(first.hold.end, zone)} "
            f"(the visit and {pol.turnover_min} min turnover)",
            loc=("body", "scheduled_at"),
            alternatives=alternatives(
                session,
                clinic_id=clinic_id,
                chair=chair,
                after=start,
                visit_min=visit_min,
                zone=zone,
                exclude_session_id=exclude_session_id,
            ),
        )
    _require_under_cap(
        session, clinic_id, pol, chair, hold, start, visit_min, zone, exclude_session_id
    )
    return Placement(chair, hold.end)


def _require_open(
    session: Session,
    clinic_id: int,
    chair: Chair | None,
    visit: core.Interval,
    visit_min: int,
    zone: ZoneInfo,
    exclude_session_id: int | None,
) -> None:
    open_ = opening(session, clinic_id=clinic_id, zone=zone, window=_day_around(visit, zone))
    if open_ is None or core.inside_hours(visit, open_):
        return
    day = visit.start.astimezone(zone).date()
    closure = closure_on(session, clinic_id=clinic_id, day=day)
    if closure is not None:
        why = f"the clinic is closed on {day:%Y-%m-%d} ({closure.reason})"
    else:
        why = (
            f"a {visit_min}-minute visit (infusion and observation) from "
            f"{_clock(visit.start, zone)} to {_clock(visit.end, zone)} is outside the opening hours"
        )
    offers = []
    if chair is not None or (chairs := list_chairs(session, clinic_id=clinic_id, active_only=True)):
        base = chair if chair is not None else chairs[0]
        offers = alternatives(
            session,
            clinic_id=clinic_id,
            chair=base,
            after=visit.start,
            visit_min=visit_min,
            zone=zone,
            exclude_session_id=exclude_session_id,
        )
    raise OutsideHours(why, loc=("body", "scheduled_at"), alternatives=offers)


def _first_free_chair(
    session: Session,
    clinic_id: int,
    hold: core.Interval,
    visit_min: int,
    zone: ZoneInfo,
    exclude_session_id: int | None,
) -> Chair:
    chairs = list_chairs(session, clinic_id=clinic_id, active_only=True)
    if not chairs:
        raise InvalidInput(
            "the clinic has no active chair; an admin adds them", loc=("body", "chair_id")
        )
    busy = occupancy(
        session, clinic_id=clinic_id, window=hold, exclude_session_id=exclude_session_id
    )
    held = {b.chair_id for b in core.conflicts(hold, busy)}
    for chair in chairs:
        if chair.id not in held:
            return chair
    raise SlotTaken(
        f"every active chair is held at {_clock(hold.start, zone)}",
        loc=("body", "scheduled_at"),
        alternatives=alternatives(
            session,
            clinic_id=clinic_id,
            chair=chairs[0],
            after=hold.start,
            visit_min=visit_min,
            zone=zone,
            exclude_session_id=exclude_session_id,
        ),
    )


def _require_under_cap(
    session: Session,
    clinic_id: int,
    pol: core.Policy,
    chair: Chair,
    hold: core.Interval,
    start: datetime,
    visit_min: int,
    zone: ZoneInfo,
    exclude_session_id: int | None,
) -> None:
    if pol.max_concurrent_bookings is None:
        return
    # Clinic-wide by nature: bookings of any chair queue on the policy row while the cap is on.
    cap = policy(session, clinic_id=clinic_id, lock=True).max_concurrent_bookings
    if cap is None:
        return
    others = [
        b.hold
        for b in occupancy(
            session, clinic_id=clinic_id, window=hold, exclude_session_id=exclude_session_id
        )
    ]
    if core.peak_concurrency([*others, hold], hold) > cap:
        raise SlotTaken(
            f"the clinic books at most {cap} sessions at the same time (its policy) and that "
            f"many already overlap {_clock(hold.start, zone)}-{_clock(hold.end, zone)}",
            loc=("body", "scheduled_at"),
            alternatives=alternatives(
                session,
                clinic_id=clinic_id,
                chair=chair,
                after=start,
                visit_min=visit_min,
                zone=zone,
                exclude_session_id=exclude_session_id,
            ),
        )


def alternatives(
    session: Session,
    *,
    clinic_id: int,
    chair: Chair,
    after: datetime,
    visit_min: int,
    zone: ZoneInfo,
    exclude_session_id: int | None = None,
) -> list[dict[str, object]]:
    """The next free starts on ``chair`` and, earliest first, on the clinic's other chairs.
    The concurrency cap is not applied here; a chosen alternative is checked when booked."""
    window = core.Interval(max(after, clock.now()), after + timedelta(days=SEARCH_DAYS))
    found: list[dict[str, object]] = []

    def offer(c: Chair, limit: int) -> list[dict[str, object]]:
        starts = free_starts(
            session,
            clinic_id=clinic_id,
            chair_id=c.id,
            window=window,
            visit_min=visit_min,
            zone=zone,
            limit=limit,
            exclude_session_id=exclude_session_id,
        )
        return [{"chair_id": c.id, "chair": c.name, "start": s.isoformat()} for s in starts]

    found.extend(offer(chair, SAME_CHAIR_OFFERS))
    others: list[dict[str, object]] = []
    for c in list_chairs(session, clinic_id=clinic_id, active_only=True):
        if c.id != chair.id:
            others.extend(offer(c, OTHER_CHAIR_OFFERS))
    others.sort(key=lambda o: str(o["start"]))
    return found + others[:OTHER_CHAIR_OFFERS]


def release_on_abort(session: Session, *, row: InfusionSession, at: datetime) -> None:
    """An aborted session frees its chair from the abort plus the turnover (the chair is
    cleaned), never later than it was booked to."""
    turnover = policy(session, clinic_id=row.clinic_id).turnover_min
    row.chair_held_until = min(row.chair_held_until, at + timedelta(minutes=turnover))


def _day_around(visit: core.Interval, zone: ZoneInfo) -> core.Interval:
    return core.Interval(visit.start - timedelta(days=1), visit.end + timedelta(days=1))


def _clock(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def require_chair(session: Session, *, clinic_id: int, chair_id: int) -> Chair:
    chair = get_chair(session, clinic_id=clinic_id, chair_id=chair_id)
    if chair is None:
        raise NotFound(f"no chair {chair_id} in your clinic", loc=("body", "chair_id"))
    return chair
