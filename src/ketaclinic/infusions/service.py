"""Infusion-session use-cases: schedule, sign the order, verify it, and drive the pump.

One transaction each (the caller's), each audited. Every move goes through
``infusions.core.transition`` with a ``GuardContext`` built from what is stored; an illegal move is
an ``InvalidTransition`` naming the state and the moves it allows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.audit import service as audit
from ketaclinic.dosing.protocol import RATE_LIMIT_NAME
from ketaclinic.errors import Conflict, DoseOutOfRange, Forbidden, InvalidInput, NotFound
from ketaclinic.infusions import timeline
from ketaclinic.infusions.core import GuardContext, Move, State, allowed_moves, transition
from ketaclinic.infusions.models import InfusionSession, SessionAlert, SessionEvent
from ketaclinic.infusions.schemas import (
    AdjunctIn,
    AlertOut,
    CheckInIn,
    DeliveredOut,
    EventOut,
    OrderIn,
    OrderOut,
    ScheduleIn,
    SessionOut,
    SideEffectsIn,
    VitalsIn,
)
from ketaclinic.monitoring.adjuncts import check_adjunct
from ketaclinic.monitoring.alerts import Alert
from ketaclinic.monitoring.core import alerts_for
from ketaclinic.monitoring.side_effects import validate_assessment
from ketaclinic.patients import service as patients
from ketaclinic.protocols import dose
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.schemas import DoseCalculationIn
from ketaclinic.screening.core import BloodPressure, BpThreshold

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
        "vitals",
        "bp_decision",
        "side_effects",
        "adjunct",
    }
)

#: An order may be signed (or signed again, which clears the verification) before the pump runs.
_ORDERABLE = frozenset({State.SCHEDULED, State.CHECKED_IN})


def _clinic(actor: Actor) -> int:
    if actor.clinic_id is None:
        raise InvalidInput("this account belongs to no clinic")
    return actor.clinic_id


def _user(actor: Actor) -> int:
    assert actor.user_id is not None
    return actor.user_id


def get(session: Session, *, actor: Actor, session_id: int) -> InfusionSession | None:
    """The session when it belongs to the actor's clinic, else ``None``."""
    row = session.get(InfusionSession, session_id)
    if row is None or row.clinic_id != actor.clinic_id:
        return None
    audit.record(
        session,
        actor=actor,
        action="session.read",
        patient_id=row.patient_id,
        detail=f"session_id={row.id}",
    )
    return row


def schedule(session: Session, *, actor: Actor, data: ScheduleIn) -> InfusionSession:
    clinic_id = _clinic(actor)
    patient = patients.get(session, actor=actor, patient_id=data.patient_id)
    if patient is None:
        raise NotFound(f"no patient {data.patient_id} in your clinic", loc=("body", "patient_id"))
    protocol = protocols.get(session, clinic_id=clinic_id, protocol_id=data.protocol_id)
    if protocol is None:
        raise NotFound(f"no protocol {data.protocol_id}", loc=("body", "protocol_id"))
    now = clock.now()
    row = InfusionSession(
        patient_id=patient.id,
        clinic_id=clinic_id,
        protocol_version_id=protocol.id,
        state=State.SCHEDULED.value,
        scheduled_at=data.scheduled_at,
        chair=data.chair,
        created_at=now,
        updated_at=now,
        created_by_user_id=_user(actor),
    )
    session.add(row)
    session.flush()
    _audit(session, actor, row, "session.schedule")
    return row


def check_in(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    data: CheckInIn,
    threshold: BpThreshold,
) -> InfusionSession:
    """Check in with pre-infusion vitals. A blood pressure above the threshold is recorded as a
    block that only a physician's decision lifts; the software flags, the physician decides."""
    reading = data.model_dump(exclude={"version"})
    blocked = threshold.exceeded_by(BloodPressure(data.systolic_mmhg, data.diastolic_mmhg))
    _event(row, actor, "vitals", data={**reading, "context": "pre", "bp_block": blocked})
    return _move(session, actor, row, Move.CHECK_IN)


_CHARTING_STATES = frozenset({State.CHECKED_IN, State.INFUSING, State.PAUSED, State.OBSERVING})


def record_vitals(
    session: Session, *, actor: Actor, row: InfusionSession, data: VitalsIn
) -> InfusionSession:
    """Chart a bedside check and raise an alert for every rule it meets (monitoring rules)."""
    _require_charting(row)
    reading = data.model_dump(exclude={"version"})
    context = "observation" if row.state == State.OBSERVING else "during"
    _event(row, actor, "vitals", data={**reading, "context": context})
    _raise_alerts(row, alerts_for(reading))
    _touch(session, actor, row, "session.vitals")
    return row


