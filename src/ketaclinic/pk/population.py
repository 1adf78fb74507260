"""Virtual populations: how a protocol spreads across patients who differ.

Each patient's volumes, clearances and ke0 are the model's typical values times a log-normal factor
``exp(omega * z)``, ``omega² = ln(1 + CV²)``, z standard normal, drawn from
``numpy.random.default_rng(seed)`` for all patients at once (so the draw never depends on chunking).

Memory is bounded by working in chunks of ``chunk_patients``: only per-patient numbers (peaks, time
above threshold, and each patient's lower and upper bound over blocks of 32 grid times) and
per-time summaries are kept. Peaks and time above the threshold come from the block bounds (only
blocks where a curve may cross the threshold, or may hold the peak, are computed point by point).
Percentile curves (5th/50th/95th) are

* ``"exact"``: ``numpy.percentile`` (linear) of every patient's values, computed from the block
  bounds and the few patients near each percentile (``percentiles``). The bounds come straight
  from each patient's modal form (``modal_blocks``), so this method never computes a curve whole:
  only the candidates' values, the blocks that may hold a peak and those that may cross the
  threshold. Memory 16·N·⌈T/32⌉ bytes for both sites;
* ``"histogram"``: per time point, counts in log-spaced bins from 0.01 to 100,000 ng/mL,
  ``bins_per_decade`` (default 400) per decade; a percentile is read off the cumulative counts and
  interpolated log-linearly inside its bin. Its relative error is below the bin ratio
  ``10**(1/bins_per_decade) - 1`` (0.58% at 400), values below 0.01 ng/mL read as 0. Memory
  ``8·T·(7·bins_per_decade + 2)`` bytes for both sites, independent of N.

``"auto"`` is exact when the block bounds fit in ``EXACT_BUDGET_BYTES``, else histogram.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import _checks
from ketaclinic.pk.engine import RateArrays
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.modal_blocks import ModalCurves
from ketaclinic.pk.models import Patient, PkParameters, resolve
from ketaclinic.pk.percentiles import (
    BLOCK,
    BlockBounds,
    BlockValues,
    IntArray,
    block_bounds,
    block_starts,
    bounds_bytes,
    exact_percentiles,
)
from ketaclinic.pk.schedule import Schedule
from ketaclinic.pk.simulate import concentrations_into

FloatArray = npt.NDArray[np.float64]

PERCENTILES = (5.0, 50.0, 95.0)
EXACT_BUDGET_BYTES = 256 * 2**20
_LOG10_LOW, _LOG10_HIGH = -2.0, 5.0  # histogram range: 0.01 to 100,000 ng/mL
METHODS = ("auto", "exact", "histogram")


@dataclass(frozen=True)
class Variability:
    """Between-patient coefficient of variation (fraction, log-normal) of each parameter.

    Illustrative defaults, not fitted to adults: no adult between-subject variability for racemic
    ketamine was retrieved. They sit in the range Herd 2007 reports for children (V1 64%, V2 52%,
    CL 38%, Q 19%) and Hijazi 2003's spread in ICU adults (CL SD 37% of the mean). ke0 was never
    measured in adults, hence its wide 50%.
    """

    v1: float = 0.4
    v2: float = 0.4
    v3: float = 0.4
    cl: float = 0.35
    q2: float = 0.35
    q3: float = 0.35
    ke0: float = 0.5

    def __post_init__(self) -> None:
        for name in ("v1", "v2", "v3", "cl", "q2", "q3", "ke0"):
            value = _checks.within(f"cv.{name}", getattr(self, name), "(fraction)", 0.0, 2.0)
            object.__setattr__(self, name, value)

    def omegas(self) -> FloatArray:
        cv = np.array([self.v1, self.v2, self.v3, self.cl, self.q2, self.q3, self.ke0])
        out: FloatArray = np.sqrt(np.log1p(cv**2))
        return out


@dataclass(frozen=True)
class SiteSummary:
    """One site across the population.

    ``percentiles_ng_per_ml`` (3, T): 5th, 50th, 95th percentile at each time. ``peak_ng_per_ml``
    (N,): each patient's highest grid value. ``time_above_threshold_min`` (N,): minutes above the
    threshold, crossings placed by linear interpolation between grid times.
    """

    percentiles_ng_per_ml: FloatArray
    peak_ng_per_ml: FloatArray
    fraction_peak_above_threshold: float
    time_above_threshold_min: FloatArray
    time_above_threshold_percentiles_min: tuple[float, float, float]


@dataclass(frozen=True)
class PopulationResult:
    """Summaries of ``n`` virtual patients on ``times_min`` (T,); see ``SiteSummary``."""

    model: str
    n: int
    seed: int
    threshold_ng_per_ml: float
    times_min: FloatArray
    plasma: SiteSummary
    effect_site: SiteSummary
    percentile_method: str
    percentile_accuracy: str
    warnings: tuple[str, ...]
    typical: PkParameters = field(repr=False)


def sample_parameters(
    typical: PkParameters, variability: Variability, n: int, seed: int
) -> RateArrays:
    """N patients' rate arrays around ``typical`` (see the module docstring)."""
    z = np.random.default_rng(seed).standard_normal((n, 7))
    factor = np.exp(z * variability.omegas())
    three = typical.compartments == 3
    v1, v2 = typical.v1_l * factor[:, 0], typical.v2_l * factor[:, 1]
    v3 = (typical.v3_l if three else 1.0) * factor[:, 2]
    cl, q2 = typical.cl_l_per_min * factor[:, 3], typical.k12_per_min * typical.v1_l * factor[:, 4]
    q3 = typical.k13_per_min * typical.v1_l * factor[:, 5]
    zero = np.zeros(n)
    return RateArrays(
        typical.compartments, v1, cl / v1, q2 / v1, q2 / v2,
        q3 / v1 if three else zero, q3 / v3 if three else zero,
        typical.ke0_per_min * factor[:, 6],
    )  # fmt: skip


