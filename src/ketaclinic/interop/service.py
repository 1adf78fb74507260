"""Receiving HL7 v2 messages: each stored once, vitals charted on the patient's active session.

Every message is kept (issue #14: nothing silently dropped) with the ACK its sender got, so a
repeated MSH-10 from the same sender is answered with that same ACK and stored once. Vitals go
through the same charting service as a nurse's entry (plausibility bands, late-entry rule, alert
rules), by the clinic's device account, and are marked as from a device. What cannot be placed is
answered AE with the reason and waits in the inbox for a nurse, who decides what becomes of it.
One transaction per message; nothing about a patient is logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import Clinic, User
from ketaclinic.audit import service as audit
from ketaclinic.errors import InvalidInput, KetaclinicError, NotFound
from ketaclinic.infusions import charting
from ketaclinic.infusions import service as infusions
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.schemas import VitalsIn
from ketaclinic.interop.device_codes import DEFAULT_TABLE, FLOWSHEET_FIELDS_TODAY, DeviceCodeTable
from ketaclinic.interop.hl7_core import (
    ERR_DATA_TYPE,
    AckCode,
    Demographics,
    MessageHeader,
    Parsed,
    Reading,
    Refusal,
    VitalsMessage,
    build_ack,
    decode_payload,
    parse_message,
)
from ketaclinic.interop.models import Hl7Message
from ketaclinic.patients import service as patients
from ketaclinic.patients.core import Sex
from ketaclinic.patients.models import Patient
from ketaclinic.patients.schemas import PatientUpdate

#: The states in which a monitor's vitals are placed on a session (issue #14: "current infusing
#: or observing session"; paused is still at the chair with the line in).
ACTIVE_STATES = (State.INFUSING.value, State.PAUSED.value, State.OBSERVING.value)

#: Error code for "application internal error" (HL7 table 0357) used when a message is usable
#: but cannot be placed; the reason in MSA-3/ERR-8 says why.
ERR_CANNOT_PLACE = "207"

#: Not an argon2 hash, so verify_password answers False for every password.
UNUSABLE_PASSWORD_HASH = "!"  # noqa: S105
REASON_MAX = 500
#: What waits in the inbox for a person to decide.
WAITING = ("inbox", "refused")
SENDER_MAX = 227
CONTROL_ID_MAX = 199


class ClinicNotConfigured(KetaclinicError):
    """The listener cannot tell whose patients it charts."""


@dataclass(frozen=True)
class Outcome:
    """What became of one message, before it is stored."""

    outcome: str
    ack_code: AckCode
    reason: str | None = None
    error_code: str | None = None
    patient_id: int | None = None
    session_id: int | None = None


class _CannotPlace(Exception):
    def __init__(self, reason: str, patient_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.patient_id = patient_id


def resolve_clinic(session: Session, code: str | None) -> int:
    """The clinic the listener charts for: the configured code, or the only clinic there is."""
    if code is not None:
        found = session.scalar(select(Clinic.id).where(Clinic.code == code))
        if found is None:
            raise ClinicNotConfigured(f"no clinic with code {code!r} (KETACLINIC_HL7_CLINIC)")
        return found
    ids = session.scalars(select(Clinic.id).limit(2)).all()
    if len(ids) != 1:
        raise ClinicNotConfigured(
            "set KETACLINIC_HL7_CLINIC to the code of the clinic whose patients the listener "
            f"charts (found {'no' if not ids else 'more than one'} clinic)"
        )
    return ids[0]


def device_username(clinic_id: int) -> str:
    return f"hl7-device-{clinic_id}"


def device_actor(session: Session, clinic_id: int) -> Actor:
    """The clinic's device account, which charts what monitors send. It cannot sign in: it is
    inactive and has no usable password."""
    username = device_username(clinic_id)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(
            clinic_id=clinic_id,
            username=username,
            display_name="Bedside monitor (HL7)",
            role=Role.STAFF.value,
            password_hash=UNUSABLE_PASSWORD_HASH,
            is_active=False,
            created_at=clock.now(),
        )
        session.add(user)
        session.flush()
    return Actor(user.id, username, None, clinic_id, client_address="hl7")


def ensure_device_account(session: Session, clinic_id: int) -> None:
    """Create the device account up front (the listener does, in its own transaction), so two
    messages at once never both try."""
    with session.begin():
        device_actor(session, clinic_id)


def receive(
    session: Session,
    raw_text: str,
    *,
    clinic_id: int,
    zone: tzinfo,
    now: datetime,
    policy: charting.ChartingPolicy = charting.DEFAULT_POLICY,
    table: DeviceCodeTable = DEFAULT_TABLE,
) -> str:
    """Handle one received message in one transaction and return the ACK to send back."""
    parsed = parse_message(raw_text, table=table, assume_tz=zone)
    return _receive(
        session, raw_text, parsed, clinic_id=clinic_id, zone=zone, now=now, policy=policy
    )


def receive_payload(
    session: Session,
    payload: bytes,
    *,
    clinic_id: int,
    zone: tzinfo,
    now: datetime,
    policy: charting.ChartingPolicy = charting.DEFAULT_POLICY,
    table: DeviceCodeTable = DEFAULT_TABLE,
) -> bytes:
    """An MLLP payload as received: text that is not UTF-8 is refused (AR) and kept as well,
    its undecodable bytes replaced so the stored text shows what arrived."""
    text = decode_payload(payload)
    if isinstance(text, Refusal):
        kept = payload.decode("utf-8", errors="replace")
        ack = _receive(session, kept, text, clinic_id=clinic_id, zone=zone, now=now, policy=policy)
    else:
        ack = receive(
            session, text, clinic_id=clinic_id, zone=zone, now=now, policy=policy, table=table
        )
    return ack.encode("utf-8")


def _receive(
    session: Session,
    raw_text: str,
    parsed: Parsed,
    *,
    clinic_id: int,
    zone: tzinfo,
    now: datetime,
    policy: charting.ChartingPolicy,
) -> str:
    header = parsed.header
    if header is not None and _too_long(header):
        parsed = Refusal(
            "AR", "MSH-3, MSH-4 or MSH-10 is longer than HL7 allows", ERR_DATA_TYPE, None
        )
        header = None
    try:
        with session.begin():
            if header is not None:
                earlier = _stored(session, header)
                if earlier is not None:
                    return earlier.ack_text
            outcome = _decide(session, parsed, clinic_id=clinic_id, zone=zone, policy=policy)
            ack = _ack(header, outcome, now)
            _store(session, clinic_id, raw_text, header, outcome, ack, now)
            return ack
    except IntegrityError:
        # The same message arrived on another connection at the same moment and was stored
        # first: answer with what that one got. Any other violation is a fault, raised as it is.
        if header is None:
            raise
        with session.begin():
            earlier = _stored(session, header)
        if earlier is None:
            raise
        return earlier.ack_text


def _too_long(header: MessageHeader) -> bool:
    """Longer than the columns (HL7 v2.6: HD 227, MSH-10 199); such a message is kept whole but
    never deduplicated, since its key cannot be stored."""
    return (
        len(header.sending_application) > SENDER_MAX
        or len(header.sending_facility) > SENDER_MAX
        or len(header.control_id) > CONTROL_ID_MAX
    )


def _stored(session: Session, header: MessageHeader) -> Hl7Message | None:
    return session.scalar(
        select(Hl7Message).where(
            Hl7Message.sending_application == header.sending_application,
            Hl7Message.sending_facility == header.sending_facility,
            Hl7Message.control_id == header.control_id,
        )
    )


def _decide(
    session: Session,
    parsed: Parsed,
    *,
    clinic_id: int,
    zone: tzinfo,
    policy: charting.ChartingPolicy,
) -> Outcome:
    if isinstance(parsed, Refusal):
        # AR: the message itself cannot be processed; AE: usable but its content cannot be placed.
        where = "refused" if parsed.ack_code == "AR" else "inbox"
        return Outcome(where, parsed.ack_code, parsed.reason, parsed.error_code)
    # Outside the savepoint: the audit events of a refused charting (the session read) name it.
    actor = device_actor(session, clinic_id)
    try:
        with session.begin_nested():
            if isinstance(parsed, Demographics):
                today = clock.now().astimezone(zone).date()
                return _update_patient(
                    session, parsed, actor=actor, clinic_id=clinic_id, today=today
                )
            return _chart(session, parsed, actor=actor, clinic_id=clinic_id, policy=policy)
    except _CannotPlace as refused:
        return Outcome(
            "inbox",
            "AE",
            refused.reason,
            ERR_CANNOT_PLACE,
            patient_id=refused.patient_id,
        )


def _chart(
    session: Session,
    message: VitalsMessage,
    *,
    actor: Actor,
    clinic_id: int,
    policy: charting.ChartingPolicy,
) -> Outcome:
    """Place the message on the patient's active session and chart each set of readings."""
    patient_id = session.scalar(
        select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.mrn == message.mrn)
    )
    if patient_id is None:
        raise _CannotPlace("no patient with this MRN (PID-3) in the clinic")
    active = session.scalars(
        select(InfusionSession.id).where(
            InfusionSession.patient_id == patient_id,
            InfusionSession.state.in_(ACTIVE_STATES),
        )
    ).all()
    if len(active) != 1:
        audit.record(session, actor=actor, action="hl7.unplaced", patient_id=patient_id)
        what = "no infusing, paused or observing session" if not active else "several sessions"
        raise _CannotPlace(f"the patient has {what} to chart on", patient_id)
    row = infusions.get(session, actor=actor, session_id=active[0], lock=True)
    assert row is not None  # same clinic: the patient's
    charted, extra = _vitals_sets(message.readings, patient_id)
    source = {"source": "device", "device": message.device_id or ""}
    for observed_at, values in charted:
        try:
            data = VitalsIn(**values, observed_at=observed_at)
            charting.record_vitals(
                session, actor=actor, row=row, data=data, policy=policy, source=source
            )
        except ValidationError as error:
            raise _CannotPlace(_problems(error), patient_id) from None
        except KetaclinicError as error:
            raise _CannotPlace(error.msg, patient_id) from None
    note = None
    if extra:
        note = "kept in the message, not on the flowsheet: " + ", ".join(sorted(extra))
    return Outcome("accepted", "AA", note, patient_id=patient_id, session_id=row.id)


