"""Request and response shapes for patients."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ketaclinic.patients.core import (
    HEIGHT_MAX_CM,
    HEIGHT_MIN_CM,
    US_STATE_CODES,
    WEIGHT_MAX_KG,
    WEIGHT_MIN_KG,
    Sex,
)
from ketaclinic.patients.icd10cm import UnknownCode, lookup
from ketaclinic.web.fields import ClinicDate, ClinicInstant, Exact
from ketaclinic.web.params import MAX_ID


def _known_icd_code(value: str) -> str:
    try:
        return lookup(value).code
    except UnknownCode as error:
        raise ValueError(str(error)) from None


def _clean_items(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Mrn = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$"
    ),
]
WeightKg = Annotated[
    Decimal,
    Exact(
        "kg",
        WEIGHT_MIN_KG,
        WEIGHT_MAX_KG,
        places=2,
        minimum_source="adult weight-based dosing starts there",
    ),
]
HeightCm = Annotated[Decimal, Exact("cm", HEIGHT_MIN_CM, HEIGHT_MAX_CM, places=1)]
IcdCodeStr = Annotated[str, AfterValidator(_known_icd_code)]
ItemList = Annotated[
    list[Annotated[str, StringConstraints(max_length=200)]],
    Field(max_length=50),
    AfterValidator(_clean_items),
]


def _us_state(value: str) -> str:
    code = value.strip().upper()
    if code not in US_STATE_CODES:
        raise ValueError(f"{value!r} is not a US state or territory code (two letters, e.g. OR)")
    return code


AddressLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AddressIn(BaseModel):
    """A US postal address: line 1, city, state and ZIP code are all needed, line 2 is not."""

    model_config = ConfigDict(extra="forbid")

    line1: AddressLine
    line2: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    state: Annotated[str, StringConstraints(max_length=20), AfterValidator(_us_state)]
    zip: Annotated[
        str,
        StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{5}(-[0-9]{4})?$"),
        Field(description="ZIP or ZIP+4: 12345 or 12345-6789"),
    ]


class AddressOut(BaseModel):
    line1: str
    line2: str | None
    city: str
    state: str
    zip: str


class DiagnosisIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: IcdCodeStr = Field(description="A billable ICD-10-CM code, e.g. M79.7")
    is_primary: bool = False


class PatientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mrn: Mrn
    given_name: Name
    family_name: Name
    birth_date: ClinicDate
    sex: Sex
    weight_kg: WeightKg
    weight_measured_at: ClinicInstant | None = None
    height_cm: HeightCm | None = None
    allergies: ItemList = []
    medications: ItemList = []
    address: AddressIn | None = None
    diagnoses: list[DiagnosisIn] = Field(default=[], max_length=30)


class PatientUpdate(BaseModel):
    """Only the fields sent are changed; a new weight adds to the history."""

    model_config = ConfigDict(extra="forbid")

    mrn: Mrn | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    birth_date: ClinicDate | None = None
    sex: Sex | None = None
    weight_kg: WeightKg | None = None
    weight_measured_at: ClinicInstant | None = None
    height_cm: HeightCm | None = None
    allergies: ItemList | None = None
    medications: ItemList | None = None
    address: AddressIn | None = Field(
        default=None, description="The whole postal address; null removes it."
    )
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="The version you edited; a newer one answers 409.",
    )


class DiagnosisOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    title: str
    is_primary: bool
    recorded_at: datetime


class WeightOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    weight_kg: Decimal
    measured_at: datetime


class PatientSummary(BaseModel):
    id: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    sex: Sex
    primary_diagnosis: DiagnosisOut | None


class PatientOut(PatientSummary):
    age_years: int
    weight_kg: Decimal | None
    weight_measured_at: datetime | None
    height_cm: Decimal | None
    allergies: list[str]
    medications: list[str]
    address: AddressOut | None
    diagnoses: list[DiagnosisOut]
    weights: list[WeightOut]
    version: int


class PatientPage(BaseModel):
    items: list[PatientSummary]
    total: int
    limit: int
    offset: int
