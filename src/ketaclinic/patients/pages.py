"""Patient pages: list with search, detail, create and edit forms, add a diagnosis."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.config import Settings
from ketaclinic.errors import KetaclinicError, NotFound
from ketaclinic.infusions import listing as session_listing
from ketaclinic.outcomes import trajectory as outcome_trajectory
from ketaclinic.patients import service
from ketaclinic.patients.core import Sex
from ketaclinic.patients.models import Patient
from ketaclinic.patients.schemas import AddressIn, DiagnosisIn, PatientCreate, PatientUpdate
from ketaclinic.scheduling import series_service
from ketaclinic.web.forms import blank_to_none, error_messages, lines, parse
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(
    prefix="/patients", dependencies=[Depends(require_csrf)], include_in_schema=False
)

Reader = Annotated[Actor, Depends(require(Permission.PATIENT_READ))]
Writer = Annotated[Actor, Depends(require(Permission.PATIENT_WRITE))]
Diagnoser = Annotated[Actor, Depends(require(Permission.DIAGNOSIS_WRITE))]
PAGE_SIZE = 25
#: The form's address fields, each named ``address_`` + the API's ``AddressIn`` field.
ADDRESS_FIELDS = (
    "address_line1",
    "address_line2",
    "address_city",
    "address_state",
    "address_zip",
)
FORM_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "weight_kg",
    "height_cm",
    "allergies",
    "medications",
    "diagnosis_code",
    "version",
    *ADDRESS_FIELDS,
)


def _found(session: Session, actor: Actor, patient_id: int) -> Patient:
    patient = service.get(session, actor=actor, patient_id=patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id} in your clinic")
    return patient


def _recent_sessions(session: Session, actor: Actor, patient_id: int) -> dict[str, Any]:
    """The Sessions list for clinicians who run sessions (an audited read); for the front desk,
    who book but do not run sessions, the booking list (same read, linked to the booking page);
    else nothing."""
    if actor.role is None or not may(actor.role, Permission.SCHEDULE_BOOK):
        return {}
    if not may(actor.role, Permission.SESSION_RUN):
        items = session_listing.recent_for_patient(session, actor=actor, patient_id=patient_id)
        return {"bookings": [i for i in items if i.state == "scheduled"]}
    items = session_listing.recent_for_patient(session, actor=actor, patient_id=patient_id)
    return {"sessions": items, "sessions_limit": session_listing.RECENT_LIMIT}


def _trajectory(session: Session, actor: Actor, patient: Patient, zone: ZoneInfo) -> dict[str, Any]:
    """The pain and mood chart (scores: clinical content) for clinical readers, audited; else
    nothing."""
    if actor.role is None or not may(actor.role, Permission.CLINICAL_READ):
        return {}
    data = outcome_trajectory.chart_data(session, actor=actor, patient=patient, zone=zone)
    return {"trajectory": data}


def _same_number(text: object, value: Decimal) -> bool:
    """Whether the typed weight is the recorded one (70 and 70.00 are the same weight)."""
    try:
        return isinstance(text, str) and Decimal(text.strip()) == value
    except InvalidOperation:
        return False


def _form_values(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name, "")) for name in FORM_FIELDS}


def _patient_payload(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = blank_to_none({k: values[k] for k in FORM_FIELDS[:7]})
    data["allergies"] = lines(values["allergies"])
    data["medications"] = lines(values["medications"])
    return data


def _address(values: dict[str, str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The address the form gives (None when every field is blank), or its problems keyed by
    the form's fields: a partial address is refused, never stored."""
    typed = {name.removeprefix("address_"): values[name].strip() for name in ADDRESS_FIELDS}
    if not any(typed.values()):
        return None, {}
    data, errors = parse(AddressIn, blank_to_none(typed))
    if data is None:
        return None, {f"address_{k}": v for k, v in errors.items()}
    return data.model_dump(), {}


def _form_page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    patient: Patient | None,
    status_code: int = 200,
) -> Response:
    context = {"values": values, "errors": errors, "patient": patient, "sexes": list(Sex)}
    return render(request, "patients/form.html", context, status_code=status_code)


