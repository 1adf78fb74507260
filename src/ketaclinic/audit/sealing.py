"""Closing audit events into seals, exporting checkpoints, and verifying the whole trail.

Which events a seal may take: only those whose writing transaction has ended, so that no event can
commit later into a range that is already sealed. On PostgreSQL that is every event whose
transaction id is below that of the oldest transaction of this database still writing; on SQLite,
which has one writer at a time, every event up to the newest id while the sealer holds the lock.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.models import User
from ketaclinic.audit.core import (
    Checkpoint,
    EventFields,
    SealFields,
    StoredEvent,
    StoredSeal,
    Verdict,
    make_seal,
    sign_checkpoint,
    verify_trail,
)
from ketaclinic.audit.models import AuditEvent, AuditSeal
from ketaclinic.db import audit_key_of, transaction
from ketaclinic.errors import InvalidInput

#: At most this many events per seal, so that a long backlog is sealed in bounded steps.
SEAL_BATCH = 10_000
#: Any number, the same in every process: only one sealer works at a time (advisory lock).
_SEALER_LOCK_ID = 0x6B65_7461_6175_6474  # "ketaaudt"
_STREAM_BATCH = 2_000


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _order_key(session: Session) -> ColumnElement[int | None]:
    """What a seal's range is over: the writing transaction's id on PostgreSQL, the id on SQLite."""
    column = AuditEvent.xact_id if _is_postgres(session) else AuditEvent.id
    return column  # type: ignore[return-value]


def _horizon(session: Session) -> int | None:
    """The order key below which every writer has finished; None when another sealer is busy."""
    if _is_postgres(session):
        if not session.scalar(select(func.pg_try_advisory_xact_lock(_SEALER_LOCK_ID))):
            return None
        row = session.execute(_RUNNING_WRITERS).one()
        return min([int(row.xmax), *(_widen(int(x), int(row.xmax)) for x in row.running or ())])
    # SQLite: this transaction began IMMEDIATE, so it holds the only write lock.
    return int(session.scalar(select(func.max(AuditEvent.id))) or 0) + 1


#: The next transaction id, then the transactions of this database still writing (read after it,
#: in the same statement, so one that starts meanwhile gets an id at or past ``xmax``). Only this
#: database's writers count: the cluster-wide oldest (``pg_snapshot_xmin``) would let a long
#: transaction in another database hold sealing back.
_RUNNING_WRITERS = text(
    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax, ARRAY("
    " SELECT backend_xid::text FROM pg_stat_activity"
    " WHERE datname = current_database() AND backend_xid IS NOT NULL"
    " UNION ALL SELECT transaction::text FROM pg_prepared_xacts"
    " WHERE database = current_database()) AS running"
)


def _widen(xid: int, next_full: int) -> int:
    """A 32-bit transaction id as the 64-bit one it is, given a later 64-bit id (same epoch, or
    the one before when the counter wrapped since)."""
    full = (next_full >> 32 << 32) | xid
    return full - (1 << 32) if full > next_full else full


def newest_seal(session: Session) -> StoredSeal | None:
    row = session.scalar(select(AuditSeal).order_by(AuditSeal.seq.desc()).limit(1))
    return _stored_seal(row) if row is not None else None


def seal_next(session: Session) -> StoredSeal | None:
    """Close the next batch of finished events into a seal, in the caller's transaction.

    None when there is nothing new to seal (or another process is sealing right now).
    """
    horizon = _horizon(session)
    if horizon is None:
        return None
    previous = newest_seal(session)
    key_from = previous.fields.key_to if previous else 0
    key = _order_key(session)
    in_range = (key >= key_from) & (key < horizon)
    past_batch = session.scalar(
        select(key).where(in_range).order_by(key).offset(SEAL_BATCH).limit(1)
    )
    # A batch ends where an order key ends (a transaction's events stay together).
    key_to = horizon if past_batch is None else max(int(past_batch), key_from + 1)
    entries = [
        (int(event_id), str(mac))
        for event_id, mac in session.execute(
            select(AuditEvent.id, AuditEvent.mac)
            .where((key >= key_from) & (key < key_to))
            .order_by(key, AuditEvent.id)
        )
    ]
    if not entries:
        return None
    seal = make_seal(
        audit_key_of(session),
        previous=previous,
        key_to=key_to,
        entries=entries,
        sealed_at=clock.now(),
    )
    session.add(AuditSeal(**vars(seal.fields), mac=seal.mac))
    session.flush()
    return seal


def seal_pending(factory: sessionmaker[Session], *, max_seals: int = 1_000) -> int:
    """Seal every finished event, one seal per transaction; returns how many seals were made."""
    made = 0
    while made < max_seals:
        with transaction(factory) as session:
            if seal_next(session) is None:
                return made
        made += 1
    return made


def checkpoint(session: Session) -> Checkpoint:
    """A signed checkpoint of the newest seal, to be kept outside the database."""
    seal = newest_seal(session)
    if seal is None:
        raise InvalidInput("nothing is sealed yet: there is no audit event to vouch for")
    made = Checkpoint(
        seal_seq=seal.fields.seq,
        seal_mac=seal.mac,
        last_event_id=seal.fields.last_event_id,
        made_at=clock.now(),
    )
    return sign_checkpoint(audit_key_of(session), made)


def count_events(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def verify(
    session: Session, *, against: Checkpoint | None = None, progress: Iterator[None] | None = None
) -> Verdict:
    """Check every event and seal (and the checkpoint, if given); read only.

    ``progress`` is advanced once per event read, for a progress bar.
    """
    key = audit_key_of(session)
    order = _order_key(session)
    events = session.scalars(
        select(AuditEvent)
        .order_by(order.asc().nulls_last(), AuditEvent.id)
        .execution_options(yield_per=_STREAM_BATCH)
    )
    seals = session.scalars(
        select(AuditSeal).order_by(AuditSeal.seq).execution_options(yield_per=_STREAM_BATCH)
    )
    postgres = _is_postgres(session)
    try:
        verdict = verify_trail(
            key,
            events=(_stored_event(e, postgres, progress) for e in events),
            seals=(_stored_seal(s) for s in seals),
            checkpoint=against,
        )
    finally:
        events.close()  # a server-side cursor must be closed even when verification stops early
        seals.close()
    users = session.scalar(select(func.count()).select_from(User)) or 0
    if verdict.events_checked == 0 and users:
        verdict.add(
            "trail",
            f"it is empty, yet the database holds {users} user accounts whose creation was "
            "audited (the table was emptied)",
        )
    return verdict


def _stored_event(row: AuditEvent, postgres: bool, progress: Iterator[None] | None) -> StoredEvent:
    if progress is not None:
        next(progress, None)
    fields = EventFields(
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
    order_key = row.xact_id if postgres else row.id
    return StoredEvent(event_id=row.id, order_key=order_key, fields=fields, mac=row.mac)


def _stored_seal(row: AuditSeal) -> StoredSeal:
    fields = SealFields(
        seq=row.seq,
        sealed_at=row.sealed_at,
        key_from=row.key_from,
        key_to=row.key_to,
        event_count=row.event_count,
        first_event_id=row.first_event_id,
        last_event_id=row.last_event_id,
        events_digest=row.events_digest,
        prev_mac=row.prev_mac,
    )
    return StoredSeal(fields, row.mac)