def record_side_effects(
    session: Session, *, actor: Actor, row: InfusionSession, data: SideEffectsIn
) -> InfusionSession:
    """Chart side-effect assessments; deep sedation or a severe effect raises an alert."""
    _require_charting(row)
    assessments = []
    for index, item in enumerate(data.assessments):
        try:
            assessments.append(validate_assessment(item.effect, item.grade))
        except InvalidInput as error:
            loc = ("body", "assessments", index, *error.loc)
            raise InvalidInput(error.msg, loc=loc) from None
    recorded = [item.model_dump() for item in data.assessments]
    _event(row, actor, "side_effects", data={"assessments": recorded})
    _raise_alerts(row, alerts_for({}, assessments))
    _touch(session, actor, row, "session.side_effects")
    return row


def record_adjunct(
    session: Session, *, actor: Actor, row: InfusionSession, data: AdjunctIn
) -> InfusionSession:
    """Give an adjunct medication within its per-dose and per-session limits (never clamped)."""
    _require_charting(row)
    given = sum(
        (
            Decimal(e.data["dose"])
            for e in row.events
            if e.kind == "adjunct" and e.data.get("drug") == data.drug
        ),
        Decimal(0),
    )
    try:
        check_adjunct(data.drug, data.dose, data.unit, data.route, given)
    except InvalidInput as error:
        error.loc = ("body", *error.loc)
        raise
    given_now = {"drug": data.drug, "dose": str(data.dose), "unit": data.unit, "route": data.route}
    _event(row, actor, "adjunct", reason=data.reason, data=given_now)
    _touch(session, actor, row, "session.adjunct")
    return row


def _require_charting(row: InfusionSession) -> None:
    if State(row.state) not in _CHARTING_STATES:
        raise Conflict(
            f"this is charted from check-in to discharge; the session is {row.state}",
            loc=("state",),
        )


def _raise_alerts(row: InfusionSession, alerts: tuple[Alert, ...]) -> None:
    now = clock.now()
    for alert in alerts:
        row.alerts.append(
            SessionAlert(
                rule_id=alert.rule_id,
                message=alert.message,
                severity=alert.severity.value,
                suggested_action=alert.action.value,
                source=alert.source,
                raised_at=now,
            )
        )


def acknowledge_alert(
    session: Session, *, actor: Actor, row: InfusionSession, alert_id: int
) -> InfusionSession:
    """Whoever acknowledges an alert is recorded by name; an alert is acknowledged once."""
    alert = next((a for a in row.alerts if a.id == alert_id), None)
    if alert is None:
        raise NotFound(f"no alert {alert_id} on this session", loc=("path", "alert_id"))
    if alert.acknowledged_at is not None:
        raise Conflict("this alert was already acknowledged", loc=("path", "alert_id"))
    alert.acknowledged_by_user_id = _user(actor)
    alert.acknowledged_at = clock.now()
    _touch(session, actor, row, "session.alert_acknowledge")
    return row


def record_bp_decision(
    session: Session, *, actor: Actor, row: InfusionSession, reason: str
) -> InfusionSession:
    """A physician's written decision to proceed despite a blocking blood pressure."""
    if actor.role is not Role.PHYSICIAN:
        raise Forbidden("only a physician decides to proceed despite a high blood pressure")
    if not _bp_blocked(row):
        raise Conflict("no blood-pressure block is open on this session", loc=("state",))
    _event(row, actor, "bp_decision", reason=reason)
    _touch(session, actor, row, "session.bp_decision")
    return row


def _bp_blocked(row: InfusionSession) -> bool:
    """Whether the latest pre-infusion reading blocks and no physician decision followed it."""
    blocked = False
    for event in sorted(row.events, key=lambda e: (e.at, e.id or 0)):
        if event.kind == "vitals" and event.data.get("context") == "pre":
            blocked = bool(event.data.get("bp_block"))
        elif event.kind == "bp_decision":
            blocked = False
    return blocked


