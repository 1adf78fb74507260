"""The manual planner: a loading bolus and a few rate changes a nurse can program on a plain pump.

For a set of change times, the site concentration is linear in the bolus and the rates, so the best
values are a bounded least-squares fit of exact unit responses (``lsq.bounded_lstsq``) to the target
on a 10-s grid. The change times are not linear unknowns; the planner tries a small family (gaps
that are even multiples of the minimum hold, or that widen geometrically, since concentrations move
fastest early) and keeps the best fit. Points before a bolus could bring the site to target (the
effect-site peak time after a bolus) are left out of the fit, so that the loading dose is not pushed
up to chase the impossible first minute.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import engine
from ketaclinic.pk.lsq import bounded_lstsq
from ketaclinic.pk.models import PkParameters
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.targets import UPDATE_INTERVAL_MIN, Plan, Target, TciLimits

FloatArray = npt.NDArray[np.float64]

#: What the manual bolus is rounded to: what a nurse can key in. Rates are rounded to the pump's
#: resolution (``TciLimits.pump_resolution_mg_per_h``), as the TCI pump planner's are.
BOLUS_GRAIN_MG = 0.1
#: Gaps between rate changes tried, in multiples of the minimum hold.
_EVEN_GAPS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
_WIDENING = (1.5, 2.0, 3.0)


def plan_manual(params: PkParameters, target: Target, duration: float, limits: TciLimits) -> Plan:
    times = np.arange(0.0, duration + 1e-9, UPDATE_INTERVAL_MIN)
    modes = engine.decompose(params.rate_arrays())
    site = 0 if target.site == "plasma" else 1
    bolus = _response(modes, Schedule((Bolus(0.0, 1.0),)), times, site)
    fit = times >= times[int(np.argmax(bolus))]
    rate_cap = min(limits.max_mg_per_h, limits.max_pump_mg_per_h)
    best: tuple[float, tuple[float, ...], FloatArray] | None = None
    for changes in change_times(duration, limits):
        edges = (0.0, *changes, duration)
        columns = [bolus] + [
            _response(modes, Schedule((Infusion(a, b, 1.0),)), times, site)
            for a, b in itertools.pairwise(edges)
        ]
        a = np.stack(columns, axis=1)[fit]
        upper = np.array([limits.max_bolus_mg] + [rate_cap] * (len(edges) - 1))
        x = bounded_lstsq(a, np.full(a.shape[0], target.ng_per_ml), np.zeros_like(upper), upper)
        misfit = float(np.sum((a @ x - target.ng_per_ml) ** 2))
        if best is None or misfit < best[0] * (1 - 1e-9):
            best = (misfit, edges, x)
    assert best is not None  # change_times always offers the no-change schedule
    return _as_plan(best[1], best[2], limits, rate_cap)


def change_times(duration: float, limits: TciLimits) -> list[tuple[float, ...]]:
    """Candidate change times, whole minutes: each rate, the last too, held ≥ ``min_hold_min``."""
    hold = limits.min_hold_min
    most = min(limits.max_rate_changes, max(0, math.floor(duration / hold + 1e-9) - 1))
    found: list[tuple[float, ...]] = [()]
    for count in range(1, most + 1):
        gap_sets = [np.full(count, hold * k) for k in _EVEN_GAPS]
        gap_sets += [hold * g ** np.arange(count) for g in _WIDENING]
        for gaps in gap_sets:
            when = tuple(float(t) for t in np.ceil(np.cumsum(gaps) - 1e-9))
            spans = np.diff((0.0, *when, duration))
            if spans.min() >= hold - 1e-9 and when not in found:
                found.append(when)
    return found


def _response(modes: engine.Modes, schedule: Schedule, times: FloatArray, site: int) -> FloatArray:
    pw = schedule.piecewise()
    curves = engine.evaluate(modes, engine.modal_states(modes, pw), pw, times)
    row: FloatArray = curves[site][0]
    return row


def _as_plan(edges: tuple[float, ...], x: FloatArray, limits: TciLimits, rate_cap: float) -> Plan:
    """Round to what a pump takes (never above a limit), merge equal neighbours, and say so."""
    bolus = _to_grain(float(x[0]), BOLUS_GRAIN_MG, limits.max_bolus_mg)
    grain = limits.pump_resolution_mg_per_h
    rates = [_to_grain(float(r), grain, rate_cap) for r in x[1:]]
    doses: list[Bolus | Infusion] = [Bolus(0.0, bolus)] if bolus > 0 else []
    start = 0
    for i in range(1, len(rates) + 1):
        if i == len(rates) or rates[i] != rates[start]:
            if rates[start] > 0:
                doses.append(Infusion(edges[start], edges[i], rates[start]))
            start = i
    bolus_limited = bool(x[0] >= limits.max_bolus_mg * (1 - 1e-9)) and limits.max_bolus_mg >= 0
    rate_limited = any(r >= rate_cap * (1 - 1e-9) for r in x[1:])
    notes = [f"rates rounded to the pump's {grain:g} mg/h and the bolus to {BOLUS_GRAIN_MG:g} mg"]
    if bolus_limited:
        notes.append(f"the loading bolus is held at the {limits.max_bolus_mg:g} mg limit")
    if rate_limited:
        notes.append(f"a rate is held at the {rate_cap:g} mg/h limit")
    return Plan(Schedule(tuple(doses)), rate_limited, bolus_limited, tuple(notes))


def _to_grain(value: float, grain: float, limit: float) -> float:
    """The nearest multiple of ``grain``, or the largest multiple not above ``limit``."""
    steps = round(value / grain)
    if steps * grain > limit * (1 + 1e-12):
        steps = math.floor(limit / grain * (1 + 1e-12))
    return round(steps * grain, 10)
