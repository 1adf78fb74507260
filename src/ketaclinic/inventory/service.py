"""Controlled-substance use-cases: the registration, products, locations, receipts and the moves
of stock. One transaction each (the caller's), each entry audited.

Balances are SUMs over the append-only ledger, never stored. A move that takes stock out first
locks its lot's row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time), so
two nurses drawing the last vial at the same moment are judged one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import CLINICIANS, Actor, Role
from ketaclinic.accounts.models import User
from ketaclinic.audit import service as audit
from ketaclinic.db import ExactQuantity
from ketaclinic.errors import Conflict, InvalidInput, NotFound
from ketaclinic.inventory import core
from ketaclinic.inventory.core import Movement
from ketaclinic.inventory.models import (
    DeaRegistration,
    DrugProduct,
    LedgerEntry,
    ReceiptLine,
    StockLot,
    StockReceipt,
    StorageLocation,
)
from ketaclinic.inventory.schemas import (
    AmountIn,
    LocationIn,
    ProductIn,
    ReceiptIn,
    RegistrationIn,
)


@dataclass(frozen=True)
class Witness:
    """A second person whose password was checked before the transaction (``witnesses``)."""

    user_id: int
    password_hash: str


def _clinic(actor: Actor) -> int:
    if actor.clinic_id is None:
        raise InvalidInput("this account belongs to no clinic")
    return actor.clinic_id


def _user(actor: Actor) -> int:
    assert actor.user_id is not None
    return actor.user_id


def _audit(
    session: Session, actor: Actor, action: str, detail: str, patient_id: int | None = None
) -> None:
    audit.record(session, actor=actor, action=action, patient_id=patient_id, detail=detail)


def _in_body(check: Callable[..., str], *args: str, **kwargs: str) -> str:
    """Run a core check whose refusal names a field of the request body."""
    try:
        return check(*args, **kwargs)
    except InvalidInput as error:
        raise InvalidInput(error.msg, loc=("body", *error.loc)) from None


# --- Registration, products, locations ------------------------------------------------------


def register(session: Session, *, actor: Actor, data: RegistrationIn) -> DeaRegistration:
    """Record the clinic's DEA registration (a renewal is a new record; the old one is kept)."""
    number = _in_body(core.check_dea_number, data.dea_number, registrant_name=data.registrant_name)
    row = DeaRegistration(
        clinic_id=_clinic(actor),
        registrant_name=data.registrant_name,
        dea_number=number,
        schedules=" ".join(sorted({s.value for s in data.schedules})),
        address=data.address,
        expires_date=data.expires_date,
        recorded_at=clock.now(),
        recorded_by_user_id=_user(actor),
    )
    if session.scalar(
        select(DeaRegistration.id).where(
            DeaRegistration.clinic_id == row.clinic_id,
            DeaRegistration.dea_number == number,
            DeaRegistration.expires_date == data.expires_date,
        )
    ):
        raise Conflict(f"registration {number} expiring {data.expires_date} is already recorded")
    session.add(row)
    session.flush()
    _audit(session, actor, "inventory.registration", f"registration_id={row.id}")
    return row


def registrations(session: Session, *, clinic_id: int) -> Sequence[DeaRegistration]:
    """The clinic's registrations, the one in force (expiring last) first."""
    return session.scalars(
        select(DeaRegistration)
        .where(DeaRegistration.clinic_id == clinic_id)
        .order_by(DeaRegistration.expires_date.desc(), DeaRegistration.id.desc())
    ).all()


def add_product(session: Session, *, actor: Actor, data: ProductIn) -> DrugProduct:
    ndc = _in_body(core.normalise_ndc, data.ndc)
    clinic_id = _clinic(actor)
    if session.scalar(
        select(DrugProduct.id).where(DrugProduct.clinic_id == clinic_id, DrugProduct.ndc == ndc)
    ):
        raise Conflict(
            f"a product with NDC {core.format_ndc(ndc)} is already stocked", loc=("body", "ndc")
        )
    row = DrugProduct(
        clinic_id=clinic_id,
        substance=data.substance.strip().lower(),
        schedule=data.schedule.value,
        form=data.form,
        concentration_mg_per_ml=data.concentration_mg_per_ml,
        container_ml=data.container_ml,
        ndc=ndc,
        manufacturer=data.manufacturer,
        active=True,
    )
    session.add(row)
    session.flush()
    _audit(session, actor, "inventory.product", f"product_id={row.id}")
    return row