#: HL7 table 0001 to the record's sex; A (ambiguous) and N (not applicable) have no equivalent,
#: so they leave the record's value as it is.
_SEX_OF = {"F": Sex.FEMALE, "M": Sex.MALE, "O": Sex.OTHER, "U": Sex.UNKNOWN}


def _update_patient(
    session: Session, message: Demographics, *, actor: Actor, clinic_id: int, today: date
) -> Outcome:
    """ADT^A04/A08 for a patient the clinic has: names, birth date and sex updated through the
    patients service (its checks, its audit). A new patient is not registered from ADT: the
    record needs a weight, which these messages do not carry."""
    patient = session.scalar(
        select(Patient).where(Patient.clinic_id == clinic_id, Patient.mrn == message.mrn)
    )
    if patient is None:
        raise _CannotPlace(
            "no patient with this MRN (PID-3) in the clinic; registering from ADT is not "
            "supported (the record needs a weight): register the patient in the app"
        )
    changes: dict[str, object] = {
        "given_name": message.given_name,
        "family_name": message.family_name,
    }
    if message.birth_date is not None:
        changes["birth_date"] = message.birth_date
    if message.sex in _SEX_OF:
        changes["sex"] = _SEX_OF[message.sex]
    try:
        data = PatientUpdate.model_validate(changes)
        patients.update(session, actor=actor, patient=patient, data=data, today=today)
    except ValidationError as error:
        raise _CannotPlace(_problems(error), patient.id) from None
    except KetaclinicError as error:
        raise _CannotPlace(error.msg, patient.id) from None
    return Outcome("accepted", "AA", patient_id=patient.id)


