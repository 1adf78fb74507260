"""Pages of counts, discrepancies and disposals: count the stock (blind: the page does not show
what the ledger expects), resolve a discrepancy, see the DEA Form 106 data of a significant loss
and record the notification, dispose of expired stock, and see the DEA Form 41 data."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.accounts.models import User
from ketaclinic.config import Settings
from ketaclinic.errors import KetaclinicError
from ketaclinic.inventory import counts, disposal, service
from ketaclinic.inventory.counts_core import (
    CountKind,
    CountTiming,
    DisposalMethod,
    LossType,
    Resolution,
)
from ketaclinic.inventory.counts_schemas import CountIn, DisposalIn, NotificationIn, ResolveIn
from ketaclinic.inventory.form_fields import at_witness_field, located, parse_dotted, witness_from
from ketaclinic.inventory.witnesses import check_witness
from ketaclinic.web.forms import FieldErrors
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Reader = Annotated[Actor, Depends(require(Permission.INVENTORY_READ))]
Handler = Annotated[Actor, Depends(require(Permission.INVENTORY_MOVE))]
Registrant = Annotated[Actor, Depends(require(Permission.INVENTORY_MANAGE))]


def _clinic(actor: Actor) -> int:
    assert actor.clinic_id is not None
    return actor.clinic_id


def _today(settings: Settings) -> date:
    return clock.today(settings.timezone)


def _names(session: Session, *ids: int | None) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {row.id: row.username for row in rows}


def _may(actor: Actor, permission: Permission) -> bool:
    return actor.role is not None and may(actor.role, permission)


def overview_extras(session: Session, actor: Actor, today: date) -> dict[str, Any]:
    """What the inventory overview shows of counts and disposal: open discrepancies and
    expired lots awaiting disposal."""
    clinic_id = _clinic(actor)
    return {
        "open_discrepancies": [
            counts.view(session, d)
            for d in counts.discrepancies(session, clinic_id=clinic_id, open_only=True)
        ],
        "awaiting_disposal": disposal.awaiting_disposal(session, clinic_id=clinic_id, today=today),
        "may_manage": _may(actor, Permission.INVENTORY_MANAGE),
    }


# --- counts ---------------------------------------------------------------------------------


def _count_context(session: Session, actor: Actor) -> dict[str, Any]:
    return {
        "rows": service.balances(session, clinic_id=_clinic(actor)),
        "kinds": list(CountKind),
        "timings": list(CountTiming),
    }


@router.get("/inventory/counts/new")
def count_form(request: Request, actor: Handler, session: SessionDep) -> Response:
    with session.begin():
        context = _count_context(session, actor)
    return render(request, "inventory/count.html", {**context, "values": {}, "errors": {}})


def _count_body(form: FormData, rows: int) -> tuple[dict[str, Any], dict[str, str]]:
    values = {k: str(form.get(k, "")).strip() for k in ("kind", "timing", "note")}
    values["witness_username"] = str(form.get("witness_username", "")).strip()
    lines = []
    for i in range(rows):
        line = {
            k: str(form.get(f"lines.{i}.{k}", "")).strip()
            for k in ("lot_id", "location_id", "sealed_containers", "opened_ml")
        }
        values.update({f"lines.{i}.{k}": v for k, v in line.items()})
        estimated = form.get(f"lines.{i}.opened_estimated") == "on"
        values[f"lines.{i}.opened_estimated"] = "on" if estimated else ""
        lines.append(
            {
                "lot_id": line["lot_id"],
                "location_id": line["location_id"],
                "sealed_containers": line["sealed_containers"],
                "opened_ml": line["opened_ml"] or "0",
                "opened_estimated": estimated,
            }
        )
    body: dict[str, Any] = {
        "kind": values["kind"],
        "timing": values["timing"],
        "note": values["note"] or None,
        "lines": lines,
        "witness": witness_from(form),
    }
    return body, values


@router.post("/inventory/counts/new")
async def record_count(
    request: Request, actor: Handler, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    rows = sum(1 for key in form if key.startswith("lines.") and key.endswith(".lot_id"))
    body, values = _count_body(form, min(rows, 200))
    data, errors = parse_dotted(CountIn, body)
    status = 422
    if data is not None:
        try:
            witness = check_witness(session, settings, data.witness)
            with session.begin():
                count_id = counts.record_count(session, actor=actor, data=data, witness=witness).id
        except KetaclinicError as error:
            errors, status = located(error), error.status_code
        else:
            flash(request, f"Count {count_id} recorded with its witness.", "success")
            return RedirectResponse(f"/inventory/counts/{count_id}", status_code=303)
    errors = at_witness_field(errors)
    with session.begin():
        context = _count_context(session, actor)
    return render(
        request,
        "inventory/count.html",
        {**context, "values": values, "errors": errors},
        status_code=status,
    )


@router.get("/inventory/counts/{count_id}")
def count_page(
    request: Request, count_id: RecordId, actor: Reader, session: SessionDep
) -> Response:
    with session.begin():
        row = counts.get_count(session, actor=actor, count_id=count_id)
        context = {
            "count": row,
            "lines": counts.count_lines(session, row.id),
            "names": _names(session, row.by_user_id, row.witness_user_id),
        }
    return render(request, "inventory/count_result.html", context)


# --- discrepancies --------------------------------------------------------------------------


def _discrepancy_context(session: Session, actor: Actor, discrepancy_id: int) -> dict[str, Any]:
    row = counts.get_discrepancy(session, actor=actor, discrepancy_id=discrepancy_id)
    seen = counts.view(session, row)
    return {
        "seen": seen,
        "names": _names(
            session,
            seen.count.by_user_id,
            seen.count.witness_user_id,
            row.resolved_by_user_id,
            row.dea_notified_by_user_id,
        ),
        "may_manage": _may(actor, Permission.INVENTORY_MANAGE),
        "resolutions": list(Resolution),
        "loss_types": list(LossType),
    }


@router.get("/inventory/discrepancies/{discrepancy_id}")
def discrepancy_page(
    request: Request, discrepancy_id: RecordId, actor: Reader, session: SessionDep
) -> Response:
    with session.begin():
        context = _discrepancy_context(session, actor, discrepancy_id)
    return render(request, "inventory/discrepancy.html", {**context, "values": {}, "errors": {}})


@router.post("/inventory/discrepancies/{discrepancy_id}/resolve")
async def resolve_discrepancy(
    request: Request,
    discrepancy_id: RecordId,
    actor: Registrant,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    keys = ("resolution", "reason", "loss_type", "witness_username")
    values = {k: str(form.get(k, "")).strip() for k in keys}
    values["significant"] = "on" if form.get("significant") == "on" else ""
    witness = witness_from(form)
    body: dict[str, Any] = {
        "resolution": values["resolution"],
        "reason": values["reason"],
        "significant": bool(values["significant"]),
        "loss_type": values["loss_type"] or None,
        "witness": witness if witness["username"] else None,
    }
    data, errors = parse_dotted(ResolveIn, body)
    status = 422
    if data is not None:
        try:
            signed = check_witness(session, settings, data.witness) if data.witness else None
            with session.begin():
                row = counts.get_discrepancy(
                    session, actor=actor, discrepancy_id=discrepancy_id, lock=True
                )
                counts.resolve(session, actor=actor, discrepancy=row, data=data, witness=signed)
        except KetaclinicError as error:
            if error.status_code == 404:
                raise
            errors, status = located(error), error.status_code
        else:
            flash(request, f"Discrepancy {discrepancy_id} resolved.", "success")
            target = f"/inventory/discrepancies/{discrepancy_id}"
            if data.significant:
                target += "/form-106"
            return RedirectResponse(target, status_code=303)
    errors = at_witness_field(errors)
    with session.begin():
        context = _discrepancy_context(session, actor, discrepancy_id)
    return render(
        request,
        "inventory/discrepancy.html",
        {**context, "values": values, "errors": errors},
        status_code=status,
    )


def _form_106_context(
    session: Session, actor: Actor, settings: Settings, discrepancy_id: int
) -> dict[str, Any]:
    row = counts.get_discrepancy(session, actor=actor, discrepancy_id=discrepancy_id)
    form = counts.form_106(session, actor=actor, discrepancy=row, zone=settings.timezone)
    return {
        "form": form,
        "strength": counts.strength(form.product),
        "names": _names(session, row.dea_notified_by_user_id),
        "may_manage": _may(actor, Permission.INVENTORY_MANAGE),
    }


@router.get("/inventory/discrepancies/{discrepancy_id}/form-106")
def form_106_page(
    request: Request,
    discrepancy_id: RecordId,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    try:
        with session.begin():
            context = _form_106_context(session, actor, settings, discrepancy_id)
    except KetaclinicError as error:
        if error.status_code == 404:
            raise
        flash(request, error.msg, "error")
        return RedirectResponse(f"/inventory/discrepancies/{discrepancy_id}", status_code=303)
    return render(request, "inventory/form106.html", {**context, "errors": {}})


@router.post("/inventory/discrepancies/{discrepancy_id}/dea-notification")
async def record_notification(
    request: Request,
    discrepancy_id: RecordId,
    actor: Registrant,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    data, errors = parse_dotted(NotificationIn, {"note": str(form.get("note", "")).strip()})
    if data is not None:
        try:
            with session.begin():
                row = counts.get_discrepancy(
                    session, actor=actor, discrepancy_id=discrepancy_id, lock=True
                )
                counts.record_notification(session, actor=actor, discrepancy=row, note=data.note)
        except KetaclinicError as error:
            if error.status_code == 404:
                raise
            flash(request, error.msg, "error")
        else:
            flash(request, "Notification of the DEA Field Division recorded.", "success")
        return RedirectResponse(
            f"/inventory/discrepancies/{discrepancy_id}/form-106", status_code=303
        )
    try:
        with session.begin():
            context = _form_106_context(session, actor, settings, discrepancy_id)
    except KetaclinicError as error:
        if error.status_code == 404:
            raise
        flash(request, error.msg, "error")
        return RedirectResponse(f"/inventory/discrepancies/{discrepancy_id}", status_code=303)
    return render(request, "inventory/form106.html", {**context, "errors": errors}, status_code=422)


# --- disposal -------------------------------------------------------------------------------


def _disposal_context(session: Session, actor: Actor, settings: Settings) -> dict[str, Any]:
    clinic_id = _clinic(actor)
    return {
        "awaiting": disposal.awaiting_disposal(
            session, clinic_id=clinic_id, today=_today(settings)
        ),
        "methods": list(DisposalMethod),
    }


@router.get("/inventory/disposals/new")
def disposal_form(
    request: Request, actor: Handler, session: SessionDep, settings: SettingsDep
) -> Response:
    with session.begin():
        context = _disposal_context(session, actor, settings)
    return render(request, "inventory/disposal.html", {**context, "values": {}, "errors": {}})


def _disposal_body(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    keys = (
        "method",
        "distributor_name",
        "distributor_dea_number",
        "distributor_address",
        "destruction_method",
        "note",
        "witness_username",
        "second_witness_username",
    )
    values = {k: str(form.get(k, "")).strip() for k in keys}
    chosen = [str(v) for v in form.getlist("place")]
    values["place"] = " ".join(chosen)
    lines = []
    for place in chosen:
        lot, _, location = place.partition(":")
        lines.append({"lot_id": lot, "location_id": location})
    method = values["method"]
    witnesses = [witness_from(form)]
    if method != DisposalMethod.REVERSE_DISTRIBUTOR.value:
        witnesses.append(witness_from(form, "second_witness"))
    body: dict[str, Any] = {
        "method": method,
        "lines": lines,
        "witnesses": witnesses,
        "note": values["note"] or None,
        "destruction_method": values["destruction_method"] or None,
        "distributor": None,
    }
    if values["distributor_name"] or values["distributor_dea_number"]:
        body["distributor"] = {
            "name": values["distributor_name"],
            "dea_number": values["distributor_dea_number"],
            "address": values["distributor_address"] or None,
        }
    return body, values


_FORM_KEYS = {
    "witnesses.0": "witness_username",
    "witnesses.1": "second_witness_username",
    "witnesses": "witness_username",
    "lines": "place",
    "distributor.name": "distributor_name",
    "distributor.dea_number": "distributor_dea_number",
    "distributor": "distributor_name",
    "witness": "witness_username",
}


def _disposal_errors(errors: FieldErrors) -> FieldErrors:
    """Errors keyed by the disposal form's own field names."""
    out: FieldErrors = {}
    for key, msg in errors.items():
        field = next((name for prefix, name in _FORM_KEYS.items() if key.startswith(prefix)), key)
        out.setdefault(field, msg)
    return out


