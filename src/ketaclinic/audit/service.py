"""Writing, reading and verifying the audit trail. Writes join the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit.core import ChainBreak, ChainedEvent, EventFields, event_hash, first_break
from ketaclinic.audit.models import AuditChainHead, AuditEvent

HEAD_ID = 1


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    patient_id: int | None = None,
    detail: str | None = None,
    username: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction, so it commits or rolls back with the change.

    ``detail`` must never hold patient data: ids and counts only.
    """
    head = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(last_seq=AuditChainHead.last_seq + 1)
        .returning(AuditChainHead.last_seq, AuditChainHead.last_hash),
        execution_options={"synchronize_session": False},
    ).one()
    fields = EventFields(
        seq=head.last_seq,
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
    digest = event_hash(fields, head.last_hash)
    event = AuditEvent(**vars(fields), prev_hash=head.last_hash, hash=digest)
    session.add(event)
    session.execute(
        update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(last_hash=digest),
        execution_options={"synchronize_session": False},
    )
    session.flush()
    return event


@dataclass(frozen=True)
class TrailFilter:
    clinic_id: int
    patient_id: int | None = None
    username: str | None = None
    limit: int = 200
    offset: int = 0


def list_events(session: Session, trail: TrailFilter) -> Sequence[AuditEvent]:
    """Newest first; a clinic's admin also sees failed logins for unknown usernames."""
    query = select(AuditEvent).where(
        or_(AuditEvent.clinic_id == trail.clinic_id, AuditEvent.clinic_id.is_(None))
    )
    if trail.patient_id is not None:
        query = query.where(AuditEvent.patient_id == trail.patient_id)
    if trail.username:
        query = query.where(AuditEvent.username == trail.username)
    query = query.order_by(AuditEvent.seq.desc()).limit(trail.limit).offset(trail.offset)
    return session.scalars(query).all()


def verify(session: Session) -> ChainBreak | None:
    """The first broken link in the whole trail, or None when it is intact."""
    head = session.get(AuditChainHead, HEAD_ID)
    if head is None:
        return ChainBreak(0, "the chain head is missing")
    rows = session.scalars(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    )
    try:
        return first_break((_chained(row) for row in rows), head.last_seq, head.last_hash)
    finally:
        rows.close()  # a break stops early; the server-side cursor must still be closed


def _chained(row: AuditEvent) -> ChainedEvent:
    fields = EventFields(
        seq=row.seq,
        occurred_at=row.occurred_at,
        action=row.action,
        user_id=row.user_id,
        username=row.username,
        role=row.role,
        clinic_id=row.clinic_id,
        patient_id=row.patient_id,
        client_address=row.client_address,
        detail=row.detail,
    )
    return ChainedEvent(fields=fields, prev_hash=row.prev_hash, hash=row.hash)
