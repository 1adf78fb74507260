"""Controlled-substance pages: the overview (on hand, flags, receipts waiting for a second
person, sessions with unrecorded waste, the newest entries), receiving and transfers."""

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
from ketaclinic.inventory import chain, core, counts_pages, service
from ketaclinic.inventory.form_fields import at_witness_field, located, parse_dotted, witness_from
from ketaclinic.inventory.models import StockReceipt
from ketaclinic.inventory.schemas import ReceiptIn, TransferIn
from ketaclinic.inventory.witnesses import check_witness
from ketaclinic.web.forms import error_messages, parse
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

Reader = Annotated[Actor, Depends(require(Permission.INVENTORY_READ))]
Handler = Annotated[Actor, Depends(require(Permission.INVENTORY_MOVE))]
#: Lots one receipt form offers; an invoice with more is entered as several receipts.
RECEIPT_LINES = 4


def _clinic(actor: Actor) -> int:
    assert actor.clinic_id is not None
    return actor.clinic_id


def _today(settings: Settings) -> date:
    return clock.today(settings.timezone)


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {row.id: row.username for row in rows}


def _overview(session: Session, actor: Actor, settings: Settings) -> dict[str, Any]:
    clinic_id = _clinic(actor)
    today = _today(settings)
    rows = service.balances(session, clinic_id=clinic_id)
    pending = session.scalars(
        select(StockReceipt)
        .where(StockReceipt.clinic_id == clinic_id, StockReceipt.confirmed_by_user_id.is_(None))
        .order_by(StockReceipt.id)
    ).all()
    recent = service.entries(session, actor=actor, limit=30)
    people = {e.by_user_id for e in recent} | {
        e.witness_user_id for e in recent if e.witness_user_id
    }
    people |= {r.entered_by_user_id for r in pending}
    lots = {e.lot_id: service.get_lot(session, e.lot_id).lot_number for e in recent}
    return {
        "balances": [(r, core.expiry_flag(r.lot.expiry_date, today).value) for r in rows],
        "pending": [(r, service.receipt_lines(session, r.id)) for r in pending],
        "lot_numbers": {
            lot.id: lot.lot_number
            for r in pending
            for lot in (
                service.get_lot(session, line.lot_id)
                for line in service.receipt_lines(session, r.id)
            )
        },
        "unrecorded": chain.sessions_with_unrecorded_waste(session, clinic_id=clinic_id),
        "recent": recent,
        "recent_lots": lots,
        "names": _names(session, people),
        "may_move": actor.role is not None and may(actor.role, Permission.INVENTORY_MOVE),
        "registrations": service.registrations(session, clinic_id=clinic_id),
        "today": today,
    }


@router.get("/inventory")
def overview(
    request: Request, actor: Reader, session: SessionDep, settings: SettingsDep
) -> Response:
    with session.begin():
        context = _overview(session, actor, settings)
        context |= counts_pages.overview_extras(session, actor, context["today"])
    return render(request, "inventory/overview.html", context)


def _choices(session: Session, actor: Actor) -> dict[str, Any]:
    clinic_id = _clinic(actor)
    return {
        "products": service.products(session, clinic_id=clinic_id),
        "locations": service.locations(session, clinic_id=clinic_id),
    }


