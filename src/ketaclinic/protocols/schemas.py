"""Protocol and dose-calculation shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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

    protocol_id: int
    weight_kg: Decimal = Field(description="Actual body weight, kg (30–300)")
    height_cm: Decimal | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    weight_basis: Literal["actual", "ideal", "adjusted"] = "actual"
    dose: Decimal | None = Field(default=None, description="In the protocol's dose unit")
    duration_min: int | None = None
    bolus_mg_per_kg: Decimal | None = None
    override_reasons: dict[str, str] = Field(
        default={}, description="A reason per soft limit to go above it, by limit name"
    )
    pump_resolution_ml_per_h: Decimal = Decimal("0.1")


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
