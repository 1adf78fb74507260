"""Controlled-substance JSON routes under ``/api/v1/inventory``: thin, one transaction each.

A witness's password is checked before the transaction begins (``witnesses.check_witness``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.accounts.models import User
from ketaclinic.config import Settings
from ketaclinic.errors import NotFound
from ketaclinic.infusions import service as infusions
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.inventory import chain, core, service
from ketaclinic.inventory.models import (
    DeaRegistration,
    DrugProduct,
    LedgerEntry,
    StockReceipt,
    StorageLocation,
)
from ketaclinic.inventory.schemas import (
    BalanceOut,
    DrawIn,
    EntryOut,
    LocationIn,
    LocationOut,
    ProductIn,
    ProductOut,
    ReceiptIn,
    ReceiptLineOut,
    ReceiptOut,
    ReceiptReverseIn,
    RegistrationIn,
    RegistrationOut,
    ReturnIn,
    SessionChainOut,
    TransferIn,
    WasteIn,
)
from ketaclinic.inventory.witnesses import check_witness
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import MAX_ID, RecordId

router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"], route_class=ExactJsonRoute)

Reader = Annotated[Actor, Depends(require(Permission.INVENTORY_READ))]
Handler = Annotated[Actor, Depends(require(Permission.INVENTORY_MOVE))]
Registrant = Annotated[Actor, Depends(require(Permission.INVENTORY_MANAGE))]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _clinic(actor: Actor) -> int:
    assert actor.clinic_id is not None
    return actor.clinic_id


def _today(settings: Settings) -> date:
    return clock.today(settings.timezone)


# --- registration, products, locations ------------------------------------------------------


def _registration_out(row: DeaRegistration, settings: Settings) -> RegistrationOut:
    return RegistrationOut(
        id=row.id,
        registrant_name=row.registrant_name,
        dea_number=row.dea_number,
        schedules=row.schedules.split(),
        address=row.address,
        expires_date=row.expires_date,
        expired=row.expires_date < _today(settings),
    )


@router.get("/registrations", response_model=list[RegistrationOut])
def list_registrations(
    actor: Reader, session: SessionDep, settings: SettingsDep
) -> list[RegistrationOut]:
    """The clinic's DEA registrations, the one in force (expiring last) first."""
    with session.begin():
        rows = service.registrations(session, clinic_id=_clinic(actor))
        return [_registration_out(row, settings) for row in rows]


@router.post("/registrations", response_model=RegistrationOut, status_code=201)
def record_registration(
    data: RegistrationIn, actor: Registrant, session: SessionDep, settings: SettingsDep
) -> RegistrationOut:
    """Record the clinic's DEA registration; the number must pass the DEA check digit."""
    with session.begin():
        return _registration_out(service.register(session, actor=actor, data=data), settings)


def _product_out(row: DrugProduct) -> ProductOut:
    return ProductOut(
        id=row.id,
        substance=row.substance,
        schedule=row.schedule,
        form=row.form,
        concentration_mg_per_ml=row.concentration_mg_per_ml,
        container_ml=row.container_ml,
        container_mg=row.concentration_mg_per_ml * row.container_ml,
        ndc=row.ndc,
        ndc_display=core.format_ndc(row.ndc),
        manufacturer=row.manufacturer,
    )


@router.get("/products", response_model=list[ProductOut])
def list_products(actor: Reader, session: SessionDep) -> list[ProductOut]:
    with session.begin():
        return [_product_out(p) for p in service.products(session, clinic_id=_clinic(actor))]


@router.post("/products", response_model=ProductOut, status_code=201)
def add_product(data: ProductIn, actor: Registrant, session: SessionDep) -> ProductOut:
    """A stocked product; the NDC is checked and kept as 11 digits."""
    with session.begin():
        return _product_out(service.add_product(session, actor=actor, data=data))


def _location_out(row: StorageLocation) -> LocationOut:
    return LocationOut(id=row.id, name=row.name)


@router.get("/locations", response_model=list[LocationOut])
def list_locations(actor: Reader, session: SessionDep) -> list[LocationOut]:
    with session.begin():
        return [_location_out(p) for p in service.locations(session, clinic_id=_clinic(actor))]


@router.post("/locations", response_model=LocationOut, status_code=201)
def add_location(data: LocationIn, actor: Registrant, session: SessionDep) -> LocationOut:
    """A securely locked cabinet or safe (21 CFR 1301.75)."""
    with session.begin():
        return _location_out(service.add_location(session, actor=actor, data=data))


