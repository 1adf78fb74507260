"""The portal's "ask to move this booking" form. The patient is always the account's own record;
the booking in the URL must be theirs and still ahead."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require_csrf, require_role
from ketaclinic.errors import KetaclinicError
from ketaclinic.portal import service as portal
from ketaclinic.scheduling import reminders_reschedule as reschedule
from ketaclinic.web.forms import error_messages
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import render

router = APIRouter(prefix="/portal", dependencies=[Depends(require_csrf)], include_in_schema=False)

PortalUser = Annotated[Actor, Depends(require_role(Role.PATIENT))]
PAGE = "scheduling/portal_reschedule.html"


def preferred_instant(text: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """A ``datetime-local`` value read in the clinic's zone; blank means no preference."""
    text = text.strip()
    if not text:
        return None, None
    try:
        typed = datetime.fromisoformat(text)
    except ValueError:
        return None, "enter a date and time such as 2026-03-04 14:30, or leave it blank"
    if typed.tzinfo is not None:
        return None, "enter the clinic's local time without a UTC offset"
    try:
        return typed.replace(tzinfo=zone).astimezone(UTC), None
    except OverflowError:
        return None, "the date is out of range"


@router.get("/sessions/{session_id}/reschedule")
def reschedule_page(
    request: Request, session_id: RecordId, actor: PortalUser, session: SessionDep
) -> Response:
    with session.begin():
        patient = portal.require_own_patient(session, actor=actor)
        booking = reschedule.own_upcoming_session(
            session, patient=patient, session_id=session_id, now=clock.now()
        )
        portal.audit_read(session, actor=actor, patient=patient, page="reschedule")
        context = {
            "booking": booking,
            "pending": reschedule.open_request(session, booking_id=booking.id),
            "values": {"preferred_at": "", "note": ""},
            "errors": {},
        }
        return render(request, PAGE, context)


@router.post("/sessions/{session_id}/reschedule")
async def reschedule_submit(
    request: Request,
    session_id: RecordId,
    actor: PortalUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    values = {"preferred_at": str(form.get("preferred_at", "")), "note": str(form.get("note", ""))}
    preferred_at, problem = preferred_instant(values["preferred_at"], settings.timezone)
    errors = {"preferred_at": problem} if problem else {}
    sent = False
    try:
        with session.begin():
            patient = portal.require_own_patient(session, actor=actor)
            booking = reschedule.own_upcoming_session(
                session, patient=patient, session_id=session_id, now=clock.now()
            )
            if not errors:
                reschedule.request(
                    session,
                    actor=actor,
                    patient=patient,
                    booking=booking,
                    preferred_at=preferred_at,
                    note=values["note"],
                )
                sent = True
    except KetaclinicError as error:
        if error.status_code == 404:
            raise
        errors = error_messages(error)
        status = error.status_code
    else:
        status = 200 if sent else 422
    with session.begin():
        patient = portal.require_own_patient(session, actor=actor)
        booking = reschedule.own_upcoming_session(
            session, patient=patient, session_id=session_id, now=clock.now()
        )
        context = {
            "booking": booking,
            "pending": reschedule.open_request(session, booking_id=booking.id),
            "values": values,
            "errors": errors,
            "sent": sent,
        }
        return render(request, PAGE, context, status_code=status)
