"""Staff pages: the reminders that failed or wait for a retry, and patients' requests to move a
booking (front desk and clinicians)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, require, require_csrf
from ketaclinic.errors import NotFound
from ketaclinic.scheduling import reminders_reschedule as reschedule
from ketaclinic.scheduling import reminders_service as service
from ketaclinic.scheduling.reminders_core import ReminderState
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(
    prefix="/scheduling", dependencies=[Depends(require_csrf)], include_in_schema=False
)

Reader = Annotated[Actor, Depends(require(Permission.PATIENT_READ))]
Writer = Annotated[Actor, Depends(require(Permission.PATIENT_WRITE))]


@router.get("/reminders")
def reminders_page(request: Request, actor: Reader, session: SessionDep) -> Response:
    """Failed reminders first (staff act on them), then those waiting to retry, then the sent
    ones, and the open requests to move a booking."""
    with session.begin():
        failed = service.list_for_staff(session, actor=actor, states=[ReminderState.FAILED])
        waiting = [
            row
            for row in service.list_for_staff(session, actor=actor, states=[ReminderState.DUE])
            if row.reminder.attempts > 0
        ]
        sent = service.list_for_staff(session, actor=actor, states=[ReminderState.SENT], limit=50)
        requests = reschedule.list_open(session, actor=actor)
        context = {"failed": failed, "waiting": waiting, "sent": sent, "requests": requests}
        return render(request, "scheduling/reminders.html", context)


@router.post("/reminders/{reminder_id}/retry")
def retry_reminder(
    request: Request, reminder_id: RecordId, actor: Writer, session: SessionDep
) -> Response:
    with session.begin():
        if service.retry(session, actor=actor, reminder_id=reminder_id, now=clock.now()) is None:
            raise NotFound(f"no failed reminder {reminder_id} in your clinic")
    flash(request, "The reminder will be sent again on the worker's next pass.", "success")
    return RedirectResponse("/scheduling/reminders", status_code=303)


@router.post("/reschedule-requests/{request_id}/handled")
def request_handled(
    request: Request, request_id: RecordId, actor: Writer, session: SessionDep
) -> Response:
    with session.begin():
        if reschedule.mark_handled(session, actor=actor, request_id=request_id) is None:
            raise NotFound(f"no request {request_id} in your clinic")
    flash(request, "Request marked as handled.", "success")
    return RedirectResponse("/scheduling/reminders", status_code=303)
