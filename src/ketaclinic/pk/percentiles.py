"""Exact population percentiles without keeping every curve: block bounds, then a few candidates.

numpy's "linear" percentile q at time t needs the r-th and (r+1)-th smallest of the N patients'
values (r = floor(q/100 · (N − 1))). Keeping all N × T values to sort them costs memory and, above
all, time (a selection is ~20 ns per value here, against ~1 ns to write a value).

Instead, while the curves stream past in chunks, each patient's minimum and maximum over every
block of ``BLOCK`` consecutive grid times is kept (2 numbers per 32 values). For block j:

* ``low`` ≤ the r-th smallest of the patients' block minima and ``high`` ≥ the (r+1)-th smallest
  of their block maxima, so at every time of the block both order statistics lie in
  [low, high];
* a patient whose block maximum is below ``low`` is below both at every time of the block
  (``below`` of them), one whose block minimum is above ``high`` is above both;
* the others, the candidates, are few (about 1 % of patients: those whose curve passes near the
  percentile during those 32 grid steps), and the order statistics are the (r − below)-th and
  (r + 1 − below)-th smallest of the candidates' values, which are computed again, exactly, for
  that block only.

``low`` and ``high`` come from a subsample of the patients with a wide margin and are checked
against all of them (a count); a block where the check fails takes the exact order statistic of
all patients instead. The result is numpy.percentile's, exactly, whatever the subsample.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import engine
from ketaclinic.pk.engine import RateArrays
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.schedule import Schedule

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Grid times per block. Smaller blocks mean fewer candidates but more bounds to keep.
BLOCK = 32
#: Patients whose bounds estimate ``low`` and ``high`` (a random subsample: patients are drawn
#: independently, so the first ones will do).
_SUBSAMPLE = 2048
#: Candidate values computed at once (pairs of patient and block), bounding the scratch memory.
_PAIRS_AT_ONCE = 4096


def bounds_bytes(n: int, count: int) -> int:
    """Memory the block bounds of one site take (bytes)."""
    return 16 * n * math.ceil(count / BLOCK)


class BlockBounds:
    """Each patient's minimum and maximum over each block of grid times, block-major (B, N)."""

    def __init__(self, n: int, count: int) -> None:
        self.starts = np.arange(0, count, BLOCK)
        self.low = np.empty((self.starts.size, n))
        self.high = np.empty((self.starts.size, n))

    def add(self, rows: slice, values: FloatArray) -> FloatArray:
        """Record ``values`` (P, T) of patients ``rows``; return their block maxima (P, B)."""
        self.low[:, rows] = np.minimum.reduceat(values, self.starts, axis=1).T
        top = np.maximum.reduceat(values, self.starts, axis=1)
        self.high[:, rows] = top.T
        return top


class _Curves:
    """Exact values of chosen patients at chosen blocks of the grid, for one site."""

    def __init__(self, rates: RateArrays, schedule: Schedule, grid: UniformGrid, site: int):
        self.rates, self.grid, self.site = rates, grid, site
        self.pw = schedule.piecewise()

    def at(self, patients: IntArray, blocks: IntArray) -> FloatArray:
        """(S, BLOCK) values of patient ``patients[s]`` over block ``blocks[s]``; times past the
        grid's end repeat its last time."""
        out = np.empty((patients.size, BLOCK))
        for s0 in range(0, patients.size, _PAIRS_AT_ONCE):
            part = slice(s0, s0 + _PAIRS_AT_ONCE)
            out[part] = self._some(patients[part], blocks[part])
        return out

    def _some(self, patients: IntArray, blocks: IntArray) -> FloatArray:
        unique, which = np.unique(patients, return_inverse=True)
        r = self.rates
        chosen = RateArrays(
            r.compartments, r.v1_l[unique], r.k10[unique], r.k12[unique], r.k21[unique],
            r.k13[unique], r.k31[unique], r.ke0[unique],
        )  # fmt: skip
        modes = engine.decompose(chosen)
        states = engine.modal_states(modes, self.pw)
        weights = (modes.plasma_weights, modes.effect_weights)[self.site]
        level, amplitude = engine.site_coefficients(weights * engine.NG_PER_ML_PER_MG_PER_L, states)
        index = np.minimum(blocks[:, None] * BLOCK + np.arange(BLOCK), self.grid.count - 1)
        times = self.grid.start_min + self.grid.step_min * index.astype(np.float64)
        piece = engine.piece_index(self.pw, times)
        since = times - self.pw.starts_min[piece]
        mu = modes.rates_per_min[which]  # (S, M)
        decay = np.exp(np.maximum(-mu[:, None, :] * since[:, :, None], -700.0))
        values = level[which[:, None], piece] + np.einsum(
            "stm,stm->st", amplitude[which[:, None], piece], decay
        )
        out: FloatArray = np.maximum(values, 0.0)
        return out


