"""A patient's trajectory for one chart: pain and mood over time, each session's before/after
pair, the sessions marked with their course phase, and the patient's own goal.

Reads are audited (measurements, courses and the trajectory itself) in the caller's transaction.
Scores stay exact until they are turned into chart points here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.courses import service as courses
from ketaclinic.courses.models import Course
from ketaclinic.errors import InvalidInput
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.outcomes import service as outcomes
from ketaclinic.outcomes.core import ScorePoint, score_text
from ketaclinic.outcomes.models import Measurement, PatientGoal
from ketaclinic.outcomes.summary import Change, ResponseSummary, summarise
from ketaclinic.patients.models import Patient
from ketaclinic.web.chart_axes import day_axis, score_axis

#: (instrument, score name, label, panel). Pain on 0–10 scales, mood on the PHQ-9/GAD-7 totals.
SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("nrs", "total", "Pain NRS", "pain"),
    ("peg", "total", "PEG", "pain"),
    ("bpi_sf", "severity", "BPI severity", "pain"),
    ("phq9", "total", "PHQ-9", "mood"),
    ("gad7", "total", "GAD-7", "mood"),
)

#: Session states drawn on the chart: what happened, not what is only booked.
_DRAWN = frozenset({"infusing", "paused", "observing", "discharged", "aborted"})


def chart_data(
    session: Session, *, actor: Actor, patient: Patient, zone: ZoneInfo
) -> dict[str, Any]:
    """Everything the trajectory chart draws, as JSON-ready values: times in ISO as the clinic's
    wall clock (Plotly draws a time as written), and the axes (``web.chart_axes``)."""
    measurements = outcomes.list_for(session, actor=actor, patient=patient)
    audit.record(session, actor=actor, action="trajectory.read", patient_id=patient.id)
    drawn = _sessions(session, actor, patient, zone)
    ends = [s["ended_at"] for s in drawn if s["state"] == "discharged" and s["ended_at"]]
    result = summarise(
        _points(measurements, "nrs"),
        _points(measurements, "phq9"),
        max(ends) if ends else None,
    )
    series = [_series(measurements, *spec, zone=zone) for spec in SERIES]
    pairs = _pairs(measurements, zone)
    drawn_out = [{k: v for k, v in s.items() if k != "ended_at"} for s in drawn]
    times = [x for s in series for x in s["x"]] + [s["x"] for s in drawn_out]
    return {
        "series": series,
        "pairs": pairs,
        "sessions": drawn_out,
        "goal": _goal(latest_goal(session, patient_id=patient.id)),
        "summary": _summary_text(result),
        "axes": {
            "x": day_axis(datetime.fromisoformat(x) for x in times),
            "pain": score_axis(10, 2),  # NRS, PEG and BPI severity: 0–10
            "mood": score_axis(27, 5),  # PHQ-9 0–27, GAD-7 0–21
        },
    }


def _wall(at: datetime, zone: ZoneInfo) -> str:
    """The clinic's wall-clock time of ``at`` as ISO without an offset, as the chart draws it."""
    return at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def course_response(
    measurements: Sequence[Measurement], *, course: Course, sessions: Sequence[InfusionSession]
) -> dict[str, Any]:
    """The response summary of one course: pain and PHQ-9 from the last baseline before the
    course (or its first score) to its latest score while the course was open."""
    start, end = course.started_at, course.ended_at

    def window(instrument: str) -> list[ScorePoint]:
        points = _points(measurements, instrument)
        before = [p for p in points if p.at < start and p.context == "baseline"]
        during = [p for p in points if p.at >= start and (end is None or p.at <= end)]
        return before[-1:] + during

    stops = [
        e.at for s in sessions if s.state == "discharged" for e in s.events if e.kind == "stop"
    ]
    return _summary_text(summarise(window("nrs"), window("phq9"), max(stops) if stops else None))


def _points(measurements: Sequence[Measurement], instrument: str) -> list[ScorePoint]:
    return [
        ScorePoint(m.measured_at, value, m.context, m.session_id)
        for m in measurements
        if m.instrument == instrument and (value := _value(m, "total")) is not None
    ]


def _change_text(change: Change | None) -> dict[str, str] | None:
    if change is None:
        return None
    percent = change.change_percent
    return {
        "baseline": score_text(change.baseline),
        "latest": score_text(change.latest),
        "change": "—" if percent is None else f"{score_text(percent)} %",
        "verdict": change.verdict.replace("_", " "),
    }