# --- receipts -------------------------------------------------------------------------------


def _names(session: SessionDep, *ids: int | None) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    return {u.id: u.username for u in session.query(User).filter(User.id.in_(wanted))}


def _receipt_out(session: SessionDep, row: StockReceipt) -> ReceiptOut:
    names = _names(session, row.entered_by_user_id, row.confirmed_by_user_id)
    lines = []
    for line in service.receipt_lines(session, row.id):
        lot = service.get_lot(session, line.lot_id)
        lines.append(
            ReceiptLineOut(
                lot_id=lot.id,
                product_id=lot.product_id,
                lot_number=lot.lot_number,
                expiry_date=lot.expiry_date,
                containers=line.containers,
            )
        )
    return ReceiptOut(
        id=row.id,
        supplier_name=row.supplier_name,
        supplier_dea_number=row.supplier_dea_number,
        invoice_number=row.invoice_number,
        received_date=row.received_date,
        location_id=row.location_id,
        entered_by=names[row.entered_by_user_id],
        confirmed_by=names.get(row.confirmed_by_user_id or 0),
        confirmed_at=row.confirmed_at,
        reversed=service.receipt_reversed(session, row.id),
        lines=lines,
    )


@router.post("/receipts", response_model=ReceiptOut, status_code=201)
def enter_receipt(data: ReceiptIn, actor: Handler, session: SessionDep) -> ReceiptOut:
    """An invoice's delivery; nothing enters stock until a second person confirms it."""
    with session.begin():
        return _receipt_out(session, service.enter_receipt(session, actor=actor, data=data))


@router.get("/receipts/{receipt_id}", response_model=ReceiptOut)
def read_receipt(receipt_id: RecordId, actor: Reader, session: SessionDep) -> ReceiptOut:
    with session.begin():
        return _receipt_out(
            session, service.get_receipt(session, actor=actor, receipt_id=receipt_id)
        )


@router.post("/receipts/{receipt_id}/confirm", response_model=ReceiptOut)
def confirm_receipt(receipt_id: RecordId, actor: Handler, session: SessionDep) -> ReceiptOut:
    """The second person confirms the count; the lots enter stock at the receipt's location."""
    with session.begin():
        row = service.get_receipt(session, actor=actor, receipt_id=receipt_id, lock=True)
        service.confirm_receipt(session, actor=actor, receipt=row)
        return _receipt_out(session, row)


@router.post("/receipts/{receipt_id}/reverse", response_model=ReceiptOut)
def reverse_receipt(
    receipt_id: RecordId,
    data: ReceiptReverseIn,
    actor: Handler,
    session: SessionDep,
    settings: SettingsDep,
) -> ReceiptOut:
    """A receipt entered in error is reversed by further entries, with a reason and a witness."""
    witness = check_witness(session, settings, data.witness)
    with session.begin():
        row = service.get_receipt(session, actor=actor, receipt_id=receipt_id, lock=True)
        service.reverse_receipt(
            session, actor=actor, receipt=row, reason=data.reason, witness=witness
        )
        return _receipt_out(session, row)


# --- stock ----------------------------------------------------------------------------------


def entry_out(session: SessionDep, entries: list[LedgerEntry]) -> list[EntryOut]:
    names = _names(session, *(e.by_user_id for e in entries), *(e.witness_user_id for e in entries))
    lots = {e.lot_id: service.get_lot(session, e.lot_id).lot_number for e in entries}
    return [
        EntryOut(
            id=e.id,
            kind=e.kind,
            at=e.at,
            by=names[e.by_user_id],
            witness=names.get(e.witness_user_id or 0),
            product_id=e.product_id,
            lot_id=e.lot_id,
            lot_number=lots[e.lot_id],
            location_id=e.location_id,
            session_id=e.session_id,
            patient_id=e.patient_id,
            quantity_mg=e.quantity_mg,
            volume_ml=e.volume_ml,
            containers=e.containers,
            reason=e.reason,
            manner=e.manner,
        )
        for e in entries
    ]


@router.post("/transfers", response_model=list[EntryOut], status_code=201)
def transfer(
    data: TransferIn, actor: Handler, session: SessionDep, settings: SettingsDep
) -> list[EntryOut]:
    """Move stock between locked locations, witnessed."""
    witness = check_witness(session, settings, data.witness)
    with session.begin():
        entries = service.transfer(
            session,
            actor=actor,
            lot_id=data.lot_id,
            from_location_id=data.from_location_id,
            to_location_id=data.to_location_id,
            data=data,
            witness=witness,
            today=_today(settings),
        )
        return entry_out(session, list(entries))


