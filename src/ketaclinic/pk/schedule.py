"""Dosing schedules: boluses and constant-rate infusions, and their piecewise-constant input.

Times are minutes from the start of the session (t = 0, drug-free body). Doses are mg, infusion
rates mg/h (the unit a pump is programmed in). Infusions may overlap; their rates add.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import _checks
from ketaclinic.pk.errors import PkInputError

FloatArray = npt.NDArray[np.float64]

#: Longest time the engine accepts (min): 70 days, far beyond any clinic session, small enough that
#: ``exp(-rate * t)`` arguments stay ordinary numbers.
MAX_TIME_MIN = 100_000.0


def _time(name: str, value: object) -> float:
    return _checks.within(name, value, "min", 0.0, MAX_TIME_MIN)


@dataclass(frozen=True)
class Bolus:
    """A dose given at once: ``mg`` (mg) at ``at_min`` (min)."""

    at_min: float
    mg: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "at_min", _time("at_min", self.at_min))
        object.__setattr__(self, "mg", _checks.non_negative("mg", self.mg, "mg"))

    def as_dict(self) -> dict[str, object]:
        return {"kind": "bolus", "at_min": self.at_min, "mg": self.mg}


@dataclass(frozen=True)
class Infusion:
    """A constant-rate infusion: ``mg_per_h`` (mg/h) from ``start_min`` up to ``end_min`` (min)."""

    start_min: float
    end_min: float
    mg_per_h: float

    def __post_init__(self) -> None:
        start = _time("start_min", self.start_min)
        end = _time("end_min", self.end_min)
        if end <= start:
            raise PkInputError(
                "end_min", f"end_min ({end:g} min) must be later than start_min ({start:g} min)"
            )
        object.__setattr__(self, "start_min", start)
        object.__setattr__(self, "end_min", end)
        object.__setattr__(
            self, "mg_per_h", _checks.non_negative("mg_per_h", self.mg_per_h, "mg/h")
        )

    @property
    def mg(self) -> float:
        """Total amount the infusion delivers (mg)."""
        return self.mg_per_h * (self.end_min - self.start_min) / 60.0

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": "infusion",
            "start_min": self.start_min,
            "end_min": self.end_min,
            "mg_per_h": self.mg_per_h,
        }


Dose = Bolus | Infusion


@dataclass(frozen=True)
class Piecewise:
    """The schedule as the engine sees it: K pieces of constant input.

    ``starts_min`` (K,) strictly increasing from 0; piece k runs from ``starts_min[k]`` up to the
    next start (the last piece never ends). ``rate_mg_per_min`` (K,) is the summed infusion rate
    on the piece; ``bolus_mg`` (K,) is the amount given at the piece's start.
    """

    starts_min: FloatArray
    rate_mg_per_min: FloatArray
    bolus_mg: FloatArray


@dataclass(frozen=True)
class Schedule:
    """Any mix of boluses and infusions (overlaps allowed), validated at construction."""

    doses: tuple[Dose, ...] = ()

    def __post_init__(self) -> None:
        doses = tuple(self.doses)
        for index, dose in enumerate(doses):
            if not isinstance(dose, Bolus | Infusion):
                raise PkInputError(f"doses[{index}]", f"doses[{index}] must be a Bolus or Infusion")
        object.__setattr__(self, "doses", doses)

    @classmethod
    def of(cls, doses: Iterable[Dose]) -> Schedule:
        return cls(tuple(doses))

    def __add__(self, other: Schedule) -> Schedule:
        """Both schedules given together (the basis of the superposition property)."""
        return Schedule(self.doses + other.doses)

    @property
    def boluses(self) -> tuple[Bolus, ...]:
        return tuple(d for d in self.doses if isinstance(d, Bolus))

    @property
    def infusions(self) -> tuple[Infusion, ...]:
        return tuple(d for d in self.doses if isinstance(d, Infusion))

    @property
    def total_mg(self) -> float:
        return sum(d.mg for d in self.doses)

    def piecewise(self) -> Piecewise:
        """Split time at every dose event into pieces of constant input rate."""
        boluses, infusions = self.boluses, self.infusions
        starts = np.array([i.start_min for i in infusions], dtype=np.float64)
        ends = np.array([i.end_min for i in infusions], dtype=np.float64)
        rates = np.array([i.mg_per_h / 60.0 for i in infusions], dtype=np.float64)
        bolus_at = np.array([b.at_min for b in boluses], dtype=np.float64)
        bolus_mg = np.array([b.mg for b in boluses], dtype=np.float64)
        breaks = np.unique(np.concatenate(([0.0], starts, ends, bolus_at)))
        n = breaks.size
        first, last = np.searchsorted(breaks, starts), np.searchsorted(breaks, ends)
        rate_steps = np.zeros(n + 1)
        np.add.at(rate_steps, first, rates)
        np.add.at(rate_steps, last, -rates)
        # Integer coverage is exact, so a piece no infusion covers gets exactly 0 rather than the
        # rounding residue that the running float sum leaves after +r and -r.
        cover_steps = np.zeros(n + 1, dtype=np.int64)
        np.add.at(cover_steps, first, 1)
        np.add.at(cover_steps, last, -1)
        rate = np.where(np.cumsum(cover_steps)[:n] > 0, np.cumsum(rate_steps)[:n], 0.0)
        bolus = np.zeros(n)
        np.add.at(bolus, np.searchsorted(breaks, bolus_at), bolus_mg)
        # Every rate is ≥ 0, so a negative sum can only be rounding residue (~-1e-16 × rate).
        return Piecewise(breaks, np.maximum(rate, 0.0), bolus)

    def given_mg(self, times_min: FloatArray) -> FloatArray:
        """Cumulative amount given by each time (mg), a bolus at t counted at t. Shape of input."""
        times = np.asarray(times_min, dtype=np.float64)
        total = np.zeros_like(times)
        for bolus in self.boluses:
            total += np.where(times >= bolus.at_min, bolus.mg, 0.0)
        for infusion in self.infusions:
            elapsed = np.clip(times, infusion.start_min, infusion.end_min) - infusion.start_min
            total += infusion.mg_per_h / 60.0 * elapsed
        return total

    def as_dicts(self) -> list[dict[str, object]]:
        """The doses in the JSON form the command line reads and writes."""
        return [d.as_dict() for d in self.doses]
