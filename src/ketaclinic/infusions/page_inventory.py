"""The session page's drug-chain card: draw from a lot into this session's bag before (or, for a
bolus or a controlled adjunct, during) the infusion, and record the waste after it with a
witness. The chain's rules live in ``inventory.chain``; these routes only read the forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.config import Settings
from ketaclinic.errors import KetaclinicError, NotFound
from ketaclinic.infusions.pages import find_session, render_session_page
from ketaclinic.inventory import chain
from ketaclinic.inventory.form_fields import witness_from
from ketaclinic.inventory.schemas import DrawIn, ReturnIn, WitnessIn
from ketaclinic.inventory.witnesses import check_witness
from ketaclinic.web.forms import validation_messages
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)
Handler = Annotated[Actor, Depends(require(Permission.INVENTORY_MOVE))]
#: As the API's ``WasteIn.manner`` allows.
MANNER_MAX = 200
#: The API's field names as the card's forms call them.
_AT_SOURCE = {"lot_id": "source", "location_id": "source"}
_AT_WITNESS = {"witness": "witness_username"}


def _values(form: FormData, *names: str) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in names}


def _refused(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    session_id: int,
    form_name: str,
    values: dict[str, str],
    errors: dict[str, str],
    status: int,
) -> Response:
    failed: dict[str, Any] = {"form": form_name, "values": values, "errors": errors}
    failed["anchor"] = "drug-chain"
    return render_session_page(
        request, session, actor, settings, session_id, failed=failed, status_code=status
    )


def _field(loc: tuple[str | int, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return parts[0] if parts else "__all__"


def _refused_by(
    error: KetaclinicError,
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    session_id: int,
    form_name: str,
    values: dict[str, str],
    renamed: dict[str, str],
) -> Response:
    """The page again with the chain's refusal next to its field (``renamed`` maps the API's
    field names to the form's); a session that is not found is a 404, not a form error."""
    if isinstance(error, NotFound) and error.loc[:1] != ("body",):
        raise error
    field = _field(error.loc)
    errors = {renamed.get(field, field): error.msg}
    return _refused(
        request, session, actor, settings, session_id, form_name, values, errors,
        error.status_code,
    )  # fmt: skip


@router.post("/sessions/{session_id}/draw")
async def draw(
    request: Request,
    session_id: RecordId,
    actor: Handler,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    return await run_in_threadpool(_draw, request, session_id, actor, session, settings, form)


def _draw(
    request: Request,
    session_id: int,
    actor: Actor,
    session: Session,
    settings: Settings,
    form: FormData,
) -> Response:
    values = _values(form, "source", "containers", "volume_ml")
    lot_id, _, location_id = values["source"].partition(":")
    body = {
        "lot_id": lot_id or None,
        "location_id": location_id or None,
        "containers": values["containers"] or None,
        "volume_ml": values["volume_ml"] or None,
    }
    try:
        data = DrawIn.model_validate(body)
    except ValidationError as error:
        errors = {
            ("source" if k in ("lot_id", "location_id") else k): v
            for k, v in validation_messages(error).items()
        }
        return _refused(request, session, actor, settings, session_id, "draw", values, errors, 422)
    try:
        with session.begin():
            row = find_session(session, actor, session_id, lock=True)
            entry = chain.draw(
                session, actor=actor, row=row, data=data, today=clock.today(settings.timezone)
            )
            drawn = f"{entry.quantity_mg.normalize():f} mg ({entry.volume_ml.normalize():f} mL)"
    except KetaclinicError as error:
        return _refused_by(
            error, request, session, actor, settings, session_id, "draw", values, _AT_SOURCE
        )
    flash(request, f"Drawn {drawn} for this session.", "success")
    return RedirectResponse(f"/sessions/{session_id}#drug-chain", status_code=303)


@router.post("/sessions/{session_id}/waste")
async def waste(
    request: Request,
    session_id: RecordId,
    actor: Handler,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    return await run_in_threadpool(_waste, request, session_id, actor, session, settings, form)


def _waste(
    request: Request,
    session_id: int,
    actor: Actor,
    session: Session,
    settings: Settings,
    form: FormData,
) -> Response:
    values = _values(form, "manner", "witness_username")
    password = str(form.get("witness_password", ""))
    errors = {}
    if not values["manner"]:
        errors["manner"] = "say how the rest was disposed of"
    elif len(values["manner"]) > MANNER_MAX:
        errors["manner"] = f"at most {MANNER_MAX} characters (it is not shortened for you)"
    if not values["witness_username"] or not password:
        errors["witness_username"] = "the witness signs with their username and password"
    if errors:
        return _refused(request, session, actor, settings, session_id, "waste", values, errors, 422)
    try:
        witness = check_witness(
            session, settings, WitnessIn(username=values["witness_username"], password=password)
        )
        with session.begin():
            row = find_session(session, actor, session_id, lock=True)
            chain.record_waste(
                session, actor=actor, row=row, manner=values["manner"], witness=witness
            )
    except KetaclinicError as error:
        return _refused_by(
            error, request, session, actor, settings, session_id, "waste", values, _AT_WITNESS
        )
    flash(request, "Waste recorded and witnessed: the session's chain is closed.", "success")
    return RedirectResponse(f"/sessions/{session_id}#drug-chain", status_code=303)


@router.post("/sessions/{session_id}/return")
async def return_unopened(
    request: Request,
    session_id: RecordId,
    actor: Handler,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    return await run_in_threadpool(_return, request, session_id, actor, session, settings, form)


def _return(
    request: Request,
    session_id: int,
    actor: Actor,
    session: Session,
    settings: Settings,
    form: FormData,
) -> Response:
    values = _values(form, "lot_id", "location_id", "containers", "witness_username")
    body = {
        "lot_id": values["lot_id"] or None,
        "location_id": values["location_id"] or None,
        "containers": values["containers"] or None,
        "witness": witness_from(form),
    }
    try:
        data = ReturnIn.model_validate(body)
    except ValidationError as error:
        errors = {
            ("witness_username" if k.startswith("witness") else k): v
            for k, v in validation_messages(error).items()
        }
        return _refused(
            request, session, actor, settings, session_id, "return", values, errors, 422
        )
    try:
        witness = check_witness(session, settings, data.witness)
        with session.begin():
            row = find_session(session, actor, session_id, lock=True)
            entry = chain.return_unopened(session, actor=actor, row=row, data=data, witness=witness)
            returned = f"{entry.containers} unopened ({entry.quantity_mg.normalize():f} mg)"
    except KetaclinicError as error:
        return _refused_by(
            error, request, session, actor, settings, session_id, "return", values, _AT_WITNESS
        )
    flash(request, f"Returned {returned} to stock, witnessed.", "success")
    return RedirectResponse(f"/sessions/{session_id}#drug-chain", status_code=303)
