"""Exact population percentiles without keeping every curve: block bounds, then a few candidates.

numpy's "linear" percentile q at time t needs the r-th and (r+1)-th smallest of the N patients'
values (r = floor(q/100 · (N − 1))). Keeping all N × T values to sort them costs memory and, above
all, time (a selection is ~20 ns per value here, against ~1 ns to write a value).

Instead, while the curves stream past in chunks, each patient's minimum and maximum over every
block of ``BLOCK`` consecutive grid times is kept (2 float32 numbers per 32 values, each rounded
outwards, so still a bound). For block j:

* ``low``, the r-th smallest of the patients' block minima, and ``high``, the (r+1)-th smallest
  of their block maxima, bracket both order statistics at every time of the block;
* a patient whose block maximum is below ``low`` is below both at every time of the block
  (``below`` of them), one whose block minimum is above ``high`` is above both;
* the others, the candidates, are few (about 1 % of patients: those whose curve passes near the
  percentile during those 32 grid steps), and the order statistics are the (r − below)-th and
  (r + 1 − below)-th smallest of the candidates' values, which are computed again, exactly, for
  that block only.

The result is numpy.percentile's (up to the last bit: the candidates' values are computed
directly rather than by the grid path's factored exponentials).
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
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]

#: Grid times per block. Smaller blocks mean fewer candidates but more bounds to keep.
BLOCK = 32
#: Relative step outwards before rounding a bound to float32 (see ``BlockBounds.add``).
_OUTWARD = 2.0**-22
#: Candidate values computed at once (pairs of patient and block), bounding the scratch memory.
_PAIRS_AT_ONCE = 4096
#: Blocks with at most this many candidates are selected in one vectorised sort (most blocks:
#: typically 10 to 30 candidates); the rest one by one, with a partition.
_FEW = 64


def bounds_bytes(n: int, count: int) -> int:
    """Memory the block bounds of one site take (bytes): float32, rounded outwards."""
    return 8 * n * math.ceil(count / BLOCK)


def block_starts(count: int) -> IntArray:
    """The first grid index of each block."""
    return np.arange(0, count, BLOCK, dtype=np.intp)


def block_bounds(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Minimum and maximum (P, B) of each row of ``values`` (P, T) over each block, never below 0
    (the fast evaluator leaves rounding residue of ~-1e-15 × peak where the exact value is 0)."""
    starts = block_starts(values.shape[1])
    low = np.minimum.reduceat(values, starts, axis=1)
    high = np.maximum.reduceat(values, starts, axis=1)
    np.maximum(low, 0.0, out=low)
    np.maximum(high, 0.0, out=high)
    return low, high


class BlockBounds:
    """Every patient's block minima and maxima (N, B), written patient by patient; ``low`` and
    ``high`` give them block-major (B, N), as the selection wants them."""

    def __init__(self, n: int, count: int) -> None:
        self.starts = block_starts(count)
        # float32 halves the memory; rounding each bound outwards keeps it a bound.
        self.minima = np.empty((n, self.starts.size), dtype=np.float32)
        self.maxima = np.empty((n, self.starts.size), dtype=np.float32)
        self._by_block: tuple[Float32Array, Float32Array] | None = None

    def add(self, rows: slice, low: FloatArray, high: FloatArray) -> None:
        """Record the bounds (P, B) of patients ``rows``, rounded outwards to float32."""
        # Bounds are ≥ 0; moving them 2**-22 outwards first means rounding to the nearest float32
        # (which moves by at most 2**-24) cannot bring them back inside.
        self.minima[rows] = low * (1 - _OUTWARD)
        self.maxima[rows] = high * (1 + _OUTWARD)

    @property
    def low(self) -> Float32Array:
        return self._block_major()[0]

    @property
    def high(self) -> Float32Array:
        return self._block_major()[1]

    def _block_major(self) -> tuple[Float32Array, Float32Array]:
        if self._by_block is None:
            self._by_block = (
                np.ascontiguousarray(self.minima.T),
                np.ascontiguousarray(self.maxima.T),
            )
        return self._by_block


