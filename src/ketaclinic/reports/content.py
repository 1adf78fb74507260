"""What a patient progress report says, read from the database into plain frozen values.

Reading a record for a report is an access to it, so :func:`gather` audits once, in the caller's
transaction. :mod:`ketaclinic.reports.render` then needs no database, and can be tested on values
made by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit import service as audit
from ketaclinic.courses import service as courses
from ketaclinic.courses.models import Course
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.infusions.readings import delivered, stopped_early
from ketaclinic.instruments.definitions import INSTRUMENTS
from ketaclinic.monitoring.side_effects import BY_ID, MOAA_S_LEVELS, Scale
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.reports.outcome_lines import OutcomeLine, ResponseLine, responses

__all__ = [
    "AdverseEvent",
    "CourseLine",
    "DiagnosisLine",
    "Identity",
    "OutcomeLine",
    "PatientReport",
    "ResponseLine",
    "SessionLine",
    "gather",
    "patient_id_for_mrn",
]

#: Side-effect grades a report lists as adverse events: moderate or severe on the severity scale,
#: or sedation to MOAA/S 2 or deeper (responds only to prodding or pain), as the alert rules do.
_REPORTED_SEVERITIES = frozenset({"moderate", "severe"})
_DEEPEST_UNREPORTED_MOAA_S = 3


@dataclass(frozen=True)
class Identity:
    name: str
    mrn: str
    birth_date: date
    sex: str


@dataclass(frozen=True)
class DiagnosisLine:
    code: str
    title: str
    primary: bool


@dataclass(frozen=True)
class CourseLine:
    protocol: str
    phase: str
    series_progress: str
    started: date
    ended: date | None
    end_reason: str | None


@dataclass(frozen=True)
class SessionLine:
    """One session; ``delivered_mg`` is what the pump and pushes gave, ``planned`` the order."""

    session_id: int
    at: datetime
    state: str
    chair: str
    protocol: str
    planned: str | None
    delivered_mg: Decimal | None
    delivered_ml: Decimal | None
    reason: str | None


@dataclass(frozen=True)
class AdverseEvent:
    at: datetime
    session_id: int
    kind: str  # "alert", "side effect" or "aborted"
    severity: str
    text: str


@dataclass(frozen=True)
class PatientReport:
    clinic: str
    generated_at: datetime
    zone: str
    identity: Identity
    diagnoses: tuple[DiagnosisLine, ...]
    courses: tuple[CourseLine, ...]
    sessions: tuple[SessionLine, ...]
    outcomes: tuple[OutcomeLine, ...]
    responses: tuple[ResponseLine, ...]
    adverse_events: tuple[AdverseEvent, ...]


def patient_id_for_mrn(session: Session, *, clinic_id: int, mrn: str) -> int | None:
    """The patient with this MRN in the clinic (MRNs are unique per clinic), or ``None``."""
    return session.scalar(
        select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.mrn == mrn.strip())
    )


def gather(
    session: Session, *, actor: Actor, patient_id: int, zone: ZoneInfo
) -> PatientReport | None:
    """The report's content when the patient is in the actor's clinic (audited once as
    ``report.patient``), else ``None`` so the caller picks the status."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != actor.clinic_id:
        return None
    clinic = session.get(Clinic, patient.clinic_id)
    rows = _sessions(session, patient)
    labels = _protocol_labels(session, {r.protocol_version_id for r in rows})
    measurements = _measurements(session, patient)
    audit.record(session, actor=actor, action="report.patient", patient_id=patient.id)
    outcomes = tuple(_outcome(m, zone) for m in measurements)
    return PatientReport(
        clinic=clinic.name if clinic is not None else "",
        generated_at=clock.now().astimezone(zone),
        zone=zone.key,
        identity=Identity(
            name=f"{patient.given_name} {patient.family_name}",
            mrn=patient.mrn,
            birth_date=patient.birth_date,
            sex=patient.sex,
        ),
        diagnoses=tuple(DiagnosisLine(d.code, d.title, d.is_primary) for d in patient.diagnoses),
        courses=_courses(session, patient, zone),
        sessions=tuple(_session_line(r, labels, zone) for r in rows),
        outcomes=outcomes,
        responses=responses(outcomes),
        adverse_events=_adverse_events(rows, zone),
    )


def _sessions(session: Session, patient: Patient) -> list[InfusionSession]:
    return list(
        session.scalars(
            select(InfusionSession)
            .where(
                InfusionSession.patient_id == patient.id,
                InfusionSession.clinic_id == patient.clinic_id,
            )
            .options(selectinload(InfusionSession.events), selectinload(InfusionSession.alerts))
            .order_by(InfusionSession.scheduled_at, InfusionSession.id)
        ).all()
    )


def _measurements(session: Session, patient: Patient) -> list[Measurement]:
    return list(
        session.scalars(
            select(Measurement)
            .where(Measurement.patient_id == patient.id)
            .order_by(Measurement.measured_at, Measurement.id)
        ).all()
    )