#: Patients per slab in the statistics: a slab's scratch arrays (slab × T) stay in cache.
_SLAB = 128


class _Scratch:
    """Reused scratch arrays: the VM this runs on pays dearly for every fresh large allocation."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.flat = np.empty((1, _SLAB * count))
        self.index = np.empty(_SLAB * count, dtype=np.intp)

    def floats(self, which: int, rows: int, cols: int) -> FloatArray:
        return self.flat[which, : rows * cols].reshape(rows, cols)


#: Block lower and upper bounds (P, B): a slab's minima and maxima (``percentiles.block_bounds``)
#: or bounds from the modal form (``ModalCurves.bounds``).
Bounds = tuple[FloatArray, FloatArray]


class _HistogramStore:
    """Per-time counts in log-spaced bins (see the module docstring); bin 0 holds values below
    0.01 ng/mL, the last bin values above 100,000 ng/mL."""

    def __init__(self, n: int, count: int, bins_per_decade: int) -> None:
        self.n, self.count, self.per_decade = n, count, bins_per_decade
        self.bins = round((_LOG10_HIGH - _LOG10_LOW) * bins_per_decade) + 2
        self.counts = np.zeros((count, self.bins), dtype=np.int64)
        self.offsets = (self.bins * np.arange(count, dtype=np.intp) + 1)[:, None]

    def add(self, rows: slice, values: FloatArray, scratch: _Scratch) -> None:
        np.maximum(values, 0.0, out=values)  # rounding residue (see ``block_bounds``)
        # Time-major order makes consecutive increments hit the same time's row of counts.
        scaled = scratch.floats(0, self.count, values.shape[0])
        np.maximum(values.T, 1e-300, out=scaled)
        np.log10(scaled, out=scaled)
        scaled -= _LOG10_LOW
        scaled *= self.per_decade
        np.floor(scaled, out=scaled)
        np.clip(scaled, -1.0, self.bins - 2.0, out=scaled)
        index = scratch.index[: scaled.size].reshape(scaled.shape)
        np.copyto(index, scaled, casting="unsafe")
        index += self.offsets
        np.add.at(self.counts.reshape(-1), index.reshape(-1), 1)

    def percentiles(self) -> FloatArray:
        """numpy's "linear" percentiles: the two order statistics around rank q/100·(N−1), each
        read from its bin, then interpolated as numpy does; so each result lies within one bin
        ratio of the exact one."""
        cumulative = np.cumsum(self.counts, axis=1)
        out = np.empty((len(PERCENTILES), self.count))
        for i, q in enumerate(PERCENTILES):
            rank = q / 100 * (self.n - 1)
            low = math.floor(rank)
            lower = self._order_statistic(cumulative, low)
            upper = self._order_statistic(cumulative, min(low + 1, self.n - 1))
            out[i] = lower + (rank - low) * (upper - lower)
        return out

    def _order_statistic(self, cumulative: IntArray, k: int) -> FloatArray:
        """The k-th smallest value (0-based) at each time, placed inside its bin by its rank
        among the bin's members (log-linear)."""
        bin_ = np.argmax(cumulative > k, axis=1)
        members = self.counts[np.arange(self.count), bin_]
        before = cumulative[np.arange(self.count), bin_] - members
        position = (k - before + 0.5) / members
        log_value = _LOG10_LOW + (bin_ - 1 + position) / self.per_decade
        value = 10.0 ** np.minimum(log_value, _LOG10_HIGH)
        out: FloatArray = np.where(bin_ == 0, 0.0, value)
        return out

    @staticmethod
    def accuracy(bins_per_decade: int) -> str:
        error = 10 ** (1 / bins_per_decade) - 1
        return (
            f"histogram: {bins_per_decade} log bins per decade from 0.01 to 100000 ng/mL; "
            f"relative error < {error:.2%}, values below 0.01 ng/mL read as 0"
        )


