"""The chairside pages: today's chair board (refreshed in place) and the session page, whose
quick-entry forms post one action each.

Every action runs in one transaction through the same service call as the JSON API. A move, the
order or a dose decision is checked against the ``version`` the form was rendered with, so a nurse
acting on a stale page gets a conflict and a fresh page instead of deciding on what has changed.
An observation (vitals, side effects, an adjunct, an alert acknowledged) is recorded whatever
others charted since the page was drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.config import Settings
from ketaclinic.dosing.core import SoftLimitNeedsOverride
from ketaclinic.errors import Conflict, KetaclinicError, NotFound
from ketaclinic.infusions import charting, page_confirm, page_discharge, page_order, service
from ketaclinic.infusions import page_forms as forms
from ketaclinic.infusions.assessments import check_in_value
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.page_context import board_context, session_context
from ketaclinic.infusions.readings import infusion_end
from ketaclinic.infusions.recording import protocol_of
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
    SideEffectsIn,
    StopIn,
    VerifyIn,
    VitalsIn,
)
from ketaclinic.monitoring.core import ImplausibleValues
from ketaclinic.patients.models import Patient
from ketaclinic.screening.core import BpThreshold
from ketaclinic.web.forms import validation_messages
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Runner = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]
STALE = (
    "Someone else changed this session while you were entering this. The page has been "
    "reloaded with their change: check it and re-enter yours."
)


@router.get("/board")
def board_page(
    request: Request, actor: Runner, session: SessionDep, settings: SettingsDep
) -> Response:
    with session.begin():
        context = board_context(session, actor, settings)
    return render(request, "infusions/board.html", context)


@router.get("/board/data")
def board_data(
    request: Request, actor: Runner, session: SessionDep, settings: SettingsDep
) -> Response:
    """The board's rows alone, for the script that refreshes the board without a reload."""
    with session.begin():
        context = board_context(session, actor, settings)
    return render(request, "infusions/_board.html", context)


