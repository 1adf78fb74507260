"""The Courses section of a patient: each course's phase, series progress, next suggestion and
sessions; a physician starts a course and ends one with a reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.config import Settings
from ketaclinic.courses import service
from ketaclinic.courses.schemas import CourseCreate, CourseEndIn
from ketaclinic.errors import InvalidInput, KetaclinicError, NotFound
from ketaclinic.outcomes import service as outcomes
from ketaclinic.outcomes import trajectory
from ketaclinic.patients.banner import safety_banner
from ketaclinic.portal.core import DEFAULT_SCHEDULE
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.suggestion import suggest
from ketaclinic.web.forms import error_messages, parse, whole_number
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Reader = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]
Manager = Annotated[Actor, Depends(require(Permission.COURSE_MANAGE))]
PAGE = "courses/page.html"
#: The portal's questionnaires as the course page names them, in the portal's order.
QUESTIONNAIRE_NAMES = {"nrs": "Pain diary (NRS)", "phq9": "PHQ-9", "gad7": "GAD-7", "peg": "PEG"}
#: The intervals offered on the page (the API takes any 1–28 days).
INTERVALS = {1: "daily", 7: "weekly", 14: "every 2 weeks", 28: "every 4 weeks"}


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
    offered = protocols.list_current(session, clinic_id=actor.clinic_id) if may_manage else []
    return {
        "patient": patient,
        "banner": safety_banner(
            patient, today=clock.today(settings.timezone), zone=settings.timezone
        ),
        "courses": [service.to_out(session, row, zone=settings.timezone) for row in rows],
        "responses": responses,
        "may_manage": may_manage,
        "protocols": offered,
        "suggestion": suggest(session, patient, offered) if may_manage else None,
        "values": {},
        "errors": {},
        "end_errors": {},
        "schedule_errors": {},
        "names": QUESTIONNAIRE_NAMES,
        "intervals": INTERVALS,
        "default_schedule": {s.instrument: s.every_days for s in DEFAULT_SCHEDULE},
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


@router.post("/courses/{course_id}/questionnaires")
async def set_questionnaires(
    request: Request,
    course_id: RecordId,
    actor: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The physician picks the patient's portal questionnaires for this course."""
    form = await request.form()
    version = str(form.get("version") or "")
    patient_id: int | None = None
    try:
        if version and whole_number(version) is None:
            raise InvalidInput(
                f"version must be a whole number, got {version[:20]!r}", loc=("version",)
            )
        every_days = None if form.get("default") else _every_days(form)
        with session.begin():
            row = service.get(session, actor=actor, course_id=course_id)
            if row is None:
                raise NotFound(f"no course {course_id} in your clinic")
            patient_id = row.patient_id
            service.set_questionnaire_schedule(
                session,
                actor=actor,
                row=row,
                every_days=every_days,
                version=whole_number(version),
            )
    except KetaclinicError as error:
        if patient_id is None:
            raise  # not this clinic's course
        errors = {course_id: error.msg}
        return _page(
            request, session, actor, settings, patient_id, error.status_code, schedule_errors=errors
        )
    flash(request, "Portal questionnaires saved.", "success")
    return RedirectResponse(f"/patients/{patient_id}/courses", status_code=303)


def _every_days(form: Any) -> dict[str, int]:
    chosen: dict[str, int] = {}
    for name in QUESTIONNAIRE_NAMES:
        text = str(form.get(name) or "")
        if not text:
            continue
        every = whole_number(text)
        if every is None:
            raise InvalidInput(f"{name}: choose how often, got {text[:20]!r}", loc=("body", name))
        chosen[name] = every
    return chosen