class _Curves:
    """Exact values of chosen patients at chosen blocks of the grid, for one site.

    Every patient's modal form is computed once (small: a few numbers per patient and dose
    event) and reused for all the blocks and percentiles that pick them. A block inside one dose
    piece needs no exponential per value: ``exp(-mu (d0 + r step)) = exp(-mu d0) exp(-mu r step)``,
    the second factor tabulated once per patient for r < BLOCK (``offsets``); blocks a dose event
    cuts, and the grid's last block, are evaluated directly.
    """

    def __init__(self, rates: RateArrays, schedule: Schedule, grid: UniformGrid, site: int):
        self.grid, self.pw = grid, schedule.piecewise()
        modes = engine.decompose(rates)
        states = engine.modal_states(modes, self.pw)
        weights = (modes.plasma_weights, modes.effect_weights)[site]
        self.mu = modes.rates_per_min
        self.level, self.amplitude = engine.site_coefficients(
            weights * engine.NG_PER_ML_PER_MG_PER_L, states
        )
        self._offsets: FloatArray | None = None

    def at(self, patients: IntArray, blocks: IntArray) -> FloatArray:
        """(S, BLOCK) values of patient ``patients[s]`` over block ``blocks[s]``; times past the
        grid's end repeat its last time."""
        out = np.empty((patients.size, BLOCK))
        first = blocks * BLOCK
        piece = engine.piece_index(self.pw, self._times(first))
        last = first + (BLOCK - 1)
        whole = last < self.grid.count
        whole[whole] = engine.piece_index(self.pw, self._times(last[whole])) == piece[whole]
        for chosen, evaluate in ((whole, self._factored), (~whole, self._direct)):
            (where,) = np.nonzero(chosen)
            for s0 in range(0, where.size, _PAIRS_AT_ONCE):
                part = where[s0 : s0 + _PAIRS_AT_ONCE]
                out[part] = evaluate(patients[part], blocks[part], piece[part])
        return out

    def _times(self, index: IntArray) -> FloatArray:
        times: FloatArray = self.grid.start_min + self.grid.step_min * index.astype(np.float64)
        return times

    def _factored(self, patients: IntArray, blocks: IntArray, piece: IntArray) -> FloatArray:
        """Blocks inside one piece: one exponential per mode and pair, the rest from ``offsets``."""
        since = self._times(blocks * BLOCK) - self.pw.starts_min[piece]
        mu = self.mu[patients]
        start = np.exp(np.maximum(-mu * since[:, None], -700.0))
        start *= self.amplitude[patients, piece]
        values = np.einsum("sm,srm->sr", start, self.offsets()[patients])
        values += self.level[patients, piece][:, None]
        out: FloatArray = np.maximum(values, 0.0, out=values)
        return out

    def offsets(self) -> FloatArray:
        """(P, BLOCK, M): exp(-mu r step) for r < BLOCK, once per patient."""
        if self._offsets is None:
            r = self.grid.step_min * np.arange(BLOCK, dtype=np.float64)
            arg = np.maximum(-self.mu[:, None, :] * r[None, :, None], -700.0)
            self._offsets = np.exp(arg)
        return self._offsets

    def _direct(self, patients: IntArray, blocks: IntArray, _piece: IntArray) -> FloatArray:
        """Any block: each value from its own piece and exponentials (the grid end repeated)."""
        index = np.minimum(blocks[:, None] * BLOCK + np.arange(BLOCK), self.grid.count - 1)
        times = self._times(index)
        piece = engine.piece_index(self.pw, times)
        since = times - self.pw.starts_min[piece]
        decay = np.exp(np.maximum(-self.mu[patients][:, None, :] * since[:, :, None], -700.0))
        who = patients[:, None]
        values = self.level[who, piece] + np.einsum(
            "stm,stm->st", self.amplitude[who, piece], decay
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
    ranks = [q / 100 * (n - 1) for q in quantiles]
    firsts = [math.floor(rank) for rank in ranks]
    seconds = [min(first + 1, n - 1) for first in firsts]
    # One selection per side for all quantiles (each is a pass over N × B bounds).
    lows = _smallest(bounds.low, firsts)
    highs = _smallest(bounds.high, seconds)
    out = np.empty((len(quantiles), grid.count))
    for qi, (rank, first, second) in enumerate(zip(ranks, firsts, seconds, strict=True)):
        lower, upper = _order_statistics(
            bounds, (first, second), (lows[qi], highs[qi]), curves, grid.count
        )
        out[qi] = lower + (rank - first) * (upper - lower)
    return out


def _order_statistics(
    bounds: BlockBounds,
    ranks: tuple[int, int],
    brackets: tuple[Float32Array, Float32Array],
    curves: _Curves,
    count: int,
) -> tuple[FloatArray, FloatArray]:
    """The ``ranks[0]``-th and ``ranks[1]``-th smallest value (0-based) at every grid time, given
    each block's bracket (``low``, ``high``) of both."""
    low, high = brackets
    above_low = bounds.high >= low[:, None]
    below = bounds.high.shape[1] - np.count_nonzero(above_low, axis=1)
    candidate = np.logical_and(above_low, bounds.low <= high[:, None], out=above_low)
    blocks, patients = np.nonzero(candidate)
    values = curves.at(patients.astype(np.intp), blocks.astype(np.intp))
    edges = np.searchsorted(blocks, np.arange(bounds.starts.size + 1))
    ks = (ranks[0] - below, ranks[1] - below)
    lower, upper = np.empty(count), np.empty(count)
    few = np.diff(edges) <= _FEW
    _select_few(np.flatnonzero(few), blocks, values, edges, ks, (lower, upper))
    for j in np.flatnonzero(~few):
        # Time-major and contiguous, so that each selection runs along contiguous memory.
        mine = np.ascontiguousarray(values[edges[j] : edges[j + 1]].T)
        k1, k2 = int(ks[0][j]), int(ks[1][j])
        mine.partition((k1, k2), axis=1)
        start = int(bounds.starts[j])
        width = min(BLOCK, count - start)
        lower[start : start + width] = mine[:width, k1]
        upper[start : start + width] = mine[:width, k2]
    return lower, upper


def _select_few(
    chosen: IntArray,
    blocks: IntArray,
    values: FloatArray,
    edges: IntArray,
    ks: tuple[IntArray, IntArray],
    out: tuple[FloatArray, FloatArray],
) -> None:
    """The order statistics of all blocks with at most ``_FEW`` candidates at once: their values
    laid out (block, time, candidate), padded with +inf (never picked: each k is below the
    block's candidate count), sorted along the candidates."""
    if chosen.size == 0:
        return
    slot = np.full(edges.size - 1, -1, dtype=np.intp)
    slot[chosen] = np.arange(chosen.size)
    pairs = np.flatnonzero(slot[blocks] >= 0)
    laid = np.full((chosen.size, BLOCK, _FEW), np.inf)
    laid[slot[blocks[pairs]], :, pairs - edges[blocks[pairs]]] = values[pairs]
    laid.sort(axis=2)
    times = chosen[:, None] * BLOCK + np.arange(BLOCK)
    inside = times < out[0].size
    for k, target in zip(ks, out, strict=True):
        picked = np.take_along_axis(laid, k[chosen][:, None, None], axis=2)[:, :, 0]
        target[times[inside]] = picked[inside]


def _smallest(per_block: Float32Array, ks: list[int]) -> Float32Array:
    """(len(ks), B): the ks[i]-th smallest (0-based) of each row of ``per_block`` (B, N)."""
    picked = np.partition(per_block, sorted(set(ks)), axis=1)
    out: Float32Array = np.ascontiguousarray(picked[:, ks].T)
    return out
