"""Screening requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ketaclinic.vitals.core import problem


def _vital(name: str) -> AfterValidator:
    def check(value: int) -> int:
        reason = problem(name, value)
        if reason:
            raise ValueError(reason)
        return value

    return AfterValidator(check)


Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class BaselineQuestionnaire(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: str
    answers: list[int | None] = Field(max_length=20)


class ScreeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indication_id: str | None = Field(default=None, description="The indication being treated")
    treatments_failed: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default=[], max_length=30
    )
    systolic_mmhg: Annotated[int, _vital("systolic_mmhg")]
    diastolic_mmhg: Annotated[int, _vital("diastolic_mmhg")]
    heart_rate_per_min: Annotated[int, _vital("heart_rate_per_min")]
    spo2_percent: Annotated[int, _vital("spo2_percent")]
    resp_rate_per_min: Annotated[int, _vital("resp_rate_per_min")]
    contraindications_present: list[str] = Field(default=[], max_length=20)
    overrides: dict[str, Reason] = Field(
        default={}, description="A written reason for each relative contraindication"
    )
    notes: Annotated[str, StringConstraints(max_length=4000)] | None = None
    baseline_questionnaires: list[BaselineQuestionnaire] = Field(
        default=[], max_length=5, description="Scored and stored with context 'baseline'"
    )


class FindingOut(BaseModel):
    id: str
    label: str
    severity: str
    source: str
    override_reason: str | None


class MatchOut(BaseModel):
    code: str
    indication_id: str
    name: str
    evidence: str
    grade: str | None
    benefit: str
    source: str


class ScreeningOut(BaseModel):
    id: int
    patient_id: int
    outcome: str
    indication_id: str | None
    matched_indications: list[MatchOut]
    findings: list[FindingOut]
    treatments_failed: list[str]
    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate_per_min: int
    spo2_percent: int
    resp_rate_per_min: int
    notes: str | None
    signed_by_user_id: int
    signed_at: datetime
    baseline_measurement_ids: list[int] = []
