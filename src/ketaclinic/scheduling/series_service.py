"""Booking the rest of a course's stabilisation series in one step, and a patient's attendance.

``plan`` reads the course, the book and the patient's other visits and returns the proposal of
``series.place_series``; nothing is written. ``confirm`` books the slots the person chose in one
transaction: the course row is locked, the remaining count and the spacing are checked again,
every chair involved is locked (in id order, so two confirmations never wait on each other in a
circle), and each session is booked through ``infusions.service.schedule``, which checks its slot
again under the lock. Anything that changed since the proposal refuses the whole series, naming
the session it collides with; nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.courses import service as courses
from ketaclinic.courses.models import Course
from ketaclinic.errors import Conflict, InvalidInput, KetaclinicError, NotFound
from ketaclinic.infusions import service as sessions
from ketaclinic.infusions.core import TERMINAL, State
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.infusions.schemas import ScheduleIn
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import core, series, service, view_service

#: The preferred time of day when none is given.
DEFAULT_PREFERRED = time(9, 0)
#: At most this many sessions are booked in one step (a series is a handful).
MAX_SERIES = 24


@dataclass(frozen=True)
class SeriesPlan:
    course_id: int
    patient_id: int
    patient: str
    protocol_id: int
    protocol: str
    series_sessions: int
    completed: int
    open_booked: int
    remaining: int
    spacing_days: int
    first_day: date
    preferred: time
    visit_min: int
    chairs: dict[int, str]
    proposal: list[series.Proposed]


@dataclass(frozen=True)
class _CourseState:
    course: Course
    protocol: ProtocolVersion
    series_sessions: int
    spacing_days: int
    completed: int
    open_booked: int
    first_day: date

    @property
    def remaining(self) -> int:
        return max(0, self.series_sessions - self.completed - self.open_booked)


def _course_state(session: Session, course: Course, zone: ZoneInfo) -> _CourseState:
    protocol = session.get(ProtocolVersion, course.protocol_version_id)
    assert protocol is not None  # a foreign key
    definition = protocols.definition(protocol)
    facts = [courses.fact(s, zone) for s in courses.sessions_of(session, course)]
    completed = [f for f in facts if f.completed]
    open_ = [f for f in facts if State(f.state) not in TERMINAL]
    anchors = [f.completed_date for f in completed] + [f.scheduled_date for f in open_]
    today = clock.today(zone)
    first = max(anchors) + timedelta(days=definition.series_spacing_days) if anchors else today
    return _CourseState(
        course=course,
        protocol=protocol,
        series_sessions=definition.series_sessions,
        spacing_days=definition.series_spacing_days,
        completed=min(len(completed), definition.series_sessions),
        open_booked=len(open_),
        first_day=max(first, today),
    )


def _course(session: Session, actor: Actor, course_id: int, loc: tuple[str, ...]) -> Course:
    row = courses.get(session, actor=actor, course_id=course_id)
    if row is None:
        raise NotFound(f"no course {course_id} in your clinic", loc=loc)
    if row.ended_at is not None:
        raise Conflict(f"course {course_id} has ended; nothing is booked for it", loc=loc)
    return row


def _booked(session: Session, clinic_id: int, window: core.Interval) -> list[core.Booked]:
    """``service.occupancy`` read through the (clinic_id, scheduled_at) index: bounded below
    by the clinic's longest possible hold (``view_service.longest_hold``)."""
    earliest = window.start - view_service.longest_hold(session, clinic_id)
    rows = session.execute(
        select(
            InfusionSession.id,
            InfusionSession.chair_id,
            InfusionSession.scheduled_at,
            InfusionSession.chair_held_until,
        ).where(
            InfusionSession.clinic_id == clinic_id,
            InfusionSession.state.not_in(service.NOT_HOLDING),
            InfusionSession.scheduled_at > earliest,
            InfusionSession.scheduled_at < window.end,
            InfusionSession.chair_held_until > window.start,
        )
    ).all()
    return [
        core.Booked(sid, chair_id, core.Interval(start, max(start, until)))
        for sid, chair_id, start, until in rows
    ]


def _patient_busy(session: Session, patient_id: int, window: core.Interval) -> list[core.Interval]:
    rows = session.execute(
        select(InfusionSession.scheduled_at, InfusionSession.chair_held_until).where(
            InfusionSession.patient_id == patient_id,
            InfusionSession.state.not_in(service.NOT_HOLDING),
            InfusionSession.scheduled_at < window.end,
            InfusionSession.chair_held_until > window.start,
        )
    ).all()
    return [core.Interval(start, max(start, until)) for start, until in rows]


