"""Screening pages: the physician's form with evidence and findings, and the history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.errors import KetaclinicError, NotFound
from ketaclinic.indications import INDICATIONS, match
from ketaclinic.patients import service as patients
from ketaclinic.patients.models import Patient
from ketaclinic.screening import service
from ketaclinic.screening.api import threshold
from ketaclinic.screening.contraindications import CONTRAINDICATIONS, Severity
from ketaclinic.screening.core import NO_INDICATION
from ketaclinic.screening.schemas import ScreeningIn
from ketaclinic.web.forms import error_messages, lines, parse
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(
    prefix="/patients", dependencies=[Depends(require_csrf)], include_in_schema=False
)

ClinicalReader = Annotated[Actor, Depends(require(Permission.CLINICAL_READ))]
Signer = Annotated[Actor, Depends(require(Permission.SCREENING_SIGN))]
VITALS = (
    "systolic_mmhg",
    "diastolic_mmhg",
    "heart_rate_per_min",
    "spo2_percent",
    "resp_rate_per_min",
)
OVERRIDABLE = [c for c in CONTRAINDICATIONS if c.severity is Severity.RELATIVE] + [NO_INDICATION]


def _patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    patient = patients.get(session, actor=actor, patient_id=patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id} in your clinic")
    return patient


def _form_context(
    patient: Patient, values: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "patient": patient,
        "matched": match(tuple(d.code for d in patient.diagnoses)),
        "indications": INDICATIONS,
        "contraindications": CONTRAINDICATIONS,
        "overridable": OVERRIDABLE,
        "vitals": VITALS,
        "values": values,
        "errors": errors,
        "assessment": values.get("assessment"),
    }


def _payload(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the request body, the values to show again) from the posted form."""
    present = [str(v) for v in form.getlist("present")]
    overrides = {c.id: str(form.get(f"override_{c.id}", "")) for c in OVERRIDABLE}
    body: dict[str, Any] = {
        "indication_id": str(form.get("indication_id", "")) or None,
        "treatments_failed": lines(str(form.get("treatments_failed", ""))),
        "contraindications_present": present,
        "overrides": {k: v for k, v in overrides.items() if v.strip()},
        "notes": str(form.get("notes", "")) or None,
    }
    for name in VITALS:
        body[name] = str(form.get(name, "")).strip() or None
    body["baseline_questionnaires"] = _baseline(form)
    shown = {
        **body,
        "present": present,
        "overrides": overrides,
        "treatments_failed": str(form.get("treatments_failed", "")),
        "baseline_nrs": str(form.get("baseline_nrs", "")),
        "baseline_phq9": str(form.get("baseline_phq9", "")),
    }
    return body, shown


def _baseline(form: FormData) -> list[dict[str, Any]]:
    """Baseline pain (NRS) and mood (PHQ-9 answers, comma-separated) typed on the form."""
    found: list[dict[str, Any]] = []
    for instrument, name in (("nrs", "baseline_nrs"), ("phq9", "baseline_phq9")):
        text = str(form.get(name, "")).strip()
        if text:
            found.append(
                {"instrument": instrument, "answers": [a.strip() for a in text.split(",")]}
            )
    return found


@router.get("/{patient_id}/screenings")
def history(
    request: Request, patient_id: RecordId, actor: ClinicalReader, session: SessionDep
) -> Response:
    with session.begin():
        patient = _patient(session, actor, patient_id)
        rows = [service.to_out(s) for s in service.list_for(session, actor=actor, patient=patient)]
    may_sign = actor.role is not None and may(actor.role, Permission.SCREENING_SIGN)
    context = {"patient": patient, "screenings": rows, "may_sign": may_sign}
    return render(request, "screening/history.html", context)


@router.get("/{patient_id}/screenings/new")
def new_form(
    request: Request, patient_id: RecordId, actor: Signer, session: SessionDep
) -> Response:
    with session.begin():
        patient = _patient(session, actor, patient_id)
    values: dict[str, Any] = {"present": [], "overrides": {}}
    return render(request, "screening/form.html", _form_context(patient, values, {}))


@router.post("/{patient_id}/screenings/new")
async def sign_from_form(
    request: Request,
    patient_id: RecordId,
    actor: Signer,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    body, shown = _payload(await request.form())
    with session.begin():
        patient = _patient(session, actor, patient_id)
    data, errors = parse(ScreeningIn, body)
    if data is not None:
        try:
            shown["assessment"] = service.preview(patient, data, threshold(settings))
            with session.begin():
                signed = service.sign(
                    session,
                    actor=actor,
                    patient=_patient(session, actor, patient_id),
                    data=data,
                    threshold=threshold(settings),
                )
                outcome = signed.outcome.replace("_", " ")
            flash(request, f"Screening signed: {outcome}.", "success")
            return RedirectResponse(f"/patients/{patient_id}/screenings", status_code=303)
        except KetaclinicError as error:
            errors = error_messages(error)
            if error.loc and "overrides" in error.loc:
                errors = {f"override_{error.loc[-1]}": error.msg}
            elif "baseline_questionnaires" in error.loc:
                errors = {"baseline_questionnaires": error.msg}
    context = _form_context(patient, shown, errors)
    return render(request, "screening/form.html", context, status_code=422)
