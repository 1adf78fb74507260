"""The patient's goal, set from the patient page's trajectory card."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.errors import InvalidInput, NotFound
from ketaclinic.outcomes import trajectory
from ketaclinic.patients import service as patients
from ketaclinic.patients.pages import detail_context
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Clinician = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]


def _target(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(
            "the pain target must be a whole number 0–10", loc=("body", "target_pain_nrs")
        ) from None


@router.post("/patients/{patient_id}/goals")
async def set_goal(
    request: Request,
    patient_id: RecordId,
    actor: Clinician,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    values = {
        "goal_text": str(form.get("goal_text", "")),
        "target_pain_nrs": str(form.get("target_pain_nrs", "")).strip(),
    }
    try:
        with session.begin():
            patient = patients.get(session, actor=actor, patient_id=patient_id)
            if patient is None:
                raise NotFound(f"no patient {patient_id} in your clinic")
            trajectory.set_goal(
                session,
                actor=actor,
                patient=patient,
                text=values["goal_text"],
                target_pain_nrs=_target(values["target_pain_nrs"]),
            )
    except InvalidInput as error:
        field = {"text": "goal_text"}.get(str(error.loc[-1]), str(error.loc[-1]))
        with session.begin():
            context = detail_context(session, actor, settings, patient_id)
        context.update(goal_errors={field: error.msg}, goal_values=values)
        return render(request, "patients/detail.html", context, status_code=422)
    flash(request, "Goal saved.", "success")
    return RedirectResponse(f"/patients/{patient_id}#trajectory", status_code=303)
