"""Bedside monitors mapped to chairs (issue #14: vitals matched "by MRN and, where configured, by
the monitor's chair").

Which identifier names a monitor: IHE PCD-01 puts the device's EUI-64 in OBX-18 (equipment
instance identifier) of every observation, and gateways that concentrate many monitors on one
connection (one MSH-3 for all of them) still send each device's OBX-18, so OBX-18 is the key.
A sender without OBX-18 is known by MSH-3: its universal id (MSH-3.2, the EUI-64 under PCD-01)
when there is one, else its namespace id (MSH-3.1). PV1-3 (the bed) is not used: it is typed at
the monitor with the patient and is as likely to be wrong as the MRN it is meant to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import InvalidInput
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.interop.hl7_clinic import ACTIVE_STATES, CannotPlace
from ketaclinic.interop.hl7_core import VitalsMessage
from ketaclinic.interop.models import Hl7Monitor
from ketaclinic.scheduling.models import Chair

#: HL7 v2.6 HD/EI lengths (the column).
MONITOR_ID_MAX = 227


@dataclass(frozen=True)
class MonitorPlace:
    """A mapped monitor: its chair, and the sessions active at that chair now."""

    monitor_id: str
    chair_name: str
    active_session_ids: tuple[int, ...]


def monitor_of(message: VitalsMessage) -> str | None:
    """The identifier the clinic maps: OBX-18, else MSH-3.2, else MSH-3.1 (see the module)."""
    if message.device_id:
        return message.device_id
    parts = message.header.sending_application.split("^")
    universal = parts[1] if len(parts) > 1 else ""
    return universal or parts[0] or None


def place_of(session: Session, *, clinic_id: int, monitor_id: str) -> MonitorPlace | None:
    """The monitor's chair and the sessions active there, in one query; None when unmapped."""
    rows = session.execute(
        select(Chair.name, InfusionSession.id)
        .select_from(Hl7Monitor)
        .join(Chair, Chair.id == Hl7Monitor.chair_id)
        .outerjoin(
            InfusionSession,
            (InfusionSession.chair_id == Chair.id) & InfusionSession.state.in_(ACTIVE_STATES),
        )
        .where(Hl7Monitor.clinic_id == clinic_id, Hl7Monitor.monitor_id == monitor_id)
    ).all()
    if not rows:
        return None
    active = tuple(sid for _, sid in rows if sid is not None)
    return MonitorPlace(monitor_id, rows[0][0], active)


def wrong_chair(
    session: Session, *, clinic_id: int, monitor_id: str, patient_id: int
) -> CannotPlace:
    """The refusal (AE, kept in the inbox) for a mapped monitor whose chair does not hold the
    session the MRN found: the MRN keyed at the monitor, or the monitor's mapping, is wrong."""
    place = place_of(session, clinic_id=clinic_id, monitor_id=monitor_id)
    assert place is not None  # the caller found the mapping in this transaction
    at_chair = (
        "no session is active there"
        if not place.active_session_ids
        else "the session active there is not this patient's"
    )
    return CannotPlace(
        f"monitor {monitor_id} is at chair {place.chair_name!r}, and {at_chair} "
        "(the MRN in PID-3 or the monitor's chair mapping is wrong)",
        patient_id,
    )


def set_monitor(
    session: Session, *, actor: Actor, monitor_id: str, chair_name: str, now: datetime
) -> Hl7Monitor:
    """Map a monitor to a chair of the actor's clinic (replacing an earlier mapping)."""
    monitor_id = _checked_monitor_id(monitor_id)
    chair = session.scalar(
        select(Chair).where(Chair.clinic_id == actor.clinic_id, Chair.name == chair_name)
    )
    if chair is None:
        raise InvalidInput(f"no chair named {chair_name!r} in the clinic", loc=("chair",))
    if not chair.active:
        raise InvalidInput(f"chair {chair_name!r} is retired", loc=("chair",))
    mapped = _mapping(session, actor, monitor_id)
    if mapped is None:
        mapped = Hl7Monitor(clinic_id=actor.clinic_id, monitor_id=monitor_id, chair_id=chair.id)
        session.add(mapped)
    mapped.chair_id = chair.id
    mapped.updated_at = now
    session.flush()
    audit.record(session, actor=actor, action="hl7.monitor.set", detail=f"monitor_id={mapped.id}")
    return mapped


def remove_monitor(session: Session, *, actor: Actor, monitor_id: str) -> bool:
    """Forget a monitor's chair (its vitals are then matched by MRN alone); False if unmapped."""
    mapped = _mapping(session, actor, _checked_monitor_id(monitor_id))
    if mapped is None:
        return False
    audit.record(
        session, actor=actor, action="hl7.monitor.remove", detail=f"monitor_id={mapped.id}"
    )
    session.delete(mapped)
    session.flush()
    return True


def list_monitors(session: Session, *, actor: Actor) -> list[tuple[str, str]]:
    """(monitor id, chair name) for every mapped monitor of the clinic, by chair then monitor."""
    rows = session.execute(
        select(Hl7Monitor.monitor_id, Chair.name)
        .join(Chair, Chair.id == Hl7Monitor.chair_id)
        .where(Hl7Monitor.clinic_id == actor.clinic_id)
        .order_by(Chair.display_order, Chair.name, Hl7Monitor.monitor_id)
    ).all()
    return [(monitor, chair) for monitor, chair in rows]


def _mapping(session: Session, actor: Actor, monitor_id: str) -> Hl7Monitor | None:
    return session.scalar(
        select(Hl7Monitor).where(
            Hl7Monitor.clinic_id == actor.clinic_id, Hl7Monitor.monitor_id == monitor_id
        )
    )


def _checked_monitor_id(monitor_id: str) -> str:
    monitor_id = monitor_id.strip()
    if not monitor_id:
        raise InvalidInput("the monitor id is empty", loc=("monitor",))
    if len(monitor_id) > MONITOR_ID_MAX:
        raise InvalidInput(
            f"the monitor id is at most {MONITOR_ID_MAX} characters", loc=("monitor",)
        )
    if any(c in monitor_id for c in "|^~\\&\r\n"):
        raise InvalidInput(
            "the monitor id is one HL7 component: no | ^ ~ \\ & or line breaks",
            loc=("monitor",),
        )
    return monitor_id
