"""Course use-cases: start a course, read and list them, end one, and the check the infusions
service makes before a session joins a course.

One transaction each (the caller's), each audited. The phase and the next-session suggestion come
from ``courses.core``; nothing derived is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.courses.core import Progress, SeriesRule, SessionFact, progress
from ketaclinic.courses.models import Course
from ketaclinic.courses.schemas import CourseCreate, CourseOut, CourseSessionOut, NextSessionOut
from ketaclinic.errors import Conflict, InvalidInput, NotFound
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.infusions.pump import stopped_early
from ketaclinic.patients import service as patients
from ketaclinic.patients.models import Patient
from ketaclinic.portal.core import schedule_from
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion

#: The event kind of the move that leads into each final state; its ``at`` dates a discharge and
#: its ``reason`` explains an abort or a cancellation.
_FINAL_MOVE = {
    State.DISCHARGED: "discharge",
    State.ABORTED: "abort",
    State.CANCELLED: "cancel",
    State.NO_SHOW: "mark_no_show",
}


def _clinic(actor: Actor) -> int:
    if actor.clinic_id is None:
        raise InvalidInput("this account belongs to no clinic")
    return actor.clinic_id


def _user(actor: Actor) -> int:
    assert actor.user_id is not None
    return actor.user_id


def _audit(session: Session, actor: Actor, row: Course, action: str) -> None:
    audit.record(
        session, actor=actor, action=action, patient_id=row.patient_id, detail=f"course_id={row.id}"
    )


def get(session: Session, *, actor: Actor, course_id: int) -> Course | None:
    """The course when it belongs to the actor's clinic (audited as a read), else ``None``."""
    row = session.get(Course, course_id)
    if row is None or row.clinic_id != actor.clinic_id:
        return None
    _audit(session, actor, row, "course.read")
    return row


def require_patient(
    session: Session, *, actor: Actor, patient_id: int, loc: tuple[str, ...]
) -> Patient:
    """The patient (audited as a read), or 404 when not in the actor's clinic."""
    patient = patients.get(session, actor=actor, patient_id=patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id} in your clinic", loc=loc)
    return patient


def list_for_patient(session: Session, *, actor: Actor, patient: Patient) -> Sequence[Course]:
    """A patient's courses, newest first; ``patient`` comes from ``require_patient``."""
    rows = session.scalars(
        select(Course)
        .where(Course.patient_id == patient.id, Course.clinic_id == actor.clinic_id)
        .order_by(Course.started_at.desc(), Course.id.desc())
    ).all()
    audit.record(
        session,
        actor=actor,
        action="course.list",
        patient_id=patient.id,
        detail=f"results={len(rows)}",
    )
    return rows


def create(session: Session, *, actor: Actor, data: CourseCreate) -> Course:
    """Start a course. A patient has at most one open course per protocol (by key, whatever the
    version): two open series of one protocol would double-count and double-book."""
    clinic_id = _clinic(actor)
    patient = require_patient(
        session, actor=actor, patient_id=data.patient_id, loc=("body", "patient_id")
    )
    protocol = protocols.get(session, clinic_id=clinic_id, protocol_id=data.protocol_id)
    if protocol is None:
        raise NotFound(f"no protocol {data.protocol_id}", loc=("body", "protocol_id"))
    # Lock the patient so two physicians starting the same course at once cannot both pass the
    # check below (PostgreSQL; SQLite serialises writers anyway).
    session.execute(select(Patient.id).where(Patient.id == patient.id).with_for_update())
    already = session.scalar(
        select(Course.id)
        .join(ProtocolVersion, ProtocolVersion.id == Course.protocol_version_id)
        .where(
            Course.patient_id == patient.id,
            Course.ended_at.is_(None),
            ProtocolVersion.key == protocol.key,
        )
    )
    if already is not None:
        raise Conflict(
            f"course {already} of protocol {protocol.name} is still open for this patient; "
            "end it before starting another",
            loc=("body", "protocol_id"),
        )
    row = Course(
        patient_id=patient.id,
        clinic_id=clinic_id,
        protocol_version_id=protocol.id,
        started_at=clock.now(),
        created_by_user_id=_user(actor),
    )
    session.add(row)
    session.flush()
    _audit(session, actor, row, "course.create")
    return row


def end(
    session: Session, *, actor: Actor, row: Course, reason: str, version: int | None = None
) -> Course:
    """End the course with the physician's reason. Its sessions stay in it, with their states."""
    if version is not None and version != row.version_id:
        raise Conflict(
            f"the course is at version {row.version_id}, not {version}; reload it and try again",
            loc=("body", "version"),
        )
    if row.ended_at is not None:
        raise Conflict(f"course {row.id} has already ended", loc=("state",))
    if not reason.strip():
        raise InvalidInput("ending a course needs a non-blank reason", loc=("body", "reason"))
    row.ended_at = clock.now()
    row.end_reason = reason.strip()
    session.flush()
    _audit(session, actor, row, "course.end")
    return row


def set_questionnaire_schedule(
    session: Session,
    *,
    actor: Actor,
    row: Course,
    every_days: dict[str, int] | None,
    version: int | None = None,
) -> Course:
    """Which portal questionnaires the patient is asked during this open course, and how often
    (``None``: the clinic default)."""
    if version is not None and version != row.version_id:
        raise Conflict(
            f"the course is at version {row.version_id}, not {version}; reload it and try again",
            loc=("body", "version"),
        )
    if row.ended_at is not None:
        raise Conflict(f"course {row.id} has ended", loc=("state",))
    if every_days is not None:
        try:
            schedule_from(every_days)
        except ValueError as error:
            raise InvalidInput(str(error), loc=("body", "every_days")) from None
    row.questionnaire_schedule = None if every_days is None else dict(every_days)
    session.flush()
    _audit(session, actor, row, "course.questionnaires")
    return row


