"""Controlled-substance requests and answers (JSON API and the pages' forms alike)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ketaclinic.inventory.core import Schedule
from ketaclinic.web.fields import ClinicDate, Exact
from ketaclinic.web.params import MAX_ID

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
#: Quantities keep at most 9 decimals (the ledger's exact unit) and stay human-sized.
Millilitres = Annotated[Decimal, Exact("mL", Decimal("0.001"), Decimal(10_000), places=3)]
Containers = Annotated[int, Field(ge=1, le=10_000)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WitnessIn(Strict):
    """The second person signs with their own username and password, on the same device."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class RegistrationIn(Strict):
    registrant_name: ShortText
    dea_number: Annotated[str, Field(min_length=1, max_length=20)]
    schedules: Annotated[list[Schedule], Field(min_length=1, max_length=4)]
    address: LongText
    expires_date: ClinicDate


class RegistrationOut(BaseModel):
    id: int
    registrant_name: str
    dea_number: str
    schedules: list[str]
    address: str
    expires_date: date
    expired: bool


class ProductIn(Strict):
    substance: Annotated[str, Field(min_length=1, max_length=40)]
    schedule: Schedule
    form: Annotated[str, Field(min_length=1, max_length=60)]
    concentration_mg_per_ml: Annotated[
        Decimal, Exact("mg/mL", Decimal("0.001"), Decimal(1000), places=3)
    ]
    container_ml: Annotated[Decimal, Exact("mL", Decimal("0.1"), Decimal(1000), places=2)]
    ndc: Annotated[str, Field(min_length=1, max_length=20)]
    manufacturer: Annotated[str, Field(min_length=1, max_length=120)]


class ProductOut(BaseModel):
    id: int
    substance: str
    schedule: str
    form: str
    concentration_mg_per_ml: Decimal
    container_ml: Decimal
    container_mg: Decimal
    ndc: str
    ndc_display: str
    manufacturer: str


class LocationIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]


class LocationOut(BaseModel):
    id: int
    name: str


class ReceiptLotIn(Strict):
    product_id: Id
    lot_number: Annotated[str, Field(min_length=1, max_length=40)]
    expiry_date: ClinicDate
    containers: Containers


class ReceiptIn(Strict):
    supplier_name: ShortText
    supplier_address: LongText
    supplier_dea_number: Annotated[str, Field(min_length=1, max_length=20)]
    invoice_number: Annotated[str, Field(min_length=1, max_length=80)]
    received_date: ClinicDate
    location_id: Id
    lots: Annotated[list[ReceiptLotIn], Field(min_length=1, max_length=50)]


class ReceiptConfirmIn(Strict):
    """The second person confirms the count against the invoice, signed in as themselves."""


class ReceiptReverseIn(Strict):
    reason: LongText
    witness: WitnessIn


class ReceiptLineOut(BaseModel):
    lot_id: int
    product_id: int
    lot_number: str
    expiry_date: date
    containers: int


class ReceiptOut(BaseModel):
    id: int
    supplier_name: str
    supplier_dea_number: str
    invoice_number: str
    received_date: date
    location_id: int
    entered_by: str
    confirmed_by: str | None
    confirmed_at: datetime | None
    reversed: bool
    lines: list[ReceiptLineOut]


class AmountIn(Strict):
    """Whole containers or a measured volume: exactly one."""

    containers: Containers | None = None
    volume_ml: Millilitres | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> AmountIn:
        if (self.containers is None) == (self.volume_ml is None):
            raise ValueError("give either containers or volume_ml, not both")
        return self


class TransferIn(AmountIn):
    lot_id: Id
    from_location_id: Id
    to_location_id: Id
    witness: WitnessIn


class DrawIn(AmountIn):
    lot_id: Id
    location_id: Id


class ReturnIn(Strict):
    """Unopened containers drawn for a session go back to a locked location, witnessed."""

    lot_id: Id
    location_id: Id
    containers: Containers
    witness: WitnessIn


class WasteIn(Strict):
    manner: Annotated[str, Field(min_length=1, max_length=200)]
    witness: WitnessIn


class EntryOut(BaseModel):
    id: int
    kind: str
    at: datetime
    by: str
    witness: str | None
    product_id: int
    lot_id: int
    lot_number: str
    location_id: int | None
    session_id: int | None
    patient_id: int | None
    quantity_mg: Decimal
    volume_ml: Decimal
    containers: int | None
    reason: str | None
    manner: str | None


class BalanceOut(BaseModel):
    product_id: int
    substance: str
    lot_id: int
    lot_number: str
    expiry_date: date
    expiry: str
    location_id: int
    location: str
    on_hand_mg: Decimal
    on_hand_ml: Decimal
    full_containers: int


class SessionChainOut(BaseModel):
    session_id: int
    drawn_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    returned_mg: Decimal
    unaccounted_mg: Decimal
    waste_recorded: bool
    lots: list[str]
