"""Infusion-session JSON routes: schedule a session and drive it through its state machine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.errors import NotFound
from ketaclinic.infusions import charting, service
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.schemas import (
    ActionIn,
    AdjunctIn,
    BolusIn,
    CheckInIn,
    DischargeIn,
    EnteredInErrorIn,
    OrderIn,
    RateIn,
    ReasonIn,
    ScheduleIn,
    SessionOut,
    SideEffectsIn,
    StopIn,
    VerifyIn,
    VitalsIn,
)
from ketaclinic.screening.api import threshold
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import RecordId

router = APIRouter(
    prefix="/api/v1/sessions", tags=["infusion sessions"], route_class=ExactJsonRoute
)

Runner = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]
Signer = Annotated[Actor, Depends(require(Permission.ORDER_SIGN))]
Verifier = Annotated[Actor, Depends(require(Permission.ORDER_VERIFY))]

Action = Callable[[Session, InfusionSession], object]


def _act(
    session: Session,
    actor: Actor,
    session_id: int,
    version: int | None,
    action: Action,
    *,
    lock: bool = True,
) -> SessionOut:
    """One transaction on one session: locked first when it writes, the client's ``version``
    checked when given (moves and dose decisions; observations pass None)."""
    with session.begin():
        row = service.get(session, actor=actor, session_id=session_id, lock=lock)
        if row is None:
            raise NotFound(f"no session {session_id} in your clinic", loc=("path", "session_id"))
        service.require_version(row, version)
        action(session, row)
        return service.to_out(session, row)


@router.post("", response_model=SessionOut, status_code=201)
def schedule_session(
    data: ScheduleIn, actor: Runner, session: SessionDep, settings: SettingsDep
) -> SessionOut:
    """Book a session on a chair; refused (with free starts to pick from) as
    ``POST /api/v1/scheduling/bookings`` is."""
    with session.begin():
        row = service.schedule(session, actor=actor, data=data, zone=settings.timezone)
        return service.to_out(session, row)


@router.get("/{session_id}", response_model=SessionOut)
def read_session(session_id: RecordId, actor: Runner, session: SessionDep) -> SessionOut:
    """State, allowed moves, the order, every event and the dose delivered so far."""
    return _act(session, actor, session_id, None, lambda s, r: None, lock=False)


@router.post("/{session_id}/check-in", response_model=SessionOut)
def check_in(
    session_id: RecordId, data: CheckInIn, actor: Runner, session: SessionDep, settings: SettingsDep
) -> SessionOut:
    """Check in: pre-infusion vitals, weight if changed, pain and mood, pregnancy status, escort
    and a re-check of the contraindications. A blood pressure above the clinic's threshold
    (``KETACLINIC_SCREENING_*_LIMIT_MMHG``), a possible pregnancy or a new contraindication blocks
    the start until a physician records a clearance."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.check_in(
            s, actor=actor, row=r, data=data, threshold=threshold(settings)
        ),
    )