@router.get("/sessions/{session_id}")
def session_page(
    request: Request,
    session_id: RecordId,
    actor: Runner,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    return _page(request, session, actor, settings, session_id)


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    session_id: int,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    with session.begin():
        row = _found(session, actor, session_id)
        context = session_context(session, actor, settings, row)
    context["failed"] = failed or {"form": None, "errors": {}, "values": {}}
    if context["failed"].get("form") == "moves":
        context["failed"].setdefault("anchor", "top")
    return render(request, "infusions/session.html", context, status_code=status_code)


def _found(
    session: Session, actor: Actor, session_id: int, *, lock: bool = False
) -> InfusionSession:
    row = service.get(session, actor=actor, session_id=session_id, lock=lock)
    if row is None:
        raise NotFound(f"no session {session_id} in your clinic")
    return row


# --- the form actions ----------------------------------------------------------------------------

Run = Callable[[Session, Actor, InfusionSession, Any, Settings], object]
#: An irreversible action's first step: checks what the action would check (raising the same
#: refusals) and returns what will happen, for the confirmation panel; writes nothing.
Confirm = Callable[[Session, Actor, InfusionSession, Any], str]


@dataclass(frozen=True)
class Action:
    """One form on the session page: what it posts to, who may, how it is read and run, and
    whether the page's ``version`` must still be current (not for an observation)."""

    path: str
    form: str
    permission: Permission
    payload: forms.Payload
    model: type[BaseModel]
    run: Run
    done: str
    versioned: bool = True
    confirm: Confirm | None = None


def _threshold(settings: Settings) -> BpThreshold:
    return BpThreshold(
        settings.screening_systolic_limit_mmhg, settings.screening_diastolic_limit_mmhg
    )


def _simple(call: Callable[..., object]) -> Run:
    return lambda s, a, r, d, _: call(s, actor=a, row=r)


def _with_reason(call: Callable[..., object]) -> Run:
    return lambda s, a, r, d, _: call(s, actor=a, row=r, reason=d.reason)


def _with_data(call: Callable[..., object]) -> Run:
    return lambda s, a, r, d, _: call(s, actor=a, row=r, data=d)


def _charted(call: Callable[..., object]) -> Run:
    """A bedside entry, judged by the clinic's late-entry window."""
    return lambda s, a, r, d, settings: call(
        s, actor=a, row=r, data=d, policy=charting.policy_of(settings)
    )


RUN, SIGN, VERIFY = Permission.SESSION_RUN, Permission.ORDER_SIGN, Permission.ORDER_VERIFY
ACTIONS = (
    Action(
        "check-in", "check_in", RUN, forms.check_in, CheckInIn,
        lambda s, a, r, d, settings: service.check_in(
            s, actor=a, row=r, data=d, threshold=_threshold(settings)
        ),
        "Checked in.",
    ),
    Action("clearance", "clearance", SIGN, forms.reason, ReasonIn,
           _with_reason(service.record_clearance), "Clearance recorded."),
    Action("order", "order", SIGN, forms.order, OrderIn, _with_data(service.sign_order),
           "Order signed."),
    Action("verify", "verify", VERIFY, forms.verify, VerifyIn,
           lambda s, a, r, d, _: service.verify(s, actor=a, row=r, reading=d.reading()),
           "Blind check passed: the pump matches the order."),
    Action("start", "moves", RUN, forms.version_only, ActionIn, _simple(service.start),
           "Infusion started."),
    Action("rate", "rate", RUN, forms.rate, RateIn,
           lambda s, a, r, d, _: service.change_rate(
               s, actor=a, row=r, rate_ml_per_h=d.rate_ml_per_h, rate_mg_per_h=d.rate_mg_per_h,
               reason=d.reason,
           ),
           "Rate changed."),
    Action("pause", "pause", RUN, forms.reason, ReasonIn, _with_reason(service.pause), "Paused."),
    Action("resume", "resume", RUN, forms.reason, ReasonIn, _with_reason(service.resume),
           "Resumed."),
    Action("stop", "stop", RUN, forms.stop, StopIn,
           lambda s, a, r, d, _: service.stop(
               s, actor=a, row=r, category=d.reason_category, note=d.reason
           ),
           "Infusion stopped; observation has begun.",
           confirm=lambda s, a, r, d: service.stop_confirmation(
               r, category=d.reason_category, note=d.reason
           )),
    Action("abort", "abort", RUN, forms.reason, ReasonIn, _with_reason(service.abort),
           "Session aborted."),
    Action("cancel", "cancel", RUN, forms.reason, ReasonIn, _with_reason(service.cancel),
           "Session cancelled."),
    Action("no-show", "moves", RUN, forms.version_only, ActionIn, _simple(service.mark_no_show),
           "Marked as no-show."),
    Action("vitals", "vitals", RUN, forms.vitals, VitalsIn, _charted(service.record_vitals),
           "Vitals recorded.", versioned=False),
    Action("side-effects", "side_effects", RUN, forms.side_effects, SideEffectsIn,
           _charted(service.record_side_effects), "Side effects recorded.", versioned=False),
    Action("adjunct", "adjunct", RUN, forms.adjunct, AdjunctIn,
           _charted(service.record_adjunct), "Adjunct medication recorded.", versioned=False),
    Action("bolus", "bolus", RUN, forms.bolus, BolusIn, _with_data(service.give_bolus),
           "Bolus recorded."),
    Action("discharge", "discharge", RUN, forms.discharge, DischargeIn,
           lambda s, a, r, d, settings: service.discharge(
               s, actor=a, row=r, data=d, zone=settings.timezone
           ),
           "Discharged."),
)  # fmt: skip


async def _post(
    request: Request,
    session_id: int,
    actor: Actor,
    session: Session,
    settings: Settings,
    action: Action,
    run: Run | None = None,
) -> Response:
    form = await request.form()
    return await run_in_threadpool(
        _act, request, session_id, actor, session, settings, action, form, run or action.run
    )


def _act(
    request: Request,
    session_id: int,
    actor: Actor,
    session: Session,
    settings: Settings,
    action: Action,
    form: FormData,
    run: Run,
) -> Response:
    fields = tuple(action.model.model_fields)
    failed: dict[str, Any] = {"form": action.form, "values": forms.values_of(form), "errors": {}}
    if action.path == "order":
        run = page_order.runner(form)
    if action.path == "discharge" and _unmet_discharge(
        session, actor, settings, session_id, form, failed
    ):
        return _page(request, session, actor, settings, session_id, failed=failed, status_code=422)
    try:
        data = action.model.model_validate(action.payload(form))
    except ValidationError as error:
        failed["errors"] = forms.fields_of(validation_messages(error), fields)
        return _page(request, session, actor, settings, session_id, failed=failed, status_code=422)
    if action.path in IRREVERSIBLE and not page_confirm.confirmed(form):
        if "reason" in fields and not str(getattr(data, "reason", "")).strip():
            failed["errors"] = {"reason": f"say why ({action.path} needs a reason)"}
            return _page(
                request, session, actor, settings, session_id, failed=failed, status_code=422
            )
        return _confirm(request, session, actor, settings, session_id, action, data, failed)
    try:
        with session.begin():
            row = _found(session, actor, session_id, lock=True)
            if action.versioned:
                service.require_version(row, getattr(data, "version", None))
            if action.confirm is not None and not forms.confirmed(form):
                failed["confirm"] = action.confirm(session, actor, row, data)
            else:
                run(session, actor, row, data, settings)
        if failed.get("confirm"):
            # The confirmation convention: the first step only asks; ``confirm=yes`` acts.
            return _page(request, session, actor, settings, session_id, failed=failed)
    except (StaleDataError, Conflict) as error:
        if isinstance(error, StaleDataError) or error.loc == ("body", "version"):
            failed = {"form": action.form, "values": {}, "errors": {}, "stale": STALE}
            return _page(
                request, session, actor, settings, session_id, failed=failed, status_code=409
            )
        failed["errors"] = {"__all__": error.msg}
        return _page(request, session, actor, settings, session_id, failed=failed, status_code=409)
    except page_order.Previewed as shown:
        return _preview(request, session, actor, settings, session_id, failed, shown)
    except SoftLimitNeedsOverride as error:
        failed["errors"] = {f"override_{f.limit}": f.message for f in error.findings}
        failed["needs_reason"] = [f.limit for f in error.findings]
        return _page(request, session, actor, settings, session_id, failed=failed, status_code=422)
    except ImplausibleValues as error:
        failed["errors"] = {forms.field_of(("body", f.field), fields): f.page_message
                            for f in error.findings}  # fmt: skip
        failed["confirm"] = [f.confirmation for f in error.findings]
        return _page(request, session, actor, settings, session_id, failed=failed, status_code=422)
    except KetaclinicError as error:
        if isinstance(error, NotFound) and error.loc[:1] != ("body",):
            raise
        failed["errors"] = {forms.field_of(error.loc, fields): error.msg}
        return _page(
            request,
            session,
            actor,
            settings,
            session_id,
            failed=failed,
            status_code=error.status_code,
        )
    flash(request, action.done, "success")
    return RedirectResponse(f"/sessions/{session_id}#top", status_code=303)


def _preview(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    session_id: int,
    failed: dict[str, Any],
    shown: page_order.Previewed,
) -> Response:
    """The computed order beside its inputs, not signed; with what changed when a signature
    found the order different from the preview it was signed from (nothing written)."""
    failed["preview"] = shown.plan
    failed["shown"] = page_order.shown_values(shown.plan)
    if not shown.changed:
        return _page(request, session, actor, settings, session_id, failed=failed)
    failed["errors"] = {
        "__all__": "Not signed: the order computes differently from the preview you signed "
        f"({'; '.join(shown.changed)}). Check the new preview and sign again."
    }
    return _page(request, session, actor, settings, session_id, failed=failed, status_code=409)


def _unmet_discharge(
    session: Session,
    actor: Actor,
    settings: Settings,
    session_id: int,
    form: FormData,
    failed: dict[str, Any],
) -> bool:
    """Whether the discharge form leaves any criterion unmet; if so ``failed`` lists them all."""
    with session.begin():
        row = _found(session, actor, session_id)
        end = infusion_end(row)
        if end is None:  # not observing: the service names the state and the allowed moves
            return False
        found = page_discharge.checklist(
            form,
            now=clock.now(),
            infusion_end=end,
            observation_min=protocol_of(session, row).observation_min,
            escort_at_check_in=check_in_value(row, "escort_name"),
            zone=settings.timezone,
        )
    if not found.problems:
        return False
    failed["errors"] = found.errors
    failed["checklist"] = found.problems
    count = len(found.problems)
    failed["refusal"] = f"Not discharged: {count} criteri{'on' if count == 1 else 'a'} unmet."
    return True


#: Moves that end a session for good: the page asks a second time before it sends them.
IRREVERSIBLE = frozenset({"no-show", "cancel", "abort"})


def _confirm(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    session_id: int,
    action: Action,
    data: BaseModel,
    failed: dict[str, Any],
) -> Response:
    """Nothing written: the page again, with a panel naming what the move will do."""
    with session.begin():
        row = _found(session, actor, session_id)
        if getattr(data, "version", None) not in (None, row.version_id):
            stale = {"form": action.form, "values": {}, "errors": {}, "stale": STALE}
            stale_page = True
        else:
            stale, stale_page = {}, False
            patient = session.get(Patient, row.patient_id)
            assert patient is not None  # foreign key
            failed["confirm"] = page_confirm.confirmation(
                action.path,
                patient=f"{patient.given_name} {patient.family_name}",
                chair=row.chair.name,
                scheduled_at=row.scheduled_at,
                zone=settings.timezone,
                reason=str(getattr(data, "reason", "") or ""),
            )
    if stale_page:
        return _page(request, session, actor, settings, session_id, failed=stale, status_code=409)
    return _page(request, session, actor, settings, session_id, failed=failed)


def _route(action: Action) -> None:
    async def endpoint(
        request: Request,
        session_id: RecordId,
        session: SessionDep,
        settings: SettingsDep,
        actor: Actor = Depends(require(action.permission)),
    ) -> Response:
        return await _post(request, session_id, actor, session, settings, action)

    endpoint.__name__ = f"session_{action.form}_{action.path.replace('-', '_')}"
    endpoint.__doc__ = f"The session page's {action.path} form."
    router.add_api_route(f"/sessions/{{session_id}}/{action.path}", endpoint, methods=["POST"])


for _action in ACTIONS:
    _route(_action)

_ACKNOWLEDGE = Action(
    "alerts", "alerts", RUN, forms.version_only, ActionIn, _simple(service.acknowledge_alert),
    "Alert acknowledged.", versioned=False,
)  # fmt: skip


@router.post("/sessions/{session_id}/alerts/{alert_id}/acknowledge")
async def acknowledge_alert(
    request: Request,
    session_id: RecordId,
    alert_id: RecordId,
    actor: Runner,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Acknowledged by name, once; no version check: an alert is acknowledged whatever else
    happened on the session since the page was drawn."""

    def run(s: Session, a: Actor, r: InfusionSession, d: Any, _: Settings) -> object:
        return service.acknowledge_alert(s, actor=a, row=r, alert_id=alert_id)

    return await _post(request, session_id, actor, session, settings, _ACKNOWLEDGE, run)


def _per_entry(s: Session, a: Actor, r: InfusionSession, d: Any, _: Settings) -> object:
    raise AssertionError("the route passes its own run, which knows the entry")


_ENTERED_IN_ERROR = Action(
    "entries", "entered_in_error", RUN, forms.correction, EnteredInErrorIn, _per_entry,
    "Marked entered in error; its alerts are withdrawn.", versioned=False,
)  # fmt: skip


@router.post("/sessions/{session_id}/entries/{event_id}/entered-in-error")
async def mark_entered_in_error(
    request: Request,
    session_id: RecordId,
    event_id: RecordId,
    actor: Runner,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The timeline's "Entered in error…" form: by the entry's author or a physician, with a
    reason; a refusal comes back beside that entry. No version check: it is an observation."""

    def run(s: Session, a: Actor, r: InfusionSession, d: Any, _: Settings) -> object:
        return charting.mark_entered_in_error(s, actor=a, row=r, event_id=event_id, reason=d.reason)

    action = replace(_ENTERED_IN_ERROR, form=f"entered_in_error_{event_id}")
    return await _post(request, session_id, actor, session, settings, action, run)


#: The whole session page, for the routes of its other cards (``page_inventory``).
render_session_page = _page
find_session = _found