@router.get("")
def list_page(
    request: Request, actor: Reader, session: SessionDep, q: str = "", page: int = 1
) -> Response:
    page = min(max(page, 1), 1_000_000)
    with session.begin():
        rows, total = service.list_patients(
            session, actor=actor, q=q[:100], limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        items = [service.to_summary(p) for p in rows]
    pages = max(1, -(-total // PAGE_SIZE))
    context = {
        "items": items,
        "q": q,
        "page": page,
        "pages": pages,
        "total": total,
        "may_write": actor.role is not None and may(actor.role, Permission.PATIENT_WRITE),
    }
    name = (
        "patients/_results.html"
        if request.headers.get("x-requested-with")
        else "patients/list.html"
    )
    return render(request, name, context)


@router.get("/new")
def new_page(request: Request, actor: Writer) -> Response:
    return _form_page(request, dict.fromkeys(FORM_FIELDS, ""), {}, patient=None)


@router.post("/new")
async def create_from_form(
    request: Request, actor: Writer, session: SessionDep, settings: SettingsDep
) -> Response:
    values = _form_values(await request.form())
    payload = _patient_payload(values)
    if values["diagnosis_code"].strip():
        payload["diagnoses"] = [{"code": values["diagnosis_code"], "is_primary": True}]
    payload["address"], address_errors = _address(values)
    data, errors = parse(PatientCreate, payload)
    if data is None or address_errors:
        errors = {("diagnosis_code" if k == "diagnoses" else k): v for k, v in errors.items()}
        return _form_page(
            request, values, {**errors, **address_errors}, patient=None, status_code=422
        )
    try:
        with session.begin():
            patient = service.create(
                session, actor=actor, data=data, today=clock.today(settings.timezone)
            )
            patient_id = patient.id
    except KetaclinicError as error:
        return _form_page(
            request, values, error_messages(error), patient=None, status_code=error.status_code
        )
    flash(request, f"Patient {data.given_name} {data.family_name} registered.", "success")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


def detail_context(
    session: Session, actor: Actor, settings: Settings, patient_id: int
) -> dict[str, Any]:
    """Everything the patient page shows, read (and audited) in the caller's transaction; a
    form that failed adds its ``errors`` and ``values`` on top."""
    found = _found(session, actor, patient_id)
    role = actor.role
    return {
        "p": service.to_out(found, today=clock.today(settings.timezone)),
        "may_write": role is not None and may(role, Permission.PATIENT_WRITE),
        "may_diagnose": role is not None and may(role, Permission.DIAGNOSIS_WRITE),
        "may_read_clinical": role is not None and may(role, Permission.CLINICAL_READ),
        "may_plan_dose": role is not None and may(role, Permission.DOSE_PLAN),
        "errors": {},
        "values": {},
        **_recent_sessions(session, actor, patient_id),
        **_trajectory(session, actor, found, settings.timezone),
        "attendance": series_service.attendance(
            session, patient_id=found.id, late_hours=settings.late_cancellation_hours
        ),
    }


@router.get("/{patient_id}")
def detail_page(
    request: Request,
    patient_id: RecordId,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    with session.begin():
        context = detail_context(session, actor, settings, patient_id)
    return render(request, "patients/detail.html", context)


@router.get("/{patient_id}/edit")
def edit_page(
    request: Request, patient_id: RecordId, actor: Writer, session: SessionDep
) -> Response:
    with session.begin():
        patient = _found(session, actor, patient_id)
        weight = patient.current_weight
        values = {
            "mrn": patient.mrn,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "birth_date": patient.birth_date.isoformat(),
            "sex": patient.sex,
            "weight_kg": str(weight.weight_kg) if weight else "",
            "height_cm": str(patient.height_cm or ""),
            "allergies": "\n".join(patient.allergies),
            "medications": "\n".join(patient.medications),
            "diagnosis_code": "",
            "version": str(patient.version),
            "address_line1": patient.address_line1 or "",
            "address_line2": patient.address_line2 or "",
            "address_city": patient.address_city or "",
            "address_state": patient.address_state or "",
            "address_zip": patient.address_zip or "",
        }
    return _form_page(request, values, {}, patient=patient)


@router.post("/{patient_id}/edit")
async def update_from_form(
    request: Request,
    patient_id: RecordId,
    actor: Writer,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    values = _form_values(await request.form())
    payload = _patient_payload(values)
    payload["version"] = values["version"] or None
    with session.begin():
        patient = _found(session, actor, patient_id)
        weight = patient.current_weight
        if weight is not None and _same_number(payload.get("weight_kg"), weight.weight_kg):
            payload.pop("weight_kg")  # unchanged: no new entry in the weight history
    payload["address"], address_errors = _address(values)
    data, errors = parse(PatientUpdate, payload)
    if data is None or address_errors:
        return _form_page(
            request, values, {**errors, **address_errors}, patient=patient, status_code=422
        )
    try:
        with session.begin():
            service.update(
                session,
                actor=actor,
                patient=_found(session, actor, patient_id),
                data=data,
                today=clock.today(settings.timezone),
            )
    except KetaclinicError as error:
        return _form_page(
            request, values, error_messages(error), patient=patient, status_code=error.status_code
        )
    flash(request, "Changes saved.", "success")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/{patient_id}/diagnoses")
async def add_diagnosis_from_form(
    request: Request,
    patient_id: RecordId,
    actor: Diagnoser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    values = {"code": str(form.get("code", "")), "is_primary": form.get("is_primary") == "on"}
    data, errors = parse(DiagnosisIn, values)
    if data is not None:
        try:
            with session.begin():
                diagnosis = service.add_diagnosis(
                    session, actor=actor, patient=_found(session, actor, patient_id), data=data
                )
                message = f"Diagnosis {diagnosis.code} {diagnosis.title} added."
            flash(request, message, "success")
            return RedirectResponse(f"/patients/{patient_id}", status_code=303)
        except KetaclinicError as error:
            errors = error_messages(error)
    with session.begin():
        context = detail_context(session, actor, settings, patient_id)
    context.update(errors=errors, values=values)
    return render(request, "patients/detail.html", context, status_code=422)