def _receipt_values(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The receipt's fields and its filled-in lot lines (an empty line is skipped)."""
    keys = (
        "supplier_name",
        "supplier_address",
        "supplier_dea_number",
        "invoice_number",
        "received_date",
        "location_id",
    )
    values = {k: str(form.get(k, "")).strip() for k in keys}
    lots = []
    for i in range(RECEIPT_LINES):
        line = {
            k: str(form.get(f"lots.{i}.{k}", "")).strip()
            for k in ("product_id", "lot_number", "expiry_date", "containers")
        }
        values.update({f"lots.{i}.{k}": v for k, v in line.items()})
        if any(v for k, v in line.items() if k != "product_id"):
            lots.append(line)
    data: dict[str, Any] = {k: values[k] for k in keys}
    data["lots"] = lots
    return data, values


@router.get("/inventory/receipts/new")
def receipt_form(
    request: Request, actor: Handler, session: SessionDep, settings: SettingsDep
) -> Response:
    with session.begin():
        context = _choices(session, actor)
    values = {"received_date": _today(settings).isoformat()}
    return render(
        request,
        "inventory/receipt.html",
        {**context, "values": values, "errors": {}, "lines": range(RECEIPT_LINES)},
    )


@router.post("/inventory/receipts/new")
async def enter_receipt(request: Request, actor: Handler, session: SessionDep) -> Response:
    form = await request.form()
    data, values = _receipt_values(form)
    parsed, errors = parse_dotted(ReceiptIn, data)
    status = 422
    if parsed is not None:
        try:
            with session.begin():
                row = service.enter_receipt(session, actor=actor, data=parsed)
                receipt_id = row.id
        except KetaclinicError as error:
            errors, status = located(error), error.status_code
        else:
            flash(
                request,
                f"Receipt {receipt_id} entered: a second nurse or physician confirms the count "
                "before it enters stock.",
                "success",
            )
            return RedirectResponse("/inventory", status_code=303)
    with session.begin():
        context = _choices(session, actor)
    return render(
        request,
        "inventory/receipt.html",
        {**context, "values": values, "errors": errors, "lines": range(RECEIPT_LINES)},
        status_code=status,
    )


@router.post("/inventory/receipts/{receipt_id}/confirm")
def confirm_receipt(
    request: Request, receipt_id: RecordId, actor: Handler, session: SessionDep
) -> Response:
    try:
        with session.begin():
            row = service.get_receipt(session, actor=actor, receipt_id=receipt_id, lock=True)
            service.confirm_receipt(session, actor=actor, receipt=row)
    except KetaclinicError as error:
        if error.status_code == 404:
            raise
        flash(request, f"Receipt {receipt_id} not confirmed: {error.msg}", "error")
    else:
        flash(request, f"Receipt {receipt_id} confirmed: its lots are in stock.", "success")
    return RedirectResponse("/inventory", status_code=303)


def _transfer_context(session: Session, actor: Actor, settings: Settings) -> dict[str, Any]:
    rows = service.balances(session, clinic_id=_clinic(actor))
    return {"stock": rows, "locations": service.locations(session, clinic_id=_clinic(actor))}


@router.get("/inventory/transfers/new")
def transfer_form(
    request: Request, actor: Handler, session: SessionDep, settings: SettingsDep
) -> Response:
    with session.begin():
        context = _transfer_context(session, actor, settings)
    return render(request, "inventory/transfer.html", {**context, "values": {}, "errors": {}})


@router.post("/inventory/transfers/new")
async def transfer(
    request: Request, actor: Handler, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    keys = (
        "lot_id",
        "from_location_id",
        "to_location_id",
        "containers",
        "volume_ml",
        "witness_username",
    )
    values = {k: str(form.get(k, "")).strip() for k in keys}
    body: dict[str, Any] = {
        k: values[k] or None
        for k in ("lot_id", "from_location_id", "to_location_id", "containers", "volume_ml")
    }
    body["witness"] = witness_from(form)
    data, errors = parse(TransferIn, body)
    status = 422
    if data is not None:
        try:
            witness = check_witness(session, settings, data.witness)
            with session.begin():
                service.transfer(
                    session,
                    actor=actor,
                    lot_id=data.lot_id,
                    from_location_id=data.from_location_id,
                    to_location_id=data.to_location_id,
                    data=data,
                    witness=witness,
                    today=_today(settings),
                )
        except KetaclinicError as error:
            errors, status = error_messages(error), error.status_code
        else:
            flash(request, "Transfer recorded and witnessed.", "success")
            return RedirectResponse("/inventory", status_code=303)
    errors = at_witness_field(errors)
    with session.begin():
        context = _transfer_context(session, actor, settings)
    return render(
        request,
        "inventory/transfer.html",
        {**context, "values": values, "errors": errors},
        status_code=status,
    )
