"""Maintenance booster suggestions for the physician's work list, from the stored scores.

The rule is part of each protocol version (``booster_pain_return_percent``,
``booster_phq9_rise``), edited with the rest of the protocol; its defaults are clinic policy (no
guideline sets a booster interval; REFERENCE §3b [R16][R24][R37]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.courses import service as courses
from ketaclinic.courses.core import NextKind, Phase, SeriesRule, progress
from ketaclinic.courses.models import Course
from ketaclinic.dosing.protocol import Protocol
from ketaclinic.infusions.core import Move, State
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.outcomes.core import BoosterRule, BoosterSuggestion, ScorePoint, booster_suggestion
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion

_UTC = ZoneInfo("UTC")


def rule_for(protocol: Protocol) -> BoosterRule:
    """The protocol version's booster rule (a trigger set to ``None`` is off)."""
    pain = protocol.booster_pain_return_percent
    return BoosterRule(
        pain_return_fraction=None if pain is None else Fraction(pain, 100),
        phq9_rise_from_best=protocol.booster_phq9_rise,
    )


@dataclass(frozen=True)
class BoosterItem:
    """One work-list entry: the suggestion and its evidence, each score named by instrument."""

    patient: Patient
    course: Course
    suggestion: BoosterSuggestion
    evidence: tuple[tuple[str, ScorePoint], ...]  # ("nrs" | "phq9", point)


def booster_suggestions(
    session: Session, *, clinic_id: int, now: datetime, zone: ZoneInfo = _UTC
) -> list[tuple[Patient, Course, BoosterSuggestion]]:
    """Every open course in maintenance in the clinic whose patient's scores meet its protocol's
    booster rule, by patient name. Not audited: the caller shows them and audits each patient.

    A course with a session already booked or under way gets none (the booster is on its way).
    ``zone`` is the clinic's: dates in the reasons and the maintenance phase are on its calendar.
    """
    items = booster_work_list(session, clinic_id=clinic_id, now=now, zone=zone)
    return [(item.patient, item.course, item.suggestion) for item in items]


def booster_work_list(
    session: Session, *, clinic_id: int, now: datetime, zone: ZoneInfo = _UTC
) -> list[BoosterItem]:
    """As ``booster_suggestions``, with each evidence score's instrument for the page."""
    rows = session.execute(
        select(Course, Patient, ProtocolVersion)
        .join(Patient, Patient.id == Course.patient_id)
        .join(ProtocolVersion, ProtocolVersion.id == Course.protocol_version_id)
        .where(Course.clinic_id == clinic_id, Course.ended_at.is_(None))
        .order_by(Patient.family_name, Patient.given_name, Course.id)
    ).all()
    found: list[BoosterItem] = []
    for course, patient, protocol in rows:
        item = _for_course(session, course, patient, protocol, now=now, zone=zone)
        if item is not None:
            found.append(item)
    return found


def _for_course(
    session: Session,
    course: Course,
    patient: Patient,
    protocol: ProtocolVersion,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> BoosterItem | None:
    definition = protocols.definition(protocol)
    series = SeriesRule(
        series_sessions=definition.series_sessions,
        series_spacing_days=definition.series_spacing_days,
        maintenance_rule=definition.maintenance_rule,
    )
    stored = courses.sessions_of(session, course)
    facts = [courses.fact(s, zone) for s in stored]
    state = progress(series, facts, ended=False, today=now.astimezone(zone).date())
    if state.phase is not Phase.MAINTENANCE or state.next_session.kind is NextKind.BOOKED:
        return None
    measurements = session.scalars(
        select(Measurement)
        .where(
            Measurement.patient_id == course.patient_id,
            Measurement.instrument.in_(("nrs", "phq9")),
        )
        .order_by(Measurement.measured_at, Measurement.id)
    ).all()
    pain = _points(measurements, "nrs", zone)
    suggestion = booster_suggestion(
        rule_for(definition),
        pain_baseline=_pain_baseline(pain, stored),
        pain=pain,
        phq9=_points(measurements, "phq9", zone),
        last_session_at=_last_session_end(stored, zone),
        now=now.astimezone(zone),
    )
    if suggestion is None:
        return None
    # The core hands back the very points it was given, so identity tells pain from mood.
    pain_ids = {id(p) for p in pain}
    labelled = tuple(("nrs" if id(p) in pain_ids else "phq9", p) for p in suggestion.evidence)
    return BoosterItem(patient=patient, course=course, suggestion=suggestion, evidence=labelled)


def _points(rows: Sequence[Measurement], instrument: str, zone: ZoneInfo) -> list[ScorePoint]:
    return [
        ScorePoint(
            at=m.measured_at.astimezone(zone),
            value=Fraction(m.scores["total"]),
            context=m.context,
            session_id=m.session_id,
        )
        for m in rows
        if m.instrument == instrument and "total" in m.scores
    ]


def _pain_baseline(
    pain: Sequence[ScorePoint], stored: Sequence[InfusionSession]
) -> Fraction | None:
    """The baseline NRS: the latest baseline-context score before the course's first session
    (else the first baseline at all), or without one the course's first pre-session score."""
    baselines = [p for p in pain if p.context == "baseline"]
    first_session = min((s.scheduled_at for s in stored), default=None)
    if baselines:
        before = [p for p in baselines if first_session is None or p.at <= first_session]
        return (before[-1] if before else baselines[0]).value
    ours = {s.id for s in stored}
    pres = [p for p in pain if p.context == "pre" and p.session_id in ours]
    return pres[0].value if pres else None


def _last_session_end(stored: Sequence[InfusionSession], zone: ZoneInfo) -> datetime | None:
    """When the latest completed session's infusion stopped (its discharge when no stop was
    recorded): scores from then on are after it, its own post scores included."""
    ends: list[datetime] = []
    for row in stored:
        if row.state != State.DISCHARGED:
            continue
        stops = [e.at for e in row.events if e.kind == Move.STOP]
        discharges = [e.at for e in row.events if e.kind == Move.DISCHARGE]
        marks = stops or discharges
        if marks:
            ends.append(max(marks))
    return max(ends).astimezone(zone) if ends else None
