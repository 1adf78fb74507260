"""How a session use-case writes: one event per thing that happened, one audit entry per action.

Shared by the use-case modules so that every action is audited in the caller's transaction, the
same way. Two kinds of action write differently:

- a **move** of the state machine, the order and its verification, a clearance, a rate change or a
  bolus writes the session row (``touch``), which moves its version: a client acting on a stale
  version gets a conflict, because what it decided on has changed;
- an **observation** (vitals, side effects, an adjunct, an alert acknowledged) only appends rows
  beside the session (``append``): the session row and its version stay as they were, so two
  nurses charting the same patient at the same moment never conflict.

Every write holds the session row's lock (``service.get(..., lock=True)``, taken before anything
else in the transaction), so the guards that read what was charted before (the state, an
adjunct's per-session limit, an alert acknowledged once) see every earlier write of this session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, object_session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.dosing.protocol import Protocol
from ketaclinic.errors import Conflict, InvalidInput
from ketaclinic.infusions.core import GuardContext, Move, State, transition
from ketaclinic.infusions.models import InfusionSession, SessionAlert, SessionEvent
from ketaclinic.patients import service as patients
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion

#: What a ``SessionEvent.kind`` may be. Moves of the state machine use the move's name.
EVENT_KINDS = frozenset(
    {
        "check_in",
        "order",
        "verify",
        "start",
        "rate",
        "pause",
        "resume",
        "stop",
        "abort",
        "cancel",
        "reschedule",
        "mark_no_show",
        "discharge",
        "vitals",
        "clearance",
        "side_effects",
        "adjunct",
        "bolus",
    }
)

#: From check-in to discharge the nurse charts vitals, side effects and adjuncts.
CHARTING_STATES = frozenset({State.CHECKED_IN, State.INFUSING, State.PAUSED, State.OBSERVING})


def clinic_of(actor: Actor) -> int:
    if actor.clinic_id is None:
        raise InvalidInput("this account belongs to no clinic")
    return actor.clinic_id


def user_of(actor: Actor) -> int:
    assert actor.user_id is not None
    return actor.user_id


def protocol_row(session: Session, row: InfusionSession) -> ProtocolVersion:
    protocol = session.get(ProtocolVersion, row.protocol_version_id)
    assert protocol is not None  # a foreign key
    return protocol


def protocol_of(session: Session, row: InfusionSession) -> Protocol:
    """The protocol version the session was scheduled with, whatever was edited since."""
    return protocols.definition(protocol_row(session, row))


def patient_of(session: Session, actor: Actor, row: InfusionSession) -> Patient:
    """The session's patient (an audited read)."""
    patient = patients.get(session, actor=actor, patient_id=row.patient_id)
    assert patient is not None  # the session is in the actor's clinic, so is its patient
    return patient


def require_charting(row: InfusionSession) -> None:
    require_charting_state(row.state)


def require_charting_state(state: str) -> None:
    if State(state) not in CHARTING_STATES:
        raise Conflict(
            f"this is charted from check-in to discharge; the session is {state}",
            loc=("state",),
        )


def event(
    row: InfusionSession,
    actor: Actor,
    kind: str,
    *,
    rate_mg_per_h: Decimal | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> SessionEvent:
    assert kind in EVENT_KINDS
    now = clock.now()
    added = SessionEvent(
        kind=kind,
        at=now,
        recorded_at=now,
        by_user_id=user_of(actor),
        rate_mg_per_h=rate_mg_per_h,
        reason=reason,
        data=data or {},
    )
    attach(row, "events", added)
    return added


def attach(row: InfusionSession, collection: str, child: SessionEvent | SessionAlert) -> None:
    """Add ``child`` to one of the session's collections without loading it: a session charted
    for hours has hundreds of events and alerts, and appending to an unloaded relationship reads
    them all first (the HL7 listener charts a message every few seconds per chair). A collection
    already loaded (a page that read the timeline) gets the child too, so it stays current; one
    not loaded is read from the database, child included, when it is first used."""
    session = object_session(row)
    if session is None or row.id is None or collection not in inspect(row).unloaded:
        getattr(row, collection).append(child)
        return
    child.session_id = row.id
    session.add(child)


def first_event_at(row: InfusionSession, kind: str) -> datetime | None:
    """When the session's first event of ``kind`` happened, without loading its timeline."""
    return _event_at(row, kind, func.min, min)


def last_event_at(row: InfusionSession, kind: str) -> datetime | None:
    """When the session's last event of ``kind`` happened, without loading its timeline."""
    return _event_at(row, kind, func.max, max)


def _event_at(
    row: InfusionSession,
    kind: str,
    aggregate: Callable[..., Any],
    pick: Callable[[list[datetime]], datetime],
) -> datetime | None:
    session = object_session(row)
    if session is None or row.id is None or "events" not in inspect(row).unloaded:
        times = [e.at for e in row.events if e.kind == kind]
        return pick(times) if times else None
    # One index lookup (ix_session_event_session_id_kind_at); autoflush includes pending events.
    found: datetime | None = session.scalar(
        select(aggregate(SessionEvent.at)).where(
            SessionEvent.session_id == row.id, SessionEvent.kind == kind
        )
    )
    return found


def move(
    session: Session,
    actor: Actor,
    row: InfusionSession,
    requested: Move,
    context: GuardContext,
    *,
    rate_mg_per_h: Decimal | None = None,
    data: dict[str, Any] | None = None,
) -> InfusionSession:
    """One state-machine move: checked against the table and its guards, recorded, audited."""
    before = row.state
    after = transition(before, requested.value, context)
    row.state = after.value
    event(
        row,
        actor,
        requested.value,
        rate_mg_per_h=rate_mg_per_h,
        reason=context.reason,
        data={"from": before, "to": after.value, **(data or {})},
    )
    touch(session, actor, row, f"session.{requested.value}")
    return row


def touch(session: Session, actor: Actor, row: InfusionSession, action: str) -> None:
    """A move or a dose decision: writing the row moves version_id, so a client acting on what
    it saw before gets a conflict."""
    row.updated_at = clock.now()
    session.flush()
    audit_session(session, actor, row, action)


def append(session: Session, actor: Actor, row: InfusionSession, action: str) -> None:
    """An observation: its events and alerts are flushed beside the session, whose row (and so
    whose version) is not written, so observations never conflict with each other."""
    session.flush()
    audit_session(session, actor, row, action)


def audit_session(session: Session, actor: Actor, row: InfusionSession, action: str) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        patient_id=row.patient_id,
        detail=f"session_id={row.id}",
    )
