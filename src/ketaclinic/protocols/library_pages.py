"""Protocol library pages: clinicians read every version; admins edit, which adds a version."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, require, require_csrf
from ketaclinic.dosing.protocol import Limit, Protocol
from ketaclinic.errors import InvalidInput, NotFound
from ketaclinic.protocols import service
from ketaclinic.protocols.codec import to_json
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.web.forms import whole_number
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(
    prefix="/protocols", dependencies=[Depends(require_csrf)], include_in_schema=False
)

Reader = Annotated[Actor, Depends(require(Permission.PROTOCOL_READ))]
Editor = Annotated[Actor, Depends(require(Permission.PROTOCOL_EDIT))]
LIMITS = ("dose_limit", "rate_limit_mg_per_h", "total_limit_mg")
DECIMALS = ("default_dose", "concentration_mg_per_ml", "bag_volume_ml", "cap_mg_per_h")
WHOLE = (
    "default_duration_min",
    "min_duration_min",
    "max_duration_min",
    "series_sessions",
    "series_spacing_days",
    "observation_min",
    "vitals_interval_min",
)
#: Whole numbers a blank switches off (the booster rule's triggers).
OPTIONAL_WHOLE = ("booster_pain_return_percent", "booster_phq9_rise")
TEXTS = ("name", "maintenance_rule", "source")


def _row(session: Session, actor: Actor, protocol_id: int) -> ProtocolVersion:
    assert actor.clinic_id is not None
    row = service.get(session, clinic_id=actor.clinic_id, protocol_id=protocol_id)
    if row is None:
        raise NotFound(f"no protocol {protocol_id} in your clinic")
    return row


def _form_values(protocol: Protocol) -> dict[str, str]:
    plain = to_json(protocol)
    values = {
        name: "" if plain[name] is None else str(plain[name])
        for name in (*DECIMALS, *WHOLE, *OPTIONAL_WHOLE, *TEXTS)
    }
    for name in LIMITS:
        limit = plain[name]
        values[f"{name}.soft_max"] = limit["soft_max"] if limit else ""
        values[f"{name}.hard_max"] = limit["hard_max"] if limit else ""
    return values


def _edited(protocol: Protocol, values: dict[str, str]) -> Protocol:
    """The protocol with the form's values; the Protocol itself validates every field."""
    changes: dict[str, Any] = {name: values[name].strip() for name in TEXTS}
    for name in DECIMALS:
        changes[name] = _decimal(name, values[name])
    for name in WHOLE:
        whole = whole_number(values[name])
        if whole is None:
            raise InvalidInput(f"{name} must be a whole number", loc=(name,))
        changes[name] = whole
    for name in OPTIONAL_WHOLE:
        text = values[name].strip()
        changes[name] = whole_number(text) if text else None
        if text and changes[name] is None:
            raise InvalidInput(f"{name} must be a whole number, or blank for off", loc=(name,))
    for name in LIMITS:
        soft, hard = values[f"{name}.soft_max"], values[f"{name}.hard_max"]
        if getattr(protocol, name) is None and not (soft or hard):
            continue
        changes[name] = Limit(
            soft_max=_decimal(f"{name}.soft_max", soft), hard_max=_decimal(f"{name}.hard_max", hard)
        )
    return replace(protocol, **changes)


def _decimal(name: str, text: str) -> Any:
    if not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(f"{name} must be a number", loc=(name,)) from None


@router.get("")
def library(request: Request, actor: Reader, session: SessionDep) -> Response:
    assert actor.clinic_id is not None
    rows = service.list_current(session, clinic_id=actor.clinic_id)
    return render(request, "protocols/library.html", {"rows": rows})


@router.get("/{protocol_id}")
def detail(request: Request, protocol_id: RecordId, actor: Reader, session: SessionDep) -> Response:
    row = _row(session, actor, protocol_id)
    versions = session.scalars(
        select(ProtocolVersion)
        .where(ProtocolVersion.clinic_id == row.clinic_id, ProtocolVersion.key == row.key)
        .order_by(ProtocolVersion.version.desc())
    ).all()
    may_edit = actor.role is not None and may(actor.role, Permission.PROTOCOL_EDIT)
    context = {"row": row, "p": service.definition(row), "versions": versions, "may_edit": may_edit}
    return render(request, "protocols/detail.html", context)


@router.get("/{protocol_id}/edit")
def edit_form(
    request: Request, protocol_id: RecordId, actor: Editor, session: SessionDep
) -> Response:
    row = _row(session, actor, protocol_id)
    values = _form_values(service.definition(row))
    return render(request, "protocols/edit.html", {"row": row, "values": values, "errors": {}})


@router.post("/{protocol_id}/edit")
async def save_version(
    request: Request, protocol_id: RecordId, actor: Editor, session: SessionDep
) -> Response:
    form = await request.form()
    row = _row(session, actor, protocol_id)
    current = service.definition(row)
    values = {k: str(form.get(k, "")) for k in _form_values(current)}
    session.rollback()  # end the read; the write below is its own transaction
    try:
        changed = _edited(current, values)  # validated here, before anything is written
    except InvalidInput as error:
        field = ".".join(str(part) for part in error.loc) if error.loc else "__all__"
        context = {"row": row, "values": values, "errors": {field: error.msg}}
        return render(request, "protocols/edit.html", context, status_code=422)
    with session.begin():
        new_row = service.add_version(
            session, actor=actor, current=_row(session, actor, protocol_id), changed=changed
        )
        new_id, version = new_row.id, new_row.version
    flash(request, f"Saved as version {version}. Sessions planned earlier keep theirs.", "success")
    return RedirectResponse(f"/protocols/{new_id}", status_code=303)
