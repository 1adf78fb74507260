"""The patient's own page. Questionnaires and progress charts arrive with the outcomes work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.deps import SessionDep, require_csrf, require_role
from ketaclinic.audit import service as audit
from ketaclinic.patients.models import Patient
from ketaclinic.web.templating import render

router = APIRouter(prefix="/portal", dependencies=[Depends(require_csrf)], include_in_schema=False)

PortalUser = Annotated[Actor, Depends(require_role(Role.PATIENT))]


@router.get("")
def portal_home(request: Request, actor: PortalUser, session: SessionDep) -> Response:
    """A patient sees their own record only: the account is linked to exactly one patient."""
    with session.begin():
        patient = session.get(Patient, actor.patient_id) if actor.patient_id else None
        if patient is not None:
            audit.record(session, actor=actor, action="portal.read", patient_id=patient.id)
    return render(request, "portal/home.html", {"patient": patient})
