"""Exact population percentiles without keeping every curve: block bounds, then a few candidates.

numpy's "linear" percentile q at time t needs the r-th and (r+1)-th smallest of the N patients'
values (r = floor(q/100 · (N − 1))). Keeping all N × T values to sort them costs memory and, above
all, time (a selection is ~20 ns per value here, against ~1 ns to write a value).

Instead, each patient's lower and upper bound over every block of ``BLOCK`` consecutive grid times
is kept (2 float32 numbers per 32 values, each rounded outwards, so still a bound): from the
patient's modal form (``modal_blocks``) for the exact method, without computing the curve. For
block j:

* ``low``, the r-th smallest of the patients' block minima, and ``high``, the (r+1)-th smallest
  of their block maxima, bracket both order statistics at every time of the block;
* a patient whose block maximum is below ``low`` is below both at every time of the block
  (``below`` of them), one whose block minimum is above ``high`` is above both;
* the others, the candidates, are few (about 1 % of patients: those whose curve passes near the
  percentile during those 32 grid steps), and the order statistics are the (r − below)-th and
  (r + 1 − below)-th smallest of the candidates' values, which are computed for that block only.

Any wider bracket is as exact (only the candidates are more), which two savings use: from block
``_MERGE_FROM`` on, where curves are smooth, pairs of blocks share one bracket (a selection over
half as many rows); and a patient who is a candidate of several quantiles of a site (most of them
in the first minutes after a bolus, where candidates are not few) has its values computed once.

The result is numpy.percentile's of the candidates' values as ``ModalCurves.values`` computes
them (they differ from the engine's grid path, ``concentrations_into``, by rounding only: about
1e-12 of the peak where the effect site's exponentials cancel after a bolus).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]

#: Grid times per block. Smaller blocks mean fewer candidates but more bounds to keep.
BLOCK = 32
#: Relative step outwards before rounding a bound to float32 (see ``BlockBounds.add``).
_OUTWARD = 2.0**-22
#: Blocks with at most this many candidates are selected in one vectorised sort (most blocks:
#: typically 10 to 30 candidates); the rest one by one, with a partition.
_FEW = 128


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
    """Every patient's block minima and maxima, written patient by patient and kept block-major
    (B, N) in ``low`` and ``high``, as the selection wants them (no transposed copy)."""

    def __init__(self, n: int, count: int) -> None:
        self.starts, self.count = block_starts(count), count
        # float32 halves the memory; rounding each bound outwards keeps it a bound.
        self.low = np.empty((self.starts.size, n), dtype=np.float32)
        self.high = np.empty((self.starts.size, n), dtype=np.float32)

    def add(self, rows: slice, low: FloatArray, high: FloatArray) -> None:
        """Record the bounds (P, B) of patients ``rows``, rounded outwards to float32."""
        # Bounds are ≥ 0; moving them 2**-22 outwards first means rounding to the nearest float32
        # (which moves by at most 2**-24) cannot bring them back inside.
        np.multiply(low.T, 1 - _OUTWARD, out=self.low[:, rows], casting="same_kind")
        np.multiply(high.T, 1 + _OUTWARD, out=self.high[:, rows], casting="same_kind")


#: Values (S, BLOCK) of patient ``patients[s]`` over block ``blocks[s]`` (``ModalCurves.values``).
BlockValues = Callable[[IntArray, IntArray], FloatArray]


def exact_percentiles(
    bounds: BlockBounds, quantiles: tuple[float, ...], curves: BlockValues
) -> FloatArray:
    """numpy.percentile(values, quantiles, axis=patients) (linear), (Q, T), from the bounds and
    the candidates' values."""
    n = bounds.low.shape[1]
    count = bounds.count
    ranks = [(n - 1) * (q / 100) for q in quantiles]  # as numpy computes the index
    firsts = [math.floor(rank) for rank in ranks]
    seconds = [min(first + 1, n - 1) for first in firsts]
    # One selection per side for all quantiles (each is a pass over N × B bounds).
    lows = _merged_smallest(bounds.low, firsts, np.minimum)
    highs = _merged_smallest(bounds.high, seconds, np.maximum)
    candidates = [_candidates(bounds, lows[qi], highs[qi]) for qi in range(len(quantiles))]
    # Near a bolus most patients are candidates for every quantile: each value is computed once.
    union = candidates[0][0].copy()
    for mask, _ in candidates[1:]:
        union |= mask
    blocks, patients = np.nonzero(union)
    blocks, patients = blocks.astype(np.intp), patients.astype(np.intp)
    values = curves(patients, blocks)
    out = np.empty((len(quantiles), count))
    for qi, (rank, first, second) in enumerate(zip(ranks, firsts, seconds, strict=True)):
        mask, below = candidates[qi]
        mine = np.flatnonzero(mask[blocks, patients])
        lower, upper = _order_statistics(
            bounds, (first - below, second - below), blocks[mine], (values, mine), count
        )
        out[qi] = _lerp(lower, upper, rank - first)
    return out


def _candidates(
    bounds: BlockBounds, low: Float32Array, high: Float32Array
) -> tuple[npt.NDArray[np.bool_], IntArray]:
    """(B, N) which patients may hold an order statistic bracketed by (``low``, ``high``) in each
    block, and (B,) how many lie below the bracket throughout the block."""
    above_low = bounds.high >= low[:, None]
    below: IntArray = bounds.high.shape[1] - np.count_nonzero(above_low, axis=1)
    candidate = np.logical_and(above_low, bounds.low <= high[:, None], out=above_low)
    return candidate, below


