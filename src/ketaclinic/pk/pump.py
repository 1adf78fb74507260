"""The TCI-pump planner: a rate every 10 s, each a whole multiple of the pump's resolution.

* Plasma targeting: each rate puts plasma on target at the end of its interval.
* Effect-site targeting, in three phases as STANPUMP does it (Shafer & Gregg 1992, J Pharmacokinet
  Biopharm 20:147):

  1. load: each rate is the largest that keeps the effect-site peak that follows at or below the
     target, so plasma overshoots just enough;
  2. coast: once that rule asks for less than the pump's resolution, the pump is off until plasma
     has come down to meet the effect site, which is the moment the effect site peaks, at the
     target;
  3. hold: from then on plasma is held at the target (the plasma rule), and the effect site, in
     equilibrium with plasma, stays there.

  Applying the peak rule for ever instead (as this planner once did) is a deadbeat controller of
  the effect site: at equilibrium it switches the pump off and on every 10 s while plasma swings
  by ±9 %.

Every rate is rounded down to a whole multiple of ``TciLimits.pump_resolution_mg_per_h``: a rate
below the resolution is 0, and rounding down never raises a concentration. The planner carries the
rounded rates forward, so the next rate makes up what rounding left (during the hold the rate
alternates between two neighbouring steps, e.g. 73.2 and 73.3 mg/h), and the schedule returned is
exactly what the pump runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import engine
from ketaclinic.pk.models import PkParameters
from ketaclinic.pk.schedule import Infusion, Schedule
from ketaclinic.pk.targets import UPDATE_INTERVAL_MIN, Plan, Target, TciLimits

FloatArray = npt.NDArray[np.float64]

#: Look-ahead spacing for the effect-site peak search (min). Around the best point the search is
#: refined ``_ROUNDS`` times on ``_POINTS`` points, each round narrowing the bracket 32-fold: to
#: ~1e-8 min around the peak (the rate's error is quadratic in that time error).
_COARSE_MIN = UPDATE_INTERVAL_MIN / 2
_POINTS = 65
_ROUNDS = 5


@dataclass(frozen=True)
class _Kinetics:
    """One patient's modes for planning: ``mu`` (M,) /min; ``plasma`` and ``effect`` (M,) ng/mL per
    mg of modal amount; ``decay`` and ``gain`` (M,): over one interval a modal amount z becomes
    ``z * decay + rate * gain`` (rate mg/min)."""

    mu: FloatArray
    plasma: FloatArray
    effect: FloatArray
    decay: FloatArray
    gain: FloatArray


def _kinetics(params: PkParameters) -> _Kinetics:
    modes = engine.decompose(params.rate_arrays())
    mu = modes.rates_per_min[0]
    step = UPDATE_INTERVAL_MIN
    return _Kinetics(
        mu,
        modes.plasma_weights[0] * engine.NG_PER_ML_PER_MG_PER_L,
        modes.effect_weights[0] * engine.NG_PER_ML_PER_MG_PER_L,
        np.exp(-mu * step),
        -np.expm1(-mu * step) / mu,
    )


def site_weights(params: PkParameters, site: str) -> tuple[FloatArray, FloatArray]:
    """Mode rates (M,) /min and the site's weights (M,) in ng/mL per mg of modal amount."""
    k = _kinetics(params)
    return k.mu, k.plasma if site == "plasma" else k.effect


def _unit(mu: FloatArray, weights: FloatArray, times: FloatArray) -> FloatArray:
    """The site's response (ng/mL) at ``times`` (min) to 1 mg/min given for one interval."""
    step = UPDATE_INTERVAL_MIN
    during = -np.expm1(-np.outer(np.minimum(times, step), mu)) / mu
    after = np.exp(-np.outer(np.maximum(times - step, 0.0), mu))
    out: FloatArray = (during * after) @ weights
    return out


class _PeakRule:
    """The largest rate for the next interval that keeps the effect site's peak at or below target.

    With ``free(t)`` the effect site if nothing more were given and ``unit(t)`` the response to
    1 mg/min for one interval, the rate is ``min over t > 0 of (target - free(t)) / unit(t)``:
    found on a 5-s grid over the horizon (3× the time the unit response peaks, at least 5 min),
    then refined on ever finer grids around the best point (``_ROUNDS``, ``_POINTS``).
    """

    def __init__(self, k: _Kinetics) -> None:
        self.mu, self.weights = k.mu, k.effect
        probe_times = np.arange(1, 7201, dtype=np.float64) * _COARSE_MIN
        probe = _unit(self.mu, self.weights, probe_times)
        horizon = min(probe_times[-1], max(3 * probe_times[np.argmax(probe)], 5.0))
        times = np.arange(1, math.ceil(horizon / _COARSE_MIN) + 1, dtype=np.float64) * _COARSE_MIN
        unit = _unit(self.mu, self.weights, times)
        usable = unit > 1e-12 * unit.max()
        self.times, self.unit = times[usable], unit[usable]
        self.free = np.exp(-np.outer(self.times, self.mu))

    def rate(self, target: float, state: FloatArray, at_most: float) -> float:
        """mg/min, ≥ 0; the refinement only ever lowers the grid's answer. When the grid asks for
        twice ``at_most`` (mg/min) or more, the limits cut the rate anyway and it is not refined."""
        amplitude = self.weights * state
        ratio = (target - self.free @ amplitude) / self.unit
        best = int(np.argmin(ratio))
        found = float(ratio[best])
        if found >= 2 * at_most:
            return found
        low = float(self.times[best - 1]) if best > 0 else 0.0
        high = float(self.times[min(best + 1, self.times.size - 1)])
        for _ in range(_ROUNDS):
            times = np.linspace(low, high, _POINTS)
            times = times[times > 0]
            unit = _unit(self.mu, self.weights, times)
            fine = (target - np.exp(-np.outer(times, self.mu)) @ amplitude) / unit
            at = int(np.argmin(fine))
            found = min(found, float(fine[at]))
            gap = (high - low) / (_POINTS - 1)
            low, high = max(0.0, float(times[at]) - gap), float(times[at]) + gap
        return max(0.0, found)


