"""Booking a course's remaining series in one step (page and JSON), and a patient's attendance.

``GET /scheduling/series?course_id=N`` shows the proposal (each session on its day at the
preferred time, or the nearest free start, with alternatives); the person reviews and chooses,
and ``POST /scheduling/series`` books what they chose, all or nothing. The JSON pair is
``GET /api/v1/scheduling/series/plan`` and ``POST /api/v1/scheduling/series/confirm``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.errors import InvalidInput, KetaclinicError, NotFound
from ketaclinic.patients import service as patients
from ketaclinic.scheduling import series, series_service
from ketaclinic.scheduling.api import booking_out
from ketaclinic.scheduling.schemas import BookingOut, ClockTime, is_clock, minutes_of
from ketaclinic.web.fields import (
    EARLIEST_DATE,
    LATEST_DATE,
    ClinicInstant,
    OptionalQueryDate,
)
from ketaclinic.web.forms import FieldErrors, error_messages
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import MAX_ID, RecordId
from ketaclinic.web.templating import flash, render

pages = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)
api = APIRouter(prefix="/api/v1/scheduling", tags=["appointment book"], route_class=ExactJsonRoute)

Booker = Annotated[Actor, Depends(require(Permission.SCHEDULE_BOOK))]
CourseParam = Annotated[int, Query(ge=1, le=MAX_ID)]


def _clock(text: str) -> time:
    minutes = minutes_of(text)
    return time(minutes // 60, minutes % 60)


# --- JSON -----------------------------------------------------------------------------------------


class SlotOut(BaseModel):
    chair_id: int
    chair: str
    start: datetime


class ProposedOut(BaseModel):
    number: int
    due_date: date
    wanted: datetime
    fit: str = Field(description="as_asked, moved (the nearest free start) or unplaced")
    slot: SlotOut | None
    alternatives: list[SlotOut]


class PlanOut(BaseModel):
    course_id: int
    patient_id: int
    protocol_id: int
    protocol: str
    series_sessions: int
    completed: int
    open_booked: int
    remaining: int
    spacing_days: int
    first_date: date
    visit_min: int
    proposal: list[ProposedOut]


def _slot_out(slot: series.Slot, chairs: dict[int, str]) -> SlotOut:
    return SlotOut(chair_id=slot.chair_id, chair=chairs.get(slot.chair_id, "?"), start=slot.start)


def plan_out(p: series_service.SeriesPlan) -> PlanOut:
    return PlanOut(
        course_id=p.course_id,
        patient_id=p.patient_id,
        protocol_id=p.protocol_id,
        protocol=p.protocol,
        series_sessions=p.series_sessions,
        completed=p.completed,
        open_booked=p.open_booked,
        remaining=p.remaining,
        spacing_days=p.spacing_days,
        first_date=p.first_day,
        visit_min=p.visit_min,
        proposal=[
            ProposedOut(
                number=x.number,
                due_date=x.due_day,
                wanted=x.wanted,
                fit=x.fit.value,
                slot=None if x.slot is None else _slot_out(x.slot, p.chairs),
                alternatives=[_slot_out(a, p.chairs) for a in x.alternatives],
            )
            for x in p.proposal
        ],
    )


@api.get("/series/plan", response_model=PlanOut)
def plan_json(
    actor: Booker,
    session: SessionDep,
    settings: SettingsDep,
    course_id: CourseParam,
    preferred: Annotated[ClockTime, Query(description="Local time of day, HH:MM")] = "09:00",
    first: Annotated[
        OptionalQueryDate, Query(alias="from", description="Not before this day")
    ] = None,
) -> PlanOut:
    """A proposal for the course's remaining series sessions (count and spacing from its
    protocol) at the preferred time of day, each on a free chair; nothing is booked."""
    if preferred == "24:00":
        raise InvalidInput("a time of day before 24:00", loc=("query", "preferred"))
    with session.begin():
        result = series_service.plan(
            session,
            actor=actor,
            course_id=course_id,
            preferred=_clock(preferred),
            from_day=first,
            zone=settings.timezone,
        )
        return plan_out(result)


class SlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chair_id: int = Field(ge=1, le=MAX_ID)
    start: ClinicInstant


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course_id: int = Field(ge=1, le=MAX_ID)
    sessions: list[SlotIn] = Field(min_length=1, max_length=series_service.MAX_SERIES)


@api.post("/series/confirm", response_model=list[BookingOut], status_code=201)
def confirm_json(
    data: ConfirmIn, actor: Booker, session: SessionDep, settings: SettingsDep
) -> list[BookingOut]:
    """Book the chosen series sessions in one transaction. Every slot is checked again under
    its chair's lock: if one has been taken since the proposal, nothing is booked (409 naming
    the session it collides with, with alternatives)."""
    with session.begin():
        rows = series_service.confirm(
            session,
            actor=actor,
            course_id=data.course_id,
            slots=[series.Slot(s.chair_id, s.start) for s in data.sessions],
            zone=settings.timezone,
        )
        return [booking_out(session, r) for r in rows]


class AttendanceOut(BaseModel):
    patient_id: int
    cancellations: int
    late_cancellations: int
    no_shows: int
    late_hours: int = Field(description="A cancellation closer than this to the session is late")


@api.get("/patients/{patient_id}/attendance", response_model=AttendanceOut)
def attendance_json(
    patient_id: RecordId, actor: Booker, session: SessionDep, settings: SettingsDep
) -> AttendanceOut:
    """How often the patient cancelled (late: under the clinic's notice) or did not come."""
    with session.begin():
        if patients.get(session, actor=actor, patient_id=patient_id) is None:
            raise NotFound(f"no patient {patient_id} in your clinic", loc=("path", "patient_id"))
        found = series_service.attendance(
            session, patient_id=patient_id, late_hours=settings.late_cancellation_hours
        )
        return AttendanceOut(patient_id=patient_id, **vars(found))


# --- pages ----------------------------------------------------------------------------------------


def _form_values(query: Any) -> tuple[dict[str, str], FieldErrors]:
    values = {k: str(query.get(k, "")).strip() for k in ("course_id", "preferred", "from")}
    errors: FieldErrors = {}
    course = values["course_id"]
    if not course.isdigit() or not 1 <= int(course) <= MAX_ID:
        errors["course_id"] = "enter the course number"
    preferred = values["preferred"] or "09:00"
    values["preferred"] = preferred
    if not is_clock(preferred) or preferred == "24:00":
        errors["preferred"] = "a time of day such as 09:00"
    if values["from"]:
        try:
            if not EARLIEST_DATE <= date.fromisoformat(values["from"]) <= LATEST_DATE:
                raise ValueError
        except ValueError:
            errors["from"] = "a date such as 2026-03-04, or empty"
    return values, errors


def _series_page(
    request: Request,
    session: Session,
    actor: Actor,
    zone: ZoneInfo,
    late_hours: int,
    values: dict[str, str],
    errors: FieldErrors,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {"values": values, "errors": errors, "zone": zone, "plan": None}
    if "course_id" not in errors and "preferred" not in errors:
        try:
            with session.begin():
                found = series_service.plan(
                    session,
                    actor=actor,
                    course_id=int(values["course_id"]),
                    preferred=_clock(values["preferred"]),
                    from_day=date.fromisoformat(values["from"])
                    if values.get("from") and "from" not in errors
                    else None,
                    zone=zone,
                )
                context["plan"] = found
                context["attendance"] = series_service.attendance(
                    session, patient_id=found.patient_id, late_hours=late_hours
                )
        except KetaclinicError as error:
            if isinstance(error, NotFound):
                raise
            context["errors"] = {**errors, **error_messages(error)}
            status_code = max(status_code, error.status_code)
    return render(request, "scheduling/series.html", context, status_code=status_code)


@pages.get("/scheduling/series")
def series_page(
    request: Request, actor: Booker, session: SessionDep, settings: SettingsDep
) -> Response:
    values, errors = _form_values(request.query_params)
    status = 422 if errors and request.query_params.get("course_id") else 200
    return _series_page(
        request,
        session,
        actor,
        settings.timezone,
        settings.late_cancellation_hours,
        values,
        errors,
        status,
    )


def _chosen(form: dict[str, str]) -> tuple[list[series.Slot], FieldErrors]:
    """The slots chosen on the form, ``session-N`` = ``CHAIR_ID@ISO-INSTANT`` or empty (skip)."""
    slots: list[series.Slot] = []
    errors: FieldErrors = {}
    for key in sorted((k for k in form if k.startswith("session-")), key=lambda k: k[8:].zfill(4)):
        value = form[key]
        if not value:
            continue
        chair, _, instant = value.partition("@")
        try:
            start = datetime.fromisoformat(instant)
            if not chair.isdigit() or start.tzinfo is None:
                raise ValueError
        except ValueError:
            errors[key] = "choose one of the offered times"
            continue
        slots.append(series.Slot(int(chair), start))
    if not slots and not errors:
        errors["sessions"] = "choose at least one session to book"
    return slots, errors


@pages.post("/scheduling/series")
async def confirm_page(
    request: Request, actor: Booker, session: SessionDep, settings: SettingsDep
) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    values, errors = _form_values(form)
    slots, slot_errors = _chosen(form)
    errors |= slot_errors
    zone = settings.timezone
    late = settings.late_cancellation_hours
    if errors:
        return _series_page(request, session, actor, zone, late, values, errors, 422)
    try:
        with session.begin():
            rows = series_service.confirm(
                session, actor=actor, course_id=int(values["course_id"]), slots=slots, zone=zone
            )
            first = min(r.scheduled_at for r in rows).astimezone(zone).date()
    except KetaclinicError as error:
        if isinstance(error, NotFound):
            raise
        return _series_page(
            request, session, actor, zone, late, values, error_messages(error), error.status_code
        )
    flash(request, f"{len(rows)} series session(s) booked.", "success")
    return RedirectResponse(f"/scheduling/day?date={first.isoformat()}", status_code=303)