def products(session: Session, *, clinic_id: int) -> Sequence[DrugProduct]:
    return session.scalars(
        select(DrugProduct)
        .where(DrugProduct.clinic_id == clinic_id)
        .order_by(DrugProduct.substance, DrugProduct.concentration_mg_per_ml, DrugProduct.id)
    ).all()


def add_location(session: Session, *, actor: Actor, data: LocationIn) -> StorageLocation:
    clinic_id = _clinic(actor)
    name = data.name.strip()
    if session.scalar(
        select(StorageLocation.id).where(
            StorageLocation.clinic_id == clinic_id, StorageLocation.name == name
        )
    ):
        raise Conflict(f"a location named {name!r} exists already", loc=("body", "name"))
    row = StorageLocation(clinic_id=clinic_id, name=name, active=True)
    session.add(row)
    session.flush()
    _audit(session, actor, "inventory.location", f"location_id={row.id}")
    return row


def locations(session: Session, *, clinic_id: int) -> Sequence[StorageLocation]:
    return session.scalars(
        select(StorageLocation)
        .where(StorageLocation.clinic_id == clinic_id)
        .order_by(StorageLocation.name)
    ).all()


_Record = TypeVar("_Record", DrugProduct, StorageLocation, StockLot, StockReceipt)


def require_in_clinic(
    session: Session,
    model: type[_Record],
    record_id: int,
    clinic_id: int,
    loc: tuple[str | int, ...],
) -> _Record:
    row = session.get(model, record_id)
    if row is None or row.clinic_id != clinic_id:
        what = model.__tablename__.replace("_", " ")
        raise NotFound(f"no {what} {record_id} in your clinic", loc=loc)
    return row


# --- Witnesses ------------------------------------------------------------------------------


def witness_user(session: Session, *, actor: Actor, witness: Witness, movement: Movement) -> int:
    """The witness's user id, once they are known to be a second licensed person of the clinic
    whose password (checked before the transaction) is still theirs."""
    user = session.get(User, witness.user_id)
    if user is None or not user.is_active or user.password_hash != witness.password_hash:
        raise InvalidInput("the witness's username or password is wrong", loc=("body", "witness"))
    if user.clinic_id != actor.clinic_id or Role(user.role) not in CLINICIANS:
        raise InvalidInput(
            "the witness must be a licensed person of this clinic (a nurse or a physician)",
            loc=("body", "witness"),
        )
    try:
        core.check_witness(_user(actor), user.id, movement)
    except InvalidInput as error:
        raise InvalidInput(error.msg, loc=("body", *error.loc)) from None
    return user.id


# --- Receipts -------------------------------------------------------------------------------


def enter_receipt(session: Session, *, actor: Actor, data: ReceiptIn) -> StockReceipt:
    """Record an invoice's delivery. It adds nothing to stock until a second person confirms it."""
    clinic_id = _clinic(actor)
    try:
        supplier_dea = core.check_dea_number(data.supplier_dea_number)
    except InvalidInput as error:
        raise InvalidInput(error.msg, loc=("body", "supplier_dea_number")) from None
    require_in_clinic(
        session, StorageLocation, data.location_id, clinic_id, ("body", "location_id")
    )
    receipt = StockReceipt(
        clinic_id=clinic_id,
        supplier_name=data.supplier_name,
        supplier_address=data.supplier_address,
        supplier_dea_number=supplier_dea,
        invoice_number=data.invoice_number,
        received_date=data.received_date,
        location_id=data.location_id,
        entered_by_user_id=_user(actor),
        entered_at=clock.now(),
    )
    session.add(receipt)
    session.flush()
    for index, item in enumerate(data.lots):
        loc: tuple[str | int, ...] = ("body", "lots", index)
        require_in_clinic(session, DrugProduct, item.product_id, clinic_id, (*loc, "product_id"))
        lot = _lot_for(session, clinic_id, item.product_id, item.lot_number, item.expiry_date, loc)
        session.add(ReceiptLine(receipt_id=receipt.id, lot_id=lot.id, containers=item.containers))
    session.flush()
    _audit(session, actor, "inventory.receipt.enter", f"receipt_id={receipt.id}")
    return receipt


