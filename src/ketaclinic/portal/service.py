"""Portal use-cases. The patient is always the actor's own linked record, never one from a request.

Each function runs in the caller's transaction; reads of the record are audited as
``portal.read`` by the route, once per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.courses.models import Course
from ketaclinic.errors import NotFound
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.outcomes import service as outcomes
from ketaclinic.outcomes.models import Measurement
from ketaclinic.outcomes.schemas import Context, MeasurementIn
from ketaclinic.patients.models import Patient
from ketaclinic.portal.core import Due, due_status, local_midnight, schedule_for
from ketaclinic.web.chart_axes import day_axis, score_axis

UPCOMING = (State.SCHEDULED.value, State.CHECKED_IN.value)
#: Sessions that did not take place are not drawn on the patient's chart.
NOT_HELD = (State.CANCELLED.value, State.NO_SHOW.value)
CHARTED = ("nrs", "phq9")
UPCOMING_LIMIT = 10


def own_patient(session: Session, *, actor: Actor) -> Patient | None:
    """The one record this portal account is linked to, in the account's own clinic."""
    if actor.patient_id is None:
        return None
    patient = session.get(Patient, actor.patient_id)
    if patient is None or patient.clinic_id != actor.clinic_id:
        return None
    return patient


def require_own_patient(session: Session, *, actor: Actor) -> Patient:
    patient = own_patient(session, actor=actor)
    if patient is None:
        raise NotFound("your account is not linked to a patient record; please ask the clinic")
    return patient


def audit_read(session: Session, *, actor: Actor, patient: Patient, page: str) -> None:
    audit.record(session, actor=actor, action="portal.read", patient_id=patient.id, detail=page)


def last_completions(session: Session, *, patient: Patient) -> dict[str, datetime]:
    """Latest instant of each instrument, in any context: a PHQ-9 done in the clinic counts too."""
    rows = session.execute(
        select(Measurement.instrument, func.max(Measurement.measured_at))
        .where(Measurement.patient_id == patient.id)
        .group_by(Measurement.instrument)
    ).all()
    return {instrument: at for instrument, at in rows if at is not None}


def open_course_schedule(session: Session, *, patient: Patient) -> dict[str, int] | None:
    """The questionnaire schedule of the patient's most recently started open course, if it
    sets one."""
    schedule: dict[str, int] | None = session.scalars(
        select(Course.questionnaire_schedule)
        .where(Course.patient_id == patient.id, Course.ended_at.is_(None))
        .order_by(Course.started_at.desc(), Course.id.desc())
        .limit(1)
    ).first()
    return schedule


def due(session: Session, *, patient: Patient, zone: ZoneInfo) -> tuple[Due, ...]:
    schedule = schedule_for(open_course_schedule(session, patient=patient))
    return due_status(schedule, last_completions(session, patient=patient), clock.now(), zone)


def upcoming_sessions(
    session: Session, *, patient: Patient, zone: ZoneInfo
) -> Sequence[InfusionSession]:
    """Booked sessions from the start of today (local), soonest first."""
    start = local_midnight(clock.today(zone), zone)
    return session.scalars(
        select(InfusionSession)
        .where(
            InfusionSession.patient_id == patient.id,
            InfusionSession.state.in_(UPCOMING),
            InfusionSession.scheduled_at >= start,
        )
        .order_by(InfusionSession.scheduled_at, InfusionSession.id)
        .limit(UPCOMING_LIMIT)
    ).all()


def open_suicide_risk(session: Session, *, patient: Patient) -> bool:
    """Whether an urgent flag of this patient still waits for the physician."""
    rows = session.scalars(
        select(Measurement).where(
            Measurement.patient_id == patient.id, Measurement.flag_acknowledged_at.is_(None)
        )
    ).all()
    return any(outcomes.URGENT_FLAGS & set(m.flags) for m in rows)


@dataclass(frozen=True)
class ChartData:
    """Series for the progress chart; times are ISO strings in the clinic's zone."""

    series: dict[str, dict[str, list[str] | list[float]]]
    sessions: list[str]

    def as_json(self) -> dict[str, object]:
        times = [str(t) for s in self.series.values() for t in s["times"]] + self.sessions
        axes = {
            "x": day_axis(datetime.fromisoformat(t) for t in times),
            "pain": score_axis(10, 2),
            "phq9": score_axis(27, 5),
        }
        return {"series": self.series, "sessions": self.sessions, "axes": axes}


def chart(session: Session, *, patient: Patient, zone: ZoneInfo) -> ChartData:
    """Pain NRS and PHQ-9 totals over time, with the sessions that were held."""
    rows = session.scalars(
        select(Measurement)
        .where(Measurement.patient_id == patient.id, Measurement.instrument.in_(CHARTED))
        .order_by(Measurement.measured_at, Measurement.id)
    ).all()
    series: dict[str, dict[str, list[str] | list[float]]] = {}
    for instrument in CHARTED:
        mine = [m for m in rows if m.instrument == instrument and "total" in m.scores]
        series[instrument] = {
            "times": [_local_iso(m.measured_at, zone) for m in mine],
            # Plotting only: the exact score stays a fraction string in the database.
            "values": [float(Fraction(m.scores["total"])) for m in mine],
        }
    held = session.scalars(
        select(InfusionSession.scheduled_at)
        .where(
            InfusionSession.patient_id == patient.id,
            InfusionSession.state.not_in(NOT_HELD + UPCOMING),
        )
        .order_by(InfusionSession.scheduled_at)
    ).all()
    return ChartData(series, [_local_iso(at, zone) for at in held])


def complete(
    session: Session, *, actor: Actor, patient: Patient, instrument: str, answers: list[int]
) -> Measurement:
    """Store a fully answered portal questionnaire; the scorer sets any urgent flag."""
    data = MeasurementIn(instrument=instrument, answers=list(answers), context=Context.PORTAL)
    return outcomes.record(session, actor=actor, patient=patient, data=data)


def _local_iso(at: datetime, zone: ZoneInfo) -> str:
    # Plotly reads a naive "YYYY-MM-DD HH:MM:SS" as wall-clock time, which is what we want shown.
    return at.astimezone(zone).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
