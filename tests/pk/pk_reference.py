"""Independent reference: the compartment ODEs integrated by scipy's solve_ivp, piece by piece.

It shares nothing with the engine but the schedule's dose list: the right-hand side is written from
the textbook equations in amounts (mg), boluses are jumps in the central amount, and each interval
between dose events is integrated afresh (rtol 1e-10, tiny atol).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from ketaclinic.pk.models import PkParameters
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule


def _rhs(p: PkParameters, rate_mg_per_min: float):
    def f(_t: float, y: np.ndarray) -> np.ndarray:
        x1, x2, x3, ce, _gone = y
        cp = x1 / p.v1_l
        return np.array(
            [
                rate_mg_per_min
                - (p.k10_per_min + p.k12_per_min + p.k13_per_min) * x1
                + p.k21_per_min * x2
                + p.k31_per_min * x3,
                p.k12_per_min * x1 - p.k21_per_min * x2,
                p.k13_per_min * x1 - p.k31_per_min * x3,
                p.ke0_per_min * (cp - ce),
                p.k10_per_min * x1,
            ]
        )

    return f


def _events(boluses: list[Bolus], infusions: list[Infusion], last: float) -> list[float]:
    starts = {b.at_min for b in boluses} | {i.start_min for i in infusions}
    return sorted({0.0, last} | starts | {i.end_min for i in infusions})


def reference(
    p: PkParameters,
    schedule: Schedule,
    times: np.ndarray,
    method: str = "DOP853",
    rtol: float = 1e-10,
) -> dict[str, np.ndarray]:
    """Plasma and effect-site ng/mL, compartment amounts and eliminated mg at ``times``."""
    times, back = np.unique(np.asarray(times, dtype=np.float64), return_inverse=True)
    infusions = [d for d in schedule.doses if isinstance(d, Infusion)]
    boluses = [d for d in schedule.doses if isinstance(d, Bolus)]
    events = _events(boluses, infusions, float(times.max()))
    out = np.zeros((5, times.size))
    y = np.zeros(5)
    for lo, hi in zip(events, [*events[1:], np.inf], strict=True):
        y[0] += sum(b.mg for b in boluses if b.at_min == lo)
        rate = sum(i.mg_per_h / 60 for i in infusions if i.start_min <= lo < i.end_min)
        inside = np.flatnonzero((times >= lo) & (times < hi))
        end = float(times.max()) if hi == np.inf else hi
        if end <= lo:
            out[:, inside] = y[:, None]
            continue
        scale = max(1e-6, float(np.abs(y).max()), rate * (end - lo))
        sol = solve_ivp(
            _rhs(p, rate),
            (lo, end),
            y,
            method=method,
            rtol=rtol,
            atol=1e-16 * scale,
            t_eval=np.append(times[inside], end),
        )
        assert sol.success, sol.message
        out[:, inside] = sol.y[:, :-1]
        y = sol.y[:, -1].copy()
    out = out[:, back]
    return {
        "plasma": out[0] / p.v1_l * 1000.0,
        "effect": out[3] * 1000.0,
        "amounts": out[: p.compartments],
        "eliminated": out[4],
    }
