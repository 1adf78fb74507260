"""Bedside charting during a session: vitals, side effects, adjuncts, boluses and alerts.

One transaction each (the caller's), each audited through ``recording``. Alerts come from the
monitoring rules; the software flags and suggests, the nurse and physician decide.

Vitals, side effects, adjuncts and acknowledging an alert are observations: appended beside the
session without moving its version, so nurses charting at once never conflict. A bolus is a dose
decision judged on everything given so far, so it moves the version like a rate change. The caller
holds the session row's lock, so a per-session limit sees every dose charted before it.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.dosing.protocol import BOLUS_LIMIT_NAME, TOTAL_LIMIT_NAME, Limit
from ketaclinic.errors import Conflict, DoseOutOfRange, InvalidInput, NotFound
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession, SessionAlert
from ketaclinic.infusions.pump import show, show_fraction
from ketaclinic.infusions.readings import current_setting, delivered
from ketaclinic.infusions.readings import so_far as exact_so_far
from ketaclinic.infusions.recording import (
    append,
    event,
    protocol_of,
    require_charting,
    touch,
    user_of,
)
from ketaclinic.infusions.schemas import AdjunctIn, BolusIn, SideEffectsIn, VitalsIn
from ketaclinic.monitoring.adjuncts import check_adjunct
from ketaclinic.monitoring.alerts import Alert
from ketaclinic.monitoring.core import alerts_for
from ketaclinic.monitoring.side_effects import validate_assessment

#: A bolus is a push given while the pump is set up: running or paused, never before the start.
_BOLUS_STATES = frozenset({State.INFUSING, State.PAUSED})


def record_vitals(
    session: Session, *, actor: Actor, row: InfusionSession, data: VitalsIn
) -> InfusionSession:
    """Chart a bedside check and raise an alert for every rule it meets (monitoring rules)."""
    require_charting(row)
    reading = data.model_dump(exclude={"version"})
    context = "observation" if row.state == State.OBSERVING else "during"
    event(row, actor, "vitals", data={**reading, "context": context})
    _raise_alerts(row, alerts_for(reading))
    append(session, actor, row, "session.vitals")
    return row


def record_side_effects(
    session: Session, *, actor: Actor, row: InfusionSession, data: SideEffectsIn
) -> InfusionSession:
    """Chart side-effect assessments; deep sedation or a severe effect raises an alert."""
    require_charting(row)
    assessments = []
    for index, item in enumerate(data.assessments):
        try:
            assessments.append(validate_assessment(item.effect, item.grade))
        except InvalidInput as error:
            loc = ("body", "assessments", index, *error.loc)
            raise InvalidInput(error.msg, loc=loc) from None
    recorded = [item.model_dump() for item in data.assessments]
    event(row, actor, "side_effects", data={"assessments": recorded})
    _raise_alerts(row, alerts_for({}, assessments))
    append(session, actor, row, "session.side_effects")
    return row


def record_adjunct(
    session: Session, *, actor: Actor, row: InfusionSession, data: AdjunctIn
) -> InfusionSession:
    """Give an adjunct medication within its per-dose and per-session limits (never clamped).
    The session's earlier doses are read under the caller's row lock, so two doses given at the
    same moment are judged one after the other, never both against the same total."""
    require_charting(row)
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
    event(row, actor, "adjunct", reason=data.reason, data=given_now)
    append(session, actor, row, "session.adjunct")
    return row


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
    """Whoever acknowledges an alert is recorded by name; an alert is acknowledged once (under
    the caller's row lock, so a second nurse acknowledging it at the same moment gets a conflict).
    It changes no decision about the session, so it leaves the session's version alone."""
    alert = next((a for a in row.alerts if a.id == alert_id), None)
    if alert is None:
        raise NotFound(f"no alert {alert_id} on this session", loc=("path", "alert_id"))
    if alert.acknowledged_at is not None:
        raise Conflict("this alert was already acknowledged", loc=("path", "alert_id"))
    alert.acknowledged_by_user_id = user_of(actor)
    alert.acknowledged_at = clock.now()
    append(session, actor, row, "session.alert_acknowledge")
    return row
