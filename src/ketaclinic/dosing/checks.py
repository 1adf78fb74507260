"""Entry checks for dosing numbers: each refusal names the field and its unit. Pure.

Every number that enters a dose is a ``Decimal`` (or an int) of bounded size and places, so all
arithmetic in ``DOSE_CONTEXT`` stays exact; floats are refused at the door.
"""

from __future__ import annotations

from decimal import (
    ROUND_DOWN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

from ketaclinic.errors import InvalidInput
from ketaclinic.patients.core import decimal_places

#: All dosing arithmetic runs in this context, whatever the caller's thread context is. A quotient
#: that does not terminate (e.g. 54.7 mg/h × 40 min / 60) is cut at 28 significant digits toward
#: zero, so no number this package reports is above the exact one.
DOSE_CONTEXT = Context(
    prec=28, rounding=ROUND_DOWN, traps=[InvalidOperation, DivisionByZero, Overflow]
)

#: Enough for any dose a clinician types (0.125 mg/kg/h) while keeping every product exact.
MAX_DECIMAL_PLACES = 6
MAX_MAGNITUDE = Decimal(1_000_000)


def require_decimal(name: str, value: object, unit: str) -> Decimal:
    """``value`` as a finite Decimal of at most 6 decimal places and below a million, so every
    product stays exact in 28 digits. Floats are refused: their binary rounding
    (0.1 → 0.1000000000000000055…) would enter the record."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidInput(
            f"{name} must be a Decimal or an int in {unit}, got {type(value).__name__} {value!r}",
            loc=(name,),
        )
    number = Decimal(value)
    if not number.is_finite() or abs(number) >= MAX_MAGNITUDE:
        raise InvalidInput(
            f"{name} must be a finite number below {MAX_MAGNITUDE} {unit}, got {value}",
            loc=(name,),
        )
    with localcontext(DOSE_CONTEXT):
        places = decimal_places(number.normalize())
    if places > MAX_DECIMAL_PLACES:
        raise InvalidInput(
            f"{name} must have at most {MAX_DECIMAL_PLACES} decimal places ({unit}), got {value}",
            loc=(name,),
        )
    return number


def require_positive(name: str, value: object, unit: str) -> Decimal:
    number = require_decimal(name, value, unit)
    if number <= 0:
        raise InvalidInput(f"{name} must be greater than 0 {unit}, got {number}", loc=(name,))
    return number


def require_whole(name: str, value: object, unit: str, low: int, high: int | None = None) -> int:
    """A whole count (``bool`` refused) of at least ``low`` and, if given, at most ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number of {unit}, got {value!r}", loc=(name,))
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise InvalidInput(f"{name} must be at least {low}{upper} {unit}, got {value}", loc=(name,))
    return value


def require_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be non-blank text", loc=(name,))
    return value.strip()
