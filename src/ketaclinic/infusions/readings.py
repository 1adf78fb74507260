"""What a session's record says now: open blocks, dose given, next vitals, earliest discharge.

Everything here is derived from the stored events on every read, never stored beside them, so it
cannot disagree with the timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.dosing.checks import DOSE_CONTEXT
from ketaclinic.infusions import discharge, pump, timeline
from ketaclinic.infusions.core import State, allowed_moves
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.infusions.recording import protocol_of
from ketaclinic.infusions.schemas import (
    AlertOut,
    DeliveredOut,
    EventOut,
    OrderOut,
    PumpNowOut,
    SessionOut,
)

#: States in which bedside vitals are due on the protocol's schedule.
_VITALS_DUE_STATES = frozenset({State.INFUSING, State.PAUSED, State.OBSERVING})


def _in_order(row: InfusionSession) -> list[SessionEvent]:
    return sorted(row.events, key=lambda e: (e.at, e.id or 0))


def open_blocks(row: InfusionSession) -> list[str]:
    """What the check-in found that only a physician's clearance lifts (e.g. blood_pressure)."""
    blocks: list[str] = []
    for e in _in_order(row):
        if e.kind == "check_in":
            blocks = list(e.data.get("blocks", []))
        elif e.kind == "clearance":
            blocks = []
    return blocks


def infusion_end(row: InfusionSession) -> datetime | None:
    """When the pump was stopped (observation starts then), or ``None`` before."""
    stops = [e.at for e in row.events if e.kind == "stop"]
    return max(stops) if stops else None


def earliest_discharge(session: Session, row: InfusionSession) -> datetime | None:
    """Infusion end + max(60 min, the protocol's observation), once the infusion has ended."""
    end = infusion_end(row)
    if end is None or State(row.state) not in (State.OBSERVING, State.DISCHARGED):
        return None
    return discharge.earliest_discharge_at(end, protocol_of(session, row).observation_min)


def vitals_due_at(session: Session, row: InfusionSession) -> datetime | None:
    """The last bedside check (or the start) plus the protocol's interval, while it matters.
    A check entered in error was not a check: the next one is due as if it had never been
    charted. A late entry counts from when it was observed."""
    if State(row.state) not in _VITALS_DUE_STATES:
        return None
    checks = [
        e.at
        for e in row.events
        if e.kind == "start"
        or (e.kind == "vitals" and not e.in_error and e.data.get("context") != "pre")
    ]
    if not checks:
        return None
    return max(checks) + timedelta(minutes=protocol_of(session, row).vitals_interval_min)


def delivered(row: InfusionSession) -> timeline.Delivered | None:
    """What the pump and the pushes gave so far (read up to now while it runs), or ``None``
    before the start."""
    events: list[timeline.Event] = []
    for e in _in_order(row):
        if e.kind == "start" and e.rate_mg_per_h is not None:
            events.append(timeline.Start(e.at, e.rate_mg_per_h))
        elif e.kind == "rate" and e.rate_mg_per_h is not None:
            events.append(timeline.RateChange(e.at, e.rate_mg_per_h))
        elif e.kind == "pause":
            events.append(timeline.Pause(e.at, e.reason or ""))
        elif e.kind == "resume":
            events.append(timeline.Resume(e.at))
        elif e.kind == "bolus":
            events.append(timeline.BolusGiven(e.at, Decimal(e.data["dose_mg"])))
        elif e.kind in ("stop", "abort") and events and not isinstance(events[-1], timeline.Stop):
            # An abort during observation comes after the pump's stop: nothing more to end.
            events.append(timeline.Stop(e.at))
    if not events:
        return None
    running = not isinstance(events[-1], timeline.Stop)
    assert row.order_plan is not None  # started sessions have an order
    concentration = Decimal(str(row.order_plan["concentration_mg_per_ml"]))
    return timeline.derive(events, concentration, as_of=clock.now() if running else None)


def so_far(row: InfusionSession) -> pump.SoFar:
    """What a dose decision now looks at: the exact amount given (read up to now) and the running
    time so far and ordered (nothing given before the start)."""
    assert row.order_plan is not None  # decisions about doses follow a signed order
    planned_min = int(row.order_plan["duration_min"])
    given = delivered(row)
    if given is None:
        return pump.SoFar(
            given_mg=Fraction(0), infused_s=Fraction(0), planned_s=Fraction(planned_min * 60)
        )
    return pump.so_far(given, planned_min)


def current_setting(row: InfusionSession) -> pump.PumpSetting | None:
    """The rate the pump is set to now (kept through a pause), in both units, or ``None`` before
    the start and after the stop. mL/h is the rate over the order's concentration: exact for every
    rate recorded since rates are checked against the pump's steps."""
    if State(row.state) not in (State.INFUSING, State.PAUSED) or row.order_plan is None:
        return None
    rates = [e.rate_mg_per_h for e in _in_order(row) if e.kind in ("start", "rate")]
    rate = next((r for r in reversed(rates) if r is not None), None)
    if rate is None:
        return None
    concentration = Decimal(str(row.order_plan["concentration_mg_per_ml"]))
    with localcontext(DOSE_CONTEXT):
        return pump.PumpSetting(ml_per_h=(rate / concentration).normalize(), mg_per_h=rate)


def stopped_early(row: InfusionSession) -> str | None:
    """'stopped early: 1.3 of 20.5 mg given (side effects)' when the infusion was stopped
    before the ordered dose was given, else ``None``."""
    stops = [e for e in _in_order(row) if e.kind == "stop"]
    return pump.stopped_early(stops[-1].data or {}, stops[-1].reason) if stops else None


def to_out(session: Session, row: InfusionSession) -> SessionOut:
    given = delivered(row)
    return SessionOut(
        id=row.id,
        version=row.version_id,
        patient_id=row.patient_id,
        protocol_id=row.protocol_version_id,
        course_id=row.course_id,
        state=row.state,
        allowed_moves=list(allowed_moves(row.state)),
        scheduled_at=row.scheduled_at,
        chair_id=row.chair_id,
        chair=row.chair.name,
        chair_held_until=row.chair_held_until,
        created_at=row.created_at,
        order=_order_out(row),
        open_blocks=open_blocks(row),
        vitals_due_at=vitals_due_at(session, row),
        pump_now=None
        if (now := current_setting(row)) is None
        else PumpNowOut(rate_ml_per_h=now.ml_per_h, rate_mg_per_h=now.mg_per_h),
        stopped_early=stopped_early(row),
        earliest_discharge_at=earliest_discharge(session, row),
        alerts=[AlertOut.model_validate(a, from_attributes=True) for a in row.alerts],
        events=[EventOut.model_validate(e, from_attributes=True) for e in row.events],
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


def _order_out(row: InfusionSession) -> OrderOut | None:
    if row.order_signed_by_user_id is None:
        return None
    assert row.order_signed_at is not None and row.order_plan is not None
    assert row.order_rate_mg_per_h is not None and row.order_pump_rate_ml_per_h is not None
    return OrderOut(
        signed_by_user_id=row.order_signed_by_user_id,
        signed_at=row.order_signed_at,
        rate_mg_per_h=row.order_rate_mg_per_h,
        pump_rate_ml_per_h=row.order_pump_rate_ml_per_h,
        plan=row.order_plan,
        verified_by_user_id=row.verified_by_user_id,
        verified_at=row.verified_at,
    )
