"""The chain of one infusion: drug drawn from a lot for the session, the dose the timeline says
was given, and the rest wasted in front of a witness (21 CFR 1304.22(c); CODES.md §2.1).

*Administered* is never typed: ketamine comes from the session's timeline (``infusions.readings
.delivered``), a controlled adjunct from its charted doses. It is kept in the ledger to 10**-9 mg
(the ledger's exact unit), rounded half-even once, here, where the README says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.errors import Conflict, InvalidInput
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.readings import delivered
from ketaclinic.inventory import core, service
from ketaclinic.inventory.core import Movement
from ketaclinic.inventory.models import DrugProduct, LedgerEntry, StockLot, StorageLocation
from ketaclinic.inventory.schemas import DrawIn, ReturnIn
from ketaclinic.inventory.service import Witness

#: The ledger's unit: 10**-9 mg (``db.ExactQuantity``).
LEDGER_QUANTUM = Decimal("1e-9")
#: Drug is drawn while the bag is prepared and, for a bolus or an adjunct, while it runs.
DRAW_STATES = frozenset({State.SCHEDULED, State.CHECKED_IN, State.INFUSING, State.PAUSED})
#: Waste is recorded once nothing more will be given: after the infusion, or when a visit drawn
#: for was cancelled or missed (nothing was given, so everything drawn and not returned is waste).
WASTE_STATES = frozenset(
    {State.OBSERVING, State.DISCHARGED, State.ABORTED, State.CANCELLED, State.NO_SHOW}
)


def draw(
    session: Session, *, actor: Actor, row: InfusionSession, data: DrawIn, today: date
) -> LedgerEntry:
    """Take drug from a lot at a location into this session's bag or syringe."""
    if row.state not in DRAW_STATES:
        raise Conflict(f"drug is drawn before or during the infusion, not when {row.state}")
    clinic_id = row.clinic_id
    service.require_in_clinic(session, StockLot, data.lot_id, clinic_id, ("body", "lot_id"))
    service.require_in_clinic(
        session, StorageLocation, data.location_id, clinic_id, ("body", "location_id")
    )
    lot = service.lock_lot(session, data.lot_id)
    amount = service.take(session, lot=lot, location_id=data.location_id, data=data, today=today)
    return service.append(
        session,
        actor,
        Movement.DRAW,
        lot,
        amount,
        location_id=data.location_id,
        containers=data.containers,
        session_id=row.id,
        patient_id=row.patient_id,
    )


def _entries(session: Session, session_id: int) -> Sequence[LedgerEntry]:
    return session.scalars(
        select(LedgerEntry).where(LedgerEntry.session_id == session_id).order_by(LedgerEntry.id)
    ).all()


def unopened_containers(session: Session, session_id: int) -> dict[int, int]:
    """Per lot, the containers drawn whole for the session and not returned yet: the ones a
    nurse may bring back unopened (a volume drawn opens its container)."""
    left: dict[int, int] = defaultdict(int)
    for entry in _entries(session, session_id):
        if entry.kind == Movement.DRAW and entry.containers:
            left[entry.lot_id] += entry.containers
        elif entry.kind == Movement.RETURN and entry.containers:
            left[entry.lot_id] -= entry.containers
    return {lot_id: n for lot_id, n in left.items() if n > 0}


