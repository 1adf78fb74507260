"""JSON routes for a patient's contact details and reminder consent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.errors import NotFound
from ketaclinic.patients import contact_service, service
from ketaclinic.patients.contact_schemas import ContactIn, ContactOut
from ketaclinic.patients.models import Patient
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import RecordId

router = APIRouter(prefix="/api/v1/patients", tags=["patients"], route_class=ExactJsonRoute)

Reader = Annotated[Actor, Depends(require(Permission.PATIENT_READ))]
Writer = Annotated[Actor, Depends(require(Permission.PATIENT_WRITE))]


def _found(session: Session, actor: Actor, patient_id: int) -> Patient:
    patient = service.get(session, actor=actor, patient_id=patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id} in your clinic", loc=("path", "patient_id"))
    return patient


@router.get("/{patient_id}/contact", response_model=ContactOut)
def read_contact(patient_id: RecordId, actor: Reader, session: SessionDep) -> ContactOut:
    with session.begin():
        patient = _found(session, actor, patient_id)
        contact = contact_service.get(session, actor=actor, patient=patient)
        return contact_service.to_out(patient, contact)


@router.put("/{patient_id}/contact", response_model=ContactOut)
def replace_contact(
    patient_id: RecordId, data: ContactIn, actor: Writer, session: SessionDep, settings: SettingsDep
) -> ContactOut:
    """Phone numbers are stored in E.164; a number that is not valid is refused (422)."""
    with session.begin():
        patient = _found(session, actor, patient_id)
        contact = contact_service.replace(
            session, actor=actor, patient=patient, data=data, region=settings.phone_region
        )
        return contact_service.to_out(patient, contact)
