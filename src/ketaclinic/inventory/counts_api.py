"""Counts, discrepancies and disposals under ``/api/v1/inventory``: thin, one transaction each.

Counting and disposing handle stock (nurses and physicians, ``inventory.move``). Resolving a
discrepancy and recording the DEA notification are the registrant's side (``inventory.manage``:
physicians, and the admin acting for the registrant, who also records the registration). Witness
passwords are checked before the transaction begins (``witnesses.check_witness``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.accounts.models import User
from ketaclinic.inventory import counts, disposal
from ketaclinic.inventory.count_models import Discrepancy, Disposal, StockCount
from ketaclinic.inventory.counts_schemas import (
    AwaitingOut,
    CountIn,
    CountLineOut,
    CountOut,
    DiscrepancyOut,
    DisposalIn,
    DisposalOut,
    DisposedOut,
    Form41Out,
    Form106Out,
    NotificationIn,
    QuantityOut,
    ResolveIn,
)
from ketaclinic.inventory.witnesses import check_witness
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import RecordId

router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"], route_class=ExactJsonRoute)

Reader = Annotated[Actor, Depends(require(Permission.INVENTORY_READ))]
Handler = Annotated[Actor, Depends(require(Permission.INVENTORY_MOVE))]
Registrant = Annotated[Actor, Depends(require(Permission.INVENTORY_MANAGE))]


def _clinic(actor: Actor) -> int:
    assert actor.clinic_id is not None
    return actor.clinic_id


def _names(session: Session, *ids: int | None) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {row.id: row.username for row in rows}


# --- counts ---------------------------------------------------------------------------------


def count_out(session: Session, row: StockCount) -> CountOut:
    names = _names(session, row.by_user_id, row.witness_user_id)
    return CountOut(
        id=row.id,
        kind=row.kind,
        timing=row.timing,
        taken_at=row.taken_at,
        by=names[row.by_user_id],
        witness=names[row.witness_user_id],
        note=row.note,
        lines=[
            CountLineOut(
                id=v.line.id,
                lot_id=v.lot.id,
                lot_number=v.lot.lot_number,
                substance=v.product.substance,
                location_id=v.location.id,
                location=v.location.name,
                expected_mg=v.line.expected_mg,
                sealed_containers=v.line.sealed_containers,
                opened_ml=v.line.opened_ml,
                opened_estimated=v.line.opened_estimated,
                counted_mg=v.line.counted_mg,
                difference_mg=v.difference_mg,
                discrepancy_id=v.discrepancy.id if v.discrepancy else None,
            )
            for v in counts.count_lines(session, row.id)
        ],
    )


@router.post("/counts", response_model=CountOut, status_code=201)
def record_count(
    data: CountIn, actor: Handler, session: SessionDep, settings: SettingsDep
) -> CountOut:
    """A count by two people: expected (from the ledger, now) against counted, per lot and
    location; every difference opens a discrepancy."""
    witness = check_witness(session, settings, data.witness)
    with session.begin():
        row = counts.record_count(session, actor=actor, data=data, witness=witness)
        return count_out(session, row)


@router.get("/counts", response_model=list[CountOut])
def list_counts(actor: Reader, session: SessionDep) -> list[CountOut]:
    """The newest counts first."""
    with session.begin():
        return [count_out(session, c) for c in counts.counts(session, clinic_id=_clinic(actor))]


@router.get("/counts/{count_id}", response_model=CountOut)
def read_count(count_id: RecordId, actor: Reader, session: SessionDep) -> CountOut:
    with session.begin():
        return count_out(session, counts.get_count(session, actor=actor, count_id=count_id))


# --- discrepancies --------------------------------------------------------------------------


def discrepancy_out(session: Session, row: Discrepancy) -> DiscrepancyOut:
    seen = counts.view(session, row)
    names = _names(session, row.resolved_by_user_id, row.dea_notified_by_user_id)
    return DiscrepancyOut(
        id=row.id,
        count_id=seen.count.id,
        count_kind=seen.count.kind,
        discovered_at=seen.count.taken_at,
        lot_id=seen.at.lot.id,
        lot_number=seen.at.lot.lot_number,
        substance=seen.at.product.substance,
        location_id=seen.at.location.id,
        location=seen.at.location.name,
        expected_mg=seen.at.line.expected_mg,
        counted_mg=seen.at.line.counted_mg,
        difference_mg=row.difference_mg,
        resolution=row.resolution,
        reason=row.reason,
        resolved_by=names.get(row.resolved_by_user_id or 0),
        resolved_at=row.resolved_at,
        ledger_entry_id=row.ledger_entry_id,
        significant=row.significant,
        loss_type=row.loss_type,
        dea_notified_at=row.dea_notified_at,
        dea_notified_by=names.get(row.dea_notified_by_user_id or 0),
        dea_notification=row.dea_notification,
    )


@router.get("/discrepancies", response_model=list[DiscrepancyOut])
def list_discrepancies(
    actor: Reader, session: SessionDep, open_only: Annotated[bool, Query()] = False
) -> list[DiscrepancyOut]:
    """The newest first; ``open_only=true`` keeps those still to be resolved."""
    with session.begin():
        rows = counts.discrepancies(session, clinic_id=_clinic(actor), open_only=open_only)
        return [discrepancy_out(session, row) for row in rows]


@router.get("/discrepancies/{discrepancy_id}", response_model=DiscrepancyOut)
def read_discrepancy(
    discrepancy_id: RecordId, actor: Reader, session: SessionDep
) -> DiscrepancyOut:
    with session.begin():
        row = counts.get_discrepancy(session, actor=actor, discrepancy_id=discrepancy_id)
        return discrepancy_out(session, row)


@router.post("/discrepancies/{discrepancy_id}/resolve", response_model=DiscrepancyOut)
def resolve_discrepancy(
    discrepancy_id: RecordId,
    data: ResolveIn,
    actor: Registrant,
    session: SessionDep,
    settings: SettingsDep,
) -> DiscrepancyOut:
    """Found (no entry), documentation error (a witnessed ADJUST entry) or loss (a LOSS entry;
    flag a significant one for DEA Form 106)."""
    witness = check_witness(session, settings, data.witness) if data.witness else None
    with session.begin():
        row = counts.get_discrepancy(session, actor=actor, discrepancy_id=discrepancy_id, lock=True)
        counts.resolve(session, actor=actor, discrepancy=row, data=data, witness=witness)
        return discrepancy_out(session, row)


def form_106_out(form: counts.Form106) -> Form106Out:
    row = form.discrepancy
    return Form106Out(
        discrepancy_id=row.id,
        registrant_name=form.registrant_name,
        dea_number=form.dea_number,
        address=form.address,
        date_of_discovery=form.date_of_discovery,
        substance=form.product.substance,
        schedule=form.product.schedule,
        ndc=form.product.ndc,
        strength=counts.strength(form.product),
        lot_number=form.lot.lot_number,
        quantity=QuantityOut(
            containers=form.quantity.containers, ml=form.quantity.ml, mg=form.quantity.mg
        ),
        type_of_loss=(row.loss_type or "").replace("_", " "),
        reason=row.reason or "",
        dea_notified_at=row.dea_notified_at,
        dea_notification=row.dea_notification,
    )


@router.get("/discrepancies/{discrepancy_id}/form-106", response_model=Form106Out)
def form_106(
    discrepancy_id: RecordId, actor: Reader, session: SessionDep, settings: SettingsDep
) -> Form106Out:
    """The data of DEA Form 106 for a loss the clinic deemed significant (21 CFR 1301.76(b))."""
    with session.begin():
        row = counts.get_discrepancy(session, actor=actor, discrepancy_id=discrepancy_id)
        return form_106_out(
            counts.form_106(session, actor=actor, discrepancy=row, zone=settings.timezone)
        )


@router.post("/discrepancies/{discrepancy_id}/dea-notification", response_model=DiscrepancyOut)
def record_notification(
    discrepancy_id: RecordId, data: NotificationIn, actor: Registrant, session: SessionDep
) -> DiscrepancyOut:
    """Record that the DEA Field Division was notified; the work-list item goes away."""
    with session.begin():
        row = counts.get_discrepancy(session, actor=actor, discrepancy_id=discrepancy_id, lock=True)
        counts.record_notification(session, actor=actor, discrepancy=row, note=data.note)
        return discrepancy_out(session, row)


# --- expiry and disposal --------------------------------------------------------------------


@router.get("/awaiting-disposal", response_model=list[AwaitingOut])
def awaiting_disposal(
    actor: Reader, session: SessionDep, settings: SettingsDep
) -> list[AwaitingOut]:
    """Expired lots still on hand: they cannot be drawn and wait to be disposed of."""
    today = clock.today(settings.timezone)
    with session.begin():
        rows = disposal.awaiting_disposal(session, clinic_id=_clinic(actor), today=today)
        return [
            AwaitingOut(
                lot_id=r.lot.id,
                lot_number=r.lot.lot_number,
                substance=r.product.substance,
                expiry_date=r.lot.expiry_date,
                location_id=r.location.id,
                location=r.location.name,
                on_hand_mg=r.on_hand_mg,
                on_hand_ml=r.on_hand_ml,
            )
            for r in rows
        ]


def disposed_out(item: disposal.Disposed) -> DisposedOut:
    return DisposedOut(
        entry_id=item.entry.id,
        lot_id=item.lot.id,
        lot_number=item.lot.lot_number,
        substance=item.product.substance,
        schedule=item.product.schedule,
        ndc=item.product.ndc,
        strength=counts.strength(item.product),
        location=item.location.name,
        quantity=QuantityOut(
            containers=item.quantity.containers, ml=item.quantity.ml, mg=item.quantity.mg
        ),
    )


def disposal_out(session: Session, row: Disposal) -> DisposalOut:
    names = _names(session, row.by_user_id, row.witness_user_id, row.second_witness_user_id)
    witnesses = [row.witness_user_id, row.second_witness_user_id]
    return DisposalOut(
        id=row.id,
        method=row.method,
        at=row.at,
        by=names[row.by_user_id],
        witnesses=[names[w] for w in witnesses if w is not None],
        distributor_name=row.distributor_name,
        distributor_dea_number=row.distributor_dea_number,
        distributor_address=row.distributor_address,
        destruction_method=row.destruction_method,
        note=row.note,
        lines=[disposed_out(item) for item in disposal.disposed(session, row)],
    )


@router.post("/disposals", response_model=DisposalOut, status_code=201)
def dispose(
    data: DisposalIn, actor: Handler, session: SessionDep, settings: SettingsDep
) -> DisposalOut:
    """To a reverse distributor (its DEA number checked) or destroyed on site with two
    witnesses (DEA Form 41); one DISPOSE ledger entry per lot and location."""
    witnesses = disposal.check_witnesses(
        lambda w: check_witness(session, settings, w), data.witnesses
    )
    with session.begin():
        row = disposal.dispose(session, actor=actor, data=data, witnesses=witnesses)
        return disposal_out(session, row)


@router.get("/disposals/{disposal_id}", response_model=DisposalOut)
def read_disposal(disposal_id: RecordId, actor: Reader, session: SessionDep) -> DisposalOut:
    with session.begin():
        return disposal_out(
            session, disposal.get_disposal(session, actor=actor, disposal_id=disposal_id)
        )


@router.get("/disposals/{disposal_id}/form-41", response_model=Form41Out)
def form_41(
    disposal_id: RecordId, actor: Reader, session: SessionDep, settings: SettingsDep
) -> Form41Out:
    """The data of DEA Form 41 for stock destroyed on site."""
    with session.begin():
        row = disposal.get_disposal(session, actor=actor, disposal_id=disposal_id)
        form = disposal.form_41(session, actor=actor, disposal=row, zone=settings.timezone)
        names = _names(session, row.by_user_id, row.witness_user_id, row.second_witness_user_id)
        return Form41Out(
            disposal_id=row.id,
            registrant_name=form.registrant_name,
            dea_number=form.dea_number,
            address=form.address,
            date_of_destruction=form.date_of_destruction,
            method_of_destruction=row.destruction_method or "",
            destroyed_by=names[row.by_user_id],
            witnesses=[names[w] for w in (row.witness_user_id, row.second_witness_user_id) if w],
            items=[disposed_out(item) for item in form.items],
        )
