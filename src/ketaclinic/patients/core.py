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

#: Two-letter codes of the US states, the District of Columbia, the territories, the
#: freely associated states and the military "states" (USPS Publication 28, Appendix B). A
#: patient's postal address carries one.
# fmt: off
US_STATE_CODES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL",
    "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE",
    "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
    "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI",
    "FM", "MH", "PW", "AA", "AE", "AP",
})
# fmt: on


def postal_address_lines(
    line1: str | None, line2: str | None, city: str | None, state: str | None, zip_code: str | None
) -> str | None:
    """A postal address on one line, as a record prints it, or None when none is on file."""
    if not line1:
        return None
    street = ", ".join(part for part in (line1, line2) if part)
    return f"{street}, {city}, {state} {zip_code}"


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