def _lot_for(
    session: Session,
    clinic_id: int,
    product_id: int,
    lot_number: str,
    expiry: date,
    loc: tuple[str | int, ...],
) -> StockLot:
    """The product's lot of that number, created on first receipt; its expiry never changes."""
    number = lot_number.strip().upper()
    lot = session.scalar(
        select(StockLot).where(StockLot.product_id == product_id, StockLot.lot_number == number)
    )
    if lot is None:
        lot = StockLot(
            clinic_id=clinic_id, product_id=product_id, lot_number=number, expiry_date=expiry
        )
        session.add(lot)
        session.flush()
    elif lot.expiry_date != expiry:
        raise InvalidInput(
            f"lot {number} is recorded with expiry {lot.expiry_date}, not {expiry}",
            loc=(*loc, "expiry_date"),
        )
    return lot


def get_receipt(
    session: Session, *, actor: Actor, receipt_id: int, lock: bool = False
) -> StockReceipt:
    """The clinic's receipt (locked for a confirmation or a reversal), else 404."""
    row = session.get(StockReceipt, receipt_id, with_for_update=True if lock else None)
    if row is None or row.clinic_id != _clinic(actor):
        raise NotFound(f"no receipt {receipt_id} in your clinic", loc=("path", "receipt_id"))
    return row


def receipt_reversed(session: Session, receipt_id: int) -> bool:
    query = select(LedgerEntry.id).where(
        LedgerEntry.receipt_id == receipt_id, LedgerEntry.kind == Movement.RECEIPT_REVERSAL.value
    )
    return session.scalar(query.limit(1)) is not None


def receipt_lines(session: Session, receipt_id: int) -> Sequence[ReceiptLine]:
    return session.scalars(
        select(ReceiptLine).where(ReceiptLine.receipt_id == receipt_id).order_by(ReceiptLine.id)
    ).all()


def confirm_receipt(session: Session, *, actor: Actor, receipt: StockReceipt) -> list[LedgerEntry]:
    """A second licensed person confirms the count; each lot enters stock at the receipt's
    location, entered by the first person and witnessed by the second."""
    if receipt.confirmed_by_user_id is not None:
        raise Conflict(f"receipt {receipt.id} was confirmed already")
    if actor.role not in CLINICIANS:
        raise InvalidInput("a receipt is confirmed by a nurse or a physician", loc=("body",))
    if _user(actor) == receipt.entered_by_user_id:
        raise InvalidInput(
            "a receipt is confirmed by a second person, not the one who entered it", loc=("body",)
        )
    receipt.confirmed_by_user_id, receipt.confirmed_at = _user(actor), clock.now()
    entries = []
    for line in receipt_lines(session, receipt.id):
        lot = session.get(StockLot, line.lot_id)
        assert lot is not None
        product = product_of(session, lot)
        amount = core.quantity_of(core_product(product), containers=line.containers)
        entries.append(
            append(
                session,
                actor,
                Movement.RECEIVE,
                lot,
                amount,
                by_user_id=receipt.entered_by_user_id,
                witness_user_id=_user(actor),
                location_id=receipt.location_id,
                containers=line.containers,
                receipt_id=receipt.id,
            )
        )
    return entries