@router.get("/balance", response_model=list[BalanceOut])
def balance(actor: Reader, session: SessionDep, settings: SettingsDep) -> list[BalanceOut]:
    """On hand per product, lot and location, derived from the ledger."""
    today = _today(settings)
    with session.begin():
        return [
            BalanceOut(
                product_id=r.product.id,
                substance=r.product.substance,
                lot_id=r.lot.id,
                lot_number=r.lot.lot_number,
                expiry_date=r.lot.expiry_date,
                expiry=core.expiry_flag(r.lot.expiry_date, today).value,
                location_id=r.location.id,
                location=r.location.name,
                on_hand_mg=r.on_hand_mg,
                on_hand_ml=r.on_hand_ml,
                full_containers=r.full_containers,
            )
            for r in service.balances(session, clinic_id=_clinic(actor))
        ]


@router.get("/ledger", response_model=list[EntryOut])
def ledger(
    actor: Reader,
    session: SessionDep,
    lot_id: OptionalId = None,
    session_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EntryOut]:
    """The newest entries first, optionally of one lot or one session."""
    with session.begin():
        entries = service.entries(
            session, actor=actor, lot_id=lot_id, session_id=session_id, limit=limit
        )
        return entry_out(session, list(entries))


# --- the chain of one session ---------------------------------------------------------------


def _session_row(session: SessionDep, actor: Actor, session_id: int) -> InfusionSession:
    row = infusions.get(session, actor=actor, session_id=session_id, lock=True)
    if row is None:
        raise NotFound(f"no session {session_id} in your clinic", loc=("path", "session_id"))
    return row


def _chain_out(session: SessionDep, row: InfusionSession) -> SessionChainOut:
    link = chain.chain_of(session, row)
    return SessionChainOut(
        session_id=row.id,
        drawn_mg=link.drawn_mg,
        administered_mg=link.administered_mg,
        wasted_mg=link.wasted_mg,
        returned_mg=link.returned_mg,
        unaccounted_mg=link.unaccounted_mg,
        waste_recorded=link.waste_recorded,
        lots=list(link.lots),
    )


@router.post("/sessions/{session_id}/draws", response_model=SessionChainOut, status_code=201)
def draw(
    session_id: RecordId,
    data: DrawIn,
    actor: Handler,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionChainOut:
    """Draw from a lot into the session's bag; an expired lot or more than is on hand is refused."""
    with session.begin():
        row = _session_row(session, actor, session_id)
        chain.draw(session, actor=actor, row=row, data=data, today=_today(settings))
        return _chain_out(session, row)


@router.post("/sessions/{session_id}/returns", response_model=SessionChainOut, status_code=201)
def return_unopened(
    session_id: RecordId,
    data: ReturnIn,
    actor: Handler,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionChainOut:
    """Put unopened containers drawn for the session back at a locked location, witnessed; only
    containers drawn whole, and never below what the record says was given."""
    witness = check_witness(session, settings, data.witness)
    with session.begin():
        row = _session_row(session, actor, session_id)
        chain.return_unopened(session, actor=actor, row=row, data=data, witness=witness)
        return _chain_out(session, row)


@router.post("/sessions/{session_id}/waste", response_model=SessionChainOut, status_code=201)
def waste(
    session_id: RecordId,
    data: WasteIn,
    actor: Handler,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionChainOut:
    """Record what was given (from the timeline) and the rest as waste, with a witness."""
    witness = check_witness(session, settings, data.witness)
    with session.begin():
        row = _session_row(session, actor, session_id)
        chain.record_waste(session, actor=actor, row=row, manner=data.manner, witness=witness)
        return _chain_out(session, row)


@router.get("/sessions/{session_id}/chain", response_model=SessionChainOut)
def session_chain(session_id: RecordId, actor: Reader, session: SessionDep) -> SessionChainOut:
    with session.begin():
        row = infusions.get(session, actor=actor, session_id=session_id)
        if row is None:
            raise NotFound(f"no session {session_id} in your clinic", loc=("path", "session_id"))
        return _chain_out(session, row)


@router.get("/unrecorded-waste", response_model=list[int])
def unrecorded_waste(actor: Reader, session: SessionDep) -> list[int]:
    """Sessions whose infusion ended with drug drawn and no waste recorded yet."""
    with session.begin():
        return chain.sessions_with_unrecorded_waste(session, clinic_id=_clinic(actor))
