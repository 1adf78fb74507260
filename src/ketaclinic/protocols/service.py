"""Protocol library use-cases: seed, list the current versions, read one, add a version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.dosing.library import PROTOCOLS
from ketaclinic.dosing.protocol import Protocol
from ketaclinic.protocols.codec import from_json, to_json
from ketaclinic.protocols.models import ProtocolVersion


def seed_library(session: Session, *, clinic_id: int) -> int:
    """Give a clinic the cited example protocols (version 1) it does not have yet."""
    have = set(
        session.scalars(select(ProtocolVersion.key).where(ProtocolVersion.clinic_id == clinic_id))
    )
    added = 0
    for protocol in PROTOCOLS.values():
        if protocol.key not in have:
            _store(session, clinic_id=clinic_id, protocol=protocol, user_id=None)
            added += 1
    session.flush()
    return added


def list_current(session: Session, *, clinic_id: int) -> Sequence[ProtocolVersion]:
    """The newest version of each protocol of the clinic, by name."""
    newest = (
        select(ProtocolVersion.key, func.max(ProtocolVersion.version).label("version"))
        .where(ProtocolVersion.clinic_id == clinic_id)
        .group_by(ProtocolVersion.key)
        .subquery()
    )
    return session.scalars(
        select(ProtocolVersion)
        .join(
            newest,
            (ProtocolVersion.key == newest.c.key) & (ProtocolVersion.version == newest.c.version),
        )
        .where(ProtocolVersion.clinic_id == clinic_id)
        .order_by(ProtocolVersion.name)
    ).all()


def get(session: Session, *, clinic_id: int, protocol_id: int) -> ProtocolVersion | None:
    row = session.get(ProtocolVersion, protocol_id)
    return row if row is not None and row.clinic_id == clinic_id else None


def definition(row: ProtocolVersion) -> Protocol:
    return from_json(row.definition)


def add_version(
    session: Session, *, actor: Actor, current: ProtocolVersion, changed: Protocol
) -> ProtocolVersion:
    """Store an edit as the next version; sessions keep the version they used."""
    assert actor.clinic_id is not None
    latest = session.scalar(
        select(func.max(ProtocolVersion.version)).where(
            ProtocolVersion.clinic_id == current.clinic_id, ProtocolVersion.key == current.key
        )
    )
    protocol = replace(changed, key=current.key, version=(latest or 0) + 1)
    row = _store(session, clinic_id=current.clinic_id, protocol=protocol, user_id=actor.user_id)
    session.flush()
    audit.record(session, actor=actor, action="protocol.version", detail=f"protocol_id={row.id}")
    return row


def _store(
    session: Session, *, clinic_id: int, protocol: Protocol, user_id: int | None
) -> ProtocolVersion:
    row = ProtocolVersion(
        clinic_id=clinic_id,
        key=protocol.key,
        version=protocol.version,
        name=protocol.name,
        definition=to_json(protocol),
        created_at=clock.now(),
        created_by_user_id=user_id,
    )
    session.add(row)
    return row
