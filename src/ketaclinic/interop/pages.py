"""The HL7 inbox page (nurses and physicians): messages from monitors that could not be placed or
were refused, each with its reason; a person decides what becomes of each (dismiss, with why)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.errors import InvalidInput
from ketaclinic.infusions import charting
from ketaclinic.interop import service
from ketaclinic.web.forms import whole_number
from ketaclinic.web.params import MAX_ID, RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(prefix="/interop", dependencies=[Depends(require_csrf)], include_in_schema=False)

#: Who charts at the chair decides about what a monitor sent.
Charter = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]
PAGE = "interop/inbox.html"


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    errors: dict[int, str],
    status_code: int = 200,
) -> Response:
    with session.begin():
        context = {
            "rows": service.inbox(session, actor=actor),
            "sessions": service.active_sessions(session, actor=actor),
            "errors": errors,
        }
        return render(request, PAGE, context, status_code=status_code)


@router.get("/inbox")
def inbox_page(request: Request, actor: Charter, session: SessionDep) -> Response:
    return _page(request, session, actor, {})


@router.post("/inbox/{message_id}/dismiss")
async def dismiss_message(
    request: Request, message_id: RecordId, actor: Charter, session: SessionDep
) -> Response:
    form = await request.form()
    reason = str(form.get("reason", ""))
    try:
        with session.begin():
            service.dismiss(
                session, actor=actor, message_id=message_id, reason=reason, now=clock.now()
            )
    except InvalidInput as error:
        return _page(request, session, actor, {message_id: error.msg}, 422)
    flash(request, "Message dismissed; it stays on record with your reason.", "success")
    return RedirectResponse("/interop/inbox", status_code=303)


@router.post("/inbox/{message_id}/match")
async def match_message(
    request: Request,
    message_id: RecordId,
    actor: Charter,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The nurse chooses the session the message belongs to; its vitals are charted there."""
    form = await request.form()
    chosen = whole_number(str(form.get("session_id", "")).strip())
    try:
        if chosen is None or not 1 <= chosen <= MAX_ID:
            raise InvalidInput("choose the session to chart on", loc=("body", "session_id"))
        with session.begin():
            service.match(
                session,
                actor=actor,
                message_id=message_id,
                session_id=chosen,
                zone=settings.timezone,
                now=clock.now(),
                policy=charting.policy_of(settings),
            )
    except InvalidInput as error:
        return _page(request, session, actor, {message_id: error.msg}, 422)
    flash(request, "Vitals charted on the session you chose.", "success")
    return RedirectResponse("/interop/inbox", status_code=303)