def _lerp(lower: FloatArray, upper: FloatArray, weight: float) -> FloatArray:
    """numpy.percentile's interpolation between the two order statistics, operation for operation
    (numpy 2's ``_lerp``: from the upper one when the weight is at least 1/2), so the bits agree."""
    difference = upper - lower
    if weight >= 0.5:
        out: FloatArray = upper - difference * (1 - weight)
    else:
        out = lower + difference * weight
    return out


def _order_statistics(
    bounds: BlockBounds,
    ks: tuple[IntArray, IntArray],
    blocks: IntArray,
    candidates: tuple[FloatArray, IntArray],
    count: int,
) -> tuple[FloatArray, FloatArray]:
    """The ``ks[0][j]``-th and ``ks[1][j]``-th smallest (0-based) of the candidates' values at
    every grid time of each block j; the ranks already discount the patients below the block's
    bracket. ``candidates`` is (values, rows): candidate i's values are ``values[rows[i]]``
    (rows of the union's values, not copied out), in block-major order: ``blocks`` ascending."""
    values, rows = candidates
    edges = np.searchsorted(blocks, np.arange(bounds.starts.size + 1))
    lower, upper = np.empty(count), np.empty(count)
    few = np.diff(edges) <= _FEW
    _select_few(np.flatnonzero(few), blocks, (values, rows), edges, ks, (lower, upper))
    for j in np.flatnonzero(~few):
        # Time-major and contiguous, so that each selection runs along contiguous memory.
        mine = np.ascontiguousarray(values[rows[edges[j] : edges[j + 1]]].T)
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
    candidates: tuple[FloatArray, IntArray],
    edges: IntArray,
    ks: tuple[IntArray, IntArray],
    out: tuple[FloatArray, FloatArray],
) -> None:
    """The order statistics of all blocks with at most ``_FEW`` candidates at once: their values
    laid out (block, time, candidate), padded with +inf (never picked: each k is below the
    block's candidate count), sorted along the candidates."""
    if chosen.size == 0:
        return
    values, rows = candidates
    slot = np.full(edges.size - 1, -1, dtype=np.intp)
    slot[chosen] = np.arange(chosen.size)
    pairs = np.flatnonzero(slot[blocks] >= 0)
    laid = np.full((chosen.size, BLOCK, _FEW), np.inf)
    laid[slot[blocks[pairs]], :, pairs - edges[blocks[pairs]]] = values[rows[pairs]]
    laid.sort(axis=2)
    times = chosen[:, None] * BLOCK + np.arange(BLOCK)
    inside = times < out[0].size
    for k, target in zip(ks, out, strict=True):
        picked = np.take_along_axis(laid, k[chosen][:, None, None], axis=2)[:, :, 0]
        target[times[inside]] = picked[inside]


#: Blocks from this one on are bracketed in groups of ``_MERGE`` (see ``_merged_smallest``).
_MERGE_FROM = 64
_MERGE = 2


def _merged_smallest(per_block: Float32Array, ks: list[int], combine: np.ufunc) -> Float32Array:
    """(len(ks), B) brackets: as ``_smallest``, but each group of ``_MERGE`` consecutive blocks
    from ``_MERGE_FROM`` on shares one, the ks-th smallest of the patients' bounds combined
    over the group (minima for lower brackets, maxima for upper ones). Each patient's combined
    bound is as far out as any of its blocks' bounds, so the shared bracket is at least as wide as
    each block's own and still brackets both order statistics (a few more candidates), for a
    fraction of the selection work where curves are smooth."""
    blocks = per_block.shape[0]
    groups = (blocks - _MERGE_FROM) // _MERGE
    if groups < 1:
        return _smallest(per_block, ks)
    end = _MERGE_FROM + groups * _MERGE
    tail = per_block[_MERGE_FROM:end].reshape(groups, _MERGE, -1)
    combined = combine.reduce(tail, axis=1)
    rows = np.concatenate([per_block[:_MERGE_FROM], combined, per_block[end:]])
    picked = _smallest(rows, ks)
    out: Float32Array = np.concatenate(
        [picked[:, :_MERGE_FROM], np.repeat(picked[:, _MERGE_FROM : _MERGE_FROM + groups], _MERGE,
         axis=1), picked[:, _MERGE_FROM + groups :]], axis=1)  # fmt: skip
    return out


def _smallest(per_block: Float32Array, ks: list[int]) -> Float32Array:
    """(len(ks), B): the ks[i]-th smallest (0-based) of each row of ``per_block`` (B, N)."""
    picked = per_block.copy()
    _partition_at(picked, sorted(set(ks)))
    out: Float32Array = np.ascontiguousarray(picked[:, ks].T)
    return out


def _partition_at(rows: Float32Array, ks: list[int]) -> None:
    """Partition each row in place around every k of the sorted ``ks``: one k at a time, the
    middle one first, then each side around its own (numpy's selection is about twice as fast
    per element with one k as with several)."""
    if not ks:
        return
    middle = len(ks) // 2
    k = ks[middle]
    rows.partition(k, axis=1)
    _partition_at(rows[:, :k], ks[:middle])
    _partition_at(rows[:, k + 1 :], [other - k - 1 for other in ks[middle + 1 :]])
