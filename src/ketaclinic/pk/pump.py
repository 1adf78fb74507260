"""The TCI-pump planner: a rate every 10 s (see ``tci`` for the method and its sources)."""

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


def site_weights(params: PkParameters, site: str) -> tuple[FloatArray, FloatArray]:
    """Mode rates (M,) /min and the site's weights (M,) in ng/mL per mg of modal amount."""
    modes = engine.decompose(params.rate_arrays())
    weights = modes.plasma_weights if site == "plasma" else modes.effect_weights
    return modes.rates_per_min[0], weights[0] * engine.NG_PER_ML_PER_MG_PER_L


#: Look-ahead spacing for the effect-site peak search (min), then the finer spacing used around
#: the best coarse point: the search error on the peak is then ~1e-7 of the target.
_COARSE_MIN = UPDATE_INTERVAL_MIN / 2
_FINE_MIN = _COARSE_MIN / 16


@dataclass(frozen=True)
class _Lookahead:
    """The site's exact responses at ``times`` (H,) min after an update: ``free`` (H, M) is
    exp(-mu t), the decay of each modal amount; ``unit`` (H,) ng/mL is the response to 1 mg/min
    given for one update interval."""

    times: FloatArray
    free: FloatArray
    unit: FloatArray


def _responses(mu: FloatArray, weights: FloatArray, times: FloatArray) -> _Lookahead:
    step = UPDATE_INTERVAL_MIN
    during = -np.expm1(-np.outer(np.minimum(times, step), mu)) / mu
    after = np.exp(-np.outer(np.maximum(times - step, 0.0), mu))
    return _Lookahead(times, np.exp(-np.outer(times, mu)), (during * after) @ weights)


def _lookahead(mu: FloatArray, weights: FloatArray, site: str) -> _Lookahead:
    """Plasma: the end of the interval. Effect site: a horizon of 3× the time the response to one
    interval's infusion peaks (at least 5 min), where the peak the rate is set by must lie."""
    if site == "plasma":
        return _responses(mu, weights, np.array([UPDATE_INTERVAL_MIN]))
    probe = _responses(mu, weights, np.arange(1, 7201, dtype=np.float64) * _COARSE_MIN)
    horizon = min(probe.times[-1], max(3 * probe.times[np.argmax(probe.unit)], 5.0))
    count = math.ceil(horizon / _COARSE_MIN)
    look = _responses(mu, weights, np.arange(1, count + 1, dtype=np.float64) * _COARSE_MIN)
    usable = look.unit > 1e-12 * look.unit.max()
    return _Lookahead(look.times[usable], look.free[usable], look.unit[usable])


def _wanted(
    target: float, state: FloatArray, mu: FloatArray, weights: FloatArray, look: _Lookahead
) -> float:
    """The rate (mg/min) for the next interval whose site response peaks exactly at target."""
    ratio = (target - look.free @ (weights * state)) / look.unit
    best = int(np.argmin(ratio))
    if look.times.size > 1:
        t = look.times[best]
        near = np.arange(-15, 16) * _FINE_MIN + t
        fine = _responses(mu, weights, near[near > 0])
        ratio_fine = (target - fine.free @ (weights * state)) / fine.unit
        return max(0.0, min(float(ratio[best]), float(ratio_fine.min())))
    return max(0.0, float(ratio[best]))


def plan_pump(params: PkParameters, target: Target, duration: float, limits: TciLimits) -> Plan:
    mu, weights = site_weights(params, target.site)
    look = _lookahead(mu, weights, target.site)
    step = UPDATE_INTERVAL_MIN
    decay, gain = np.exp(-mu * step), -np.expm1(-mu * step) / mu
    rates = np.empty(math.ceil(duration / step - 1e-9))
    state = np.zeros(mu.size)
    budget = limits.max_bolus_mg
    protocol, pump = limits.max_mg_per_h / 60, limits.max_pump_mg_per_h / 60
    cut_rate = cut_bolus = False
    for i in range(rates.size):
        wanted = _wanted(target.ng_per_ml, state, mu, weights, look)
        cap = min(pump, protocol + budget / step)
        rate = min(wanted, cap)
        if wanted > cap * (1 + 1e-9):
            cut_rate = True
            cut_bolus = cut_bolus or cap < pump
        budget = max(0.0, budget - max(0.0, rate - protocol) * step)
        state = state * decay + rate * gain
        rates[i] = rate * 60
    notes = ("the limits cut some of the rates the target needed",) if cut_rate else ()
    return Plan(_merge_steps(rates, step, duration), cut_rate, cut_bolus, notes)


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