def sign_order(
    session: Session, *, actor: Actor, row: InfusionSession, data: OrderIn
) -> InfusionSession:
    """The physician's order: the dose plan against the session's protocol version. A hard limit
    is refused; a soft one needs a reason (both as ``protocols.dose.plan`` decides)."""
    if actor.role is not Role.PHYSICIAN:
        raise Forbidden("only a physician signs an infusion order")
    if State(row.state) not in _ORDERABLE:
        raise Conflict(
            f"the order cannot be signed in state {row.state}; only before the infusion starts",
            loc=("state",),
        )
    weight_kg = data.weight_kg
    if weight_kg is None:
        patient = patients.get(session, actor=actor, patient_id=row.patient_id)
        current = patient.current_weight if patient is not None else None
        if current is None:
            raise InvalidInput("no weight on record: give weight_kg", loc=("body", "weight_kg"))
        weight_kg = current.weight_kg
    calc = DoseCalculationIn(
        protocol_id=row.protocol_version_id,
        weight_kg=weight_kg,
        height_cm=data.height_cm,
        sex=data.sex,
        weight_basis=data.weight_basis,
        dose=data.dose,
        duration_min=data.duration_min,
        override_reasons=data.override_reasons,
        pump_resolution_ml_per_h=data.pump_resolution_ml_per_h,
    )
    plan = dose.plan(_protocol(session, row), calc)
    now = clock.now()
    row.order_signed_by_user_id = _user(actor)
    row.order_signed_at = now
    row.order_plan = plan.model_dump(mode="json")
    row.order_rate_mg_per_h = plan.rate_mg_per_h
    row.order_pump_rate_ml_per_h = plan.pump_rate_ml_per_h
    row.verified_by_user_id = None
    row.verified_at = None
    _event(row, actor, "order", data={"pump_rate_ml_per_h": str(plan.pump_rate_ml_per_h)})
    row.events[-1].rate_mg_per_h = plan.rate_mg_per_h
    _touch(session, actor, row, "session.order")
    return row


def verify(session: Session, *, actor: Actor, row: InfusionSession) -> InfusionSession:
    """The second check of the order and the pump setting, by a nurse who did not sign it."""
    if row.order_signed_by_user_id is None:
        raise InvalidInput("there is no signed order to verify", loc=("order",))
    if actor.role is not Role.NURSE or actor.user_id == row.order_signed_by_user_id:
        raise Forbidden("the order must be verified by a nurse other than the signing physician")
    row.verified_by_user_id = _user(actor)
    row.verified_at = clock.now()
    _event(row, actor, "verify")
    _touch(session, actor, row, "session.verify")
    return row


def start(session: Session, *, actor: Actor, row: InfusionSession) -> InfusionSession:
    """Start the pump at the ordered rate."""
    return _move(session, actor, row, Move.START, rate_mg_per_h=row.order_rate_mg_per_h)


def change_rate(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    rate_mg_per_h: Decimal,
    reason: str | None,
) -> InfusionSession:
    """A new pump rate, judged against the protocol version's rate limit: above the hard limit
    is refused; above the soft limit needs a reason."""
    if State(row.state) is not State.INFUSING:
        allowed = ", ".join(allowed_moves(row.state)) or "none (final state)"
        raise Conflict(
            f"cannot change the rate from {row.state}; allowed: {allowed}", loc=("move",)
        )
    limit = protocols.definition(_protocol(session, row)).rate_limit_mg_per_h
    if rate_mg_per_h > limit.hard_max:
        raise DoseOutOfRange(
            f"refused: {RATE_LIMIT_NAME} {rate_mg_per_h} mg/h is above the hard limit of "
            f"{limit.hard_max} mg/h",
            loc=("body", RATE_LIMIT_NAME),
        )
    if rate_mg_per_h > limit.soft_max and not (reason and reason.strip()):
        raise DoseOutOfRange(
            f"a reason is needed to go above the soft limit: {RATE_LIMIT_NAME} {rate_mg_per_h} "
            f"mg/h is above {limit.soft_max} mg/h",
            loc=("body", "reason"),
        )
    _event(row, actor, "rate", rate_mg_per_h=rate_mg_per_h, reason=reason or None)
    _touch(session, actor, row, "session.rate")
    return row


def pause(session: Session, *, actor: Actor, row: InfusionSession, reason: str) -> InfusionSession:
    return _move(session, actor, row, Move.PAUSE, reason=reason)


def resume(session: Session, *, actor: Actor, row: InfusionSession) -> InfusionSession:
    return _move(session, actor, row, Move.RESUME)


def stop(session: Session, *, actor: Actor, row: InfusionSession) -> InfusionSession:
    return _move(session, actor, row, Move.STOP)


def abort(session: Session, *, actor: Actor, row: InfusionSession, reason: str) -> InfusionSession:
    return _move(session, actor, row, Move.ABORT, reason=reason)


def require_version(row: InfusionSession, version: int | None) -> None:
    """A stale ``version`` from the client is a conflict (someone else moved the session)."""
    if version is not None and version != row.version_id:
        raise Conflict(
            f"the session is at version {row.version_id}, not {version}; reload it and try again",
            loc=("body", "version"),
        )


