"""The contact and reminder-consent page of a patient (front desk and clinicians)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.accounts.models import User
from ketaclinic.errors import KetaclinicError, NotFound
from ketaclinic.patients import contact_service, service
from ketaclinic.patients.contact_schemas import ContactIn
from ketaclinic.patients.models import Patient
from ketaclinic.web.forms import error_messages, parse
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(
    prefix="/patients", dependencies=[Depends(require_csrf)], include_in_schema=False
)

Reader = Annotated[Actor, Depends(require(Permission.PATIENT_READ))]
Writer = Annotated[Actor, Depends(require(Permission.PATIENT_WRITE))]


def _recorder(session: Session, user_id: int | None) -> str | None:
    """Who wrote the consent down, by name (the decision itself is the patient's)."""
    user = session.get(User, user_id) if user_id is not None else None
    return user.display_name if user is not None else None


def _found(session: Session, actor: Actor, patient_id: int) -> Patient:
    patient = service.get(session, actor=actor, patient_id=patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id} in your clinic")
    return patient


@router.get("/{patient_id}/contact")
def contact_page(
    request: Request, patient_id: RecordId, actor: Reader, session: SessionDep
) -> Response:
    with session.begin():
        patient = _found(session, actor, patient_id)
        contact = contact_service.to_out(
            patient, contact_service.get(session, actor=actor, patient=patient)
        )
        values = {
            "phone": contact.phone or "",
            "email": contact.email or "",
            "consent_email": contact.consent_email,
            "consent_sms": contact.consent_sms,
            "version": str(contact.version or ""),
        }
        context = {
            "patient": patient,
            "contact": contact,
            "recorded_by": _recorder(session, contact.consent_recorded_by_user_id),
            "values": values,
            "errors": {},
        }
    return render(request, "patients/contact.html", context)


@router.post("/{patient_id}/contact")
async def contact_submit(
    request: Request,
    patient_id: RecordId,
    actor: Writer,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    values = {
        "phone": str(form.get("phone", "")),
        "email": str(form.get("email", "")),
        "consent_email": form.get("consent_email") == "on",
        "consent_sms": form.get("consent_sms") == "on",
        "version": str(form.get("version", "")) or None,
    }
    data, errors = parse(ContactIn, values)
    if data is not None:
        try:
            with session.begin():
                contact_service.replace(
                    session,
                    actor=actor,
                    patient=_found(session, actor, patient_id),
                    data=data,
                    region=settings.phone_region,
                )
            flash(request, "Contact details saved.", "success")
            return RedirectResponse(f"/patients/{patient_id}/contact", status_code=303)
        except KetaclinicError as error:
            errors = error_messages(error)
    with session.begin():
        patient = _found(session, actor, patient_id)
        contact = contact_service.to_out(
            patient, contact_service.get(session, actor=actor, patient=patient)
        )
        recorded_by = _recorder(session, contact.consent_recorded_by_user_id)
    context = {
        "patient": patient,
        "contact": contact,
        "recorded_by": recorded_by,
        "values": values,
        "errors": errors,
    }
    return render(request, "patients/contact.html", context, status_code=422)
