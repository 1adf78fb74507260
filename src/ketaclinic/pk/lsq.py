"""Least squares with bounds on each unknown, in NumPy alone (the engine does not need SciPy).

Used to choose the bolus and rates of a manual schedule: a handful of unknowns, thousands of rows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def bounded_lstsq(a: FloatArray, b: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """``argmin ||a x - b||`` subject to ``lower <= x <= upper`` (finite bounds, lower <= upper).

    An active-set method in the manner of Lawson & Hanson's NNLS, with two-sided bounds (as in Stark
    & Parker's BVLS): solve on the free unknowns; if that leaves the box, walk toward it until an
    unknown hits a bound and fix it there; when the free solution is inside, free the fixed unknown
    whose gradient says it wants to leave its bound most. The problem is convex, so the answer is
    the global minimum. ``a`` is (m, n), ``b`` (m,); returns x (n,).
    """
    n = a.shape[1]
    x = lower.astype(np.float64, copy=True)
    free = np.zeros(n, dtype=bool)
    scale = float(np.abs(a).max() * max(np.abs(b).max(), 1.0)) or 1.0
    for _ in range(10 * n + 10):
        gradient = a.T @ (a @ x - b)
        wants_out = (~free) & (
            ((x <= lower) & (gradient < -1e-12 * scale))
            | ((x >= upper) & (gradient > 1e-12 * scale))
        )
        if not wants_out.any():
            return x
        candidates = np.where(wants_out, np.abs(gradient), -1.0)
        free[int(np.argmax(candidates))] = True
        x, free = _settle(a, b, lower, upper, x, free)
    return x


def _settle(
    a: FloatArray,
    b: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    x: FloatArray,
    free: npt.NDArray[np.bool_],
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Move the free unknowns to their best values, fixing any that meet a bound on the way."""
    for _ in range(a.shape[1] + 1):
        target = x.copy()
        rhs = b - a[:, ~free] @ x[~free]
        target[free] = np.linalg.lstsq(a[:, free], rhs, rcond=None)[0]
        inside = (target >= lower) & (target <= upper)
        if inside[free].all():
            return target, free
        step = target - x
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(step < 0, (lower - x) / step, (upper - x) / step)
        room = np.where(free & ~inside, room, np.inf)
        alpha = float(np.clip(room.min(), 0.0, 1.0))
        x = np.clip(x + alpha * step, lower, upper)
        hit = free & ~inside & (room <= alpha)
        x[hit] = np.where(step[hit] < 0, lower[hit], upper[hit])
        free = free & ~hit
        if not free.any():
            return x, free
    return x, free