def delivered(row: InfusionSession) -> timeline.Delivered | None:
    """What the pump gave so far (read up to now while it runs), or ``None`` before the start."""
    events: list[timeline.Event] = []
    for e in row.events:
        if e.kind == "start" and e.rate_mg_per_h is not None:
            events.append(timeline.Start(e.at, e.rate_mg_per_h))
        elif e.kind == "rate" and e.rate_mg_per_h is not None:
            events.append(timeline.RateChange(e.at, e.rate_mg_per_h))
        elif e.kind == "pause":
            events.append(timeline.Pause(e.at, e.reason or ""))
        elif e.kind == "resume":
            events.append(timeline.Resume(e.at))
        elif e.kind in ("stop", "abort") and events:
            events.append(timeline.Stop(e.at))
    if not events:
        return None
    running = not isinstance(events[-1], timeline.Stop)
    concentration = Decimal(str(_plan_value(row, "concentration_mg_per_ml")))
    return timeline.derive(events, concentration, as_of=clock.now() if running else None)


def to_out(row: InfusionSession) -> SessionOut:
    order = None
    if row.order_signed_by_user_id is not None:
        assert row.order_signed_at is not None and row.order_plan is not None
        assert row.order_rate_mg_per_h is not None and row.order_pump_rate_ml_per_h is not None
        order = OrderOut(
            signed_by_user_id=row.order_signed_by_user_id,
            signed_at=row.order_signed_at,
            rate_mg_per_h=row.order_rate_mg_per_h,
            pump_rate_ml_per_h=row.order_pump_rate_ml_per_h,
            plan=row.order_plan,
            verified_by_user_id=row.verified_by_user_id,
            verified_at=row.verified_at,
        )
    given = delivered(row)
    return SessionOut(
        id=row.id,
        version=row.version_id,
        patient_id=row.patient_id,
        protocol_id=row.protocol_version_id,
        state=row.state,
        allowed_moves=list(allowed_moves(row.state)),
        scheduled_at=row.scheduled_at,
        chair=row.chair,
        created_at=row.created_at,
        order=order,
        alerts=[
            AlertOut(
                id=a.id,
                rule_id=a.rule_id,
                message=a.message,
                severity=a.severity,
                suggested_action=a.suggested_action,
                source=a.source,
                raised_at=a.raised_at,
                acknowledged_by_user_id=a.acknowledged_by_user_id,
                acknowledged_at=a.acknowledged_at,
            )
            for a in row.alerts
        ],
        events=[
            EventOut(
                id=e.id,
                kind=e.kind,
                at=e.at,
                by_user_id=e.by_user_id,
                rate_mg_per_h=e.rate_mg_per_h,
                reason=e.reason,
                data=e.data,
            )
            for e in row.events
        ],
        delivered=None
        if given is None
        else DeliveredOut(
            running=given.running,
            infused_mg=given.infused_mg,
            bolus_mg=given.bolus_mg,
            total_mg=given.total_mg,
            total_ml=given.total_ml,
            infusing_min=given.infusing_min,
            paused_min=given.paused_min,
        ),
    )


# --- helpers --------------------------------------------------------------------------------------


def _protocol(session: Session, row: InfusionSession) -> ProtocolVersion:
    protocol = session.get(ProtocolVersion, row.protocol_version_id)
    assert protocol is not None  # a foreign key
    return protocol


def _plan_value(row: InfusionSession, name: str) -> Any:
    assert row.order_plan is not None
    return row.order_plan[name]


def _context(row: InfusionSession, reason: str | None) -> GuardContext:
    return GuardContext(
        order_signed=row.order_signed_by_user_id is not None,
        second_nurse_verified=row.verified_by_user_id is not None,
        no_bp_block=not _bp_blocked(row),
        reason=reason,
    )


def _move(
    session: Session,
    actor: Actor,
    row: InfusionSession,
    move: Move,
    *,
    reason: str | None = None,
    rate_mg_per_h: Decimal | None = None,
) -> InfusionSession:
    before = row.state
    after = transition(before, move.value, _context(row, reason))
    row.state = after.value
    _event(
        row,
        actor,
        move.value,
        rate_mg_per_h=rate_mg_per_h,
        reason=reason,
        data={"from": before, "to": after.value},
    )
    _touch(session, actor, row, f"session.{move.value}")
    return row


def _event(
    row: InfusionSession,
    actor: Actor,
    kind: str,
    *,
    rate_mg_per_h: Decimal | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    assert kind in EVENT_KINDS
    row.events.append(
        SessionEvent(
            kind=kind,
            at=clock.now(),
            by_user_id=_user(actor),
            rate_mg_per_h=rate_mg_per_h,
            reason=reason,
            data=data or {},
        )
    )


def _touch(session: Session, actor: Actor, row: InfusionSession, action: str) -> None:
    # Every action writes the row, so every action moves version_id and a racing one fails.
    row.updated_at = clock.now()
    session.flush()
    _audit(session, actor, row, action)


def _audit(session: Session, actor: Actor, row: InfusionSession, action: str) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        patient_id=row.patient_id,
        detail=f"session_id={row.id}",
    )
