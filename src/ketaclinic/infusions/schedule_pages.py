"""Scheduling a session from the pages: a form reached from the patient page and from each open
course, posting to the same ``infusions.service.schedule`` as the JSON API.

The time is typed in the clinic's local time and stored as UTC. A time more than an hour in the
past is refused by the service (``infusions.core.booking_time_problem``), as for the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.config import Settings
from ketaclinic.courses import service as courses
from ketaclinic.errors import KetaclinicError
from ketaclinic.infusions import service
from ketaclinic.infusions.core import PAST_GRACE
from ketaclinic.infusions.schemas import ScheduleIn
from ketaclinic.labels import label as label_of
from ketaclinic.patients.banner import safety_banner
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.suggestion import suggest
from ketaclinic.scheduling import service as scheduling
from ketaclinic.web.forms import FieldErrors, error_messages, parse
from ketaclinic.web.params import MAX_ID, RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Scheduler = Annotated[Actor, Depends(require(Permission.SCHEDULE_BOOK))]
PAGE = "infusions/schedule.html"
FIELDS = ("protocol_id", "scheduled_at", "chair_id", "course_id")
#: What a ``datetime-local`` input sends, and what the field shows.
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class ProtocolChoice:
    id: int
    label: str


@dataclass(frozen=True)
class ChairChoice:
    id: int
    label: str


@dataclass(frozen=True)
class CourseChoice:
    id: int
    protocol_id: int
    label: str
    next_session: str


@dataclass(frozen=True)
class Choices:
    """What the form offers; what is posted must be among it."""

    protocols: list[ProtocolChoice]
    courses: list[CourseChoice]
    chairs: list[ChairChoice]

    def protocol_ids(self) -> set[int]:
        return {p.id for p in self.protocols}

    def chair_ids(self) -> set[int]:
        return {c.id for c in self.chairs}

    def course(self, course_id: str | int | None) -> CourseChoice | None:
        return next((c for c in self.courses if str(c.id) == str(course_id)), None)


def local_instant(text: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """The UTC instant of a wall-clock time typed in ``zone``, or why it is not one.

    A time the clocks skip (spring forward) is refused; a time they repeat (fall back) is the
    first of the two, as ``zoneinfo`` reads it (``fold=0``).
    """
    if not text:
        return None, "enter the date and time of the session"
    try:
        typed = datetime.fromisoformat(text)
    except ValueError:
        return None, "enter a date and time such as 2026-03-04 14:30"
    if "T" not in text and " " not in text:
        return None, "enter the time as well as the date"
    if typed.tzinfo is not None:
        return None, f"enter the clinic's local time ({zone.key}) without a UTC offset"
    try:
        instant = typed.replace(tzinfo=zone).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) != typed:
            return None, f"{typed:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks go forward)"
    except OverflowError:
        return None, "the date is out of range"
    return instant, None


def _record_id(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_ID else None


def read_form(
    values: dict[str, str], *, patient_id: int, choices: Choices, zone: ZoneInfo
) -> tuple[ScheduleIn | None, FieldErrors]:
    """The posted fields as a ``ScheduleIn``, or a message per field. Whether the time is too
    far in the past and whether the course fits the patient and the protocol version are the
    service's checks, not repeated here."""
    errors: FieldErrors = {}
    if _record_id(values["protocol_id"]) not in choices.protocol_ids():
        errors["protocol_id"] = "choose a protocol from the list"
    scheduled_at, problem = local_instant(values["scheduled_at"], zone)
    if problem:
        errors["scheduled_at"] = problem
    if values["chair_id"] and _record_id(values["chair_id"]) not in choices.chair_ids():
        errors["chair_id"] = "choose a chair from the list, or the first free one"
    if values["course_id"] and _record_id(values["course_id"]) is None:
        errors["course_id"] = "choose one of the patient's open courses, or none"
    if errors:
        return None, errors
    return parse(
        ScheduleIn,
        {
            "patient_id": patient_id,
            "protocol_id": values["protocol_id"],
            "scheduled_at": scheduled_at,
            "chair_id": values["chair_id"] or None,
            "course_id": values["course_id"] or None,
        },
    )


def _label(row: ProtocolVersion) -> str:
    return f"{row.name} (v{row.version})"