EXACT_ACCURACY = "exact (numpy.percentile, linear interpolation between patients)"


@dataclass
class _Site:
    """Accumulates one site's per-patient numbers and percentile store."""

    store: _HistogramStore
    peak: FloatArray
    above: FloatArray

    def add(
        self, rows: slice, values: FloatArray, threshold: float, step: float, scratch: _Scratch
    ) -> None:
        for s0 in range(0, values.shape[0], _SLAB):
            slab = values[s0 : s0 + _SLAB]
            part = slice(rows.start + s0, rows.start + s0 + slab.shape[0])
            bounds = block_bounds(slab)
            self.peak[part] = bounds[1].max(axis=1)
            self.above[part] = _time_above(slab, bounds, threshold, step)
            self.store.add(part, slab, scratch)

    def summary(self, threshold: float) -> SiteSummary:
        return _summary(self.store.percentiles(), self.peak, self.above, threshold)


def _summary(
    percentiles: FloatArray, peak: FloatArray, above: FloatArray, threshold: float
) -> SiteSummary:
    spread = np.percentile(above, PERCENTILES)
    return SiteSummary(
        percentiles,
        peak,
        float(np.mean(peak > threshold)),
        above,
        (float(spread[0]), float(spread[1]), float(spread[2])),
    )


def time_above(
    values: FloatArray, threshold: float, step: float, scratch: _Scratch | None = None
) -> FloatArray:
    """Minutes each row (P, T) spends above ``threshold`` on a grid of ``step`` min.

    Within an interval the curve is taken as linear, so with d = value − threshold at its ends
    the share above is ``clip(max(d0, d1) / |d0 − d1|, 0, 1)``: 1 when both ends are at or above
    the threshold, 0 when both are below. Values below 0 count as 0 (rounding residue).
    ``scratch`` is unused; kept for callers that pass it.
    """
    return _time_above(values, block_bounds(values), threshold, step)