def _protocol_labels(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.scalars(select(ProtocolVersion).where(ProtocolVersion.id.in_(ids))).all()
    return {p.id: f"{p.name} v{p.version}" for p in rows}


def _courses(session: Session, patient: Patient, zone: ZoneInfo) -> tuple[CourseLine, ...]:
    """Each course with the phase and series progress ``courses.core`` derives (not audited
    again: the report's own read is)."""
    rows = session.scalars(
        select(Course)
        .where(Course.patient_id == patient.id, Course.clinic_id == patient.clinic_id)
        .order_by(Course.started_at, Course.id)
    ).all()
    lines = []
    for row in rows:
        out = courses.to_out(session, row, zone=zone)
        lines.append(
            CourseLine(
                protocol=f"{out.protocol_name} v{out.protocol_version}",
                phase=out.phase,
                series_progress=out.series_progress,
                started=out.started_at.astimezone(zone).date(),
                ended=out.ended_at.astimezone(zone).date() if out.ended_at else None,
                end_reason=out.end_reason,
            )
        )
    return tuple(lines)


def _planned(row: InfusionSession) -> str | None:
    """The signed order in a clinician's words, e.g. "0.5 mg/kg/h for 40 min (29 mg)"."""
    plan = row.order_plan
    if plan is None:
        return None
    dose, unit, minutes = plan.get("dose"), plan.get("dose_unit"), plan.get("duration_min")
    total = plan.get("total_mg")
    return f"{_plain(dose)} {unit} for {minutes} min ({_plain(total)} mg)"


def _plain(value: object) -> str:
    """A stored decimal without trailing zeros ("0.50" → "0.5")."""
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except ArithmeticError:
        return str(value)


def _final_reason(row: InfusionSession) -> str | None:
    """Why an aborted, cancelled or no-show session ended, or "stopped early: 1.3 of 20.5 mg
    given (reason)" for an infusion stopped before its dose."""
    if row.state not in ("aborted", "cancelled", "no_show"):
        return stopped_early(row)
    reasons = [e.reason for e in row.events if e.reason and e.data.get("to") == row.state]
    return reasons[-1] if reasons else None


def _session_line(row: InfusionSession, labels: dict[int, str], zone: ZoneInfo) -> SessionLine:
    given = delivered(row)
    return SessionLine(
        session_id=row.id,
        at=row.scheduled_at.astimezone(zone),
        state=row.state,
        chair=row.chair.name,
        protocol=labels.get(row.protocol_version_id, f"protocol {row.protocol_version_id}"),
        planned=_planned(row),
        delivered_mg=given.total_mg if given is not None else None,
        delivered_ml=given.total_ml if given is not None else None,
        reason=_final_reason(row),
    )


def _outcome(row: Measurement, zone: ZoneInfo) -> OutcomeLine:
    definition = INSTRUMENTS.get(row.instrument)
    name = "total" if "total" in row.scores else next(iter(row.scores), "total")
    return OutcomeLine(
        instrument=row.instrument,
        label=definition.name if definition is not None else row.instrument,
        context=row.context,
        at=row.measured_at.astimezone(zone),
        score_name=name,
        value=Fraction(row.scores.get(name, "0")),
        band=row.band,
        session_id=row.session_id,
    )


def _adverse_events(rows: list[InfusionSession], zone: ZoneInfo) -> tuple[AdverseEvent, ...]:
    """Alerts raised, notable side effects and aborted sessions, in time order; what was
    entered in error (and the alerts it raised, withdrawn) is left out."""
    found: list[AdverseEvent] = []
    for row in rows:
        for alert in (a for a in row.alerts if a.withdrawn_at is None):
            found.append(
                AdverseEvent(
                    at=alert.raised_at.astimezone(zone),
                    session_id=row.id,
                    kind="alert",
                    severity=alert.severity,
                    text=f"{alert.message} ({alert.rule_id})",
                )
            )
        for event in row.events:
            if event.kind == "side_effects" and not event.in_error:
                found.extend(_side_effects(row.id, event, zone))
            elif event.kind == "abort":
                found.append(
                    AdverseEvent(
                        at=event.at.astimezone(zone),
                        session_id=row.id,
                        kind="aborted",
                        severity="-",
                        text=f"session aborted: {event.reason or 'no reason recorded'}",
                    )
                )
    return tuple(sorted(found, key=lambda a: (a.at, a.session_id)))


def _side_effects(session_id: int, event: SessionEvent, zone: ZoneInfo) -> list[AdverseEvent]:
    found = []
    for item in event.data.get("assessments", []):
        definition = BY_ID.get(str(item.get("effect")))
        grade = item.get("grade")
        if definition is None:
            continue
        if definition.scale is Scale.MOAA_S:
            if not isinstance(grade, int) or grade >= _DEEPEST_UNREPORTED_MOAA_S:
                continue
            severity, text = f"MOAA/S {grade}", MOAA_S_LEVELS.get(grade, "")
        elif grade in _REPORTED_SEVERITIES:
            severity, text = str(grade), str(grade)
        else:
            continue
        found.append(
            AdverseEvent(
                at=event.at.astimezone(zone),
                session_id=session_id,
                kind="side effect",
                severity=severity,
                text=f"{definition.label}: {text}",
            )
        )
    return found
