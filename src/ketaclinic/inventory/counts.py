"""Counts and discrepancies: what two people found against what the ledger expected, and how a
physician (or the admin acting for the registrant) explains each difference. One transaction
each (the caller's), each write audited.

A count locks the lots it counts (``service.lock_lot``), so no draw slips between the expected
sum and the record of it. A resolution that changes stock writes a ledger entry (ADJUST or LOSS);
the discrepancy only points to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.db import ExactQuantity
from ketaclinic.errors import Conflict, InvalidInput, NotFound
from ketaclinic.inventory import core, counts_core, service
from ketaclinic.inventory.core import Movement
from ketaclinic.inventory.count_models import Discrepancy, StockCount, StockCountLine
from ketaclinic.inventory.counts_core import Counted, Resolution
from ketaclinic.inventory.counts_schemas import CountIn, ResolveIn
from ketaclinic.inventory.models import DrugProduct, LedgerEntry, StockLot, StorageLocation


def _clinic(actor: Actor) -> int:
    if actor.clinic_id is None:
        raise InvalidInput("this account belongs to no clinic")
    return actor.clinic_id


def _user(actor: Actor) -> int:
    assert actor.user_id is not None
    return actor.user_id


def _in_body(error: InvalidInput, *prefix: str | int) -> InvalidInput:
    return InvalidInput(error.msg, loc=("body", *prefix, *error.loc))


# --- Counting -------------------------------------------------------------------------------


def _on_hand_places(
    session: Session, clinic_id: int, location_ids: set[int]
) -> list[tuple[int, int]]:
    """(lot, location) pairs the ledger holds stock of at these locations."""
    total = type_coerce(func.sum(LedgerEntry.stock_delta_mg), ExactQuantity())
    rows = session.execute(
        select(LedgerEntry.lot_id, LedgerEntry.location_id, total)
        .where(LedgerEntry.clinic_id == clinic_id, LedgerEntry.location_id.in_(location_ids))
        .group_by(LedgerEntry.lot_id, LedgerEntry.location_id)
    ).all()
    return [(lot, place) for lot, place, amount in rows if place is not None and amount != 0]


def _place_names(session: Session, clinic_id: int) -> dict[tuple[int, int], str]:
    lots = session.scalars(select(StockLot).where(StockLot.clinic_id == clinic_id)).all()
    places = service.locations(session, clinic_id=clinic_id)
    return {(lot.id, p.id): f"lot {lot.lot_number} at {p.name}" for lot in lots for p in places}


def record_count(
    session: Session, *, actor: Actor, data: CountIn, witness: service.Witness
) -> StockCount:
    """Record a count by the actor and a licensed witness; every difference opens a discrepancy.

    The expected quantity of each line is the ledger's sum at this moment, under the lot's lock.
    """
    clinic_id = _clinic(actor)
    for index, line in enumerate(data.lines):
        loc = ("body", "lines", index)
        service.require_in_clinic(session, StockLot, line.lot_id, clinic_id, (*loc, "lot_id"))
        service.require_in_clinic(
            session, StorageLocation, line.location_id, clinic_id, (*loc, "location_id")
        )
    witness_id = service.witness_user(
        session, actor=actor, witness=witness, movement=Movement.ADJUST
    )
    for lot_id in sorted({line.lot_id for line in data.lines}):  # one order: no deadlock
        service.lock_lot(session, lot_id)
    places = [(line.lot_id, line.location_id) for line in data.lines]
    try:
        counts_core.check_complete(
            places,
            _on_hand_places(session, clinic_id, {p for _, p in places}),
            _place_names(session, clinic_id),
        )
    except InvalidInput as error:
        raise _in_body(error) from None
    count = StockCount(
        clinic_id=clinic_id,
        kind=data.kind.value,
        timing=data.timing.value,
        taken_at=clock.now(),
        by_user_id=_user(actor),
        witness_user_id=witness_id,
        note=data.note,
    )
    session.add(count)
    session.flush()
    for line in data.lines:
        lot = service.get_lot(session, line.lot_id)
        product = service.core_product(service.product_of(session, lot))
        found = counts_core.counted_mg(
            product, Counted(line.sealed_containers, line.opened_ml, line.opened_estimated)
        )
        expected = service.on_hand_mg(session, lot.id, line.location_id)
        row = StockCountLine(
            count_id=count.id,
            lot_id=lot.id,
            location_id=line.location_id,
            expected_mg=expected,
            sealed_containers=line.sealed_containers,
            opened_ml=line.opened_ml,
            opened_estimated=line.opened_estimated,
            counted_mg=found,
        )
        session.add(row)
        session.flush()
        difference = counts_core.difference_mg(expected, found)
        if difference != 0:
            session.add(
                Discrepancy(
                    clinic_id=clinic_id,
                    count_line_id=row.id,
                    difference_mg=difference,
                    significant=False,
                )
            )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="inventory.count",
        detail=f"count_id={count.id} kind={count.kind} lines={len(data.lines)}",
    )
    return count


def get_count(session: Session, *, actor: Actor, count_id: int) -> StockCount:
    row = session.get(StockCount, count_id)
    if row is None or row.clinic_id != _clinic(actor):
        raise NotFound(f"no count {count_id} in your clinic", loc=("path", "count_id"))
    return row


def counts(session: Session, *, clinic_id: int, limit: int = 50) -> Sequence[StockCount]:
    return session.scalars(
        select(StockCount)
        .where(StockCount.clinic_id == clinic_id)
        .order_by(StockCount.id.desc())
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class LineView:
    """One count line with its lot, product, location and discrepancy (if any)."""

    line: StockCountLine
    lot: StockLot
    product: DrugProduct
    location: StorageLocation
    discrepancy: Discrepancy | None

    @property
    def difference_mg(self) -> Decimal:
        return counts_core.difference_mg(self.line.expected_mg, self.line.counted_mg)


def _line_view(session: Session, line: StockCountLine) -> LineView:
    lot = service.get_lot(session, line.lot_id)
    location = session.get(StorageLocation, line.location_id)
    assert location is not None
    found = session.scalar(select(Discrepancy).where(Discrepancy.count_line_id == line.id))
    return LineView(line, lot, service.product_of(session, lot), location, found)


def count_lines(session: Session, count_id: int) -> list[LineView]:
    rows = session.scalars(
        select(StockCountLine)
        .where(StockCountLine.count_id == count_id)
        .order_by(StockCountLine.id)
    ).all()
    return [_line_view(session, row) for row in rows]


# --- Discrepancies --------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscrepancyView:
    discrepancy: Discrepancy
    count: StockCount
    at: LineView


def view(session: Session, discrepancy: Discrepancy) -> DiscrepancyView:
    line = session.get(StockCountLine, discrepancy.count_line_id)
    assert line is not None
    count = session.get(StockCount, line.count_id)
    assert count is not None
    return DiscrepancyView(discrepancy, count, _line_view(session, line))


def get_discrepancy(
    session: Session, *, actor: Actor, discrepancy_id: int, lock: bool = False
) -> Discrepancy:
    row = session.get(Discrepancy, discrepancy_id, with_for_update=True if lock else None)
    if row is None or row.clinic_id != _clinic(actor):
        raise NotFound(
            f"no discrepancy {discrepancy_id} in your clinic", loc=("path", "discrepancy_id")
        )
    return row


def discrepancies(
    session: Session, *, clinic_id: int, open_only: bool = False, limit: int | None = 200
) -> Sequence[Discrepancy]:
    """The clinic's discrepancies, newest first; ``open_only`` keeps the unresolved ones;
    ``limit=None`` gives every one."""
    query = select(Discrepancy).where(Discrepancy.clinic_id == clinic_id)
    if open_only:
        query = query.where(Discrepancy.resolution.is_(None))
    query = query.order_by(Discrepancy.id.desc())
    return session.scalars(query if limit is None else query.limit(limit)).all()


def unreported_losses(session: Session, *, clinic_id: int) -> Sequence[Discrepancy]:
    """Significant losses whose notification of the DEA Field Division is not recorded yet."""
    return session.scalars(
        select(Discrepancy)
        .where(
            Discrepancy.clinic_id == clinic_id,
            Discrepancy.significant.is_(True),
            Discrepancy.dea_notified_at.is_(None),
        )
        .order_by(Discrepancy.id)
    ).all()


def resolve(
    session: Session,
    *,
    actor: Actor,
    discrepancy: Discrepancy,
    data: ResolveIn,
    witness: service.Witness | None,
) -> LedgerEntry | None:
    """Explain a difference: found (no entry), a documentation error (an ADJUST entry of the
    difference, witnessed) or a loss (a LOSS entry of what is missing). Once only."""
    if discrepancy.resolution is not None:
        raise Conflict(f"discrepancy {discrepancy.id} was resolved already")
    difference = discrepancy.difference_mg
    try:
        counts_core.check_resolution(
            data.resolution,
            difference,
            significant=data.significant,
            has_loss_type=data.loss_type is not None,
        )
    except InvalidInput as error:
        raise _in_body(error) from None
    entry = None
    if data.resolution is not Resolution.FOUND:
        entry = _resolving_entry(session, actor, discrepancy, data, witness)
    discrepancy.resolution = data.resolution.value
    discrepancy.reason = data.reason
    discrepancy.resolved_at = clock.now()
    discrepancy.resolved_by_user_id = _user(actor)
    discrepancy.ledger_entry_id = entry.id if entry is not None else None
    discrepancy.significant = data.significant
    discrepancy.loss_type = data.loss_type.value if data.loss_type is not None else None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="inventory.discrepancy.resolve",
        detail=f"discrepancy_id={discrepancy.id} resolution={data.resolution.value}"
        + (" significant" if data.significant else ""),
    )
    return entry


def _check_newest(session: Session, line: StockCountLine) -> None:
    """Only the newest count of a lot at a location may move stock: a later count saw the same
    ledger, so entries for both would correct one difference twice."""
    later = session.scalar(
        select(StockCountLine.count_id)
        .where(
            StockCountLine.lot_id == line.lot_id,
            StockCountLine.location_id == line.location_id,
            StockCountLine.id > line.id,
        )
        .order_by(StockCountLine.id.desc())
        .limit(1)
    )
    if later is not None:
        raise Conflict(
            f"count {later} counted this lot there later: resolve that count's difference, and "
            "this one as found (superseded by the later count)"
        )


def _resolving_entry(
    session: Session,
    actor: Actor,
    discrepancy: Discrepancy,
    data: ResolveIn,
    witness: service.Witness | None,
) -> LedgerEntry:
    """The ADJUST (signed with the difference) or LOSS entry, never taking stock below zero."""
    line = session.get(StockCountLine, discrepancy.count_line_id)
    assert line is not None
    _check_newest(session, line)
    movement = (
        Movement.ADJUST if data.resolution is Resolution.DOCUMENTATION_ERROR else Movement.LOSS
    )
    witness_id = None
    if movement is Movement.ADJUST:
        if witness is None:
            raise InvalidInput(
                "a count adjustment needs a witness: a second nurse or physician",
                loc=("body", "witness"),
            )
        witness_id = service.witness_user(session, actor=actor, witness=witness, movement=movement)
    lot = service.lock_lot(session, line.lot_id)
    product = service.core_product(service.product_of(session, lot))
    mg = discrepancy.difference_mg if movement is Movement.ADJUST else -discrepancy.difference_mg
    change = core.stock_delta_mg(movement, mg)
    held = service.on_hand_mg(session, lot.id, line.location_id)
    if held + change < 0:
        raise Conflict(
            f"lot {lot.lot_number} holds {held.normalize():f} mg there now; taking "
            f"{(-change).normalize():f} mg would leave less than nothing: record what happened "
            "to the rest first"
        )
    return service.append(
        session,
        actor,
        movement,
        lot,
        core.quantity_of_mg(product, mg),
        witness_user_id=witness_id,
        location_id=line.location_id,
        reason=f"discrepancy {discrepancy.id}: {data.reason}",
        manner=data.loss_type.value.replace("_", " ") if data.loss_type else None,
    )


def record_notification(
    session: Session, *, actor: Actor, discrepancy: Discrepancy, note: str
) -> None:
    """Record that the DEA Field Division was notified of a significant loss (once)."""
    if not discrepancy.significant:
        raise Conflict(f"discrepancy {discrepancy.id} is not a significant loss")
    if discrepancy.dea_notified_at is not None:
        raise Conflict(f"the notification of discrepancy {discrepancy.id} is recorded already")
    discrepancy.dea_notified_at = clock.now()
    discrepancy.dea_notified_by_user_id = _user(actor)
    discrepancy.dea_notification = note
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="inventory.discrepancy.dea_notified",
        detail=f"discrepancy_id={discrepancy.id}",
    )


# --- DEA Form 106 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Form106:
    """What DEA Form 106 asks for about one significant loss."""

    discrepancy: Discrepancy
    registrant_name: str | None
    dea_number: str | None
    address: str | None
    date_of_discovery: date
    product: DrugProduct
    lot: StockLot
    location: StorageLocation
    quantity: counts_core.Amount


def strength(product: DrugProduct) -> str:
    """``50 mg/mL, 10 mL multi-dose vial``: the finished form and units per container."""
    return (
        f"{product.concentration_mg_per_ml.normalize():f} mg/mL, "
        f"{product.container_ml.normalize():f} mL {product.form}"
    )


def form_106(
    session: Session, *, actor: Actor, discrepancy: Discrepancy, zone: ZoneInfo
) -> Form106:
    """The Form 106 data of a significant loss (the form itself is filed with the DEA)."""
    if not discrepancy.significant:
        raise Conflict(
            f"discrepancy {discrepancy.id} is not a loss the clinic deemed significant: "
            "there is no Form 106 to file"
        )
    seen = view(session, discrepancy)
    registrations = service.registrations(session, clinic_id=_clinic(actor))
    registration = registrations[0] if registrations else None
    audit.record(
        session,
        actor=actor,
        action="inventory.form106.read",
        detail=f"discrepancy_id={discrepancy.id}",
    )
    return Form106(
        discrepancy=discrepancy,
        registrant_name=registration.registrant_name if registration else None,
        dea_number=registration.dea_number if registration else None,
        address=registration.address if registration else None,
        date_of_discovery=seen.count.taken_at.astimezone(zone).date(),
        product=seen.at.product,
        lot=seen.at.lot,
        location=seen.at.location,
        quantity=counts_core.amount_of(
            service.core_product(seen.at.product), -discrepancy.difference_mg
        ),
    )
