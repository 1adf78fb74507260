"""The inbox: messages that could not be placed wait for a nurse, who dismisses them with a reason
or matches a vitals message to a session they choose. Every read of a waiting message is audited
(its raw text names a patient)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import InvalidInput, KetaclinicError, NotFound
from ketaclinic.infusions import charting
from ketaclinic.infusions import service as infusions
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.schemas import VitalsIn
from ketaclinic.interop.device_codes import DEFAULT_TABLE, DeviceCodeTable
from ketaclinic.interop.hl7_clinic import ACTIVE_STATES, CannotPlace, problems
from ketaclinic.interop.hl7_core import VitalsMessage, parse_message
from ketaclinic.interop.hl7_receive import REASON_MAX
from ketaclinic.interop.hl7_vitals import vitals_sets
from ketaclinic.interop.models import Hl7Message
from ketaclinic.patients.models import Patient

#: What waits in the inbox for a person to decide.
WAITING = ("inbox", "refused")
#: A dismissal says why, so whoever reads the record later knows it was decided, not lost.
DISMISS_REASON_MAX = REASON_MAX


@dataclass(frozen=True)
class InboxRow:
    """A message waiting for a person, with its patient where the MRN was found."""

    message: Hl7Message
    patient: Patient | None


def inbox(session: Session, *, actor: Actor, limit: int = 200) -> list[InboxRow]:
    """Messages waiting for a person (not placed, or refused as malformed), newest first. Each
    shows the raw message, which names a patient: every row is an audited read."""
    messages = session.scalars(
        select(Hl7Message)
        .where(
            Hl7Message.clinic_id == actor.clinic_id,
            Hl7Message.outcome.in_(WAITING),
        )
        .order_by(Hl7Message.received_at.desc(), Hl7Message.id.desc())
        .limit(limit)
    ).all()
    rows = []
    for message in messages:
        patient = session.get(Patient, message.patient_id) if message.patient_id else None
        audit.record(
            session,
            actor=actor,
            action="hl7.inbox.read",
            patient_id=message.patient_id,
            detail=f"hl7_message_id={message.id}",
        )
        rows.append(InboxRow(message, patient))
    return rows


def dismiss(
    session: Session, *, actor: Actor, message_id: int, reason: str, now: datetime
) -> Hl7Message:
    """A person decides a waiting message needs nothing charted, and says why."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("say why the message is dismissed", loc=("body", "reason"))
    if len(reason) > DISMISS_REASON_MAX:
        raise InvalidInput(
            f"the reason is at most {DISMISS_REASON_MAX} characters", loc=("body", "reason")
        )
    message = _waiting(session, actor, message_id)
    message.outcome = "dismissed"
    message.handled_by_user_id = actor.user_id
    message.handled_at = now
    message.handled_reason = reason
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hl7.dismiss",
        patient_id=message.patient_id,
        detail=f"hl7_message_id={message.id}",
    )
    return message


def active_sessions(session: Session, *, actor: Actor) -> list[tuple[InfusionSession, Patient]]:
    """The clinic's sessions a waiting message may be matched to (infusing, paused, observing),
    each with its patient (an audited read: the inbox names them to choose from)."""
    rows = session.execute(
        select(InfusionSession, Patient)
        .join(Patient, Patient.id == InfusionSession.patient_id)
        .where(
            InfusionSession.clinic_id == actor.clinic_id,
            InfusionSession.state.in_(ACTIVE_STATES),
        )
        .order_by(Patient.family_name, Patient.given_name, InfusionSession.id)
    ).all()
    for row, patient in rows:
        audit.record(
            session,
            actor=actor,
            action="hl7.inbox.sessions",
            patient_id=patient.id,
            detail=f"session_id={row.id}",
        )
    return [(row, patient) for row, patient in rows]


def match(
    session: Session,
    *,
    actor: Actor,
    message_id: int,
    session_id: int,
    zone: tzinfo,
    now: datetime,
    policy: charting.ChartingPolicy = charting.DEFAULT_POLICY,
    table: DeviceCodeTable = DEFAULT_TABLE,
) -> Hl7Message:
    """A person places a waiting vitals message on a session they chose (a monitor sent the
    wrong MRN, or the patient had no session open yet). The values are charted as from the
    device through the same rules, recorded as charted by that person, who decided."""
    message = _waiting(session, actor, message_id)
    parsed = parse_message(message.raw_text, table=table, assume_tz=zone)
    if not isinstance(parsed, VitalsMessage):
        raise InvalidInput(
            "only a vitals message (ORU^R01) that could be read can be matched to a session",
            loc=("path", "message_id"),
        )
    row = infusions.get(session, actor=actor, session_id=session_id, lock=True)
    if row is None:
        raise NotFound(f"no session {session_id} in your clinic", loc=("body", "session_id"))
    if row.state not in ACTIVE_STATES:
        raise InvalidInput(
            f"the session is {row.state}; vitals are matched to an infusing, paused or "
            "observing session",
            loc=("body", "session_id"),
        )
    source = {"source": "device", "device": parsed.device_id or "", "matched": "by hand"}
    try:
        charted, _ = vitals_sets(parsed.readings, row.patient_id)
        for observed_at, values in charted:
            data = VitalsIn(**values, observed_at=observed_at)
            charting.record_vitals(
                session, actor=actor, row=row, data=data, policy=policy, source=source
            )
    except ValidationError as error:
        raise InvalidInput(problems(error), loc=("body", "session_id")) from None
    except CannotPlace as refused:
        raise InvalidInput(refused.reason, loc=("body", "session_id")) from None
    except KetaclinicError as error:
        raise InvalidInput(error.msg, loc=("body", "session_id")) from None
    message.outcome = "matched"
    message.patient_id = row.patient_id
    message.session_id = row.id
    message.handled_by_user_id = actor.user_id
    message.handled_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hl7.match",
        patient_id=row.patient_id,
        detail=f"hl7_message_id={message.id} session_id={row.id}",
    )
    return message


def _waiting(session: Session, actor: Actor, message_id: int) -> Hl7Message:
    message = session.scalar(
        select(Hl7Message)
        .where(
            Hl7Message.id == message_id,
            Hl7Message.clinic_id == actor.clinic_id,
            Hl7Message.outcome.in_(WAITING),
        )
        .with_for_update()
    )
    if message is None:
        raise NotFound(
            f"no waiting message {message_id} in your clinic", loc=("path", "message_id")
        )
    return message