def exact_percentiles(
    bounds: BlockBounds,
    quantiles: tuple[float, ...],
    rates: RateArrays,
    schedule: Schedule,
    grid: UniformGrid,
    site: int,
) -> FloatArray:
    """numpy.percentile(values, quantiles, axis=patients) (linear), (Q, T), from the bounds."""
    n = bounds.low.shape[1]
    curves = _Curves(rates, schedule, grid, site)
    out = np.empty((len(quantiles), grid.count))
    for qi, q in enumerate(quantiles):
        rank = q / 100 * (n - 1)
        first = math.floor(rank)
        second = min(first + 1, n - 1)
        lower, upper = _order_statistics(bounds, first, second, curves, grid.count)
        out[qi] = lower + (rank - first) * (upper - lower)
    return out


def _order_statistics(
    bounds: BlockBounds, first: int, second: int, curves: _Curves, count: int
) -> tuple[FloatArray, FloatArray]:
    """The ``first``-th and ``second``-th smallest value (0-based) at every grid time."""
    low = _bound(bounds.low, first, below=True)
    high = _bound(bounds.high, second, below=False)
    below = np.count_nonzero(bounds.high < low[:, None], axis=1)
    candidate = (bounds.high >= low[:, None]) & (bounds.low <= high[:, None])
    blocks, patients = np.nonzero(candidate)
    values = curves.at(patients.astype(np.intp), blocks.astype(np.intp))
    edges = np.searchsorted(blocks, np.arange(bounds.starts.size + 1))
    lower, upper = np.empty(count), np.empty(count)
    for j, start in enumerate(bounds.starts):
        mine = values[edges[j] : edges[j + 1]]
        k1, k2 = first - int(below[j]), second - int(below[j])
        picked = np.partition(mine, (k1, k2), axis=0)
        width = min(BLOCK, count - int(start))
        lower[start : start + width] = picked[k1, :width]
        upper[start : start + width] = picked[k2, :width]
    return lower, upper


def _bound(per_block: FloatArray, k: int, *, below: bool) -> FloatArray:
    """Per block (rows of ``per_block``, (B, N)): a value ≤ the k-th smallest (``below``) or ≥ it.

    Estimated from a subsample with a margin, then checked by counting; a block that fails the
    check gets the exact k-th smallest.
    """
    n = per_block.shape[1]
    if n <= _SUBSAMPLE:
        exact: FloatArray = np.partition(per_block, k, axis=1)[:, k]
        return exact
    sub = per_block[:, :_SUBSAMPLE]
    share = (k + 0.5) / n
    margin = math.ceil(5 * math.sqrt(_SUBSAMPLE * share * (1 - share))) + 2
    centre = share * _SUBSAMPLE
    at = math.floor(centre) - margin if below else math.ceil(centre) + margin
    at = min(max(at, 0), _SUBSAMPLE - 1)
    guess = np.partition(sub, at, axis=1)[:, at]
    if below:  # guess ≤ k-th smallest ⟺ at most k values lie strictly below it
        wrong = np.count_nonzero(per_block < guess[:, None], axis=1) > k
    else:  # guess ≥ k-th smallest ⟺ at least k + 1 values lie at or below it
        wrong = np.count_nonzero(per_block <= guess[:, None], axis=1) < k + 1
    if np.any(wrong):
        rows = np.flatnonzero(wrong)
        guess[rows] = np.partition(per_block[rows], k, axis=1)[:, k]
    out: FloatArray = guess
    return out
