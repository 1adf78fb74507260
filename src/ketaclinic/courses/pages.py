"""The Courses section of a patient: each course's phase, series progress, next suggestion and
sessions; a physician starts a course and ends one with a reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.config import Settings
from ketaclinic.courses import service
from ketaclinic.courses.schemas import CourseCreate, CourseEndIn
from ketaclinic.errors import KetaclinicError, NotFound
from ketaclinic.outcomes import service as outcomes
from ketaclinic.outcomes import trajectory
from ketaclinic.protocols import service as protocols
from ketaclinic.web.forms import error_messages, parse
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Reader = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]
Manager = Annotated[Actor, Depends(require(Permission.COURSE_MANAGE))]
PAGE = "courses/page.html"


def _context(session: Session, actor: Actor, settings: Settings, patient_id: int) -> dict[str, Any]:
    """Everything the page shows, read (and audited) in the caller's transaction."""
    patient = service.require_patient(
        session, actor=actor, patient_id=patient_id, loc=("path", "patient_id")
    )
    rows = service.list_for_patient(session, actor=actor, patient=patient)
    measurements = outcomes.list_for(session, actor=actor, patient=patient) if rows else []
    responses = {
        row.id: trajectory.course_response(
            measurements, course=row, sessions=service.sessions_of(session, row)
        )
        for row in rows
    }
    may_manage = actor.role is not None and may(actor.role, Permission.COURSE_MANAGE)
    assert actor.clinic_id is not None
    return {
        "patient": patient,
        "courses": [service.to_out(session, row, zone=settings.timezone) for row in rows],
        "responses": responses,
        "may_manage": may_manage,
        "protocols": protocols.list_current(session, clinic_id=actor.clinic_id)
        if may_manage
        else [],
        "values": {},
        "errors": {},
        "end_errors": {},
    }


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    patient_id: int,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    with session.begin():
        context = _context(session, actor, settings, patient_id)
    context.update(extra)
    return render(request, PAGE, context, status_code=status_code)


@router.get("/patients/{patient_id}/courses")
def courses_page(
    request: Request,
    patient_id: RecordId,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    return _page(request, session, actor, settings, patient_id)


@router.post("/patients/{patient_id}/courses")
async def start_course(
    request: Request,
    patient_id: RecordId,
    actor: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    values = {"protocol_id": str(form.get("protocol_id", "")).strip()}
    data, errors = parse(CourseCreate, {"patient_id": patient_id, **values})
    status = 422
    if data is not None:
        try:
            with session.begin():
                row = service.create(session, actor=actor, data=data)
                name = service.to_out(session, row, zone=settings.timezone).protocol_name
        except KetaclinicError as error:
            if error.loc == ("body", "patient_id"):
                raise  # another clinic's patient: 404, not a form message
            errors, status = error_messages(error), error.status_code
        else:
            flash(request, f"Course of {name} started.", "success")
            return RedirectResponse(f"/patients/{patient_id}/courses", status_code=303)
    return _page(
        request, session, actor, settings, patient_id, status, values=values, errors=errors
    )


@router.post("/courses/{course_id}/end")
async def end_course(
    request: Request,
    course_id: RecordId,
    actor: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    raw = {"reason": str(form.get("reason", "")), "version": form.get("version") or None}
    data, errors = parse(CourseEndIn, raw)
    status = 422
    patient_id: int | None = None
    try:
        with session.begin():
            row = service.get(session, actor=actor, course_id=course_id)
            if row is None:
                raise NotFound(f"no course {course_id} in your clinic")
            patient_id = row.patient_id
            if data is not None:
                service.end(session, actor=actor, row=row, reason=data.reason, version=data.version)
    except KetaclinicError as error:
        if patient_id is None:
            raise  # not this clinic's course
        errors, status = error_messages(error), error.status_code
    if errors:
        end_errors = {course_id: "; ".join(errors.values())}
        return _page(request, session, actor, settings, patient_id, status, end_errors=end_errors)
    flash(request, "Course ended.", "success")
    return RedirectResponse(f"/patients/{patient_id}/courses", status_code=303)
