"""Pydantic models of the JSON the ``pk`` command and page read (the domain's ``schemas.py``).

Strict: a number must be a JSON number (not "70"), unknown fields are refused. Ranges (negative
doses, weights a model does not accept …) are left to the engine, whose messages name the unit.
Only the command line and the page import this module; the engine itself knows nothing of
pydantic.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import Patient
from ketaclinic.pk.population import Variability
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.targets import Target, TciLimits


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class BolusIn(_Strict):
    kind: Literal["bolus"]
    at_min: float
    mg: float


class InfusionIn(_Strict):
    kind: Literal["infusion"]
    start_min: float
    end_min: float
    mg_per_h: float


DoseIn = Annotated[BolusIn | InfusionIn, Field(discriminator="kind")]


class _PatientIn(_Strict):
    model: str
    weight_kg: float
    age_years: float | None = None
    ke0_per_min: float | None = None

    def patient(self) -> Patient:
        return Patient(self.weight_kg, self.age_years)


def schedule_of(doses: list[BolusIn | InfusionIn]) -> Schedule:
    return Schedule(
        tuple(
            Bolus(d.at_min, d.mg)
            if isinstance(d, BolusIn)
            else Infusion(d.start_min, d.end_min, d.mg_per_h)
            for d in doses
        )
    )


class SimulateIn(_PatientIn):
    doses: list[DoseIn]
    times_min: list[float] | None = None
    step_min: float | None = None
    until_min: float | None = None

    @model_validator(mode="after")
    def _one_kind_of_times(self) -> SimulateIn:
        grid = self.step_min is not None and self.until_min is not None
        if (self.times_min is None) == (not grid):
            raise ValueError('give either "times_min" or both "step_min" and "until_min"')
        return self

    def times(self) -> list[float] | UniformGrid:
        if self.times_min is not None:
            return self.times_min
        assert self.step_min is not None and self.until_min is not None
        return UniformGrid.until(self.until_min, self.step_min)


class TargetIn(_Strict):
    site: Literal["plasma", "effect"]
    ng_per_ml: float
    tolerance_fraction: float = 0.05


class LimitsIn(_Strict):
    max_pump_mg_per_h: float | None = None
    max_mg_per_h: float | None = None
    max_bolus_mg: float | None = None
    max_rate_changes: int | None = None
    min_hold_min: float | None = None
    pump_resolution_mg_per_h: float | None = None

    def limits(self, weight_kg: float) -> TciLimits:
        """The given limits over the defaults for this weight (``TciLimits.for_weight``)."""
        defaults = TciLimits.for_weight(weight_kg)
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        return TciLimits(**{**asdict(defaults), **given})


class TciIn(_PatientIn):
    target: TargetIn
    duration_min: float
    mode: Literal["pump", "manual"] = "pump"
    limits: LimitsIn = LimitsIn()
    step_min: float = 1.0

    def target_(self) -> Target:
        return Target(self.target.site, self.target.ng_per_ml, self.target.tolerance_fraction)


class CvIn(_Strict):
    v1: float | None = None
    v2: float | None = None
    v3: float | None = None
    cl: float | None = None
    q2: float | None = None
    q3: float | None = None
    ke0: float | None = None

    def variability(self) -> Variability:
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        return Variability(**given)


class PopulationIn(_PatientIn):
    doses: list[DoseIn]
    n: int
    seed: int = 0
    cv: CvIn = CvIn()
    threshold_ng_per_ml: float
    step_min: float = 10.0 / 60.0
    until_min: float
    percentile_method: Literal["auto", "exact", "histogram"] = "auto"
