"""Placing an ORU^R01's vitals on the patient's active session, through the same charting service
as a nurse's entry (plausibility bands, late-entry rule, alert rules), marked as from a device."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ScalarSelect, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import KetaclinicError
from ketaclinic.infusions import charting
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.infusions.schemas import VitalsIn
from ketaclinic.interop.device_codes import FLOWSHEET_FIELDS_TODAY
from ketaclinic.interop.hl7_clinic import ACTIVE_STATES, CannotPlace, problems
from ketaclinic.interop.hl7_core import Reading, VitalsMessage
from ketaclinic.interop.hl7_monitors import monitor_of, wrong_chair
from ketaclinic.interop.models import Hl7Monitor
from ketaclinic.patients.models import Patient


def chart(
    session: Session,
    message: VitalsMessage,
    *,
    actor: Actor,
    clinic_id: int,
    policy: charting.ChartingPolicy,
) -> tuple[int, int, str | None]:
    """Place the message on the patient's active session and chart each set of readings.

    Every set is checked by the charting service's rules before any is written, so a message is
    charted whole or refused whole. Returns (patient id, session id, a note on values kept but
    not charted)."""
    # One query for the patient, their active sessions (with each one's chair) and the chair
    # the monitor is mapped to, if any: the listener's hot path.
    monitor_id = monitor_of(message)
    found = (
        session.connection()
        .execute(
            _PLACE, {"clinic_id": clinic_id, "mrn": message.mrn, "monitor_id": monitor_id or ""}
        )
        .all()
    )
    if not found:
        raise CannotPlace("no patient with this MRN (PID-3) in the clinic")
    patient_id = found[0][0]
    active = [(sid, chair) for _, sid, chair, _ in found if sid is not None]
    if len(active) != 1:
        audit.record(session, actor=actor, action="hl7.unplaced", patient_id=patient_id)
        what = "no infusing, paused or observing session" if not active else "several sessions"
        raise CannotPlace(f"the patient has {what} to chart on", patient_id)
    (session_id, chair_id), monitor_chair_id = active[0], found[0][3]
    if monitor_id is not None and monitor_chair_id not in (None, chair_id):
        audit.record(session, actor=actor, action="hl7.unplaced", patient_id=patient_id)
        raise wrong_chair(
            session, clinic_id=clinic_id, monitor_id=monitor_id, patient_id=patient_id
        )
    facts = _locked(session, actor=actor, session_id=session_id, clinic_id=clinic_id)
    charted, extra = vitals_sets(message.readings, patient_id)
    source = {"source": "device", "device": message.device_id or ""}
    checked = []
    for observed_at, values in charted:
        try:
            data = VitalsIn(**values, observed_at=observed_at)
            checked.append(charting.check_vitals(facts, data, policy, source))
        except ValidationError as error:
            raise CannotPlace(problems(error), patient_id) from None
        except KetaclinicError as error:
            raise CannotPlace(error.msg, patient_id) from None
    for entry in checked:
        charting.write_vitals(session, actor=actor, facts=facts, checked=entry)
    note = None
    if extra:
        note = "kept in the message, not on the flowsheet: " + ", ".join(sorted(extra))
    return patient_id, session_id, note


_MAPPED = aliased(Hl7Monitor)
#: The patient by MRN, their active sessions and the monitor's chair (built once: the hot path).
_PLACE = (
    select(Patient.id, InfusionSession.id, InfusionSession.chair_id, _MAPPED.chair_id)
    .outerjoin(
        InfusionSession,
        (InfusionSession.patient_id == Patient.id) & InfusionSession.state.in_(ACTIVE_STATES),
    )
    .outerjoin(
        _MAPPED,
        (_MAPPED.clinic_id == bindparam("clinic_id"))
        & (_MAPPED.monitor_id == bindparam("monitor_id")),
    )
    .where(Patient.clinic_id == bindparam("clinic_id"), Patient.mrn == bindparam("mrn"))
)


def _event_time(kind: str, aggregate: Any) -> ScalarSelect[Any]:
    return (
        select(aggregate(SessionEvent.at))
        .where(SessionEvent.session_id == InfusionSession.id, SessionEvent.kind == kind)
        .scalar_subquery()
    )


#: The session's row locked (as ``infusions.service.get(lock=True)`` does: writes to one session
#: queue behind each other) with what the vitals rules read of it, in one statement.
_LOCK = (
    select(
        InfusionSession.patient_id,
        InfusionSession.clinic_id,
        InfusionSession.state,
        _event_time("check_in", func.min),
        _event_time("stop", func.max),
    )
    .where(InfusionSession.id == bindparam("session_id"))
    .with_for_update(of=InfusionSession)
)


def _locked(
    session: Session, *, actor: Actor, session_id: int, clinic_id: int
) -> charting.SessionFacts:
    """Lock the session's row and read what charting needs; audited as ``service.get`` is."""
    row = session.connection().execute(_LOCK, {"session_id": session_id}).one()
    assert row.clinic_id == clinic_id  # the patient's session, found in this clinic
    audit.record(
        session,
        actor=actor,
        action="session.read",
        patient_id=row.patient_id,
        detail=f"session_id={session_id}",
    )
    return charting.SessionFacts(session_id, row.patient_id, row.state, row[3], row[4])


def vitals_sets(
    readings: Sequence[Reading], patient_id: int | None
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
            raise CannotPlace(
                f"{reading.field} {reading.value}: the flowsheet stores whole numbers "
                "(the value is not rounded)",
                patient_id,
            )
        groups.setdefault(reading.observed_at, {})[reading.field] = int(reading.value)
    if not groups:
        raise CannotPlace("no value the flowsheet records", patient_id)
    for values in groups.values():
        missing = FLOWSHEET_FIELDS_TODAY - values.keys()
        if missing:
            raise CannotPlace(
                "the flowsheet charts the five vitals together; missing: "
                + ", ".join(sorted(missing)),
                patient_id,
            )
    return sorted(groups.items()), extra
