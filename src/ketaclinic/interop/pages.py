"""The HL7 inbox page (nurses and physicians): messages from monitors that could not be placed or
were refused, each with its reason; a person decides what becomes of each (dismiss, with why)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, require, require_csrf
from ketaclinic.errors import InvalidInput
from ketaclinic.interop import service
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(prefix="/interop", dependencies=[Depends(require_csrf)], include_in_schema=False)

#: Who charts at the chair decides about what a monitor sent.
Charter = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]
PAGE = "interop/inbox.html"


@router.get("/inbox")
def inbox_page(request: Request, actor: Charter, session: SessionDep) -> Response:
    with session.begin():
        rows = service.inbox(session, actor=actor)
        return render(request, PAGE, {"rows": rows, "errors": {}})


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
        with session.begin():
            rows = service.inbox(session, actor=actor)
            context = {"rows": rows, "errors": {message_id: error.msg}}
            return render(request, PAGE, context, status_code=422)
    flash(request, "Message dismissed; it stays on record with your reason.", "success")
    return RedirectResponse("/interop/inbox", status_code=303)
