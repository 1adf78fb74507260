"""The blind double check and what a stop now would mean: the pump-safety reads and checks of a
session (issue 11), kept apart from the moves in ``service``, which re-exports them.

One transaction each (the caller's), each audited through ``recording``. The pure rules are in
``pump``.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.errors import Forbidden, InvalidInput
from ketaclinic.infusions import pump
from ketaclinic.infusions.core import GuardContext, Move, State, transition
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.readings import delivered, so_far
from ketaclinic.infusions.recording import event, touch, user_of


def verify(
    session: Session, *, actor: Actor, row: InfusionSession, reading: pump.PumpReading
) -> InfusionSession:
    """The blind second check, by a nurse who did not sign the order: what they read on the pump
    is compared exactly with the order (every mismatch refused, naming the field and both
    values) and kept on the event. That nurse may not start the infusion (``core`` guards)."""
    if row.order_signed_by_user_id is None:
        raise InvalidInput("there is no signed order to verify", loc=("order",))
    if actor.role is not Role.NURSE or actor.user_id == row.order_signed_by_user_id:
        raise Forbidden("the order must be verified by a nurse other than the signing physician")
    pump.check_reading(reading, ordered_pump(row))
    row.verified_by_user_id = user_of(actor)
    row.verified_at = clock.now()
    read = {
        "drug": reading.drug,
        "concentration_mg_per_ml": str(reading.concentration_mg_per_ml),
        "rate_ml_per_h": str(reading.rate_ml_per_h),
        "volume_to_be_infused_ml": str(reading.volume_to_be_infused_ml),
    }
    event(row, actor, "verify", data={"read": read})
    touch(session, actor, row, "session.verify")
    return row


def ordered_pump(row: InfusionSession) -> pump.OrderedPump:
    """The signed order as the pump must be set (the volume to be infused is the plan's infusion
    volume, in the pump's 0.1 mL steps; a session's order carries no bolus, so it is also the
    plan's total mL)."""
    plan = row.order_plan
    assert plan is not None and row.order_pump_rate_ml_per_h is not None
    return pump.OrderedPump(
        concentration_mg_per_ml=Decimal(str(plan["concentration_mg_per_ml"])),
        rate_ml_per_h=row.order_pump_rate_ml_per_h,
        vtbi_ml=pump.programmed_vtbi_ml(Decimal(str(plan["infusion_ml"]))),
    )


def reading_as_ordered(row: InfusionSession) -> pump.PumpReading:
    """What a correctly set pump shows for this order: for the demo clinic's second nurse, who
    reads the pump the first nurse set right."""
    ordered = ordered_pump(row)
    return pump.PumpReading(
        drug=ordered.drug,
        concentration_mg_per_ml=ordered.concentration_mg_per_ml,
        rate_ml_per_h=ordered.rate_ml_per_h,
        volume_to_be_infused_ml=ordered.vtbi_ml,
    )


def stop_confirmation(row: InfusionSession, *, category: str | None, note: str | None) -> str:
    """What stopping now will do, for the page's confirmation step; refuses (as ``stop`` would)
    an early stop without its reason, so the nurse is not asked to confirm a refusal."""
    transition(row.state, Move.STOP, GuardContext())  # stop has no guards: the table's answer
    early = stop_is_early(row)
    problem = pump.stop_reason_problem(
        early, None if category is None else pump.StopReason(category), note
    )
    if problem is not None:
        raise InvalidInput(problem[1], loc=("body", problem[0]))
    given = delivered(row)
    assert given is not None and row.order_plan is not None  # stop follows a start
    ordered = Decimal(str(row.order_plan["total_mg"]))
    text = (
        f"Stop the infusion now: {pump.dose_text(given.total_mg)} mg given of "
        f"{pump.dose_text(ordered)} mg ordered; observation begins"
    )
    if early and category is not None:
        text += f". Stopping early: {pump.StopReason(category).label}"
    return text + "."


def stop_is_early(row: InfusionSession) -> bool:
    """Whether stopping now is before the planned end and before the ordered dose is given."""
    if State(row.state) not in (State.INFUSING, State.PAUSED) or row.order_plan is None:
        return False
    return pump.is_early(so_far(row), Decimal(str(row.order_plan["total_mg"])))