def _vitals_sets(
    readings: Sequence[Reading], patient_id: int
) -> tuple[list[tuple[datetime, dict[str, int]]], set[str]]:
    """The readings grouped by the time they were observed, each a whole flowsheet row.

    The flowsheet stores whole numbers: a fraction is refused, never rounded. It charts the five
    vitals together, so a time missing one of them cannot be charted."""
    groups: dict[datetime, dict[str, int]] = {}
    extra: set[str] = set()
    for reading in readings:
        if reading.field not in FLOWSHEET_FIELDS_TODAY:
            extra.add(reading.field)
            continue
        if reading.value != reading.value.to_integral_value():
            raise _CannotPlace(
                f"{reading.field} {reading.value}: the flowsheet stores whole numbers "
                "(the value is not rounded)",
                patient_id,
            )
        groups.setdefault(reading.observed_at, {})[reading.field] = int(reading.value)
    if not groups:
        raise _CannotPlace("no value the flowsheet records", patient_id)
    for values in groups.values():
        missing = FLOWSHEET_FIELDS_TODAY - values.keys()
        if missing:
            raise _CannotPlace(
                "the flowsheet charts the five vitals together; missing: "
                + ", ".join(sorted(missing)),
                patient_id,
            )
    return sorted(groups.items()), extra


