"""The dashboard's SQL. The database counts (GROUP BY over the window's sessions); Python only
sees one row per week, protocol, chair or course, and ``core`` applies the definitions.

Reads only: the caller decides what to audit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from ketaclinic.courses.models import Course
from ketaclinic.dashboard import core
from ketaclinic.dashboard.report import Dashboard, OverduePatient
from ketaclinic.infusions.models import InfusionSession, SessionAlert, SessionEvent
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.screening.indications import BY_ID
from ketaclinic.screening.models import Screening

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
    return or_(
        InfusionSession.state.in_(STARTED_STATES),
        and_(InfusionSession.state == "aborted", started.is_not(None)),
    )


def _alerted() -> ColumnElement[bool]:
    return exists().where(SessionAlert.session_id == InfusionSession.id)


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
        .where(infused_in_window, SessionEvent.kind == "side_effects")
    )
    return core.safety_table(
        {key: (int(infused), int(alerted)) for key, infused, alerted in counted},
        ((sid, key, data.get("assessments", [])) for sid, key, data in side_effects),
        names,
    )


def chairs(session: Session, window: core.Window, zone: tzinfo) -> list[core.ChairLine]:
    """Per chair: sessions booked and infused, and chair time from check-in to discharge/abort."""
    in_window = _in_window(window.clinic_id, window.start(zone), window.end(zone))
    kind = SessionEvent.kind
    stay = (
        select(
            SessionEvent.session_id.label("session_id"),
            func.min(case((kind == "check_in", SessionEvent.at))).label("arrived"),
            func.max(case((kind.in_(("discharge", "abort")), SessionEvent.at))).label("left"),
        )
        .join(InfusionSession, InfusionSession.id == SessionEvent.session_id)
        .where(in_window, kind.in_(("check_in", "discharge", "abort")))
        .group_by(SessionEvent.session_id)
        .subquery()
    )
    inner = (
        select(
            InfusionSession.chair,
            _infused().label("infused"),
            stay.c.arrived,
            stay.c.left,
        )
        .outerjoin(stay, stay.c.session_id == InfusionSession.id)
        .where(in_window)
        .subquery()
    )
    dialect = session.get_bind().dialect.name
    timed = and_(inner.c.infused, inner.c.arrived.is_not(None), inner.c.left.is_not(None))
    minutes = case((timed, _minutes(dialect, inner.c.arrived, inner.c.left)), else_=0.0)
    rows = session.execute(
        select(
            inner.c.chair,
            func.count(),
            _count_if(inner.c.infused),
            _count_if(timed),
            func.coalesce(func.sum(minutes), 0.0),
        )
        .group_by(inner.c.chair)
        .order_by(inner.c.chair)
    )
    return [
        core.ChairLine(
            chair=chair,
            booked=booked,
            infused=int(infused),
            timed=int(n_timed),
            occupied_minutes=float(occupied),
        )
        for chair, booked, infused, n_timed, occupied in rows
    ]


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


def _latest_first(*partition: Any, at: Any, tiebreak: Any) -> Any:
    return func.row_number().over(partition_by=partition, order_by=(at.desc(), tiebreak.desc()))


def indications(session: Session, clinic_id: int, end: datetime) -> dict[int, str]:
    """Each patient's indication on their latest screening signed before ``end``."""
    ranked = (
        select(
            Screening.patient_id,
            Screening.indication_id,
            Screening.matched_indications[(0, "indication_id")].as_string().label("first"),
            _latest_first(
                Screening.patient_id, at=Screening.signed_at, tiebreak=Screening.id
            ).label("rank"),
        )
        .join(Patient, Patient.id == Screening.patient_id)
        .where(Patient.clinic_id == clinic_id, Screening.signed_at < end)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.patient_id, ranked.c.indication_id, ranked.c.first).where(
            ranked.c.rank == 1
        )
    )
    return {pid: core.indication_of(chosen, first) for pid, chosen, first in rows}


