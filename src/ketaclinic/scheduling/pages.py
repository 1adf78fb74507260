"""Appointment-book pages: the chairs and the opening hours, closures and policy (kept by an
admin, read by all staff), and one booking's page where the front desk moves or cancels it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.config import Settings
from ketaclinic.errors import KetaclinicError, NotFound
from ketaclinic.infusions import service as sessions
from ketaclinic.infusions.schedule_pages import local_instant
from ketaclinic.scheduling import core, service
from ketaclinic.scheduling.api import booking_out
from ketaclinic.scheduling.schemas import is_clock, minutes_of
from ketaclinic.web.forms import FieldErrors, error_messages, whole_number
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Reader = Annotated[Actor, Depends(require(Permission.SCHEDULE_READ))]
Booker = Annotated[Actor, Depends(require(Permission.SCHEDULE_BOOK))]
Keeper = Annotated[Actor, Depends(require(Permission.SCHEDULE_MANAGE))]


def _clinic(actor: Actor) -> int:
    assert actor.clinic_id is not None
    return actor.clinic_id


def _keeps(actor: Actor) -> bool:
    return actor.role is not None and may(actor.role, Permission.SCHEDULE_MANAGE)


# --- chairs ---------------------------------------------------------------------------------------


def _chairs_page(
    request: Request,
    session: Session,
    actor: Actor,
    errors: FieldErrors | None = None,
    status_code: int = 200,
) -> Response:
    with session.begin():
        chairs = service.list_chairs(session, clinic_id=_clinic(actor))
    context = {"chairs": chairs, "keeps": _keeps(actor), "errors": errors or {}}
    return render(request, "scheduling/chairs.html", context, status_code=status_code)


@router.get("/scheduling/chairs")
def chairs_page(request: Request, actor: Reader, session: SessionDep) -> Response:
    return _chairs_page(request, session, actor)


def _chair_fields(form: dict[str, str]) -> tuple[dict[str, Any], FieldErrors]:
    errors: FieldErrors = {}
    name = form.get("name", "").strip()
    if not name or len(name) > 40:
        errors["name"] = "name the chair (at most 40 characters), e.g. Chair 5"
    room = form.get("room", "").strip()
    if len(room) > 80:
        errors["room"] = "at most 80 characters"
    order_text = form.get("display_order", "").strip()
    order = whole_number(order_text) if order_text else None
    if order_text and (order is None or order > 10_000):
        errors["display_order"] = "a whole number from 0 to 10000"
    values = {"name": name, "room": room or None, "display_order": order}
    values["active"] = form.get("active", "") == "yes"
    return values, errors


@router.post("/scheduling/chairs")
async def add_chair(request: Request, actor: Keeper, session: SessionDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    values, errors = _chair_fields({**form, "active": "yes"})
    return _save_chair(request, session, actor, values, errors, None)


@router.post("/scheduling/chairs/{chair_id}")
async def edit_chair(
    request: Request, chair_id: RecordId, actor: Keeper, session: SessionDep
) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    values, errors = _chair_fields(form)
    return _save_chair(request, session, actor, values, errors, chair_id)


def _save_chair(
    request: Request,
    session: Session,
    actor: Actor,
    values: dict[str, Any],
    errors: FieldErrors,
    chair_id: int | None,
) -> Response:
    if errors:
        return _chairs_page(request, session, actor, errors, 422)
    try:
        with session.begin():
            if chair_id is None:
                service.create_chair(session, clinic_id=_clinic(actor), **values)
            else:
                chair = service.get_chair(session, clinic_id=_clinic(actor), chair_id=chair_id)
                if chair is None:
                    raise NotFound(f"no chair {chair_id} in your clinic", loc=("path", "chair_id"))
                order = values.pop("display_order")
                service.update_chair(
                    session,
                    chair=chair,
                    display_order=chair.display_order if order is None else order,
                    **values,
                )
    except KetaclinicError as error:
        if isinstance(error, NotFound):
            raise
        return _chairs_page(request, session, actor, error_messages(error), error.status_code)
    flash(request, f"Chair {values['name']} saved.", "success")
    return RedirectResponse("/scheduling/chairs", status_code=303)


# --- hours, closures, policy ----------------------------------------------------------------------


def _hours_text(week: list[core.DailyHours], weekday: int) -> str:
    return ", ".join(
        f"{core.clock_text(h.opens_min)}-{core.clock_text(h.closes_min)}"
        for h in week
        if h.weekday == weekday
    )


def _hours_page(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    errors: FieldErrors | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with session.begin():
        clinic_id = _clinic(actor)
        week = service.hours(session, clinic_id=clinic_id)
        closures = service.list_closures(
            session, clinic_id=clinic_id, since=clock.today(settings.timezone)
        )
        pol = service.policy(session, clinic_id=clinic_id)
    shown = {f"day{d}": _hours_text(week, d) for d in range(7)}
    shown |= {
        "turnover_min": str(pol.turnover_min),
        "max_concurrent_bookings": str(pol.max_concurrent_bookings or ""),
    }
    context = {
        "weekdays": list(enumerate(core.WEEKDAYS)),
        "values": {**shown, **(values or {})},
        "hours_set": bool(week),
        "closures": closures,
        "keeps": _keeps(actor),
        "errors": errors or {},
    }
    return render(request, "scheduling/hours.html", context, status_code=status_code)


@router.get("/scheduling/hours")
def hours_page(
    request: Request, actor: Reader, session: SessionDep, settings: SettingsDep
) -> Response:
    return _hours_page(request, session, actor, settings)


def read_week(values: dict[str, str]) -> tuple[list[core.DailyHours], FieldErrors]:
    """Each weekday's field as ``08:00-12:00, 13:00-18:00`` (empty: closed that day)."""
    week: list[core.DailyHours] = []
    errors: FieldErrors = {}
    for day in range(7):
        text = values.get(f"day{day}", "").strip()
        for part in filter(None, (p.strip() for p in text.split(","))):
            pieces = [p.strip() for p in part.split("-")]
            if len(pieces) != 2 or not all(is_clock(p) for p in pieces):
                errors[f"day{day}"] = "write each interval as 08:00-12:00, separated by commas"
                continue
            week.append(core.DailyHours(day, minutes_of(pieces[0]), minutes_of(pieces[1])))
    problem = core.hours_problem(week)
    if problem is not None and not errors:
        errors[f"day{week[problem[0]].weekday}"] = problem[1]
    if not week and not errors:
        errors["day0"] = service.NO_HOURS
    return week, errors


