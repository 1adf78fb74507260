"""The dashboard's SQL. The database counts (GROUP BY over the window's sessions); Python only
sees one row per week, protocol, chair or course, and ``core`` applies the definitions.

Reads only: the caller decides what to audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    and_,
    case,
    exists,
    extract,
    false,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from ketaclinic.courses.models import Course
from ketaclinic.dashboard import core
from ketaclinic.dashboard.patient_queries import indications, overdue, scores
from ketaclinic.dashboard.report import Dashboard
from ketaclinic.dashboard.sql import materialized
from ketaclinic.indications import BY_ID
from ketaclinic.infusions.models import InfusionSession, SessionAlert, SessionEvent
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import service as scheduling
from ketaclinic.scheduling.core import Interval

NOT_HELD = ("cancelled", "no_show")
#: States reached only through ``start`` (DESIGN §3: infusing ⇄ paused → observing → discharged).
STARTED_STATES = ("infusing", "paused", "observing", "discharged")


def _infused() -> ColumnElement[bool]:
    """The pump ran: these states come only after a start; an aborted session may or may not
    have started, so only those few are looked up in the timeline."""
    start = aliased(SessionEvent)  # an alias, so it never correlates with an outer event row
    # A LIMITed scalar subquery, not EXISTS: PostgreSQL turns EXISTS inside OR into a hashed
    # subplan that scans every start event of every clinic (measured: 12 ms per use).
    started = (
        select(literal(1))
        .where(start.session_id == InfusionSession.id, start.kind == "start")
        .limit(1)
        .scalar_subquery()
    )
    # A CASE, not OR: SQLite evaluates both sides of an OR in a result column, so the lookup ran
    # for every session of the window, not only the aborted ones (the per-week counts took 46 ms
    # instead of 3, bench/pages_bench.py data); a CASE stops at its first true branch on both.
    return case(
        (InfusionSession.state.in_(STARTED_STATES), true()),
        (InfusionSession.state == "aborted", started.is_not(None)),
        else_=false(),
    )


def _minutes_in_chair(dialect: str) -> ScalarSelect[Any]:
    """Minutes from the (outer row's) session's first check-in to its last discharge or abort;
    NULL unless it has both. One lookup in the index (session_id, kind, at) for this session
    alone, so the work follows the window's sessions, not every event the clinic ever charted
    (migration 0026)."""
    event = aliased(SessionEvent)  # never correlates with an outer event row
    arrived = func.min(case((event.kind == "check_in", event.at)))
    left = func.max(case((event.kind.in_(("discharge", "abort")), event.at)))
    return (
        select(_minutes(dialect, arrived, left))
        .where(
            event.session_id == InfusionSession.id,
            event.kind.in_(("check_in", "discharge", "abort")),
        )
        .scalar_subquery()
    )


def _alerted() -> ColumnElement[bool]:
    # A withdrawn alert came from a reading entered in error: it never happened.
    return exists().where(
        SessionAlert.session_id == InfusionSession.id, SessionAlert.withdrawn_at.is_(None)
    )


def _count_if(condition: ColumnElement[Any]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _in_window(clinic_id: int, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(
        InfusionSession.clinic_id == clinic_id,
        InfusionSession.scheduled_at >= start,
        InfusionSession.scheduled_at < end,
    )


def _minutes(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """Minutes between two instants; the one place the engines differ in SQL."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 1440.0
    return extract("epoch", end - start) / 60.0


def protocol_names(session: Session, clinic_id: int) -> dict[str, str]:
    """Each protocol key's newest name (a rename adds a version; the key stays)."""
    rows = session.execute(
        select(ProtocolVersion.key, ProtocolVersion.name)
        .where(ProtocolVersion.clinic_id == clinic_id)
        .order_by(ProtocolVersion.key, ProtocolVersion.version)
    )
    return {key: name for key, name in rows}  # noqa: C416  (later versions overwrite)


def week_counts(session: Session, window: core.Window, zone: tzinfo) -> dict[int, core.WeekCounts]:
    """Sessions booked per week of the window, by what became of them."""
    bounds = [core.local_midnight(day, zone) for day in window.week_starts()[1:]]
    week: ColumnElement[int] = (
        case(
            *[(InfusionSession.scheduled_at < b, i) for i, b in enumerate(bounds)],
            else_=len(bounds),
        )
        if bounds
        else literal(0)
    )
    # PostgreSQL binds each parameter anew, so GROUP BY a parameterised CASE must go through a
    # subquery column rather than repeat the expression.
    inner = (
        select(week.label("week"), InfusionSession.state, _infused().label("infused"))
        .where(_in_window(window.clinic_id, window.start(zone), window.end(zone)))
        .subquery()
    )
    rows = session.execute(
        select(
            inner.c.week,
            func.count(),
            _count_if(inner.c.infused),
            _count_if(inner.c.state == "discharged"),
            _count_if(inner.c.state == "aborted"),
            _count_if(inner.c.state.in_(NOT_HELD)),
        ).group_by(inner.c.week)
    )
    return {
        int(w): core.WeekCounts(
            week_start=window.first_day,
            booked=booked,
            infused=int(infused),
            discharged=int(discharged),
            aborted=int(aborted),
            not_held=int(not_held),
        )
        for w, booked, infused, discharged, aborted, not_held in rows
    }


def safety(
    session: Session, window: core.Window, zone: tzinfo, names: Mapping[str, str]
) -> list[core.SafetyLine]:
    start, end = window.start(zone), window.end(zone)
    infused_in_window = and_(_in_window(window.clinic_id, start, end), _infused())
    counted = session.execute(
        select(ProtocolVersion.key, func.count(), _count_if(_alerted()))
        .select_from(InfusionSession)
        .join(ProtocolVersion, ProtocolVersion.id == InfusionSession.protocol_version_id)
        .where(infused_in_window)
        .group_by(ProtocolVersion.key)
    )
    side_effects = session.execute(
        select(SessionEvent.session_id, ProtocolVersion.key, SessionEvent.data)
        .select_from(SessionEvent)
        .join(InfusionSession, InfusionSession.id == SessionEvent.session_id)
        .join(ProtocolVersion, ProtocolVersion.id == InfusionSession.protocol_version_id)
        .where(
            infused_in_window,
            SessionEvent.kind == "side_effects",
            SessionEvent.entered_in_error_at.is_(None),
        )
    )
    return core.safety_table(
        {key: (int(infused), int(alerted)) for key, infused, alerted in counted},
        ((sid, key, data.get("assessments", [])) for sid, key, data in side_effects),
        names,
    )


def chairs(session: Session, window: core.Window, zone: ZoneInfo) -> list[core.ChairLine]:
    """Per chair (every active one, and any other with a booking in the window), in the clinic's
    order: sessions booked and infused; chair time booked (each booking's hold: visit and
    turnover, cancelled and no-show left out), used (check-in to discharge/abort) and open (the
    opening hours minus closures, for an active chair; ``None`` when no hours are set)."""
    start, end = window.start(zone), window.end(zone)
    dialect = session.get_bind().dialect.name
    inner = materialized(
        select(
            InfusionSession.chair_id.label("chair_id"),
            InfusionSession.state.label("state"),
            InfusionSession.scheduled_at.label("scheduled_at"),
            InfusionSession.chair_held_until.label("held_until"),
            _infused().label("infused"),
            _minutes_in_chair(dialect).label("in_chair"),
        ).where(_in_window(window.clinic_id, start, end)),
        "window_session",
    )
    timed = and_(inner.c.infused, inner.c.in_chair.is_not(None))
    minutes = case((timed, inner.c.in_chair), else_=0.0)
    held = inner.c.state.not_in(NOT_HELD)
    booked = case((held, _minutes(dialect, inner.c.scheduled_at, inner.c.held_until)), else_=0.0)
    rows = session.execute(
        select(
            inner.c.chair_id,
            func.count(),
            _count_if(inner.c.infused),
            _count_if(timed),
            func.coalesce(func.sum(minutes), 0.0),
            func.coalesce(func.sum(booked), 0.0),
        ).group_by(inner.c.chair_id)
    )
    counted = {row[0]: row[1:] for row in rows}
    opening = scheduling.opening(
        session, clinic_id=window.clinic_id, zone=zone, window=Interval(start, end)
    )
    open_minutes = None if opening is None else sum(o.minutes for o in opening)
    lines = []
    for chair in scheduling.list_chairs(session, clinic_id=window.clinic_id):
        if chair.id not in counted and not chair.active:
            continue
        n_booked, infused, n_timed, occupied, booked_min = counted.get(chair.id, (0, 0, 0, 0, 0))
        lines.append(
            core.ChairLine(
                chair=chair.name,
                booked=int(n_booked),
                infused=int(infused),
                timed=int(n_timed),
                occupied_minutes=float(occupied),
                booked_minutes=float(booked_min),
                open_minutes=open_minutes if chair.active else None,
            )
        )
    return lines


def courses(session: Session, window: core.Window, zone: tzinfo) -> list[core.CourseFacts]:
    """Courses started in the window that have an infusion, with what came after the first."""
    start, end = window.start(zone), window.end(zone)
    started = select(Course.id).where(
        Course.clinic_id == window.clinic_id, Course.started_at >= start, Course.started_at < end
    )
    infused = _infused()
    per_course = (
        select(
            InfusionSession.course_id.label("course_id"),
            _count_if(infused).label("infused"),
            func.min(case((infused, InfusionSession.scheduled_at))).label("first_infused_at"),
            func.max(
                case((InfusionSession.state.not_in(NOT_HELD), InfusionSession.scheduled_at))
            ).label("last_booked_at"),
        )
        .where(InfusionSession.course_id.in_(started))
        .group_by(InfusionSession.course_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Course.id,
            ProtocolVersion.key,
            per_course.c.infused,
            per_course.c.first_infused_at,
            per_course.c.last_booked_at,
            Course.ended_at,
        )
        .select_from(Course)
        .join(per_course, per_course.c.course_id == Course.id)
        .join(ProtocolVersion, ProtocolVersion.id == Course.protocol_version_id)
        .where(per_course.c.infused > 0)
    )
    return [
        core.CourseFacts(
            course_id=cid,
            protocol_key=key,
            infused_sessions=int(n),
            first_infused_at=first,
            last_booked_at=last,
            ended_at=ended,
        )
        for cid, key, n, first, last, ended in rows
    ]


def treated(session: Session, window: core.Window, zone: tzinfo) -> list[tuple[int, str]]:
    """(patient id, protocol key) of every infusion in the window, once each."""
    rows = session.execute(
        select(InfusionSession.patient_id, ProtocolVersion.key)
        .select_from(InfusionSession)
        .join(ProtocolVersion, ProtocolVersion.id == InfusionSession.protocol_version_id)
        .where(_in_window(window.clinic_id, window.start(zone), window.end(zone)), _infused())
        .distinct()
    )
    return [(pid, key) for pid, key in rows]


def load(
    session: Session, window: core.Window, zone: ZoneInfo, now: datetime, overdue_shown: int = 25
) -> Dashboard:
    """Every figure of the dashboard for ``window``; "now"-like figures are as of the window's
    end when it lies in the past. At most ``overdue_shown`` overdue patients are named."""
    end = window.end(zone)
    as_of = min(now, end - timedelta(microseconds=1))
    names = protocol_names(session, window.clinic_id)
    indication_names = {key: i.name for key, i in BY_ID.items()}
    late = overdue(session, window.clinic_id, as_of)
    return Dashboard(
        window=window,
        as_of=as_of,
        weeks=core.weeks_table(window, week_counts(session, window, zone)),
        safety=safety(session, window, zone, names),
        chairs=chairs(session, window, zone),
        responders=core.responder_table(
            treated(session, window, zone),
            indications(session, window.clinic_id, end),
            scores(session, window.clinic_id, window.start(zone), end),
            indication_names,
            names,
        ),
        abandonment=core.abandonment_table(courses(session, window, zone), as_of, names),
        overdue_total=len(late),
        overdue_shown=late[:overdue_shown],
    )
