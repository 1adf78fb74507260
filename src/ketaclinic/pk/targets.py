"""What a target-controlled schedule aims at, the limits it keeps to, and what a planner returns."""

from __future__ import annotations

from dataclasses import dataclass

from ketaclinic.pk import _checks
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.schedule import Schedule

#: A TCI pump's update interval (min): 10 s, as in the issue and in common TCI pumps.
UPDATE_INTERVAL_MIN = 10.0 / 60.0
MAX_DURATION_MIN = 24 * 60.0
#: Protocol defaults from the ASRA/AAPM/ASA chronic-pain consensus (Cohen 2018) as digested in
#: clinical reference §1b: bolus "up to 0.35 mg/kg", infusion "0.5 to 2 mg/kg per hour".
DEFAULT_MAX_BOLUS_MG_PER_KG = 0.35
DEFAULT_MAX_MG_PER_KG_PER_H = 2.0
#: Engineering default, not from the literature: a 1200 mL/h pump with a 1 mg/mL dilution.
DEFAULT_MAX_PUMP_MG_PER_H = 1200.0
#: Engineering default, not from the literature: syringe pumps are programmed in steps of 0.1 mL/h,
#: which is 0.1 mg/h at the same 1 mg/mL dilution. A rate below it is not a rate a pump can run.
DEFAULT_PUMP_RESOLUTION_MG_PER_H = 0.1
DEFAULT_MAX_RATE_CHANGES = 4
DEFAULT_MIN_HOLD_MIN = 15.0
SITES = ("plasma", "effect")


@dataclass(frozen=True)
class Target:
    """Concentration to reach (ng/mL) at ``site`` ("plasma" or "effect"); ``tolerance_fraction``
    of it is what "reached" and "held" allow."""

    site: str
    ng_per_ml: float
    tolerance_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.site not in SITES:
            raise PkInputError("site", f"site must be 'plasma' or 'effect', got {self.site!r}")
        level = _checks.within("ng_per_ml", self.ng_per_ml, "ng/mL", 1e-3, 10_000.0)
        tol = _checks.within("tolerance_fraction", self.tolerance_fraction, "(fraction)", 1e-4, 0.5)
        object.__setattr__(self, "ng_per_ml", level)
        object.__setattr__(self, "tolerance_fraction", tol)


@dataclass(frozen=True)
class TciLimits:
    """Pump maximum (mg/h), protocol maximum rate (mg/h), maximum bolus (mg), for manual
    schedules the most rate changes and the shortest time each rate is held (min), and the
    smallest step in which the TCI pump's rate can be set (mg/h)."""

    max_pump_mg_per_h: float
    max_mg_per_h: float
    max_bolus_mg: float
    max_rate_changes: int = DEFAULT_MAX_RATE_CHANGES
    min_hold_min: float = DEFAULT_MIN_HOLD_MIN
    pump_resolution_mg_per_h: float = DEFAULT_PUMP_RESOLUTION_MG_PER_H

    def __post_init__(self) -> None:
        pump = _checks.within("max_pump_mg_per_h", self.max_pump_mg_per_h, "mg/h", 0.0, 1e5)
        rate = _checks.within("max_mg_per_h", self.max_mg_per_h, "mg/h", 0.0, 1e5)
        bolus = _checks.within("max_bolus_mg", self.max_bolus_mg, "mg", 0.0, 1e4)
        changes = _checks.whole("max_rate_changes", self.max_rate_changes, 0, 20)
        hold = _checks.within("min_hold_min", self.min_hold_min, "min", 1.0, MAX_DURATION_MIN)
        resolution = _checks.within(
            "pump_resolution_mg_per_h", self.pump_resolution_mg_per_h, "mg/h", 1e-4, 100.0
        )
        for name, value in (
            ("max_pump_mg_per_h", pump),
            ("max_mg_per_h", rate),
            ("max_bolus_mg", bolus),
            ("pump_resolution_mg_per_h", resolution),
        ):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "max_rate_changes", changes)
        object.__setattr__(self, "min_hold_min", hold)

    @classmethod
    def for_weight(cls, weight_kg: float) -> TciLimits:
        """The defaults for a patient of ``weight_kg`` (see the module constants' sources)."""
        return cls(
            max_pump_mg_per_h=DEFAULT_MAX_PUMP_MG_PER_H,
            max_mg_per_h=DEFAULT_MAX_MG_PER_KG_PER_H * weight_kg,
            max_bolus_mg=DEFAULT_MAX_BOLUS_MG_PER_KG * weight_kg,
        )


@dataclass(frozen=True)
class Plan:
    """A planner's schedule and whether a limit cut what it wanted, with sentences saying so."""

    schedule: Schedule
    rate_limited: bool
    bolus_limited: bool
    notes: tuple[str, ...]
