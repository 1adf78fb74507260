"""Target-controlled schedules: reach a plasma or effect-site concentration and hold it.

Two forms, chosen from a dispatch table by ``mode``:

* ``"pump"``: a rate for every 10-s interval, as a TCI pump runs, each rounded down to the pump's
  resolution (``TciLimits.pump_resolution_mg_per_h``). Plasma targeting sets each rate so that
  plasma is at target at the end of the interval (Bailey & Shafer's approach). Effect-site
  targeting follows STANPUMP (Shafer & Gregg 1992, J Pharmacokinet Biopharm 20:147): load with the
  largest rates that keep the effect-site peak at or below the target (plasma overshoots just
  enough), stop until plasma has come down to meet the effect site at the target, then hold plasma
  at the target (see ``pump``). opentiva's "revised" method (after Van Poucke et al., IEEE
  document 1344189, as opentiva's user guide cites it) instead caps the plasma overshoot at a
  chosen multiple of the target, at the cost of a slower approach; we do not follow it.
* ``"manual"``: a loading bolus and at most N rate changes, each held at least M minutes, that a
  nurse can program on a plain pump. Bolus and rates are the bounded least-squares fit of exact unit
  responses to the target on a 10-s grid; the change times are the best of a small family (even or
  widening gaps).

Limits (``TciLimits``): no rate above ``max_pump_mg_per_h``; rates above the protocol's
``max_mg_per_h`` count as loading, and the drug given above that rate may not exceed
``max_bolus_mg``. When a limit cuts a wanted rate, the result says so, and whether and when the
target was reached and held, and by how much it fell short.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import _checks
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.manual import plan_manual
from ketaclinic.pk.models import Patient, PkParameters, resolve
from ketaclinic.pk.pump import plan_pump
from ketaclinic.pk.schedule import Schedule
from ketaclinic.pk.simulate import concentrations
from ketaclinic.pk.targets import MAX_DURATION_MIN, Plan, Target, TciLimits

FloatArray = npt.NDArray[np.float64]

#: Grid on which results are judged and curves returned (min): 0.1 s, so that a peak between grid
#: points is not missed (a 2-s grid reported no overshoot where a 0.1-s grid found 2.6e-6).
ASSESS_STEP_MIN = 0.1 / 60.0

Planner = Callable[[PkParameters, Target, float, TciLimits], Plan]
#: Dispatch table: mode → planner.
PLANNERS: Mapping[str, Planner] = MappingProxyType({"pump": plan_pump, "manual": plan_manual})


@dataclass(frozen=True)
class TciResult:
    """A schedule and how well it meets the target.

    ``times_min`` (T,) on a 0.1-s grid over the duration, with ``plasma_ng_per_ml`` and
    ``effect_site_ng_per_ml`` (T,) predicted for ``schedule``. ``reached``: the site came within
    the tolerance of the target; ``time_to_target_min`` when (None if never); ``held``: it then
    stayed within the tolerance to the end. ``shortfall_ng_per_ml``: target − highest site
    concentration (0 if the target was met). ``max_overshoot_ng_per_ml``: highest − target (≥ 0).
    ``max_deviation_after_target_ng_per_ml``: largest |site − target| after reaching (None if never
    reached). ``rate_limited`` / ``bolus_limited``: a limit cut what the plan wanted. ``verdict``:
    reached/held/short in one sentence. ``notes``: which limits bound, and the rounding to the
    pump's resolution (the curves are always those of the schedule as returned, rounded rates
    included).
    ``warnings``: the patient outside the model's validated population.
    """

    mode: str
    model: str
    parameters: PkParameters
    target: Target
    duration_min: float
    limits: TciLimits
    schedule: Schedule
    times_min: FloatArray
    plasma_ng_per_ml: FloatArray
    effect_site_ng_per_ml: FloatArray
    reached: bool
    held: bool
    time_to_target_min: float | None
    shortfall_ng_per_ml: float
    max_overshoot_ng_per_ml: float
    max_deviation_after_target_ng_per_ml: float | None
    rate_limited: bool
    bolus_limited: bool
    verdict: str
    notes: tuple[str, ...]
    warnings: tuple[str, ...]


def plan(
    model: str,
    patient: Patient,
    target: Target,
    duration_min: float,
    limits: TciLimits | None = None,
    *,
    mode: str = "pump",
    ke0_per_min: float | None = None,
) -> TciResult:
    """Compute a ``mode`` ("pump" or "manual") schedule reaching and holding ``target`` for
    ``duration_min`` (min) within ``limits`` (defaults: ``TciLimits.for_weight``)."""
    planner = PLANNERS.get(mode)
    if planner is None:
        raise PkInputError("mode", f"mode must be one of {', '.join(PLANNERS)}, got {mode!r}")
    _, params, warnings = resolve(model, patient, ke0_per_min)
    duration = _checks.within("duration_min", duration_min, "min", 1.0, MAX_DURATION_MIN)
    limits = limits if limits is not None else TciLimits.for_weight(patient.weight_kg)
    made = planner(params, target, duration, limits)
    times = UniformGrid.until(duration, ASSESS_STEP_MIN).times()
    plasma, effect = concentrations(params, made.schedule, times)
    site = plasma if target.site == "plasma" else effect
    return _assess(
        mode, model, params, target, duration, limits, made, times, plasma, effect, site, warnings
    )


def _assess(
    mode: str,
    model: str,
    params: PkParameters,
    target: Target,
    duration: float,
    limits: TciLimits,
    made: Plan,
    times: FloatArray,
    plasma: FloatArray,
    effect: FloatArray,
    site: FloatArray,
    warnings: tuple[str, ...],
) -> TciResult:
    goal, slack = target.ng_per_ml, target.ng_per_ml * target.tolerance_fraction
    near = np.flatnonzero(site >= goal - slack)
    reached = near.size > 0
    after = site[near[0] :] if reached else site[:0]
    deviation = float(np.abs(after - goal).max()) if reached else None
    held = reached and deviation is not None and deviation <= slack
    shortfall = max(0.0, goal - float(site.max()))
    overshoot = max(0.0, float(site.max()) - goal)
    reached_at = float(times[near[0]]) if reached else None
    if reached_at is None:
        verdict = f"not reached: the {target.site} peak is {shortfall:.3g} ng/mL short"
    elif held:
        verdict = f"reached at {reached_at:.3g} min and held within {slack:.3g} ng/mL"
    else:
        verdict = f"reached at {reached_at:.3g} min but not held: up to {deviation:.3g} ng/mL away"
    return TciResult(
        mode, model, params, target, duration, limits, made.schedule, times, plasma, effect,
        reached, held, reached_at, shortfall, overshoot, deviation,
        made.rate_limited, made.bolus_limited, verdict, made.notes, warnings,
    )  # fmt: skip