def plan(
    session: Session,
    *,
    actor: Actor,
    course_id: int,
    preferred: time = DEFAULT_PREFERRED,
    from_day: date | None = None,
    zone: ZoneInfo,
    names: bool = True,
) -> SeriesPlan:
    """The proposal for the course's remaining series sessions; nothing is written."""
    course = _course(session, actor, course_id, ("query", "course_id"))
    state = _course_state(session, course, zone)
    first_day = max(state.first_day, from_day) if from_day else state.first_day
    count = min(state.remaining, MAX_SERIES)
    visit_min = service.visit_minutes(state.protocol)
    clinic_id = course.clinic_id
    turnover = service.policy(session, clinic_id=clinic_id).turnover_min
    days = count * max(state.spacing_days, 1) + series.SEARCH_DAYS * (count + 1) + 2
    start = datetime.combine(first_day - timedelta(days=1), time(), tzinfo=zone)
    window = core.Interval(start, start + timedelta(days=days))
    chairs = service.list_chairs(session, clinic_id=clinic_id, active_only=True)
    opening = service.opening(session, clinic_id=clinic_id, zone=zone, window=window)
    proposal = series.place_series(
        series.SeriesAsk(
            count=count,
            first_day=first_day,
            spacing_days=state.spacing_days,
            preferred=preferred,
            visit_min=visit_min,
            turnover_min=turnover,
            not_before=clock.now(),
        ),
        series.Clinic(
            zone=zone,
            chair_ids=[c.id for c in chairs],
            opening=[window] if opening is None else opening,
            booked=_booked(session, clinic_id, window),
            patient_busy=_patient_busy(session, course.patient_id, window),
        ),
    )
    patient = session.get(Patient, course.patient_id)
    assert patient is not None
    return SeriesPlan(
        course_id=course.id,
        patient_id=course.patient_id,
        patient=f"{patient.family_name}, {patient.given_name}" if names else "",
        protocol_id=state.protocol.id,
        protocol=f"{state.protocol.name} v{state.protocol.version}",
        series_sessions=state.series_sessions,
        completed=state.completed,
        open_booked=state.open_booked,
        remaining=state.remaining,
        spacing_days=state.spacing_days,
        first_day=first_day,
        preferred=preferred,
        visit_min=visit_min,
        chairs={c.id: c.name for c in chairs},
        proposal=proposal,
    )


def confirm(
    session: Session,
    *,
    actor: Actor,
    course_id: int,
    slots: Sequence[series.Slot],
    zone: ZoneInfo,
) -> list[InfusionSession]:
    """Book the chosen slots for the course, all or none (the caller's one transaction)."""
    if not slots:
        raise InvalidInput("choose at least one session to book", loc=("body", "sessions"))
    course = _course(session, actor, course_id, ("body", "course_id"))
    courses.require_open_course(  # locks the course row: two confirmations queue here
        session,
        actor=actor,
        course_id=course.id,
        patient_id=course.patient_id,
        protocol_version_id=course.protocol_version_id,
    )
    state = _course_state(session, course, zone)
    if len(slots) > state.remaining:
        raise Conflict(
            f"the course needs {state.remaining} more series session(s) now, not {len(slots)}: "
            "something was booked or done since the proposal; plan the series again",
            loc=("body", "sessions"),
        )
    ordered = sorted(slots, key=lambda s: s.start)
    problem = series.spacing_problem(
        [s.start for s in ordered],
        zone=zone,
        spacing_days=state.spacing_days,
        visit_min=service.visit_minutes(state.protocol),
        earliest_day=state.first_day,
    )
    if problem is not None:
        raise InvalidInput(problem[1], loc=("body", "sessions", problem[0], "start"))
    for chair_id in sorted({s.chair_id for s in ordered}):
        service.require_chair(session, clinic_id=course.clinic_id, chair_id=chair_id)
        service.lock_chair(session, chair_id)
    booked = []
    for index, slot in enumerate(ordered):
        data = ScheduleIn.model_construct(
            patient_id=course.patient_id,
            protocol_id=course.protocol_version_id,
            scheduled_at=slot.start,
            chair_id=slot.chair_id,
            chair=None,
            course_id=course.id,
        )
        try:
            booked.append(sessions.schedule(session, actor=actor, data=data, zone=zone))
        except KetaclinicError as error:
            when = slot.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            error.msg = f"series session {index + 1} ({when}): {error.msg}; nothing was booked"
            error.loc = ("body", "sessions", index, *error.loc[-1:])
            raise
    return booked


# --- attendance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attendance:
    cancellations: int
    late_cancellations: int
    no_shows: int
    late_hours: int


def attendance(session: Session, *, patient_id: int, late_hours: int) -> Attendance:
    """The patient's cancellations (those less than ``late_hours`` before the session counted as
    late, clinic policy) and no-shows, from the sessions' states and their cancel events."""
    cancelled = session.execute(
        select(InfusionSession.scheduled_at, func.max(SessionEvent.at))
        .join(SessionEvent, SessionEvent.session_id == InfusionSession.id)
        .where(
            InfusionSession.patient_id == patient_id,
            InfusionSession.state == State.CANCELLED.value,
            SessionEvent.kind == "cancel",
        )
        .group_by(InfusionSession.id, InfusionSession.scheduled_at)
    ).all()
    no_shows = session.scalar(
        select(func.count())
        .select_from(InfusionSession)
        .where(
            InfusionSession.patient_id == patient_id,
            InfusionSession.state == State.NO_SHOW.value,
        )
    )
    late = sum(1 for due, at in cancelled if series.is_late_cancellation(due, at, late_hours))
    return Attendance(len(cancelled), late, no_shows or 0, late_hours)
