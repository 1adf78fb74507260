"""Writing and reading the audit trail. Writes join the caller's transaction.

Sealing and verifying are in ``audit.sealing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast as cast_as

from sqlalchemy import BigInteger, Table, Text, cast, event, func, insert, select
from sqlalchemy.orm import Session, SessionTransaction

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit.core import EventFields, event_mac
from ketaclinic.audit.models import AuditEvent
from ketaclinic.db import audit_key_of

_PENDING = "ketaclinic_audit_pending"
_TABLE = cast_as(Table, AuditEvent.__table__)
#: PostgreSQL's id of the writing transaction (the sealer waits until it has ended).
_CURRENT_XACT_ID = cast(cast(func.pg_current_xact_id(), Text), BigInteger)
# Built once: every transaction that writes inserts its events.
_INSERT = insert(_TABLE)
_INSERT_POSTGRES = insert(_TABLE).values(xact_id=_CURRENT_XACT_ID)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    patient_id: int | None = None,
    detail: str | None = None,
    username: str | None = None,
) -> None:
    """Append one event to the caller's transaction, so it commits or rolls back with the change.

    Events wait in the session and go in with one multi-row INSERT when the transaction commits
    (or when ``write_pending`` is called): nothing is read or updated, so concurrent requests never
    wait on each other here, and a page that shows eight patients costs one round trip, not eight.
    ``detail`` must never hold patient data: ids and counts only.
    """
    fields = EventFields(
        occurred_at=clock.now(),
        action=action,
        user_id=actor.user_id,
        username=username or actor.username,
        role=actor.role.value if actor.role else None,
        clinic_id=actor.clinic_id,
        patient_id=patient_id,
        client_address=actor.client_address,
        detail=detail,
    )
    row = {**vars(fields), "mac": event_mac(audit_key_of(session), fields)}
    session.info.setdefault(_PENDING, []).append(row)


def write_pending(session: Session) -> None:
    """Insert the events recorded in this transaction so far (commit does it too)."""
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    session.execute(_INSERT_POSTGRES if postgres else _INSERT, rows)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_when_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction, not a savepoint inside it
        session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class TrailFilter:
    """Which events to list. ``clinic_id`` None lists the system's own events (failed logins
    for unknown usernames), which no clinic's admin sees."""

    clinic_id: int | None
    patient_id: int | None = None
    username: str | None = None
    limit: int = 200
    offset: int = 0


def list_events(session: Session, trail: TrailFilter) -> Sequence[AuditEvent]:
    """Newest first, including this transaction's own events."""
    write_pending(session)
    query = select(AuditEvent).where(
        AuditEvent.clinic_id == trail.clinic_id
        if trail.clinic_id is not None
        else AuditEvent.clinic_id.is_(None)
    )
    if trail.patient_id is not None:
        query = query.where(AuditEvent.patient_id == trail.patient_id)
    if trail.username:
        query = query.where(AuditEvent.username == trail.username)
    query = query.order_by(AuditEvent.id.desc()).limit(trail.limit).offset(trail.offset)
    return session.scalars(query).all()
