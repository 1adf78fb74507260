"""Protocol and dose-calculation shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ketaclinic.patients.schemas import HeightCm, WeightKg
from ketaclinic.web.fields import Exact
from ketaclinic.web.params import MAX_ID

#: Clinic policy: a tenth of the lowest dose in the protocol library (0.1 mg/kg/h, migraine);
#: anything smaller is a typing slip, not an order.
DOSE_MIN = Decimal("0.01")
#: Above any hard limit of any dose mode (mg/kg/h, mg/kg, mg/h); the protocol's limits speak first.
DOSE_MAX = Decimal(1000)
Dose = Annotated[
    Decimal,
    Exact(
        "in the protocol's dose unit", DOSE_MIN, DOSE_MAX, places=6, minimum_source="clinic policy"
    ),
]
#: Clinic policy, as for the dose: a tenth of the smallest bolus in the library (0.1 mg/kg).
BolusMgPerKg = Annotated[
    Decimal, Exact("mg/kg", DOSE_MIN, Decimal(10), places=6, minimum_source="clinic policy")
]
#: Infusion pumps step by 0.1 mL/h, syringe pumps by 0.01 mL/h; no pump steps finer.
PumpResolution = Annotated[
    Decimal,
    Exact("mL/h", Decimal("0.01"), Decimal(10), places=2, minimum_source="the finest pump step"),
]
DurationMin = Annotated[int, Field(ge=1, le=24 * 60, description="min, 1–1440")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
LimitName = Annotated[str, StringConstraints(max_length=64)]


class ProtocolSummary(BaseModel):
    id: int
    key: str
    name: str
    version: int
    indications: list[str]


class ProtocolOut(ProtocolSummary):
    created_at: datetime
    definition: dict[str, Any]


class DoseCalculationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    protocol_id: int = Field(ge=1, le=MAX_ID, description="The protocol version")
    weight_kg: WeightKg = Field(description="Actual body weight, kg (30–300)")
    height_cm: HeightCm | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    weight_basis: Literal["actual", "ideal", "adjusted"] = "actual"
    dose: Dose | None = Field(default=None, description="In the protocol's dose unit")
    duration_min: DurationMin | None = None
    bolus_mg_per_kg: BolusMgPerKg | None = None
    override_reasons: dict[LimitName, Reason] = Field(
        default={},
        max_length=20,
        description="A reason per soft limit to go above it, by limit name",
    )
    pump_resolution_ml_per_h: PumpResolution = Decimal("0.1")


class FindingOut(BaseModel):
    kind: str
    limit: str
    limit_value: Decimal
    unit: str
    planned_value: Decimal
    override_reason: str | None
    message: str


class DosePlanOut(BaseModel):
    protocol_id: int
    protocol_key: str
    protocol_version: int
    weight_basis: str
    weight_basis_kg: Decimal
    actual_weight_kg: Decimal
    dose: Decimal
    dose_unit: str
    duration_min: int
    ordered_rate_mg_per_h: Decimal
    planned_rate_mg_per_h: Decimal
    rate_mg_per_h: Decimal
    pump_rate_ml_per_h: Decimal
    pump_resolution_ml_per_h: Decimal
    rounding_mg_per_h: Decimal
    rounding_mg: Decimal
    infusion_mg: Decimal
    infusion_ml: Decimal
    bolus_mg: Decimal
    bolus_ml: Decimal
    total_mg: Decimal
    total_ml: Decimal
    concentration_mg_per_ml: Decimal
    bag_volume_ml: Decimal
    bags_needed: int
    observation_min: int
    findings: list[FindingOut]
