"""Entry checks shared by the PK modules: each names the parameter and its unit in its message."""

from __future__ import annotations

import math
import numbers

from ketaclinic.pk.errors import PkInputError


def finite(name: str, value: object, unit: str) -> float:
    """Return ``value`` as a float, refusing non-numbers, booleans, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PkInputError(name, f"{name} must be a number ({unit}), got {value!r}")
    number = float(value)  # numbers.Real covers NumPy scalars too
    if not math.isfinite(number):
        raise PkInputError(name, f"{name} must be a finite number ({unit}), got {value!r}")
    return number


def non_negative(name: str, value: object, unit: str) -> float:
    number = finite(name, value, unit)
    if number < 0:
        raise PkInputError(name, f"{name} must not be negative ({unit}), got {number:g}")
    return number


def positive(name: str, value: object, unit: str) -> float:
    number = finite(name, value, unit)
    if number <= 0:
        raise PkInputError(name, f"{name} must be greater than 0 ({unit}), got {number:g}")
    return number


def within(name: str, value: object, unit: str, low: float, high: float) -> float:
    number = finite(name, value, unit)
    if not low <= number <= high:
        raise PkInputError(
            name, f"{name} must be between {low:g} and {high:g} {unit}, got {number:g}"
        )
    return number


def whole(name: str, value: object, low: int, high: int) -> int:
    """An integer count (``bool`` refused) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise PkInputError(name, f"{name} must be a whole number, got {value!r}")
    count = int(value)
    if not low <= count <= high:
        raise PkInputError(name, f"{name} must be between {low} and {high}, got {count}")
    return count