def return_unopened(
    session: Session, *, actor: Actor, row: InfusionSession, data: ReturnIn, witness: Witness
) -> LedgerEntry:
    """Put unopened containers drawn for this session back at a locked location, witnessed.
    Allowed until the chain is closed (the waste recorded), whatever the session's state: a
    cancelled session returns what was drawn for it."""
    if waste_recorded(session, row.id):
        raise Conflict(f"the chain of session {row.id} is closed: its waste is recorded")
    clinic_id = row.clinic_id
    service.require_in_clinic(session, StockLot, data.lot_id, clinic_id, ("body", "lot_id"))
    service.require_in_clinic(
        session, StorageLocation, data.location_id, clinic_id, ("body", "location_id")
    )
    witness_id = service.witness_user(
        session, actor=actor, witness=witness, movement=Movement.RETURN
    )
    lot = service.lock_lot(session, data.lot_id)  # a count of this lot waits, or is seen first
    product = service.product_of(session, lot)
    same_substance = {
        p.id
        for p in service.products(session, clinic_id=clinic_id)
        if p.substance == product.substance
    }
    left_mg = sum(
        (core.session_delta_mg(Movement(e.kind), e.quantity_mg)
         for e in _entries(session, row.id) if e.product_id in same_substance),
        Decimal(0),
    )  # fmt: skip
    try:
        core.check_returnable(
            lot_number=lot.lot_number,
            containers=data.containers,
            unopened=unopened_containers(session, row.id).get(lot.id, 0),
            container_mg=product.concentration_mg_per_ml * product.container_ml,
            left_mg=left_mg,
            given_mg=administered_mg(row, product.substance),
            substance=product.substance,
        )
    except InvalidInput as error:
        raise InvalidInput(error.msg, loc=("body", *error.loc)) from None
    amount = core.quantity_of(service.core_product(product), containers=data.containers)
    return service.append(
        session,
        actor,
        Movement.RETURN,
        lot,
        amount,
        witness_user_id=witness_id,
        location_id=data.location_id,
        containers=data.containers,
        session_id=row.id,
        patient_id=row.patient_id,
    )


def administered_mg(row: InfusionSession, substance: str) -> Decimal:
    """What the session gave of a substance, from its record (never typed)."""
    if substance == "ketamine":
        given = delivered(row)
        return Decimal(0) if given is None else given.total_mg
    return sum(
        (
            Decimal(e.data["dose"])
            for e in row.events
            if e.kind == "adjunct"
            and e.data.get("drug") == substance
            and e.data.get("unit", "mg") == "mg"
            and getattr(e, "entered_in_error_at", None) is None
        ),
        Decimal(0),
    )


@dataclass(frozen=True)
class LotShare:
    """One lot's part of a session's chain: drawn, returned, given and what is left to waste."""

    lot: StockLot
    product: DrugProduct
    drawn_mg: Decimal
    returned_mg: Decimal
    administered_mg: Decimal

    @property
    def waste_mg(self) -> Decimal:
        return self.drawn_mg - self.returned_mg - self.administered_mg


def shares_of(session: Session, row: InfusionSession) -> list[LotShare]:
    """Split each substance's administered dose over its lots in the order they were drawn."""
    drawn: dict[int, Decimal] = defaultdict(Decimal)
    returned: dict[int, Decimal] = defaultdict(Decimal)
    for entry in _entries(session, row.id):
        if entry.kind == Movement.DRAW:
            drawn[entry.lot_id] += entry.quantity_mg
        elif entry.kind == Movement.RETURN:
            returned[entry.lot_id] += entry.quantity_mg
    lots = [service.get_lot(session, lot_id) for lot_id in drawn]
    by_substance: dict[str, list[StockLot]] = defaultdict(list)
    products = {}
    for lot in lots:
        product = service.product_of(session, lot)
        products[lot.id] = product
        by_substance[product.substance].append(lot)
    shares = []
    for substance, its_lots in by_substance.items():
        left = administered_mg(row, substance).quantize(LEDGER_QUANTUM, ROUND_HALF_EVEN)
        for lot in its_lots:
            available = drawn[lot.id] - returned[lot.id]
            given = min(left, available)
            left -= given
            shares.append(LotShare(lot, products[lot.id], drawn[lot.id], returned[lot.id], given))
        if left > 0:
            raise InvalidInput(
                f"the session gave {left.normalize():f} mg of {substance} more than was drawn "
                "for it: record the draw first",
                loc=("session_id",),
            )
    return shares


def waste_recorded(session: Session, session_id: int) -> bool:
    return (
        session.scalar(
            select(LedgerEntry.id)
            .where(
                LedgerEntry.session_id == session_id, LedgerEntry.kind == Movement.ADMINISTER.value
            )
            .limit(1)
        )
        is not None
    )


