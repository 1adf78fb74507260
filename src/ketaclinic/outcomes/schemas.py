"""Measurement requests and responses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from ketaclinic.web.fields import ClinicInstant


class Context(StrEnum):
    BASELINE = "baseline"
    PRE = "pre"
    POST = "post"
    FOLLOW_UP = "follow_up"
    PORTAL = "portal"


class MeasurementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: str = Field(description="nrs, peg, phq9, gad7 or bpi_sf")
    answers: list[int | None] = Field(max_length=20, description="One per item; null = unanswered")
    context: Context
    measured_at: ClinicInstant | None = None


class ScoreOut(BaseModel):
    name: str
    exact: str
    rounded: str


class MeasurementOut(BaseModel):
    id: int
    patient_id: int
    instrument: str
    context: Context
    session_id: int | None = None
    answers: list[int | None]
    scores: list[ScoreOut]
    band: str | None
    flags: list[str]
    measured_at: datetime
    flag_acknowledged_at: datetime | None