def _time_above(values: FloatArray, bounds: Bounds, threshold: float, step: float) -> FloatArray:
    """``time_above`` from the block bounds: a block of intervals whose lowest point is at or above
    the threshold counts whole, one whose highest is below counts 0, and only the few blocks in
    between (where the curve crosses) are looked at interval by interval."""
    rows, count = values.shape
    starts = block_starts(count)
    intervals = np.minimum(starts + BLOCK, count - 1) - starts
    low, high = bounds
    if starts.size > 1:  # a block's last interval ends on the next block's first point
        following = np.maximum(values[:, starts[1:]], 0.0)
        low, high = low.copy(), high.copy()
        np.minimum(low[:, :-1], following, out=low[:, :-1])
        np.maximum(high[:, :-1], following, out=high[:, :-1])
    whole = low >= threshold
    counted = whole.astype(np.float64) @ intervals.astype(np.float64)
    row, block = np.nonzero(~whole & (high >= threshold) & (intervals > 0))
    index = np.minimum(starts[block][:, None] + np.arange(BLOCK + 1), count - 1)
    ends = np.maximum(values[row[:, None], index], 0.0) - threshold
    partial = np.bincount(row, weights=_shares(ends, intervals[block]), minlength=rows)
    out: FloatArray = (counted + partial) * step
    return out


def simulate_population(
    model: str,
    patient: Patient,
    schedule: Schedule,
    grid: UniformGrid,
    *,
    n: int,
    seed: int,
    threshold_ng_per_ml: float,
    variability: Variability | None = None,
    ke0_per_min: float | None = None,
    chunk_patients: int = 128,
    percentile_method: str = "auto",
    bins_per_decade: int = 400,
    progress: Callable[[int, int], None] | None = None,
) -> PopulationResult:
    """Simulate ``n`` virtual patients around ``patient`` and summarise both sites.

    ``progress(done, n)`` is called after each chunk (for a progress bar).
    """
    _, typical, warnings = resolve(model, patient, ke0_per_min)
    n = _checks.whole("n", n, 1, 1_000_000)
    seed = _checks.whole("seed", seed, 0, 2**63 - 1)
    threshold = _checks.within("threshold_ng_per_ml", threshold_ng_per_ml, "ng/mL", 0.0, 1e5)
    chunk = _checks.whole("chunk_patients", chunk_patients, 1, 1_000_000)
    per_decade = _checks.whole("bins_per_decade", bins_per_decade, 10, 10_000)
    method = _method(percentile_method, n, grid.count)
    rates = sample_parameters(typical, variability or Variability(), n, seed)
    step = grid.step_min
    if method == "exact":
        curves = ModalCurves(rates, schedule, grid, BLOCK)
        plasma, effect = _exact_sites(curves, threshold, step, min(chunk, n), progress)
        accuracy = EXACT_ACCURACY
    else:
        sites = tuple(
            _Site(_HistogramStore(n, grid.count, per_decade), np.empty(n), np.empty(n))
            for _ in range(2)
        )
        _accumulate(rates, schedule, grid, (sites[0], sites[1]), threshold, min(chunk, n), progress)
        plasma, effect = (site.summary(threshold) for site in sites)
        accuracy = _HistogramStore.accuracy(per_decade)
    return PopulationResult(
        model, n, seed, threshold, grid.times(), plasma, effect,
        method, accuracy, warnings, typical,
    )  # fmt: skip