def record_waste(
    session: Session, *, actor: Actor, row: InfusionSession, manner: str, witness: Witness
) -> list[LedgerEntry]:
    """Close the session's chain: per lot, *administered* (derived) and *wasted* (the rest),
    the waste co-signed by a second licensed person."""
    if row.state not in WASTE_STATES:
        raise Conflict(
            f"waste is recorded once nothing more will be given (after the infusion, or for a "
            f"cancelled or missed visit), not when {row.state}"
        )
    if waste_recorded(session, row.id):
        raise Conflict(f"the waste of session {row.id} is recorded already")
    witness_id = service.witness_user(
        session, actor=actor, witness=witness, movement=Movement.WASTE
    )
    shares = shares_of(session, row)
    if not shares:
        raise InvalidInput(f"nothing was drawn for session {row.id}", loc=("session_id",))
    entries = []
    for share in shares:
        moves = (
            (Movement.ADMINISTER, share.administered_mg, None),
            (Movement.WASTE, share.waste_mg, witness_id),
        )
        for movement, mg, witness_user_id in moves:
            if movement == Movement.WASTE and mg == 0:
                continue
            amount = core.quantity_of_mg(service.core_product(share.product), mg)
            entries.append(
                service.append(
                    session,
                    actor,
                    movement,
                    share.lot,
                    core.Quantity(
                        mg=amount.mg, ml=amount.ml.quantize(LEDGER_QUANTUM, ROUND_HALF_EVEN)
                    ),
                    witness_user_id=witness_user_id,
                    session_id=row.id,
                    patient_id=row.patient_id,
                    manner=manner if movement == Movement.WASTE else None,
                )
            )
    return entries


@dataclass(frozen=True)
class Chain:
    session_id: int
    drawn_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    returned_mg: Decimal
    waste_recorded: bool
    lots: tuple[str, ...]

    @property
    def unaccounted_mg(self) -> Decimal:
        return self.drawn_mg - self.administered_mg - self.wasted_mg - self.returned_mg


def chain_of(session: Session, row: InfusionSession) -> Chain:
    """The session's reconciliation as the ledger holds it: drawn = administered + wasted +
    returned once the waste is recorded."""
    totals: dict[str, Decimal] = {}
    lot_ids: list[int] = []
    for entry in _entries(session, row.id):
        totals[entry.kind] = totals.get(entry.kind, Decimal(0)) + entry.quantity_mg
        if entry.lot_id not in lot_ids:
            lot_ids.append(entry.lot_id)
    return Chain(
        session_id=row.id,
        drawn_mg=totals.get(Movement.DRAW.value, Decimal(0)),
        administered_mg=totals.get(Movement.ADMINISTER.value, Decimal(0)),
        wasted_mg=totals.get(Movement.WASTE.value, Decimal(0)),
        returned_mg=totals.get(Movement.RETURN.value, Decimal(0)),
        waste_recorded=Movement.ADMINISTER.value in totals,
        lots=tuple(service.get_lot(session, lot_id).lot_number for lot_id in lot_ids),
    )


def sessions_with_unrecorded_waste(session: Session, *, clinic_id: int) -> list[int]:
    """Sessions whose infusion has ended, with drug drawn and no waste recorded yet."""
    drawn = select(LedgerEntry.session_id).where(
        LedgerEntry.clinic_id == clinic_id, LedgerEntry.kind == Movement.DRAW.value
    )
    closed = select(LedgerEntry.session_id).where(
        LedgerEntry.clinic_id == clinic_id, LedgerEntry.kind == Movement.ADMINISTER.value
    )
    query = (
        select(InfusionSession.id)
        .where(
            InfusionSession.clinic_id == clinic_id,
            InfusionSession.id.in_(drawn),
            InfusionSession.id.not_in(closed),
            InfusionSession.state.in_([s.value for s in WASTE_STATES]),
        )
        .order_by(InfusionSession.id)
    )
    return list(session.scalars(query))
