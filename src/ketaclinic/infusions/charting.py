"""Bedside charting during a session: vitals, side effects, adjuncts, boluses and alerts.

One transaction each (the caller's), each audited through ``recording``. Alerts come from the
monitoring rules; the software flags and suggests, the nurse and physician decide.

Vitals, side effects, adjuncts and acknowledging an alert are observations: appended beside the
session without moving its version, so nurses charting at once never conflict. A bolus is a dose
decision judged on everything given so far, so it moves the version like a rate change. The caller
holds the session row's lock, so a per-session limit sees every dose charted before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.audit import service as audit
from ketaclinic.config import Settings
from ketaclinic.dosing.protocol import BOLUS_LIMIT_NAME, TOTAL_LIMIT_NAME, Limit
from ketaclinic.errors import Conflict, DoseOutOfRange, InvalidInput, NotFound
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession, SessionAlert, SessionEvent
from ketaclinic.infusions.pump import show, show_fraction
from ketaclinic.infusions.readings import current_setting, delivered
from ketaclinic.infusions.readings import so_far as exact_so_far
from ketaclinic.infusions.recording import (
    append,
    attach,
    event,
    first_event_at,
    last_event_at,
    protocol_of,
    require_charting,
    require_charting_state,
    touch,
    user_of,
)
from ketaclinic.infusions.schemas import (
    AdjunctIn,
    BolusIn,
    ObservationIn,
    SideEffectsIn,
    VitalsIn,
)
from ketaclinic.monitoring.adjuncts import check_adjunct
from ketaclinic.monitoring.alerts import Alert
from ketaclinic.monitoring.core import (
    alerts_for,
    check_correction,
    check_plausible,
    late_entry_problem,
)
from ketaclinic.monitoring.side_effects import validate_assessment

#: A bolus is a push given while the pump is set up: running or paused, never before the start.
_BOLUS_STATES = frozenset({State.INFUSING, State.PAUSED})


@dataclass(frozen=True)
class ChartingPolicy:
    """The clinic's settings a bedside entry is judged by: how far back a late entry may go
    (clinic policy, ``KETACLINIC_LATE_ENTRY_MAX_MIN``) and the clock its messages speak."""

    late_entry_max_min: int = 60
    zone: tzinfo = UTC


DEFAULT_POLICY = ChartingPolicy()


def policy_of(settings: Settings) -> ChartingPolicy:
    return ChartingPolicy(settings.late_entry_max_min, settings.timezone)


def record_vitals(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    data: VitalsIn,
    policy: ChartingPolicy = DEFAULT_POLICY,
    source: Mapping[str, str] | None = None,
) -> InfusionSession:
    """Chart a bedside check and raise an alert for every rule it meets (monitoring rules).
    A value beyond its plausibility band is stored only when the nurse confirms it. ``source``
    marks where the values came from when a person did not type them (a bedside monitor)."""
    require_charting(row)
    observed_at = _observed_at(row, data, policy)
    ended_at = last_event_at(row, "stop") if row.state == State.OBSERVING else None
    checked = _checked_vitals(row.state, observed_at, ended_at, data, source)
    charted = _chart(row, actor, "vitals", observed_at, data=checked.stored)
    _raise_alerts(row, checked.alerts, charted)
    append(session, actor, row, "session.vitals")
    return row


@dataclass(frozen=True)
class SessionFacts:
    """What the vitals rules read of a session, for a caller that does not load it as an object
    (the HL7 listener reads these in the statement that locks the session's row)."""

    session_id: int
    patient_id: int
    state: str
    checked_in_at: datetime | None
    #: When the pump was last stopped (the observation after it), None before.
    infusion_end: datetime | None


@dataclass(frozen=True)
class CheckedVitals:
    """A bedside check that passed every rule, with the alerts it raises: ready to write."""

    observed_at: datetime
    stored: dict[str, Any]
    alerts: tuple[Alert, ...]


def check_vitals(
    facts: SessionFacts,
    data: VitalsIn,
    policy: ChartingPolicy = DEFAULT_POLICY,
    source: Mapping[str, str] | None = None,
) -> CheckedVitals:
    """The rules of ``record_vitals`` (charting state, late-entry window, plausibility bands,
    alert rules) for a session known by ``facts``; writes nothing, so a caller charting several
    checks at once refuses them all before writing any."""
    require_charting_state(facts.state)
    observed_at = _observed_time(data, facts.checked_in_at, policy)
    return _checked_vitals(facts.state, observed_at, facts.infusion_end, data, source)


def write_vitals(
    session: Session, *, actor: Actor, facts: SessionFacts, checked: CheckedVitals
) -> int:
    """Write a checked bedside check as ``record_vitals`` does (the event, each alert naming it,
    the audit entry), with one INSERT per table and no object loaded; returns the event's id."""
    now = clock.now()
    connection = session.connection()
    event_id: int = connection.execute(
        _INSERT_EVENT,
        {
            "session_id": facts.session_id,
            "kind": "vitals",
            "at": checked.observed_at,
            "recorded_at": now,
            "by_user_id": user_of(actor),
            "data": checked.stored,
        },
    ).scalar_one()
    if checked.alerts:
        connection.execute(
            _INSERT_ALERT,
            [
                {
                    "session_id": facts.session_id,
                    "rule_id": alert.rule_id,
                    "message": alert.message,
                    "severity": alert.severity.value,
                    "suggested_action": alert.action.value,
                    "source": alert.source,
                    "raised_at": now,
                    "observed_at": checked.observed_at,
                    "event_id": event_id,
                }
                for alert in checked.alerts
            ],
        )
    audit.record(
        session,
        actor=actor,
        action="session.vitals",
        patient_id=facts.patient_id,
        detail=f"session_id={facts.session_id}",
    )
    return event_id


_EVENTS = cast(Table, SessionEvent.__table__)
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
_INSERT_ALERT = insert(cast(Table, SessionAlert.__table__))


def _checked_vitals(
    state: str,
    observed_at: datetime,
    ended_at: datetime | None,
    data: VitalsIn,
    source: Mapping[str, str] | None,
) -> CheckedVitals:
    reading = data.model_dump(exclude={"version", "observed_at", "confirm_implausible"})
    check_plausible(reading, confirmed=data.confirm_implausible)
    stored = {**reading, "context": _context(state, observed_at, ended_at), **(source or {})}
    if data.confirm_implausible:
        stored["confirmed_implausible"] = True
    return CheckedVitals(observed_at, stored, alerts_for(reading))


def record_side_effects(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    data: SideEffectsIn,
    policy: ChartingPolicy = DEFAULT_POLICY,
) -> InfusionSession:
    """Chart side-effect assessments; deep sedation or a severe effect raises an alert."""
    require_charting(row)
    observed_at = _observed_at(row, data, policy)
    assessments = []
    for index, item in enumerate(data.assessments):
        try:
            assessments.append(validate_assessment(item.effect, item.grade))
        except InvalidInput as error:
            loc = ("body", "assessments", index, *error.loc)
            raise InvalidInput(error.msg, loc=loc) from None
    recorded = [item.model_dump() for item in data.assessments]
    charted = _chart(row, actor, "side_effects", observed_at, data={"assessments": recorded})
    _raise_alerts(row, alerts_for({}, assessments), charted)
    append(session, actor, row, "session.side_effects")
    return row


def record_adjunct(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    data: AdjunctIn,
    policy: ChartingPolicy = DEFAULT_POLICY,
) -> InfusionSession:
    """Give an adjunct medication within its per-dose and per-session limits (never clamped).
    The session's earlier doses (less any entered in error) are read under the caller's row
    lock, so two doses given at the same moment are judged one after the other, never both
    against the same total."""
    require_charting(row)
    observed_at = _observed_at(row, data, policy)
    given = adjunct_given(row, data.drug)
    try:
        check_adjunct(data.drug, data.dose, data.unit, data.route, given)
    except InvalidInput as error:
        error.loc = ("body", *error.loc)
        raise
    given_now = {"drug": data.drug, "dose": str(data.dose), "unit": data.unit, "route": data.route}
    _chart(row, actor, "adjunct", observed_at, reason=data.reason, data=given_now)
    append(session, actor, row, "session.adjunct")
    return row


def adjunct_given(row: InfusionSession, drug: str) -> Decimal:
    """How much of ``drug`` this session's charted doses add up to, skipping those entered in
    error (they were never given)."""
    return sum(
        (
            Decimal(e.data["dose"])
            for e in row.events
            if e.kind == "adjunct" and not e.in_error and e.data.get("drug") == drug
        ),
        Decimal(0),
    )


def _observed_at(row: InfusionSession, data: ObservationIn, policy: ChartingPolicy) -> datetime:
    """When the entry was observed: now, or the late entry's time if it is allowed."""
    if data.observed_at is None:
        return clock.now()
    return _observed_time(data, first_event_at(row, "check_in"), policy)


def _observed_time(
    data: ObservationIn, checked_in_at: datetime | None, policy: ChartingPolicy
) -> datetime:
    now = clock.now()
    if data.observed_at is None:
        return now
    problem = late_entry_problem(
        data.observed_at,
        now=now,
        checked_in_at=checked_in_at,
        max_late_min=policy.late_entry_max_min,
        zone=policy.zone,
    )
    if problem:
        raise InvalidInput(problem, loc=("body", "observed_at"))
    return data.observed_at


def _context(state: str, observed_at: datetime, ended_at: datetime | None) -> str:
    """During the infusion or in the observation after it, by when the reading was observed
    (``ended_at``: when the pump stopped, known while observing)."""
    if state == State.OBSERVING and ended_at is not None and observed_at >= ended_at:
        return "observation"
    return "during"


def _chart(
    row: InfusionSession,
    actor: Actor,
    kind: str,
    observed_at: datetime,
    *,
    reason: str | None = None,
    data: dict[str, Any],
) -> SessionEvent:
    """An observation at the time it was observed; ``recorded_at`` keeps when it was typed."""
    charted = event(row, actor, kind, reason=reason, data=data)
    charted.at = observed_at
    return charted


def give_bolus(
    session: Session, *, actor: Actor, row: InfusionSession, data: BolusIn
) -> InfusionSession:
    """A bolus push, judged on the session's boluses so far plus this one against the protocol's
    bolus limit (mg/kg × the order's dosing weight), and against the total limit on everything
    given so far plus this one plus the current rate for the rest of the planned running time (so
    no bolus makes the planned infusion go past it). Above a hard limit is refused; above a soft
    one needs a reason."""
    if State(row.state) not in _BOLUS_STATES:
        raise Conflict(
            f"a bolus is given while infusing or paused; the session is {row.state}",
            loc=("state",),
        )
    protocol = protocol_of(session, row)
    if protocol.bolus is None:
        raise InvalidInput(
            f"protocol {protocol.key} v{protocol.version} has no bolus", loc=("body", "dose_mg")
        )
    so_far = delivered(row)
    assert so_far is not None and row.order_plan is not None  # infusing means started
    weight_kg = Decimal(str(row.order_plan["weight_basis_kg"]))
    bolus_limit = protocol.bolus.limit_mg_per_kg
    _check_limit(
        BOLUS_LIMIT_NAME,
        Fraction(so_far.bolus_mg + data.dose_mg),
        Limit(soft_max=bolus_limit.soft_max * weight_kg, hard_max=bolus_limit.hard_max * weight_kg),
        data.override_reason,
        what=f"the session's boluses ({bolus_limit.hard_max} mg/kg hard × {weight_kg} kg)",
    )
    setting = current_setting(row)
    rate = setting.mg_per_h if setting is not None else Decimal(0)
    projected = exact_so_far(row).projected_with_bolus_mg(rate, data.dose_mg)
    _check_limit(
        TOTAL_LIMIT_NAME,
        projected,
        protocol.total_limit_mg,
        data.override_reason,
        what=f"everything given this session with this bolus, and {show(rate)} mg/h for the "
        "rest of the planned time",
    )
    event(
        row,
        actor,
        "bolus",
        reason=data.reason,
        data={"dose_mg": str(data.dose_mg), "override_reason": data.override_reason},
    )
    touch(session, actor, row, "session.bolus")
    return row


def _check_limit(
    name: str, amount: Fraction, limit: Limit, override: str | None, what: str
) -> None:
    """Compared exactly (a fraction), so an amount a hair above a limit is above it."""
    if amount > Fraction(limit.hard_max):
        raise DoseOutOfRange(
            f"refused: {name} {show_fraction(amount)} mg for {what} is above the hard limit of "
            f"{limit.hard_max} mg",
            loc=("body", "dose_mg"),
        )
    if amount > Fraction(limit.soft_max) and not (override and override.strip()):
        raise DoseOutOfRange(
            f"an override reason is needed: {name} {show_fraction(amount)} mg for {what} is above "
            f"the soft limit of {limit.soft_max} mg",
            loc=("body", "override_reason"),
        )


def _raise_alerts(row: InfusionSession, alerts: tuple[Alert, ...], reading: SessionEvent) -> None:
    """Each alert names the reading that raised it (so a correction can withdraw it) and when
    that reading was observed, which a late entry puts before the time it is raised."""
    now = clock.now()
    for alert in alerts:
        attach(
            row,
            "alerts",
            SessionAlert(
                session_id=row.id,
                rule_id=alert.rule_id,
                message=alert.message,
                severity=alert.severity.value,
                suggested_action=alert.action.value,
                source=alert.source,
                raised_at=now,
                observed_at=reading.at,
                event=reading,
            ),
        )


def acknowledge_alert(
    session: Session, *, actor: Actor, row: InfusionSession, alert_id: int
) -> InfusionSession:
    """Whoever acknowledges an alert is recorded by name; an alert is acknowledged once (under
    the caller's row lock, so a second nurse acknowledging it at the same moment gets a conflict).
    It changes no decision about the session, so it leaves the session's version alone."""
    alert = next((a for a in row.alerts if a.id == alert_id), None)
    if alert is None:
        raise NotFound(f"no alert {alert_id} on this session", loc=("path", "alert_id"))
    if alert.acknowledged_at is not None:
        raise Conflict("this alert was already acknowledged", loc=("path", "alert_id"))
    if alert.withdrawn_at is not None:
        raise Conflict(
            "this alert was withdrawn: the reading that raised it was marked entered in error",
            loc=("path", "alert_id"),
        )
    alert.acknowledged_by_user_id = user_of(actor)
    alert.acknowledged_at = clock.now()
    append(session, actor, row, "session.alert_acknowledge")
    return row


def mark_entered_in_error(
    session: Session, *, actor: Actor, row: InfusionSession, event_id: int, reason: str
) -> InfusionSession:
    """Mark a charted vitals row, side-effect assessment or adjunct entered in error: its author
    or a physician, once, with a reason. Nothing is deleted: the entry keeps its values, struck
    through on the timeline, and every reading of the record (alerts, vitals due, adjunct totals,
    charts, reports) skips it from now on. The alerts it raised are withdrawn (kept, marked
    ``withdrawn_at``); an acknowledged one keeps who acknowledged it. Like any observation it
    leaves the session's version alone."""
    entry = next((e for e in row.events if e.id == event_id), None)
    if entry is None:
        raise NotFound(f"no entry {event_id} on this session", loc=("path", "event_id"))
    check_correction(
        kind=entry.kind,
        author_id=entry.by_user_id,
        actor_id=user_of(actor),
        actor_is_physician=actor.role is Role.PHYSICIAN,
        already_marked=entry.in_error,
    )
    now = clock.now()
    entry.entered_in_error_at = now
    entry.entered_in_error_by_user_id = user_of(actor)
    entry.entered_in_error_reason = reason
    for alert in row.alerts:
        if alert.event_id == entry.id and alert.withdrawn_at is None:
            alert.withdrawn_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="session.entered_in_error",
        patient_id=row.patient_id,
        detail=f"session_id={row.id} event_id={entry.id} kind={entry.kind}",
    )
    return row