def _context(session: Session, actor: Actor, settings: Settings, patient_id: int) -> dict[str, Any]:
    """The patient (404 when not in the actor's clinic) and the choices, read and audited in the
    caller's transaction."""
    patient = courses.require_patient(
        session, actor=actor, patient_id=patient_id, loc=("path", "patient_id")
    )
    assert actor.clinic_id is not None  # require_patient found a patient in the clinic
    current = list(protocols.list_current(session, clinic_id=actor.clinic_id))
    offered = [ProtocolChoice(p.id, _label(p)) for p in current]
    course_choices = []
    for row in courses.list_for_patient(session, actor=actor, patient=patient):
        if row.ended_at is not None:
            continue
        course = courses.to_out(session, row, zone=settings.timezone)
        label = f"{course.protocol_name} (v{course.protocol_version})"
        course_choices.append(
            CourseChoice(
                id=course.id,
                protocol_id=course.protocol_id,
                label=f"Course #{course.id}: {label}, {label_of(course.phase)}, "
                f"{course.series_progress}",
                next_session=course.next_session.text,
            )
        )
        # A course started on an older version keeps it: offer that version for its sessions.
        if all(p.id != course.protocol_id for p in offered):
            offered.append(ProtocolChoice(course.protocol_id, f"{label}, this course's version"))
    return {
        "zone": settings.timezone,
        "patient": patient,
        "suggestion": suggest(session, patient, current),
        "banner": safety_banner(
            patient, today=clock.today(settings.timezone), zone=settings.timezone
        ),
        "choices": Choices(
            offered,
            course_choices,
            [
                ChairChoice(c.id, f"{c.name} ({c.room})" if c.room else c.name)
                for c in scheduling.list_chairs(
                    session, clinic_id=actor.clinic_id, active_only=True
                )
            ],
        ),
        "earliest": (clock.now() - PAST_GRACE).astimezone(settings.timezone).strftime(LOCAL_FORMAT),
    }


def _form(
    request: Request,
    context: dict[str, Any],
    values: dict[str, str],
    errors: FieldErrors,
    status_code: int = 200,
    alternatives: Sequence[dict[str, object]] = (),
) -> Response:
    choices: Choices = context["choices"]
    selected = choices.course(values.get("course_id"))
    extra = {
        "values": values,
        "errors": errors,
        "selected_course": selected,
        "alternatives": _alternatives(alternatives, context),
    }
    return render(request, PAGE, {**context, **extra}, status_code=status_code)


@router.get("/patients/{patient_id}/sessions/new")
def schedule_page(
    request: Request,
    patient_id: RecordId,
    actor: Scheduler,
    session: SessionDep,
    settings: SettingsDep,
    course_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The empty form, or pre-filled with an open course of the patient and its version."""
    with session.begin():
        context = _context(session, actor, settings, patient_id)
    values = dict.fromkeys(FIELDS, "")
    course = context["choices"].course(course_id)
    if course is not None:
        values.update(course_id=str(course.id), protocol_id=str(course.protocol_id))
    elif context["suggestion"] is not None:
        values.update(protocol_id=str(context["suggestion"].protocol_id))
    return _form(request, context, values, {})


@router.post("/patients/{patient_id}/sessions/new")
async def schedule_from_form(
    request: Request,
    patient_id: RecordId,
    actor: Scheduler,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    return await run_in_threadpool(_schedule, request, patient_id, actor, session, settings, values)


def _schedule(
    request: Request,
    patient_id: int,
    actor: Actor,
    session: Session,
    settings: Settings,
    values: dict[str, str],
) -> Response:
    with session.begin():
        context = _context(session, actor, settings, patient_id)
    data, errors = read_form(
        values,
        patient_id=patient_id,
        choices=context["choices"],
        zone=settings.timezone,
    )
    if data is None:
        return _form(request, context, values, errors, status_code=422)
    try:
        with session.begin():
            row = service.schedule(session, actor=actor, data=data, zone=settings.timezone)
            session_id, chair = row.id, row.chair.name
    except KetaclinicError as error:
        if error.loc == ("body", "patient_id"):
            raise  # not this clinic's patient: a 404, not a form message
        offers = getattr(error, "alternatives", ())
        return _form(request, context, values, error_messages(error), error.status_code, offers)
    local = data.scheduled_at.astimezone(settings.timezone)
    flash(request, f"Session scheduled for {local:%Y-%m-%d %H:%M} in {chair}.", "success")
    runs = actor.role is not None and may(actor.role, Permission.SESSION_RUN)
    target = "sessions" if runs else "scheduling/bookings"
    return RedirectResponse(f"/{target}/{session_id}", status_code=303)


@dataclass(frozen=True)
class Offer:
    """A free start the refusal offers: picking it fills the form with its chair and time."""

    chair_id: int
    chair: str
    local: str  # as the datetime-local field takes it
    text: str


def _alternatives(offers: Sequence[dict[str, object]], context: dict[str, Any]) -> list[Offer]:
    zone: ZoneInfo = context["zone"]
    result = []
    for o in offers:
        at = datetime.fromisoformat(str(o["start"])).astimezone(zone)
        result.append(
            Offer(
                int(str(o["chair_id"])),
                str(o["chair"]),
                at.strftime(LOCAL_FORMAT),
                f"{o['chair']}, {at:%a %d %b %H:%M}",
            )
        )
    return result
