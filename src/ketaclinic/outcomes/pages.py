"""The physician's work list: urgent questionnaire flags that must not wait."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.deps import SessionDep, require_csrf, require_role
from ketaclinic.errors import NotFound
from ketaclinic.outcomes import service
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(
    prefix="/worklist", dependencies=[Depends(require_csrf)], include_in_schema=False
)

Physician = Annotated[Actor, Depends(require_role(Role.PHYSICIAN))]


@router.get("")
def worklist(request: Request, actor: Physician, session: SessionDep) -> Response:
    assert actor.clinic_id is not None
    with session.begin():
        items = service.urgent(session, clinic_id=actor.clinic_id)
    return render(request, "outcomes/worklist.html", {"items": items})


@router.post("/{measurement_id}/acknowledge")
def acknowledge(
    request: Request, measurement_id: RecordId, actor: Physician, session: SessionDep
) -> Response:
    with session.begin():
        found = session.execute(
            select(Measurement)
            .join(Patient, Patient.id == Measurement.patient_id)
            .where(Measurement.id == measurement_id, Patient.clinic_id == actor.clinic_id)
        ).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no measurement {measurement_id} in your clinic")
        service.acknowledge(session, actor=actor, measurement=found)
    flash(request, "Flag acknowledged.", "success")
    return RedirectResponse("/worklist", status_code=303)