def _summary_text(result: ResponseSummary) -> dict[str, Any]:
    """The summary as a clinician reads it; the exact values stay in ``ResponseSummary``."""
    mean = result.mean_session_change
    relief = result.relief_days
    if result.relief_from is None:
        relief_text = "no completed session yet"
    elif relief is None:
        relief_text = "pain not back to 70 % of baseline since the last session"
    else:
        relief_text = f"{score_text(relief)} days after the last session"
    return {
        "pain": _change_text(result.pain),
        "phq9": _change_text(result.phq9),
        "sessions_paired": result.sessions_paired,
        "mean_session_change": None if mean is None else score_text(mean),
        "relief": relief_text,
    }


def _value(m: Measurement, score: str) -> Fraction | None:
    text = m.scores.get(score)
    return None if text is None else Fraction(text)


def _series(
    measurements: Sequence[Measurement],
    instrument: str,
    score: str,
    label: str,
    panel: str,
    *,
    zone: ZoneInfo,
) -> dict[str, Any]:
    points = [
        (m.measured_at, value, m.context)
        for m in measurements
        if m.instrument == instrument and (value := _value(m, score)) is not None
    ]
    return {
        "name": label,
        "panel": panel,
        "x": [_wall(at, zone) for at, _, _ in points],
        "y": [float(value) for _, value, _ in points],
        "text": [f"{score_text(value)} ({context})" for _, value, context in points],
    }


def _pairs(measurements: Sequence[Measurement], zone: ZoneInfo) -> list[dict[str, Any]]:
    """Each session's pre → post of each instrument, drawn as a segment."""
    by_key: dict[tuple[int, str], dict[str, Measurement]] = {}
    for m in measurements:
        if m.session_id is not None and m.context in ("pre", "post"):
            by_key.setdefault((m.session_id, m.instrument), {})[m.context] = m
    pairs = []
    for (session_id, instrument), found in sorted(by_key.items()):
        spec = next((s for s in SERIES if s[0] == instrument), None)
        if spec is None or "pre" not in found or "post" not in found:
            continue
        before, after = _value(found["pre"], spec[1]), _value(found["post"], spec[1])
        if before is None or after is None:
            continue
        pairs.append(
            {
                "session_id": session_id,
                "panel": spec[3],
                "name": spec[2],
                "x": [_wall(found[c].measured_at, zone) for c in ("pre", "post")],
                "y": [float(before), float(after)],
                "change": score_text(after - before),
            }
        )
    return pairs


def _sessions(
    session: Session, actor: Actor, patient: Patient, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Sessions that happened, each labelled with its course phase (series or maintenance)."""
    phase_of: dict[int, str] = {}
    for course in courses.list_for_patient(session, actor=actor, patient=patient):
        out = courses.to_out(session, course, zone=zone)
        for item in out.sessions:
            phase_of[item.id] = "stabilisation" if item.counts_toward_series else "maintenance"
    rows = session.scalars(
        select(InfusionSession)
        .where(InfusionSession.patient_id == patient.id)
        .order_by(InfusionSession.scheduled_at, InfusionSession.id)
        .options(selectinload(InfusionSession.events))  # one query, not one per session
    ).all()
    drawn = []
    for row in rows:
        if row.state not in _DRAWN:
            continue
        started = next((e.at for e in row.events if e.kind == "start"), row.scheduled_at)
        stops = [e.at for e in row.events if e.kind == "stop"]
        drawn.append(
            {
                "id": row.id,
                "x": _wall(started, zone),
                "state": row.state,
                "phase": phase_of.get(row.id, "no course"),
                "ended_at": max(stops) if stops else None,
            }
        )
    return drawn


def latest_goal(session: Session, *, patient_id: int) -> PatientGoal | None:
    return session.scalars(
        select(PatientGoal)
        .where(PatientGoal.patient_id == patient_id)
        .order_by(PatientGoal.set_at.desc(), PatientGoal.id.desc())
        .limit(1)
    ).first()


def _goal(goal: PatientGoal | None) -> dict[str, Any] | None:
    if goal is None:
        return None
    return {"text": goal.text, "target_pain_nrs": goal.target_pain_nrs}


def set_goal(
    session: Session, *, actor: Actor, patient: Patient, text: str, target_pain_nrs: int | None
) -> PatientGoal:
    """Record the patient's goal as they say it; a new goal replaces the old one on the chart."""
    words = text.strip()
    if not words or len(words) > 500:
        raise InvalidInput("the goal must be 1–500 characters", loc=("body", "text"))
    if target_pain_nrs is not None and not 0 <= target_pain_nrs <= 10:
        raise InvalidInput(
            "the pain target must be a whole number 0–10", loc=("body", "target_pain_nrs")
        )
    goal = PatientGoal(
        patient_id=patient.id,
        text=words,
        target_pain_nrs=target_pain_nrs,
        set_at=clock.now(),
        set_by_user_id=actor.user_id,
    )
    session.add(goal)
    session.flush()
    audit.record(
        session, actor=actor, action="goal.create", patient_id=patient.id, detail=f"goal={goal.id}"
    )
    return goal
