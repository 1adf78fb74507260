"""Requests and answers of counts, discrepancies and disposals (JSON API and pages alike)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from ketaclinic.inventory.counts_core import (
    CountKind,
    CountTiming,
    DisposalMethod,
    LossType,
    Resolution,
)
from ketaclinic.inventory.schemas import (
    Containers,
    Id,
    LongText,
    Millilitres,
    ShortText,
    Strict,
    WitnessIn,
)
from ketaclinic.web.fields import Exact

#: An opened container's volume: 0 when none is open (at most 9 decimals, like the ledger).
OpenedMillilitres = Annotated[Decimal, Exact("mL", Decimal(0), Decimal(10_000), places=3)]
SealedContainers = Annotated[int, Field(ge=0, le=10_000)]


class CountLineIn(Strict):
    lot_id: Id
    location_id: Id
    sealed_containers: SealedContainers
    opened_ml: OpenedMillilitres = Decimal(0)
    opened_estimated: bool = False


class CountIn(Strict):
    kind: CountKind
    timing: CountTiming
    lines: Annotated[list[CountLineIn], Field(min_length=1, max_length=200)]
    witness: WitnessIn
    note: Annotated[str | None, Field(max_length=2000)] = None


class CountLineOut(BaseModel):
    id: int
    lot_id: int
    lot_number: str
    substance: str
    location_id: int
    location: str
    expected_mg: Decimal
    sealed_containers: int
    opened_ml: Decimal
    opened_estimated: bool
    counted_mg: Decimal
    difference_mg: Decimal
    discrepancy_id: int | None


class CountOut(BaseModel):
    id: int
    kind: str
    timing: str
    taken_at: datetime
    by: str
    witness: str
    note: str | None
    lines: list[CountLineOut]


class ResolveIn(Strict):
    resolution: Resolution
    reason: LongText
    significant: bool = False
    loss_type: LossType | None = None
    #: A documentation error writes an ADJUST entry, which a second licensed person witnesses.
    witness: WitnessIn | None = None


class NotificationIn(Strict):
    """How the DEA Field Division was told (in writing, within one business day: 1301.76(b))."""

    note: LongText


class DiscrepancyOut(BaseModel):
    id: int
    count_id: int
    count_kind: str
    discovered_at: datetime
    lot_id: int
    lot_number: str
    substance: str
    location_id: int
    location: str
    expected_mg: Decimal
    counted_mg: Decimal
    difference_mg: Decimal
    resolution: str | None
    reason: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    ledger_entry_id: int | None
    significant: bool
    loss_type: str | None
    dea_notified_at: datetime | None
    dea_notified_by: str | None
    dea_notification: str | None


class QuantityOut(BaseModel):
    containers: int
    ml: Decimal
    mg: Decimal


class Form106Out(BaseModel):
    """The data of DEA Form 106 (theft or loss of controlled substances): the form itself is
    filed on the DEA's website; this is what it asks for."""

    discrepancy_id: int
    registrant_name: str | None
    dea_number: str | None
    address: str | None
    date_of_discovery: date
    substance: str
    schedule: str
    ndc: str
    strength: str
    lot_number: str
    quantity: QuantityOut
    type_of_loss: str
    reason: str
    dea_notified_at: datetime | None
    dea_notification: str | None


class DistributorIn(Strict):
    name: ShortText
    dea_number: Annotated[str, Field(min_length=1, max_length=20)]
    address: Annotated[str | None, Field(max_length=2000)] = None


class DisposalLineIn(Strict):
    """A lot at a location; everything on hand there unless containers or a volume is given."""

    lot_id: Id
    location_id: Id
    containers: Containers | None = None
    volume_ml: Millilitres | None = None

    @model_validator(mode="after")
    def _at_most_one_amount(self) -> DisposalLineIn:
        if self.containers is not None and self.volume_ml is not None:
            raise ValueError("give containers or volume_ml, not both")
        return self


class DisposalIn(Strict):
    method: DisposalMethod
    lines: Annotated[list[DisposalLineIn], Field(min_length=1, max_length=100)]
    distributor: DistributorIn | None = None
    destruction_method: Annotated[str | None, Field(min_length=1, max_length=500)] = None
    witnesses: Annotated[list[WitnessIn], Field(min_length=1, max_length=2)]
    note: Annotated[str | None, Field(max_length=2000)] = None


class DisposedOut(BaseModel):
    entry_id: int
    lot_id: int
    lot_number: str
    substance: str
    schedule: str
    ndc: str
    strength: str
    location: str
    quantity: QuantityOut


class DisposalOut(BaseModel):
    id: int
    method: str
    at: datetime
    by: str
    witnesses: list[str]
    distributor_name: str | None
    distributor_dea_number: str | None
    distributor_address: str | None
    destruction_method: str | None
    note: str | None
    lines: list[DisposedOut]


class Form41Out(BaseModel):
    """The data of DEA Form 41 (registrant record of controlled substances destroyed)."""

    disposal_id: int
    registrant_name: str | None
    dea_number: str | None
    address: str | None
    date_of_destruction: date
    method_of_destruction: str
    destroyed_by: str
    witnesses: list[str]
    items: list[DisposedOut]


class AwaitingOut(BaseModel):
    lot_id: int
    lot_number: str
    substance: str
    expiry_date: date
    location_id: int
    location: str
    on_hand_mg: Decimal
    on_hand_ml: Decimal
