"""Patient rules that do not need a database. Pure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

ADULT_AGE_YEARS = 18  # the clinic treats adults only
WEIGHT_MIN_KG = Decimal(30)  # below this, adult weight-based dosing tables do not apply
WEIGHT_MAX_KG = Decimal(300)
HEIGHT_MIN_CM = Decimal(100)
HEIGHT_MAX_CM = Decimal(250)


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


def age_in_years(birth_date: date, on: date) -> int:
    """Completed years of age on ``on``; a 29 February birthday counts on 1 March."""
    had_birthday = (on.month, on.day) >= (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (0 if had_birthday else 1)


def birth_date_problem(birth_date: date, today: date) -> str | None:
    """Why a birth date cannot be accepted for this clinic, or None."""
    if birth_date > today:
        return "the birth date is in the future"
    if age_in_years(birth_date, today) < ADULT_AGE_YEARS:
        return f"the patient is under {ADULT_AGE_YEARS}; the clinic treats adults only"
    return None


def decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
