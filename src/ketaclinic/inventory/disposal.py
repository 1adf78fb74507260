"""Expired or unwanted stock leaves inventory (Part 1317): handed to a reverse distributor, or
destroyed on site with two witnesses (the data of DEA Form 41). Each lot and location disposed of
is one DISPOSE ledger entry; the disposal record points to them. One transaction (the caller's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import Conflict, InvalidInput, NotFound
from ketaclinic.inventory import core, counts_core, service
from ketaclinic.inventory.core import ExpiryFlag, Movement
from ketaclinic.inventory.count_models import Disposal, DisposalLine
from ketaclinic.inventory.counts_core import DisposalMethod
from ketaclinic.inventory.counts_schemas import DisposalIn, DisposalLineIn
from ketaclinic.inventory.models import DrugProduct, LedgerEntry, StockLot, StorageLocation
from ketaclinic.inventory.schemas import WitnessIn


def _clinic(actor: Actor) -> int:
    if actor.clinic_id is None:
        raise InvalidInput("this account belongs to no clinic")
    return actor.clinic_id


def _user(actor: Actor) -> int:
    assert actor.user_id is not None
    return actor.user_id


def awaiting_disposal(session: Session, *, clinic_id: int, today: date) -> list[service.BalanceRow]:
    """Expired lots still on hand: they cannot be drawn and wait for a disposal."""
    return [
        row
        for row in service.balances(session, clinic_id=clinic_id)
        if row.on_hand_mg > 0 and core.expiry_flag(row.lot.expiry_date, today) is ExpiryFlag.EXPIRED
    ]


def dispose(
    session: Session, *, actor: Actor, data: DisposalIn, witnesses: Sequence[service.Witness]
) -> Disposal:
    """Record a disposal and one DISPOSE entry per lot and location, each under its lot's lock."""
    clinic_id = _clinic(actor)
    try:
        counts_core.check_disposal_details(
            data.method,
            has_distributor=data.distributor is not None,
            has_destruction_method=bool(data.destruction_method),
        )
        counts_core.check_disposal_witnesses(
            data.method, _user(actor), [w.user_id for w in witnesses]
        )
    except InvalidInput as error:
        raise InvalidInput(error.msg, loc=("body", *error.loc)) from None
    witness_ids = [_witness_id(session, actor, w, index) for index, w in enumerate(witnesses)]
    record = Disposal(
        clinic_id=clinic_id,
        method=data.method.value,
        at=clock.now(),
        by_user_id=_user(actor),
        witness_user_id=witness_ids[0],
        second_witness_user_id=witness_ids[1] if len(witness_ids) > 1 else None,
        note=data.note,
    )
    if data.method is DisposalMethod.REVERSE_DISTRIBUTOR:
        assert data.distributor is not None
        try:
            number = core.check_dea_number(
                data.distributor.dea_number, registrant_name=data.distributor.name
            )
        except InvalidInput as error:
            raise InvalidInput(error.msg, loc=("body", "distributor", "dea_number")) from None
        record.distributor_name = data.distributor.name
        record.distributor_dea_number = number
        record.distributor_address = data.distributor.address
        manner = f"to reverse distributor {data.distributor.name} (DEA {number})"
    else:
        record.destruction_method = data.destruction_method
        manner = f"destroyed on site: {data.destruction_method}"
    session.add(record)
    session.flush()
    seen: set[tuple[int, int]] = set()
    for index, line in enumerate(data.lines):
        loc: tuple[str | int, ...] = ("body", "lines", index)
        if (line.lot_id, line.location_id) in seen:
            raise InvalidInput("this lot and location is listed twice", loc=loc)
        seen.add((line.lot_id, line.location_id))
        entry = _dispose_line(session, actor, clinic_id, line, witness_ids[0], manner, data, loc)
        session.add(DisposalLine(disposal_id=record.id, ledger_entry_id=entry.id))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="inventory.disposal",
        detail=f"disposal_id={record.id} method={record.method} lines={len(data.lines)}",
    )
    return record


def _witness_id(session: Session, actor: Actor, witness: service.Witness, index: int) -> int:
    """A licensed second person of the clinic; a refusal names which witness it is about."""
    try:
        return service.witness_user(
            session, actor=actor, witness=witness, movement=Movement.DISPOSE
        )
    except InvalidInput as error:
        raise InvalidInput(error.msg, loc=("body", "witnesses", index)) from None


