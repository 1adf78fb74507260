"""Times at which concentrations are wanted: any list, or an evenly spaced grid.

An evenly spaced grid lets the engine use the fast path (``engine.evaluate_uniform_into``): on
it, ``exp(-rate * (t0 + (b*B + r) * step))`` factors into a per-block and a per-offset exponential,
so the curves become small matrix products written straight into the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import _checks
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.schedule import MAX_TIME_MIN

FloatArray = npt.NDArray[np.float64]

#: Most time points one request may ask for (a 1-s grid over ~70 h); bounds memory per patient.
MAX_POINTS = 250_001


@dataclass(frozen=True)
class UniformGrid:
    """``count`` times ``start_min + i * step_min`` (min), i = 0 … count − 1."""

    start_min: float
    step_min: float
    count: int

    def __post_init__(self) -> None:
        start = _checks.within("start_min", self.start_min, "min", 0.0, MAX_TIME_MIN)
        step = _checks.positive("step_min", self.step_min, "min")
        count = _checks.whole("count", self.count, 1, MAX_POINTS)
        if start + step * (count - 1) > MAX_TIME_MIN:
            raise PkInputError("step_min", f"the grid must end by {MAX_TIME_MIN:g} min")
        object.__setattr__(self, "start_min", start)
        object.__setattr__(self, "step_min", step)
        object.__setattr__(self, "count", count)

    @classmethod
    def until(cls, until_min: float, step_min: float, start_min: float = 0.0) -> UniformGrid:
        """Times from ``start_min`` every ``step_min`` up to and including ``until_min`` (min)."""
        start = _checks.within("start_min", start_min, "min", 0.0, MAX_TIME_MIN)
        until = _checks.within("until_min", until_min, "min", start, MAX_TIME_MIN)
        step = _checks.positive("step_min", step_min, "min")
        # The small allowance keeps e.g. until=300, step=1/6 at 1801 points despite rounding.
        steps = math.floor((until - start) / step * (1 + 1e-12) + 1e-9)
        if steps + 1 > MAX_POINTS:
            raise PkInputError("step_min", f"the grid would have more than {MAX_POINTS} points")
        return cls(start, step, steps + 1)

    def times(self) -> FloatArray:
        """The times (min), shape (count,)."""
        return self.start_min + self.step_min * np.arange(self.count, dtype=np.float64)


def checked_times(times_min: npt.ArrayLike) -> FloatArray:
    """Validate any 1-D list of times (min): finite, within 0 … MAX_TIME_MIN, at most MAX_POINTS."""
    try:
        times = np.asarray(times_min, dtype=np.float64)
    except (TypeError, ValueError):
        raise PkInputError("times_min", "times_min must be a list of numbers (min)") from None
    if times.ndim != 1 or times.size == 0:
        raise PkInputError("times_min", "times_min must be a non-empty list of times (min)")
    if times.size > MAX_POINTS:
        raise PkInputError("times_min", f"times_min may hold at most {MAX_POINTS} times")
    if not np.all(np.isfinite(times)):
        raise PkInputError("times_min", "times_min must be finite numbers (min)")
    if times.min() < 0 or times.max() > MAX_TIME_MIN:
        raise PkInputError("times_min", f"times_min must lie between 0 and {MAX_TIME_MIN:g} min")
    return times