def reverse_receipt(
    session: Session, *, actor: Actor, receipt: StockReceipt, reason: str, witness: Witness
) -> list[LedgerEntry]:
    """Undo a confirmed receipt entered in error: reversing entries, never an edit. Only while its
    containers are all still where they arrived."""
    if receipt.confirmed_by_user_id is None:
        raise Conflict(f"receipt {receipt.id} is not confirmed: nothing entered stock yet")
    if receipt_reversed(session, receipt.id):
        raise Conflict(f"receipt {receipt.id} was reversed already")
    witness_id = witness_user(
        session, actor=actor, witness=witness, movement=Movement.RECEIPT_REVERSAL
    )
    entries = []
    for line in receipt_lines(session, receipt.id):
        lot = lock_lot(session, line.lot_id)
        amount = core.quantity_of(
            core_product(product_of(session, lot)), containers=line.containers
        )
        held = on_hand_mg(session, lot.id, receipt.location_id)
        if held < amount.mg:
            raise Conflict(
                f"lot {lot.lot_number}: only {held.normalize():f} mg of the "
                f"{amount.mg.normalize():f} mg received is still at the location; record what "
                "happened to the rest first"
            )
        entries.append(
            append(
                session,
                actor,
                Movement.RECEIPT_REVERSAL,
                lot,
                amount,
                witness_user_id=witness_id,
                location_id=receipt.location_id,
                containers=line.containers,
                receipt_id=receipt.id,
                reason=reason,
            )
        )
    return entries


# --- Stock ----------------------------------------------------------------------------------


def get_lot(session: Session, lot_id: int) -> StockLot:
    row = session.get(StockLot, lot_id)
    assert row is not None
    return row


def product_of(session: Session, lot: StockLot) -> DrugProduct:
    product = session.get(DrugProduct, lot.product_id)
    assert product is not None
    return product


def core_product(product: DrugProduct) -> core.Product:
    return core.Product(product.concentration_mg_per_ml, product.container_ml)


def lock_lot(session: Session, lot_id: int) -> StockLot:
    """The lot's row, held until the transaction ends: every take from the lot waits here."""
    lot = session.get(StockLot, lot_id, with_for_update=True, populate_existing=True)
    assert lot is not None
    return lot


def on_hand_mg(session: Session, lot_id: int, location_id: int) -> Decimal:
    """The lot's stock at one location: the sum of its entries' effects there."""
    total = session.scalar(
        select(
            type_coerce(func.coalesce(func.sum(LedgerEntry.stock_delta_mg), 0), ExactQuantity())
        ).where(LedgerEntry.lot_id == lot_id, LedgerEntry.location_id == location_id)
    )
    return total if total is not None else Decimal(0)


def append(
    session: Session,
    actor: Actor,
    movement: Movement,
    lot: StockLot,
    amount: core.Quantity,
    *,
    by_user_id: int | None = None,
    witness_user_id: int | None = None,
    location_id: int | None = None,
    containers: int | None = None,
    session_id: int | None = None,
    patient_id: int | None = None,
    receipt_id: int | None = None,
    reason: str | None = None,
    manner: str | None = None,
) -> LedgerEntry:
    """Write one ledger entry and its audit event (entries join the audit chain)."""
    entry = LedgerEntry(
        clinic_id=lot.clinic_id,
        kind=movement.value,
        at=clock.now(),
        by_user_id=by_user_id if by_user_id is not None else _user(actor),
        witness_user_id=witness_user_id,
        product_id=lot.product_id,
        lot_id=lot.id,
        location_id=location_id,
        session_id=session_id,
        patient_id=patient_id,
        receipt_id=receipt_id,
        quantity_mg=amount.mg,
        volume_ml=amount.ml,
        containers=containers,
        stock_delta_mg=core.stock_delta_mg(movement, amount.mg),
        reason=reason,
        manner=manner,
    )
    session.add(entry)
    session.flush()
    _audit(
        session,
        actor,
        f"inventory.{movement.value}",
        f"entry_id={entry.id} lot_id={lot.id}",
        patient_id=patient_id,
    )
    return entry


def take(
    session: Session,
    *,
    lot: StockLot,
    location_id: int,
    data: AmountIn,
    today: date,
) -> core.Quantity:
    """The amount asked for, once the lot is known to be drawable and to hold it here."""
    product = product_of(session, lot)
    try:
        amount = core.quantity_of(
            core_product(product), containers=data.containers, volume_ml=data.volume_ml
        )
    except InvalidInput as error:
        error.loc = ("body", *error.loc)
        raise
    try:
        core.check_drawable(
            lot_number=lot.lot_number,
            expiry_date=lot.expiry_date,
            today=today,
            wanted_mg=amount.mg,
            on_hand_mg=on_hand_mg(session, lot.id, location_id),
        )
    except InvalidInput as error:
        error.loc = ("body", *error.loc)
        raise
    return amount