@router.post("/inventory/disposals/new")
async def dispose(
    request: Request, actor: Handler, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    body, values = _disposal_body(form)
    data, errors = parse_dotted(DisposalIn, body)
    status = 422
    if data is not None:
        try:
            witnesses = disposal.check_witnesses(
                lambda w: check_witness(session, settings, w), data.witnesses
            )
            with session.begin():
                disposal_id = disposal.dispose(
                    session, actor=actor, data=data, witnesses=witnesses
                ).id
        except KetaclinicError as error:
            errors, status = located(error), error.status_code
        else:
            flash(request, f"Disposal {disposal_id} recorded with its witnesses.", "success")
            return RedirectResponse(f"/inventory/disposals/{disposal_id}", status_code=303)
    with session.begin():
        context = _disposal_context(session, actor, settings)
    return render(
        request,
        "inventory/disposal.html",
        {**context, "values": values, "errors": _disposal_errors(errors)},
        status_code=status,
    )


@router.get("/inventory/disposals/{disposal_id}")
def disposal_page(
    request: Request,
    disposal_id: RecordId,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The disposal record; for an on-site destruction, the data of DEA Form 41."""
    with session.begin():
        row = disposal.get_disposal(session, actor=actor, disposal_id=disposal_id)
        form41 = None
        if row.method == DisposalMethod.DESTROYED_ON_SITE.value:
            form41 = disposal.form_41(session, actor=actor, disposal=row, zone=settings.timezone)
        context = {
            "disposal": row,
            "items": disposal.disposed(session, row),
            "form41": form41,
            "strength": counts.strength,
            "names": _names(
                session, row.by_user_id, row.witness_user_id, row.second_witness_user_id
            ),
        }
    return render(request, "inventory/disposal_record.html", context)