def check_witnesses(
    check: Callable[[WitnessIn], service.Witness], witnesses: Sequence[WitnessIn]
) -> list[service.Witness]:
    """Each witness's password, checked before the transaction; a refusal names which one."""
    signed = []
    for index, witness in enumerate(witnesses):
        try:
            signed.append(check(witness))
        except InvalidInput as error:
            raise InvalidInput(error.msg, loc=("body", "witnesses", index)) from None
    return signed


def _dispose_line(
    session: Session,
    actor: Actor,
    clinic_id: int,
    line: DisposalLineIn,
    witness_id: int,
    manner: str,
    data: DisposalIn,
    loc: tuple[str | int, ...],
) -> LedgerEntry:
    """One DISPOSE entry: everything on hand there, or the containers or volume asked for."""
    service.require_in_clinic(session, StockLot, line.lot_id, clinic_id, (*loc, "lot_id"))
    service.require_in_clinic(
        session, StorageLocation, line.location_id, clinic_id, (*loc, "location_id")
    )
    lot = service.lock_lot(session, line.lot_id)
    product = service.core_product(service.product_of(session, lot))
    held = service.on_hand_mg(session, lot.id, line.location_id)
    if held <= 0:
        raise InvalidInput(
            f"lot {lot.lot_number} is not on hand at this location", loc=(*loc, "lot_id")
        )
    if line.containers is None and line.volume_ml is None:
        amount = core.quantity_of_mg(product, held)
    else:
        amount = core.quantity_of(product, containers=line.containers, volume_ml=line.volume_ml)
        if amount.mg > held:
            raise InvalidInput(
                f"lot {lot.lot_number} holds {held.normalize():f} mg here; "
                f"{amount.mg.normalize():f} mg cannot be disposed of",
                loc=(*loc, "containers" if line.containers is not None else "volume_ml"),
            )
    return service.append(
        session,
        actor,
        Movement.DISPOSE,
        lot,
        amount,
        witness_user_id=witness_id,
        location_id=line.location_id,
        containers=line.containers,
        reason=data.note,
        manner=manner,
    )


def get_disposal(session: Session, *, actor: Actor, disposal_id: int) -> Disposal:
    row = session.get(Disposal, disposal_id)
    if row is None or row.clinic_id != _clinic(actor):
        raise NotFound(f"no disposal {disposal_id} in your clinic", loc=("path", "disposal_id"))
    return row


def disposals(session: Session, *, clinic_id: int, limit: int = 50) -> Sequence[Disposal]:
    return session.scalars(
        select(Disposal)
        .where(Disposal.clinic_id == clinic_id)
        .order_by(Disposal.id.desc())
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class Disposed:
    """One lot and location disposed of, as Form 41 lists it."""

    entry: LedgerEntry
    lot: StockLot
    product: DrugProduct
    location: StorageLocation
    quantity: counts_core.Amount


def disposed(session: Session, disposal: Disposal) -> list[Disposed]:
    rows = session.scalars(
        select(LedgerEntry)
        .join(DisposalLine, DisposalLine.ledger_entry_id == LedgerEntry.id)
        .where(DisposalLine.disposal_id == disposal.id)
        .order_by(LedgerEntry.id)
    ).all()
    out = []
    for entry in rows:
        lot = service.get_lot(session, entry.lot_id)
        product = service.product_of(session, lot)
        location = session.get(StorageLocation, entry.location_id)
        assert location is not None
        quantity = counts_core.amount_of(service.core_product(product), entry.quantity_mg)
        out.append(Disposed(entry, lot, product, location, quantity))
    return out


@dataclass(frozen=True)
class Form41:
    """What DEA Form 41 asks for about one on-site destruction."""

    disposal: Disposal
    registrant_name: str | None
    dea_number: str | None
    address: str | None
    date_of_destruction: date
    items: list[Disposed]


def form_41(session: Session, *, actor: Actor, disposal: Disposal, zone: ZoneInfo) -> Form41:
    """The Form 41 data of an on-site destruction (a hand-over has no Form 41)."""
    if disposal.method != DisposalMethod.DESTROYED_ON_SITE.value:
        raise Conflict(
            f"disposal {disposal.id} went to a reverse distributor: there is no Form 41 to keep"
        )
    registrations = service.registrations(session, clinic_id=_clinic(actor))
    registration = registrations[0] if registrations else None
    audit.record(
        session, actor=actor, action="inventory.form41.read", detail=f"disposal_id={disposal.id}"
    )
    return Form41(
        disposal=disposal,
        registrant_name=registration.registrant_name if registration else None,
        dea_number=registration.dea_number if registration else None,
        address=registration.address if registration else None,
        date_of_destruction=disposal.at.astimezone(zone).date(),
        items=disposed(session, disposal),
    )