@router.post("/scheduling/hours")
async def save_hours(
    request: Request, actor: Keeper, session: SessionDep, settings: SettingsDep
) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    week, errors = read_week(form)
    if errors:
        return _hours_page(request, session, actor, settings, errors, form, 422)
    with session.begin():
        service.set_hours(session, clinic_id=_clinic(actor), week=week)
    flash(request, "Opening hours saved.", "success")
    return RedirectResponse("/scheduling/hours", status_code=303)


@router.post("/scheduling/policy")
async def save_policy(
    request: Request, actor: Keeper, session: SessionDep, settings: SettingsDep
) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    turnover = whole_number(form.get("turnover_min", ""))
    cap_text = form.get("max_concurrent_bookings", "")
    cap = whole_number(cap_text) if cap_text else None
    errors: FieldErrors = {}
    if turnover is None:
        errors["turnover_min"] = f"a whole number of minutes from 0 to {core.MAX_TURNOVER_MIN}"
    if cap_text and cap is None:
        errors["max_concurrent_bookings"] = "a whole number of at least 1, or empty for no cap"
    if not errors:
        try:
            with session.begin():
                service.set_policy(session, actor=actor, new=core.Policy(turnover or 0, cap))
        except KetaclinicError as error:
            errors = error_messages(error)
    if errors:
        return _hours_page(request, session, actor, settings, errors, form, 422)
    flash(request, "Booking policy saved.", "success")
    return RedirectResponse("/scheduling/hours", status_code=303)


@router.post("/scheduling/closures")
async def add_closure(
    request: Request, actor: Keeper, session: SessionDep, settings: SettingsDep
) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    errors: FieldErrors = {}
    first = _date(form.get("first_date", ""))
    last = _date(form.get("last_date", "")) if form.get("last_date") else first
    if first is None:
        errors["first_date"] = "enter the first closed day, e.g. 2026-12-24"
    if last is None:
        errors["last_date"] = "enter the last closed day, or leave it empty for one day"
    if not errors:
        assert first is not None and last is not None
        try:
            with session.begin():
                service.add_closure(
                    session,
                    actor=actor,
                    first=first,
                    last=last,
                    reason=form.get("reason", "")[:500],
                )
        except KetaclinicError as error:
            errors = error_messages(error)
    if errors:
        return _hours_page(request, session, actor, settings, errors, form, 422)
    flash(request, "Closure saved.", "success")
    return RedirectResponse("/scheduling/hours", status_code=303)