@router.post("/{session_id}/vitals", response_model=SessionOut)
def record_vitals(
    session_id: RecordId,
    data: VitalsIn,
    actor: Runner,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionOut:
    """Chart vitals; each alert rule met raises an alert that must be acknowledged by name.
    A value beyond its plausibility band (clinic policy, e.g. systolic > 250) answers 422 naming
    it unless ``confirm_implausible`` is true. ``observed_at`` makes it a late entry. Never a
    conflict with what others charted meanwhile: ``version`` is not checked."""
    return _act(
        session,
        actor,
        session_id,
        None,  # an observation never conflicts
        lambda s, r: service.record_vitals(
            s, actor=actor, row=r, data=data, policy=charting.policy_of(settings)
        ),
    )


@router.post("/{session_id}/side-effects", response_model=SessionOut)
def record_side_effects(
    session_id: RecordId,
    data: SideEffectsIn,
    actor: Runner,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionOut:
    """Chart side effects (dissociation, sedation as MOAA/S, nausea…); severe ones raise alerts.
    ``version`` is not checked."""
    return _act(
        session,
        actor,
        session_id,
        None,  # an observation never conflicts
        lambda s, r: service.record_side_effects(
            s, actor=actor, row=r, data=data, policy=charting.policy_of(settings)
        ),
    )


@router.post("/{session_id}/adjunct-medications", response_model=SessionOut)
def record_adjunct(
    session_id: RecordId,
    data: AdjunctIn,
    actor: Runner,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionOut:
    """An adjunct given (drug, dose, route, reason), refused above its per-dose or session limit
    (judged after every dose charted before it). ``version`` is not checked."""
    return _act(
        session,
        actor,
        session_id,
        None,  # an observation never conflicts
        lambda s, r: service.record_adjunct(
            s, actor=actor, row=r, data=data, policy=charting.policy_of(settings)
        ),
    )


@router.post("/{session_id}/alerts/{alert_id}/acknowledge", response_model=SessionOut)
def acknowledge_alert(
    session_id: RecordId, alert_id: RecordId, actor: Runner, session: SessionDep
) -> SessionOut:
    return _act(
        session,
        actor,
        session_id,
        None,
        lambda s, r: service.acknowledge_alert(s, actor=actor, row=r, alert_id=alert_id),
    )


@router.post(
    "/{session_id}/entries/{event_id}/entered-in-error",
    response_model=SessionOut,
    responses={403: {"description": "Neither the entry's author nor a physician"}},
)
def mark_entered_in_error(
    session_id: RecordId,
    event_id: RecordId,
    data: EnteredInErrorIn,
    actor: Runner,
    session: SessionDep,
) -> SessionOut:
    """Mark a charted vitals row, side-effect assessment or adjunct entered in error, with a
    reason: by its author or a physician (403 for anyone else), once (409 the second time).
    Nothing is deleted; the alerts it raised are withdrawn and everything derived from the
    record (vitals due, adjunct totals, charts, reports) leaves it out. ``version`` is not
    checked: a correction is an observation."""
    return _act(
        session,
        actor,
        session_id,
        None,
        lambda s, r: charting.mark_entered_in_error(
            s, actor=actor, row=r, event_id=event_id, reason=data.reason
        ),
    )


@router.post("/{session_id}/clearance", response_model=SessionOut)
def clearance(
    session_id: RecordId, data: ReasonIn, actor: Signer, session: SessionDep
) -> SessionOut:
    """A physician's written decision to proceed despite what the check-in found (a blood
    pressure above the threshold, a possible pregnancy, a new contraindication)."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.record_clearance(s, actor=actor, row=r, reason=data.reason),
    )


@router.post("/{session_id}/order", response_model=SessionOut)
def sign_order(
    session_id: RecordId, data: OrderIn, actor: Signer, session: SessionDep
) -> SessionOut:
    """The physician's order. Above a hard limit answers 422 naming it; above a soft one needs
    ``override_reasons``."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.sign_order(s, actor=actor, row=r, data=data),
    )


@router.post("/{session_id}/verify", response_model=SessionOut)
def verify_order(
    session_id: RecordId, data: VerifyIn, actor: Verifier, session: SessionDep
) -> SessionOut:
    """The second nurse's blind check: what the pump and the bag show (drug, concentration,
    rate, volume to be infused), each compared exactly with the signed order; any difference
    answers 422 naming the field and both values, and nothing is recorded. Never the signing
    physician; the verifying nurse may not start the infusion."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.verify(s, actor=actor, row=r, reading=data.reading()),
    )


@router.post("/{session_id}/start", response_model=SessionOut)
def start(session_id: RecordId, data: ActionIn, actor: Runner, session: SessionDep) -> SessionOut:
    """Start the pump at the ordered rate: needs a signed, verified order, and a nurse other than
    the one who verified it."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.start(s, actor=actor, row=r),
    )


@router.post("/{session_id}/rate", response_model=SessionOut)
def change_rate(
    session_id: RecordId, data: RateIn, actor: Runner, session: SessionDep
) -> SessionOut:
    """A new rate in exactly one of ``rate_ml_per_h`` (what the pump shows) or ``rate_mg_per_h``;
    0 is refused (use pause), and so is a value the pump cannot be set to (never rounded). Judged
    against the protocol's mg/h limits and its total limit for what has been given plus the new
    rate for the rest of the planned running time (paused time does not count): above a hard
    limit 422 naming it; above a soft one needs ``reason``."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.change_rate(
            s,
            actor=actor,
            row=r,
            rate_ml_per_h=data.rate_ml_per_h,
            rate_mg_per_h=data.rate_mg_per_h,
            reason=data.reason,
        ),
    )


@router.post("/{session_id}/pause", response_model=SessionOut)
def pause(session_id: RecordId, data: ReasonIn, actor: Runner, session: SessionDep) -> SessionOut:
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.pause(s, actor=actor, row=r, reason=data.reason),
    )


@router.post("/{session_id}/resume", response_model=SessionOut)
def resume(session_id: RecordId, data: ReasonIn, actor: Runner, session: SessionDep) -> SessionOut:
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.resume(s, actor=actor, row=r, reason=data.reason),
    )


@router.post("/{session_id}/stop", response_model=SessionOut)
def stop(session_id: RecordId, data: StopIn, actor: Runner, session: SessionDep) -> SessionOut:
    """Stop the pump; observation begins. Before the planned end with the ordered dose not all
    given, ``reason_category`` is required (``other`` also needs ``reason``). No confirmation
    step here: an API call is explicit (the page asks for one)."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.stop(
            s, actor=actor, row=r, category=data.reason_category, note=data.reason
        ),
    )


@router.post("/{session_id}/abort", response_model=SessionOut)
def abort(session_id: RecordId, data: ReasonIn, actor: Runner, session: SessionDep) -> SessionOut:
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.abort(s, actor=actor, row=r, reason=data.reason),
    )


@router.post("/{session_id}/bolus", response_model=SessionOut)
def give_bolus(
    session_id: RecordId, data: BolusIn, actor: Runner, session: SessionDep
) -> SessionOut:
    """A bolus push, within the protocol's bolus and total limits (soft ones need a reason)."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.give_bolus(s, actor=actor, row=r, data=data),
    )


@router.post("/{session_id}/discharge", response_model=SessionOut)
def discharge(
    session_id: RecordId,
    data: DischargeIn,
    actor: Runner,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionOut:
    """Discharge, signed by the sender. Refused (422) with every unmet criterion listed: the
    observation time with the earliest discharge time, Aldrete below 9, no escort, no advice."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.discharge(s, actor=actor, row=r, data=data, zone=settings.timezone),
    )


@router.post("/{session_id}/cancel", response_model=SessionOut)
def cancel(session_id: RecordId, data: ReasonIn, actor: Runner, session: SessionDep) -> SessionOut:
    """Call off a session that has not been checked in, with the reason."""
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.cancel(s, actor=actor, row=r, reason=data.reason),
    )


@router.post("/{session_id}/no-show", response_model=SessionOut)
def mark_no_show(
    session_id: RecordId, data: ActionIn, actor: Runner, session: SessionDep
) -> SessionOut:
    return _act(
        session,
        actor,
        session_id,
        data.version,
        lambda s, r: service.mark_no_show(s, actor=actor, row=r),
    )