def transfer(
    session: Session,
    *,
    actor: Actor,
    lot_id: int,
    from_location_id: int,
    to_location_id: int,
    data: AmountIn,
    witness: Witness,
    today: date,
) -> tuple[LedgerEntry, LedgerEntry]:
    """Move stock between two locked locations: out of one and into the other, both witnessed."""
    clinic_id = _clinic(actor)
    require_in_clinic(session, StockLot, lot_id, clinic_id, ("body", "lot_id"))
    require_in_clinic(
        session, StorageLocation, from_location_id, clinic_id, ("body", "from_location_id")
    )
    require_in_clinic(
        session, StorageLocation, to_location_id, clinic_id, ("body", "to_location_id")
    )
    if from_location_id == to_location_id:
        raise InvalidInput("a transfer goes to another location", loc=("body", "to_location_id"))
    witness_id = witness_user(session, actor=actor, witness=witness, movement=Movement.TRANSFER_OUT)
    lot = lock_lot(session, lot_id)
    amount = take(session, lot=lot, location_id=from_location_id, data=data, today=today)
    moves = ((Movement.TRANSFER_OUT, from_location_id), (Movement.TRANSFER_IN, to_location_id))
    out, into = (
        append(
            session,
            actor,
            movement,
            lot,
            amount,
            witness_user_id=witness_id,
            location_id=location_id,
            containers=data.containers,
        )
        for movement, location_id in moves
    )
    return out, into


@dataclass(frozen=True)
class BalanceRow:
    product: DrugProduct
    lot: StockLot
    location: StorageLocation
    on_hand_mg: Decimal

    @property
    def on_hand_ml(self) -> Decimal:
        return self.on_hand_mg / self.product.concentration_mg_per_ml

    @property
    def full_containers(self) -> int:
        return int(
            self.on_hand_mg // (self.product.concentration_mg_per_ml * self.product.container_ml)
        )


def balances(session: Session, *, clinic_id: int, include_empty: bool = False) -> list[BalanceRow]:
    """On hand per product, lot and location: one grouped SUM over the ledger."""
    total = type_coerce(func.sum(LedgerEntry.stock_delta_mg), ExactQuantity()).label("on_hand")
    query = (
        select(LedgerEntry.lot_id, LedgerEntry.location_id, total)
        .where(LedgerEntry.clinic_id == clinic_id, LedgerEntry.location_id.is_not(None))
        .group_by(LedgerEntry.lot_id, LedgerEntry.location_id)
    )
    sums = session.execute(query).all()
    lots = {
        lot.id: lot
        for lot in session.scalars(select(StockLot).where(StockLot.clinic_id == clinic_id))
    }
    places = {p.id: p for p in locations(session, clinic_id=clinic_id)}
    kinds = {p.id: p for p in products(session, clinic_id=clinic_id)}
    rows = [
        BalanceRow(kinds[lots[lot_id].product_id], lots[lot_id], places[location_id], amount)
        for lot_id, location_id, amount in sums
        if location_id is not None and (include_empty or amount != 0)
    ]
    rows.sort(
        key=lambda r: (r.product.substance, r.lot.expiry_date, r.lot.lot_number, r.location.name)
    )
    return rows


def entries(
    session: Session,
    *,
    actor: Actor,
    lot_id: int | None = None,
    session_id: int | None = None,
    limit: int = 200,
) -> Sequence[LedgerEntry]:
    """The clinic's ledger, newest first, optionally of one lot or one session."""
    query = select(LedgerEntry).where(LedgerEntry.clinic_id == _clinic(actor))
    if lot_id is not None:
        query = query.where(LedgerEntry.lot_id == lot_id)
    if session_id is not None:
        query = query.where(LedgerEntry.session_id == session_id)
    rows = session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit)).all()
    audit.record(
        session, actor=actor, action="inventory.ledger.read", detail=f"entries={len(rows)}"
    )
    return rows
