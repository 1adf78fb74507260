"""The patient's goal, set from the patient page's trajectory card."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, require, require_csrf
from ketaclinic.errors import InvalidInput, NotFound
from ketaclinic.outcomes import trajectory
from ketaclinic.patients import service as patients
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Clinician = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]


@router.post("/patients/{patient_id}/goals")
async def set_goal(
    request: Request, patient_id: RecordId, actor: Clinician, session: SessionDep
) -> Response:
    form = await request.form()
    text = str(form.get("goal_text", ""))
    target_text = str(form.get("target_pain_nrs", "")).strip()
    with session.begin():
        patient = patients.get(session, actor=actor, patient_id=patient_id)
        if patient is None:
            raise NotFound(f"no patient {patient_id} in your clinic")
        try:
            target = int(target_text) if target_text else None
        except ValueError:
            raise InvalidInput(
                "the pain target must be a whole number 0–10", loc=("body", "target_pain_nrs")
            ) from None
        trajectory.set_goal(
            session, actor=actor, patient=patient, text=text, target_pain_nrs=target
        )
    flash(request, "Goal saved.", "success")
    return RedirectResponse(f"/patients/{patient_id}#trajectory", status_code=303)
