"""Plasma and effect-site concentrations of any schedule, for one patient or many.

Exact: the engine solves the linear model in closed form on each piece of constant input
(``engine``); nothing is stepped in time, so the answer does not depend on the grid asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import engine
from ketaclinic.pk.engine import RateArrays
from ketaclinic.pk.grid import UniformGrid, checked_times
from ketaclinic.pk.models import Patient, PkParameters, resolve
from ketaclinic.pk.schedule import Schedule

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Simulation:
    """Concentrations of one patient over time.

    ``times_min`` (T,) min; ``plasma_ng_per_ml`` and ``effect_site_ng_per_ml`` (T,) ng/mL;
    ``parameters`` as used (after weight scaling and any ke0 override); ``warnings`` one sentence
    per way the patient lies outside the model's validated population (empty if none).
    """

    model: str
    parameters: PkParameters
    times_min: FloatArray
    plasma_ng_per_ml: FloatArray
    effect_site_ng_per_ml: FloatArray
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Amounts:
    """Where the drug is: ``compartments_mg`` (n, T), ``eliminated_mg`` (T,), ``given_mg`` (T,).

    ``eliminated_mg`` comes from the integrated plasma curve, CL ∫ cp dt, in closed form, not from
    a difference, so ``compartments_mg.sum(0) + eliminated_mg == given_mg`` is a real check.
    """

    times_min: FloatArray
    compartments_mg: FloatArray
    eliminated_mg: FloatArray
    given_mg: FloatArray


def simulate(
    model: str,
    patient: Patient,
    schedule: Schedule,
    times_min: npt.ArrayLike | UniformGrid,
    *,
    ke0_per_min: float | None = None,
) -> Simulation:
    """Concentrations (ng/mL) of ``schedule`` in ``patient`` under ``model`` at ``times_min`` (min).

    ``times_min`` is any 1-D list of times ≥ 0 (need not be sorted) or a ``UniformGrid`` (which
    takes the engine's fast path). A bolus at time t is already in the concentration at t.
    Refuses bad input with ``PkInputError``.
    """
    _, params, warnings = resolve(model, patient, ke0_per_min)
    if isinstance(times_min, UniformGrid):
        plasma, effect = np.empty((1, times_min.count)), np.empty((1, times_min.count))
        concentrations_into(params.rate_arrays(), schedule, times_min, plasma, effect)
        # The fast path leaves rounding residue (~-1e-15 × peak) where the exact value is 0.
        np.maximum(plasma, 0.0, out=plasma)
        np.maximum(effect, 0.0, out=effect)
        return Simulation(model, params, times_min.times(), plasma[0], effect[0], warnings)
    times = checked_times(times_min)
    plasma_t, effect_t = concentrations(params, schedule, times)
    return Simulation(model, params, times, plasma_t, effect_t, warnings)


def concentrations(
    params: PkParameters, schedule: Schedule, times_min: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Plasma and effect-site concentrations (ng/mL), each (T,), for validated inputs."""
    modes = engine.decompose(params.rate_arrays())
    pw = schedule.piecewise()
    plasma, effect = engine.evaluate(modes, engine.modal_states(modes, pw), pw, times_min)
    return plasma[0], effect[0]


def concentrations_into(
    rates: RateArrays,
    schedule: Schedule,
    grid: UniformGrid,
    plasma_out: FloatArray,
    effect_out: FloatArray,
    *,
    chunk_patients: int = 256,
) -> None:
    """Fill (P, T) buffers with P patients' plasma and effect-site curves (ng/mL) on ``grid``.

    The fast path for many patients: nothing of size P × T is allocated, so callers can reuse
    their buffers. ``chunk_patients`` only bounds the small per-chunk factor arrays.
    """
    pw = schedule.piecewise()
    for p0 in range(0, rates.patients, chunk_patients):
        rows = slice(p0, p0 + chunk_patients)
        modes = engine.decompose(rates.take(rows))
        states = engine.modal_states(modes, pw)
        engine.evaluate_uniform_into(
            modes,
            states,
            pw,
            grid.start_min,
            grid.step_min,
            plasma_out[rows],
            effect_out[rows],
        )


def amounts(params: PkParameters, schedule: Schedule, times_min: npt.ArrayLike) -> Amounts:
    """Drug in each compartment and eliminated so far (mg) at ``times_min`` (min)."""
    times = checked_times(times_min)
    modes = engine.decompose(params.rate_arrays())
    pw = schedule.piecewise()
    states = engine.modal_states(modes, pw)
    n = params.compartments
    piece = engine.piece_index(pw, times)
    since = times - pw.starts_min[piece]
    lam = modes.rates_per_min[0, :n]
    start, steady = states.start[0, piece, :n], states.steady[0, piece, :n]
    modal = steady + (start - steady) * np.exp(-lam[None, :] * since[:, None])  # (T, n)
    given = schedule.given_mg(times)
    # dz/dt = -lam z + u gives ∫z dt = (given - z) / lam, hence CL ∫ cp dt in closed form.
    integral = (given[:, None] - modal) / lam[None, :]
    eliminated = modes.clearance_l_per_min[0] * integral @ modes.plasma_weights[0, :n]
    compartments = modes.amount_weights[0] @ modal.T
    return Amounts(times, compartments, eliminated, given)