def require_open_course(
    session: Session, *, actor: Actor, course_id: int, patient_id: int, protocol_version_id: int
) -> Course:
    """The course a new session may join, or why it may not: in the actor's clinic, this
    patient's, not ended, and on the session's protocol version (a course's sessions all follow
    one version, so its series counts mean one thing).

    Not audited here: the caller's own action (scheduling) is audited with the session.
    """
    row = session.get(Course, course_id, with_for_update=True)
    if row is None or row.clinic_id != actor.clinic_id:
        raise NotFound(f"no course {course_id} in your clinic", loc=("body", "course_id"))
    if row.patient_id != patient_id:
        raise InvalidInput(
            f"course {course_id} belongs to another patient", loc=("body", "course_id")
        )
    if row.ended_at is not None:
        raise Conflict(
            f"course {course_id} has ended; start a new course", loc=("body", "course_id")
        )
    if row.protocol_version_id != protocol_version_id:
        raise InvalidInput(
            f"course {course_id} follows protocol version {row.protocol_version_id} "
            f"({_protocol_label(session, row.protocol_version_id)}), but the session would use "
            f"protocol version {protocol_version_id} "
            f"({_protocol_label(session, protocol_version_id)})",
            loc=("body", "protocol_id"),
        )
    return row


def _protocol_label(session: Session, protocol_version_id: int) -> str:
    protocol = session.get(ProtocolVersion, protocol_version_id)
    return "unknown" if protocol is None else f"{protocol.name} v{protocol.version}"


# --- reading a course -----------------------------------------------------------------------------


def sessions_of(session: Session, row: Course) -> Sequence[InfusionSession]:
    """The course's sessions with their events, in booking order."""
    return session.scalars(
        select(InfusionSession)
        .where(InfusionSession.course_id == row.id)
        .options(selectinload(InfusionSession.events))
        .order_by(InfusionSession.scheduled_at, InfusionSession.id)
    ).all()


def _final_event(row: InfusionSession) -> SessionEvent | None:
    """The event that moved the session into its final state, if it is in one."""
    kind = _FINAL_MOVE.get(State(row.state))
    if kind is None:
        return None
    matching = [e for e in row.events if e.kind == kind or e.data.get("to") == row.state]
    return matching[-1] if matching else None


def _stopped_early(row: InfusionSession) -> str | None:
    """'stopped early: 1.3 of 20.5 mg given (reason)' for an infusion stopped before its dose."""
    stops = [e for e in row.events if e.kind == "stop"]
    return stopped_early(stops[-1].data or {}, stops[-1].reason) if stops else None


def fact(row: InfusionSession, zone: ZoneInfo) -> SessionFact:
    """A stored session as ``courses.core`` sees it, with dates on the clinic's calendar."""
    final = _final_event(row)
    discharged = row.state == State.DISCHARGED and final is not None
    return SessionFact(
        session_id=row.id,
        state=row.state,
        scheduled_date=row.scheduled_at.astimezone(zone).date(),
        discharged_date=final.at.astimezone(zone).date() if discharged and final else None,
        reason=final.reason if final is not None and not discharged else None,
    )


def to_out(session: Session, row: Course, *, zone: ZoneInfo) -> CourseOut:
    """The course with its derived phase, counts, suggestion and every session."""
    protocol = session.get(ProtocolVersion, row.protocol_version_id)
    assert protocol is not None  # a foreign key
    definition = protocols.definition(protocol)
    rule = SeriesRule(
        series_sessions=definition.series_sessions,
        series_spacing_days=definition.series_spacing_days,
        maintenance_rule=definition.maintenance_rule,
    )
    stored = sessions_of(session, row)
    facts = [fact(s, zone) for s in stored]
    result: Progress = progress(
        rule, facts, ended=row.ended_at is not None, today=clock.today(zone)
    )
    return CourseOut(
        id=row.id,
        version=row.version_id,
        patient_id=row.patient_id,
        protocol_id=protocol.id,
        protocol_key=protocol.key,
        protocol_name=protocol.name,
        protocol_version=protocol.version,
        started_at=row.started_at,
        created_by_user_id=row.created_by_user_id,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        phase=result.phase.value,
        series_sessions=rule.series_sessions,
        series_spacing_days=rule.series_spacing_days,
        series_completed=result.series_completed,
        series_progress=result.series_progress,
        maintenance_completed=result.maintenance_completed,
        aborted=result.aborted,
        maintenance_rule=rule.maintenance_rule,
        next_session=NextSessionOut(
            kind=result.next_session.kind.value,
            earliest_date=result.next_session.earliest_date,
            text=result.next_session.text,
        ),
        sessions=[
            CourseSessionOut(
                id=s.id,
                state=s.state,
                scheduled_at=s.scheduled_at,
                date=f.completed_date if f.completed else f.scheduled_date,
                counts_toward_series=s.id in result.series_session_ids,
                reason=f.reason,
                stopped_early=_stopped_early(s),
            )
            for s, f in zip(stored, facts, strict=True)
        ],
        questionnaire_schedule=row.questionnaire_schedule,
    )