class _Pump:
    """Rounds rates down to the resolution and keeps to the rate and loading limits."""

    def __init__(self, limits: TciLimits) -> None:
        self.resolution = limits.pump_resolution_mg_per_h
        self.protocol = limits.max_mg_per_h / 60
        self.pump = limits.max_pump_mg_per_h / 60
        self.budget = limits.max_bolus_mg
        self.cut_rate = self.cut_bolus = False

    def cap(self) -> float:
        """The highest rate (mg/min) the limits allow for the next interval."""
        return min(self.pump, self.protocol + self.budget / UPDATE_INTERVAL_MIN)

    def run(self, wanted_mg_per_min: float) -> float:
        """The rate (mg/h, as programmed) the pump runs for the next interval, given the one
        wanted (mg/min)."""
        step = UPDATE_INTERVAL_MIN
        cap = self.cap()
        if wanted_mg_per_min > cap * (1 + 1e-9):
            self.cut_rate = True
            self.cut_bolus = self.cut_bolus or cap < self.pump
        steps = max(0, math.floor(min(wanted_mg_per_min, cap) * 60 / self.resolution * (1 + 1e-12)))
        # The mg/h figure a nurse reads, free of binary noise (732 × 0.1 → 73.2, not 73.20000001).
        mg_per_h = round(steps * self.resolution, 9)
        self.budget = max(0.0, self.budget - max(0.0, mg_per_h / 60 - self.protocol) * step)
        return mg_per_h


def plan_pump(params: PkParameters, target: Target, duration: float, limits: TciLimits) -> Plan:
    k = _kinetics(params)
    pump = _Pump(limits)
    count = math.ceil(duration / UPDATE_INTERVAL_MIN - 1e-9)
    if target.site == "plasma":
        rates, state = np.empty(count), np.zeros(k.mu.size)
        zero_in_hold = _hold(k, target.ng_per_ml, pump, rates, 0, state)
    else:
        rates, zero_in_hold = _effect_site(k, target.ng_per_ml, pump, count)
    resolution = limits.pump_resolution_mg_per_h
    notes = [
        f"every rate is rounded down to the pump's resolution of {resolution:g} mg/h; the curves "
        "are those of the rounded rates"
    ]
    if pump.cut_rate:
        notes.append("the limits cut some of the rates the target needed")
    if zero_in_hold:
        notes.append(
            f"holding the target needs less than the pump's resolution of {resolution:g} mg/h at "
            "times, so the pump is off for some intervals; a more dilute syringe avoids this"
        )
    return Plan(
        _merge_steps(rates, UPDATE_INTERVAL_MIN, duration),
        pump.cut_rate,
        pump.cut_bolus,
        tuple(notes),
    )


def _effect_site(k: _Kinetics, goal: float, pump: _Pump, count: int) -> tuple[FloatArray, bool]:
    """Load by the peak rule, coast with the pump off until plasma has come down to meet the effect
    site (which has then peaked at the target), then hold plasma at the target.

    Once the pump is off (the peak rule asks for less than the resolution), it stays off until the
    hold: the peak rule would otherwise top up the little that rounding down left, a 0.1 mg/h
    here and there, which is not a dose anyone should program."""
    peak = _PeakRule(k)
    rates, state = np.zeros(count), np.zeros(k.mu.size)
    loading = True
    for i in range(count):
        if i > 0 and float(state @ k.plasma) <= float(state @ k.effect):
            return rates, _hold(k, goal, pump, rates, i, state)
        rates[i] = pump.run(peak.rate(goal, state, pump.cap())) if loading else 0.0
        loading = rates[i] > 0
        state = state * k.decay + rates[i] / 60 * k.gain
    return rates, False


def _hold(
    k: _Kinetics, goal: float, pump: _Pump, rates: FloatArray, first: int, state: FloatArray
) -> bool:
    """Fill ``rates[first:]`` (mg/h) so that plasma is at ``goal`` at the end of each interval;
    True if some wanted rate was above 0 but below the resolution, so the pump ran 0 instead."""
    plasma_unit = float(k.gain @ k.plasma)
    decayed_plasma = k.decay * k.plasma
    too_fine = False
    for i in range(first, rates.size):
        wanted = (goal - float(state @ decayed_plasma)) / plasma_unit
        rates[i] = pump.run(wanted)
        too_fine = too_fine or (rates[i] == 0 and 0 < wanted * 60 < pump.resolution)
        state = state * k.decay + rates[i] / 60 * k.gain
    return too_fine


def _merge_steps(rates_mg_per_h: FloatArray, step: float, duration: float) -> Schedule:
    """One infusion per run of equal rates (zero runs dropped); the last ends at ``duration``."""
    edges = np.flatnonzero(np.diff(rates_mg_per_h)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [rates_mg_per_h.size]))
    doses = [
        Infusion(float(a * step), float(min(b * step, duration)), float(rates_mg_per_h[a]))
        for a, b in zip(starts, ends, strict=True)
        if rates_mg_per_h[a] > 0 and a * step < duration
    ]
    return Schedule(tuple(doses))