def _latest_scores(
    session: Session, clinic_id: int, contexts: Sequence[str], since: datetime | None, end: datetime
) -> dict[tuple[int, str], core.Score]:
    """The latest pain NRS and PHQ-9 of each patient among ``contexts``, in [since, end)."""
    when = [Measurement.measured_at < end]
    if since is not None:
        when.append(Measurement.measured_at >= since)
    ranked = (
        select(
            Measurement.patient_id,
            Measurement.instrument,
            Measurement.scores["total"].as_string().label("total"),
            Measurement.measured_at,
            _latest_first(
                Measurement.patient_id,
                Measurement.instrument,
                at=Measurement.measured_at,
                tiebreak=Measurement.id,
            ).label("rank"),
        )
        .join(Patient, Patient.id == Measurement.patient_id)
        .where(
            Patient.clinic_id == clinic_id,
            Measurement.instrument.in_(core.OVERDUE_INSTRUMENTS),
            Measurement.context.in_(contexts),
            *when,
        )
        .subquery()
    )
    rows = session.execute(
        select(
            ranked.c.patient_id, ranked.c.instrument, ranked.c.total, ranked.c.measured_at
        ).where(ranked.c.rank == 1)
    )
    return {
        (pid, instrument): core.Score(value=_fraction(total), measured_at=at)
        for pid, instrument, total, at in rows
    }


@lru_cache(maxsize=1024)
def _fraction(text: str) -> Fraction:
    """Scores repeat (an NRS has 11 values), and parsing a Fraction from text is slow."""
    return Fraction(text)


def scores(
    session: Session, clinic_id: int, start: datetime, end: datetime
) -> dict[int, core.PatientScores]:
    """Per patient: the latest baseline before ``end`` and the latest later score taken in the
    window, of pain NRS and PHQ-9."""
    baselines = _latest_scores(session, clinic_id, ("baseline",), None, end)
    latest = _latest_scores(session, clinic_id, core.RESPONSE_CONTEXTS, start, end)
    found: dict[int, dict[str, core.Score]] = {}
    for kind, scored in (("baseline", baselines), ("latest", latest)):
        for (pid, instrument), score in scored.items():
            name = f"{'phq9' if instrument == 'phq9' else 'pain'}_{kind}"
            found.setdefault(pid, {})[name] = score
    return {pid: core.PatientScores(**named) for pid, named in found.items()}


def overdue(session: Session, clinic_id: int, as_of: datetime) -> list[OverduePatient]:
    """Patients in an open course at ``as_of`` with no PHQ-9 or pain NRS in ``OVERDUE_AFTER``,
    longest overdue first (never measured at all first)."""
    open_course = (
        select(Course.patient_id)
        .where(
            Course.clinic_id == clinic_id,
            Course.started_at <= as_of,
            or_(Course.ended_at.is_(None), Course.ended_at > as_of),
        )
        .distinct()
    )
    last = (
        select(Measurement.patient_id, func.max(Measurement.measured_at).label("last"))
        .where(
            Measurement.patient_id.in_(open_course),
            Measurement.instrument.in_(core.OVERDUE_INSTRUMENTS),
            Measurement.measured_at <= as_of,
        )
        .group_by(Measurement.patient_id)
        .subquery()
    )
    query: Select[Any] = (
        select(Patient.id, Patient.given_name, Patient.family_name, Patient.mrn, last.c.last)
        .outerjoin(last, last.c.patient_id == Patient.id)
        .where(
            Patient.id.in_(open_course),
            or_(last.c.last.is_(None), last.c.last <= as_of - core.OVERDUE_AFTER),
        )
        .order_by(last.c.last.asc().nulls_first(), Patient.family_name, Patient.id)
    )
    return [
        OverduePatient(pid, f"{family}, {given}", mrn, at)
        for pid, given, family, mrn, at in session.execute(query)
    ]


def load(
    session: Session, window: core.Window, zone: tzinfo, now: datetime, overdue_shown: int = 25
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
