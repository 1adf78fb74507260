"""The dose plan page: the calculation, its limit findings and the predicted concentrations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.accounts.models import User
from ketaclinic.audit import service as audit
from ketaclinic.config import Settings
from ketaclinic.dosing.core import SoftLimitNeedsOverride
from ketaclinic.errors import KetaclinicError, NotFound
from ketaclinic.patients import service as patients
from ketaclinic.patients.banner import safety_banner
from ketaclinic.patients.core import age_in_years
from ketaclinic.patients.models import Patient
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import Patient as PkPatient
from ketaclinic.pk.pages import chart_data
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import simulate
from ketaclinic.protocols import dose, saved_plans, service
from ketaclinic.protocols.schemas import DoseCalculationIn, DosePlanOut
from ketaclinic.protocols.suggestion import suggest
from ketaclinic.web.forms import validation_messages
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Planner = Annotated[Actor, Depends(require(Permission.DOSE_PLAN))]
Prescriber = Annotated[Actor, Depends(require(Permission.ORDER_SIGN))]
PK_MODEL = "domino"  # the adult 3-compartment model; see the Pharmacokinetics section
FIELDS = ("protocol_id", "dose", "duration_min", "weight_basis", "bolus_mg_per_kg")


def _patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    patient = patients.get(session, actor=actor, patient_id=patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id} in your clinic")
    return patient


def _request_body(patient: Patient, values: dict[str, str]) -> dict[str, Any]:
    weight = patient.current_weight
    body: dict[str, Any] = {k: values[k] for k in FIELDS if values.get(k)}
    body.update(
        weight_kg=weight.weight_kg if weight else None,
        height_cm=patient.height_cm,
        sex=patient.sex,
        override_reasons={
            k.removeprefix("override_"): v
            for k, v in values.items()
            if k.startswith("override_") and v.strip()
        },
    )
    return body


def _predicted(
    plan: DosePlanOut, weight_kg: Decimal, age_years: int
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Concentrations for a typical patient of this weight, at the rate the pump delivers.

    The bolus, if any, is drawn as a push at the start (a slower bolus peaks a little lower).
    """
    doses: list[Bolus | Infusion] = []
    if plan.bolus_mg > 0:
        doses.append(Bolus(0.0, float(plan.bolus_mg)))
    doses.append(Infusion(0.0, float(plan.duration_min), float(plan.rate_mg_per_h)))
    until = plan.duration_min + plan.observation_min
    sim = simulate(
        PK_MODEL,
        PkPatient(float(weight_kg), age_years),
        Schedule(tuple(doses)),
        UniformGrid.until(until, 0.5),
    )
    return chart_data(sim), sim.warnings


@router.get("/patients/{patient_id}/dose-plan")
def dose_plan_page(
    request: Request,
    patient_id: RecordId,
    actor: Planner,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    values = {k: str(v) for k, v in request.query_params.items()}
    context, status = _plan_page(session, actor, settings, patient_id, values)
    return render(request, "protocols/dose_plan.html", context, status_code=status)


def _plan_page(
    session: Session,
    actor: Actor,
    settings: Settings,
    patient_id: int,
    values: dict[str, str],
    *,
    save: bool = False,
) -> tuple[dict[str, Any], int]:
    """The page's context and status, in one transaction; with ``save`` a plan that computes
    is kept on the patient in the same transaction."""
    today: date = clock.today(settings.timezone)
    assert actor.clinic_id is not None
    context: dict[str, Any] = {"values": values, "errors": {}, "plan": None, "needs_reason": []}
    with session.begin():
        patient = _patient(session, actor, patient_id)
        context["patient"] = patient
        context["banner"] = safety_banner(patient, today=today, zone=settings.timezone)
        context["protocols"] = service.list_current(session, clinic_id=actor.clinic_id)
        context["suggestion"] = suggest(session, patient, context["protocols"])
        status = 200
        if values.get("protocol_id"):
            status = _calculate(session, actor, patient, values, today, context)
        elif save:
            context["errors"] = {"protocol_id": "choose a protocol"}
            status = 422
        if save and status == 200:
            data = DoseCalculationIn.model_validate(_request_body(patient, values))
            saved_plans.save(session, actor=actor, patient=patient, data=data, plan=context["plan"])
        saved = saved_plans.latest_for(session, actor=actor, patient_id=patient.id)
        context["saved"] = saved
        context["saved_by"] = _name(session, saved.saved_by_user_id) if saved else None
    return context, status


def _name(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return (user.display_name or user.username) if user else f"user {user_id}"


@router.post("/patients/{patient_id}/dose-plan")
async def save_dose_plan(
    request: Request,
    patient_id: RecordId,
    actor: Prescriber,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Keep the plan on the patient (audited): the order form of their session starts from it.
    The plan is computed again from the posted inputs; one that does not compute is not saved."""
    form = await request.form()
    values = {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    context, status = await run_in_threadpool(
        _plan_page, session, actor, settings, patient_id, values, save=True
    )
    if status != 200:
        return render(request, "protocols/dose_plan.html", context, status_code=status)
    flash(
        request,
        "Dose plan saved on the patient's record: the order form of their next session "
        "starts from it.",
        "success",
    )
    query = urlencode({k: v for k, v in values.items() if v})
    return RedirectResponse(f"/patients/{patient_id}/dose-plan?{query}", status_code=303)


def _calculate(
    session: Session,
    actor: Actor,
    patient: Patient,
    values: dict[str, str],
    today: date,
    context: dict[str, Any],
) -> int:
    try:
        data = DoseCalculationIn.model_validate(_request_body(patient, values))
        row = service.get(session, clinic_id=patient.clinic_id, protocol_id=data.protocol_id)
        plan = dose.plan(row, data)
    except ValidationError as error:
        context["errors"] = validation_messages(error)
        return 422
    except SoftLimitNeedsOverride as error:  # ask for every missing reason at once
        context["errors"] = {f.limit: f.message for f in error.findings}
        context["needs_reason"] = [f.limit for f in error.findings]
        return error.status_code
    except KetaclinicError as error:
        field = str(error.loc[-1]) if error.loc else "__all__"
        context["errors"] = {field: error.msg}
        return error.status_code
    context["plan"] = plan
    context["chart"], context["pk_warnings"] = _predicted(
        plan, plan.actual_weight_kg, age_in_years(patient.birth_date, today)
    )
    audit.record(
        session,
        actor=actor,
        action="dose.calculate",
        patient_id=patient.id,
        detail=f"protocol_id={plan.protocol_id}",
    )
    return 200