def _exact_sites(
    curves: ModalCurves,
    threshold: float,
    step: float,
    chunk: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[SiteSummary, SiteSummary]:
    """Both sites by the exact method, from the patients' modal form: block bounds chunk by chunk
    (peaks and time above the threshold from them and the few blocks they leave open), then the
    percentiles from the bounds and their candidates. No curve is computed whole."""
    n = curves.mu.shape[0]
    count = curves.grid.count
    bounds = (BlockBounds(n, count), BlockBounds(n, count))
    peak, above = (np.empty(n), np.empty(n)), (np.empty(n), np.empty(n))
    for p0 in range(0, n, chunk):
        rows = slice(p0, min(p0 + chunk, n))
        both = curves.bounds(rows)
        for site in (0, 1):
            low, high = both[:, :, site, 0, 0], both[:, :, site, 0, 1]
            bounds[site].add(rows, low, high)
            peak[site][rows] = _peaks(curves, site, rows, low, high)
            closed = (both[:, :, site, 1, 0], both[:, :, site, 1, 1])
            above[site][rows] = _time_above_open_blocks(curves, site, rows, closed, threshold, step)
        if progress is not None:
            progress(rows.stop, n)
    plasma, effect = (
        _summary(
            exact_percentiles(bounds[site], PERCENTILES, _block_values(curves, site)),
            peak[site],
            above[site],
            threshold,
        )
        for site in (0, 1)
    )
    return plasma, effect


def _block_values(curves: ModalCurves, site: int) -> BlockValues:
    def values(patients: IntArray, blocks: IntArray) -> FloatArray:
        return curves.values(patients, blocks, BLOCK, site)

    return values


def _peaks(
    curves: ModalCurves, site: int, rows: slice, low: FloatArray, high: FloatArray
) -> FloatArray:
    """Each patient's highest grid value. First the block with the highest upper bound is
    computed; its highest value is a floor for the peak, so only the other blocks whose upper
    bound reaches that floor (and the patient's best lower bound) can hold it, and only those are
    computed (after a bolus or at an infusion's end, usually none)."""
    patients = low.shape[0]
    who = np.arange(rows.start, rows.stop, dtype=np.intp)
    best = high.argmax(axis=1).astype(np.intp)
    peak: FloatArray = curves.values(who, best, BLOCK, site).max(axis=1)
    floor = np.maximum(peak, low.max(axis=1))
    reach = high >= floor[:, None]
    reach[np.arange(patients), best] = False
    others, blocks = np.nonzero(reach)
    if others.size:
        values = curves.values((others + rows.start).astype(np.intp), blocks, BLOCK, site)
        np.maximum.at(peak, others, values.max(axis=1))
    return peak


def _time_above_open_blocks(
    curves: ModalCurves,
    site: int,
    rows: slice,
    closed: Bounds,
    threshold: float,
    step: float,
) -> FloatArray:
    """``time_above`` from bounds over each block's intervals (its points and the next block's
    first): a block at or above the threshold throughout counts whole, one below it throughout
    counts 0, and only the rest are computed, interval by interval."""
    low, high = closed
    count = curves.grid.count
    starts = block_starts(count)
    intervals = np.minimum(starts + BLOCK, count - 1) - starts
    whole = low >= threshold
    counted = whole.astype(np.float64) @ intervals.astype(np.float64)
    patients, blocks = np.nonzero(~whole & (high >= threshold) & (intervals > 0))
    values = curves.values((patients + rows.start).astype(np.intp), blocks, BLOCK + 1, site)
    partial = _shares(values - threshold, intervals[blocks])
    out: FloatArray = (counted + np.bincount(patients, partial, minlength=low.shape[0])) * step
    return out


def _shares(ends: FloatArray, intervals: IntArray) -> FloatArray:
    """Grid intervals above the threshold in each row of ``ends`` (value − threshold at BLOCK + 1
    points), counting only its first ``intervals`` intervals; linear in between."""
    first, second = ends[:, :-1], ends[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip(np.maximum(first, second) / np.abs(first - second), 0.0, 1.0)
    share[(first >= 0) & (second >= 0)] = 1.0
    share[np.arange(first.shape[1])[None, :] >= intervals[:, None]] = 0.0
    out: FloatArray = share.sum(axis=1)
    return out


def _accumulate(
    rates: RateArrays,
    schedule: Schedule,
    grid: UniformGrid,
    sites: tuple[_Site, _Site],
    threshold: float,
    chunk: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Simulate chunk after chunk into the same two buffers and fold each into the summaries."""
    n = rates.patients
    buffers = (np.empty((chunk, grid.count)), np.empty((chunk, grid.count)))
    scratch = _Scratch(grid.count)
    for p0 in range(0, n, chunk):
        rows = slice(p0, min(p0 + chunk, n))
        size = rows.stop - p0
        plasma, effect = buffers[0][:size], buffers[1][:size]
        concentrations_into(rates.take(rows), schedule, grid, plasma, effect)
        for site, values in zip(sites, (plasma, effect), strict=True):
            site.add(rows, values, threshold, grid.step_min, scratch)
        if progress is not None:
            progress(rows.stop, n)


def _method(asked: str, n: int, count: int) -> str:
    if asked not in METHODS:
        raise PkInputError("percentile_method", f"percentile_method must be one of {METHODS}")
    if asked != "auto":
        return asked
    return "exact" if 2 * bounds_bytes(n, count) <= EXACT_BUDGET_BYTES else "histogram"