def _date(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if date(1900, 1, 1) <= day <= date(2199, 12, 31) else None


@router.post("/scheduling/closures/{closure_id}/delete")
def remove_closure(
    request: Request, closure_id: RecordId, actor: Keeper, session: SessionDep
) -> Response:
    with session.begin():
        if not service.remove_closure(session, clinic_id=_clinic(actor), closure_id=closure_id):
            raise NotFound(f"no closure {closure_id} in your clinic", loc=("path", "closure_id"))
    flash(request, "Closure removed.", "success")
    return RedirectResponse("/scheduling/hours", status_code=303)


# --- one booking ----------------------------------------------------------------------------------


def _booking_page(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    session_id: int,
    errors: FieldErrors | None = None,
    alternatives: list[dict[str, object]] | None = None,
    status_code: int = 200,
) -> Response:
    with session.begin():
        row = sessions.get(session, actor=actor, session_id=session_id)
        if row is None:
            raise NotFound(f"no session {session_id} in your clinic", loc=("path", "session_id"))
        booking = booking_out(session, row)
        chairs = service.list_chairs(session, clinic_id=_clinic(actor), active_only=True)
    context = {
        "booking": booking,
        "chairs": chairs,
        "errors": errors or {},
        "alternatives": [
            {"chair": a["chair"], "start": datetime.fromisoformat(str(a["start"]))}
            for a in alternatives or []
        ],
        "zone": settings.timezone,
        "runs": actor.role is not None and may(actor.role, Permission.SESSION_RUN),
    }
    return render(request, "scheduling/booking.html", context, status_code=status_code)


@router.get("/scheduling/bookings/{session_id}")
def booking_page(
    request: Request,
    session_id: RecordId,
    actor: Booker,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    return _booking_page(request, session, actor, settings, session_id)


def _act_on_booking(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    session_id: int,
    action: Callable[[Session, Any], object],
    done: str,
) -> Response:
    try:
        with session.begin():
            row = sessions.get(session, actor=actor, session_id=session_id, lock=True)
            if row is None:
                raise NotFound(
                    f"no session {session_id} in your clinic", loc=("path", "session_id")
                )
            action(session, row)
    except KetaclinicError as error:
        if isinstance(error, NotFound):
            raise
        offers = getattr(error, "alternatives", None)
        return _booking_page(
            request,
            session,
            actor,
            settings,
            session_id,
            error_messages(error),
            offers,
            error.status_code,
        )
    flash(request, done, "success")
    return RedirectResponse(f"/scheduling/bookings/{session_id}", status_code=303)


@router.post("/scheduling/bookings/{session_id}/reschedule")
async def reschedule(
    request: Request,
    session_id: RecordId,
    actor: Booker,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    at, problem = local_instant(form.get("scheduled_at", ""), settings.timezone)
    chair_text = form.get("chair_id", "")
    chair_id = whole_number(chair_text) if chair_text else None
    errors: FieldErrors = {}
    if problem:
        errors["scheduled_at"] = problem
    if chair_text and chair_id is None:
        errors["chair_id"] = "choose a chair from the list"
    if errors:
        return _booking_page(request, session, actor, settings, session_id, errors, None, 422)
    assert at is not None

    def move(s: Session, row: Any) -> object:
        return sessions.reschedule(
            s, actor=actor, row=row, scheduled_at=at, chair_id=chair_id, zone=settings.timezone
        )

    return _act_on_booking(request, session, actor, settings, session_id, move, "Booking moved.")


@router.post("/scheduling/bookings/{session_id}/cancel")
async def cancel(
    request: Request,
    session_id: RecordId,
    actor: Booker,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    reason = str(form.get("reason", "")).strip()[:2000]

    def call_off(s: Session, row: Any) -> object:
        return sessions.cancel(s, actor=actor, row=row, reason=reason)

    return _act_on_booking(
        request, session, actor, settings, session_id, call_off, "Booking cancelled."
    )
