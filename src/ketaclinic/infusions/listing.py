"""A patient's recent sessions, as the patient page lists them.

Kept apart from ``infusions.service`` (the session use-cases) because it is a read-only list for
one page; it is still a read of the patient's record, so it is audited once per list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.protocols.models import ProtocolVersion

#: The patient page shows the latest sessions only; older ones stay reachable from the courses.
RECENT_LIMIT = 20


@dataclass(frozen=True)
class SessionListItem:
    id: int
    scheduled_at: datetime
    chair: str
    protocol_name: str
    protocol_version: int
    state: str
    course_id: int | None


def recent_for_patient(
    session: Session, *, actor: Actor, patient_id: int, limit: int = RECENT_LIMIT
) -> list[SessionListItem]:
    """The patient's sessions in the actor's clinic, most recent booking first, at most ``limit``.

    The caller has already found the patient in the actor's clinic; the clinic filter here keeps
    the list safe even if it has not.
    """
    rows = session.execute(
        select(InfusionSession, ProtocolVersion.name, ProtocolVersion.version)
        .join(ProtocolVersion, ProtocolVersion.id == InfusionSession.protocol_version_id)
        .where(
            InfusionSession.patient_id == patient_id,
            InfusionSession.clinic_id == actor.clinic_id,
        )
        .order_by(InfusionSession.scheduled_at.desc(), InfusionSession.id.desc())
        .limit(limit)
    ).all()
    items = [
        SessionListItem(
            id=row.id,
            scheduled_at=row.scheduled_at,
            chair=row.chair.name,
            protocol_name=name,
            protocol_version=version,
            state=row.state,
            course_id=row.course_id,
        )
        for row, name, version in rows
    ]
    audit.record(
        session,
        actor=actor,
        action="session.list",
        patient_id=patient_id,
        detail=f"results={len(items)}",
    )
    return items
