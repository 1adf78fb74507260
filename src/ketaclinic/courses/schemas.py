"""Course requests and responses."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ketaclinic.web.params import MAX_ID

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class CourseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: int = Field(ge=1, le=MAX_ID)
    protocol_id: int = Field(
        ge=1, le=MAX_ID, description="The protocol version every session of the course will use"
    )


class CourseEndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why the course ends (completed, stopped, moved…)")
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="The course version you last saw; a stale one answers 409",
    )


class CourseSessionOut(BaseModel):
    """One session of the course. ``date`` is the discharge day of a completed session, else the
    day it was booked for (clinic time). ``reason`` is why it was aborted or cancelled."""

    id: int
    state: str
    scheduled_at: dt.datetime
    date: dt.date
    counts_toward_series: bool
    reason: str | None
    stopped_early: str | None = Field(
        default=None, description="'stopped early: 1.3 of 20.5 mg given (reason)' when it was"
    )


class NextSessionOut(BaseModel):
    kind: str = Field(description="series, booked, maintenance or none")
    earliest_date: dt.date | None
    text: str = Field(description="A suggestion; the physician decides")


class QuestionnaireScheduleIn(BaseModel):
    """The patient's portal questionnaires during this course, ``{instrument: every_days}``
    (nrs, phq9, gad7, peg; 1–28 days); ``null`` goes back to the clinic default."""

    model_config = ConfigDict(extra="forbid")

    every_days: dict[str, int] | None = Field(
        description='e.g. {"nrs": 1, "peg": 7}; an instrument left out is not asked'
    )
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="The course version you last saw; a stale one answers 409",
    )


class CourseOut(BaseModel):
    id: int
    version: int
    patient_id: int
    protocol_id: int = Field(description="The protocol version of the course")
    protocol_key: str
    protocol_name: str
    protocol_version: int
    started_at: dt.datetime
    created_by_user_id: int
    ended_at: dt.datetime | None
    end_reason: str | None
    phase: str = Field(description="stabilisation, maintenance or ended")
    series_sessions: int
    series_spacing_days: int
    series_completed: int
    series_progress: str = Field(description='As said on the ward: "3 of 6"')
    maintenance_completed: int
    aborted: int
    maintenance_rule: str
    next_session: NextSessionOut
    sessions: list[CourseSessionOut]
    questionnaire_schedule: dict[str, int] | None = Field(
        default=None, description="Portal questionnaires, {instrument: every_days}; null: default"
    )