def _ack(header: MessageHeader | None, outcome: Outcome, now: datetime) -> str:
    return build_ack(
        header,
        outcome.ack_code,
        control_id=uuid.uuid4().hex[:20],
        timestamp=now,
        text=outcome.reason or "" if outcome.ack_code != "AA" else "",
        error_code=outcome.error_code,
    )


def _store(
    session: Session,
    clinic_id: int,
    raw_text: str,
    header: MessageHeader | None,
    outcome: Outcome,
    ack: str,
    now: datetime,
) -> None:
    message_type = (
        f"{header.message_code}^{header.trigger_event}"[:16] if header is not None else ""
    )
    stored = Hl7Message(
        clinic_id=clinic_id,
        received_at=now,
        sending_application=header.sending_application if header else None,
        sending_facility=header.sending_facility if header else None,
        control_id=header.control_id if header else None,
        message_type=message_type,
        raw_text=raw_text,
        outcome=outcome.outcome,
        ack_code=outcome.ack_code,
        ack_text=ack,
        reason=outcome.reason[:REASON_MAX] if outcome.reason else None,
        patient_id=outcome.patient_id,
        session_id=outcome.session_id,
    )
    session.add(stored)
    session.flush()


@dataclass(frozen=True)
class InboxRow:
    """A message waiting for a person, with its patient where the MRN was found."""

    message: Hl7Message
    patient: Patient | None


#: A dismissal says why, so whoever reads the record later knows it was decided, not lost.
DISMISS_REASON_MAX = REASON_MAX


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
        charted, _ = _vitals_sets(parsed.readings, row.patient_id)
        for observed_at, values in charted:
            data = VitalsIn(**values, observed_at=observed_at)
            charting.record_vitals(
                session, actor=actor, row=row, data=data, policy=policy, source=source
            )
    except ValidationError as error:
        raise InvalidInput(_problems(error), loc=("body", "session_id")) from None
    except _CannotPlace as refused:
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


def _problems(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


__all__ = [
    "ACTIVE_STATES",
    "ClinicNotConfigured",
    "active_sessions",
    "device_actor",
    "dismiss",
    "ensure_device_account",
    "inbox",
    "match",
    "receive",
    "receive_payload",
    "resolve_clinic",
]
