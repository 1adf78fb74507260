"""Appointment-book requests and responses: chairs, opening hours, closures, policy, bookings."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ketaclinic.infusions.schemas import Reason, VersionField
from ketaclinic.scheduling import core
from ketaclinic.web.fields import ClinicDate, ClinicInstant
from ketaclinic.web.params import MAX_ID

ChairName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Room = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")


def is_clock(text: str) -> bool:
    return _CLOCK.fullmatch(text) is not None


def _clock_minutes(text: str) -> str:
    if not is_clock(text):
        raise ValueError("give a clock time HH:MM between 00:00 and 24:00, such as 08:30")
    return text


ClockTime = Annotated[str, AfterValidator(_clock_minutes)]


def minutes_of(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class ChairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChairName
    room: Room | None = None
    active: bool = True
    display_order: int | None = Field(
        default=None, ge=0, le=10_000, description="Board order; none: after the last chair"
    )


class ChairOut(BaseModel):
    id: int
    name: str
    room: str | None
    active: bool
    display_order: int


class HoursInterval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    opens: ClockTime = Field(description="Local clock time, HH:MM")
    closes: ClockTime = Field(description="Local clock time, HH:MM (24:00 for midnight)")

    def as_core(self) -> core.DailyHours:
        return core.DailyHours(self.weekday, minutes_of(self.opens), minutes_of(self.closes))


class HoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intervals: list[HoursInterval] = Field(max_length=7 * 8)


class HoursOut(BaseModel):
    timezone: str
    intervals: list[HoursInterval]
    set: bool = Field(description="False: no hours set, bookings are taken at any time")


class ClosureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_date: ClinicDate
    last_date: ClinicDate | None = Field(default=None, description="None: one day")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ClosureOut(BaseModel):
    id: int
    first_date: date
    last_date: date
    reason: str


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turnover_min: int = Field(ge=0, le=core.MAX_TURNOVER_MIN)
    max_concurrent_bookings: int | None = Field(
        default=None, ge=1, le=1000, description="None: no cap (the default)"
    )


class PolicyOut(BaseModel):
    turnover_min: int
    max_concurrent_bookings: int | None


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: ClinicInstant
    chair_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="None: same chair")
    version: int | None = VersionField


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[Reason, StringConstraints(min_length=1)]
    version: int | None = VersionField


class BookingOut(BaseModel):
    """A booking as the front desk sees it: no order, dose or charting."""

    id: int
    version: int
    patient_id: int
    protocol_id: int
    protocol: str
    course_id: int | None
    state: str
    scheduled_at: datetime
    chair_id: int
    chair: str
    chair_held_until: datetime


class FreeStartOut(BaseModel):
    chair_id: int
    chair: str
    start: datetime
