"""Many patients' curves over blocks of an even grid, straight from their modal form.

On one dose piece a site's curve is ``c(t) = level + sum_m a_m exp(-mu_m (t - tau))`` (``engine``),
a sum of terms each monotone in t. So over the grid points t_a ... t_b of one piece, c lies between
``level + sum_m min(a_m E_a, a_m E_b)`` and ``level + sum_m max(a_m E_a, a_m E_b)``, with
``E = exp(-mu_m (t - tau))`` at the two ends: two exponentials per mode and block instead of one
per grid value, and no patient's curve is ever written whole. Blocks that a dose event cuts (the
same few blocks for every patient, since the schedule is shared) are evaluated point by point.

The bounds are widened by ``_SLACK`` times ``|level| + sum_m |a_m|``, far more than the rounding
of any evaluation here, so they bound the values ``values`` computes as well as the exact ones.
Every value is computed element by element from one patient's numbers, so nothing depends on
which other patients share a call (results do not depend on chunking).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ketaclinic.pk import engine
from ketaclinic.pk.engine import RateArrays
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.schedule import Schedule

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Relative widening of every bound: about 4,500 units in the last place of the largest term.
_SLACK = 2.0**-40
#: Pairs (patient, block) computed at once in ``values``: bounds its scratch memory.
_PAIRS_AT_ONCE = 4096
#: Exponent floor, as in ``engine``: exp(-700) ~ 1e-304 is still a normal float.
_FLOOR = -700.0


def _put(out: FloatArray, rows: IntArray, values: FloatArray) -> None:
    """``out[rows] = values``, as one slice when the rows run consecutively (they usually do)."""
    if rows.size and rows[-1] - rows[0] + 1 == rows.size:
        out[rows[0] : rows[-1] + 1] = values
    else:
        out[rows] = values


class ModalCurves:
    """N patients' plasma (site 0) and effect-site (site 1) curves on ``grid``, in blocks of
    ``block`` grid points: bounds per block, and values of chosen (patient, block) pairs."""

    def __init__(self, rates: RateArrays, schedule: Schedule, grid: UniformGrid, block: int):
        self.grid, self.block, self.pw = grid, block, schedule.piecewise()
        modes = engine.decompose(rates)
        states = engine.modal_states(modes, self.pw)
        self.mu = modes.rates_per_min
        self.sites = tuple(
            engine.site_coefficients(w * engine.NG_PER_ML_PER_MG_PER_L, states)
            for w in (modes.plasma_weights, modes.effect_weights)
        )
        # Per patient, the largest |level| + sum |a_m| over all pieces: the scale of rounding.
        self.scale = tuple(
            (np.abs(level) + np.abs(amplitude).sum(axis=2)).max(axis=1)
            for level, amplitude in self.sites
        )
        self.starts = np.arange(0, grid.count, block, dtype=np.intp)
        self._offsets: FloatArray | None = None

    def times(self, index: IntArray) -> FloatArray:
        out: FloatArray = self.grid.start_min + self.grid.step_min * index.astype(np.float64)
        return out

    def bounds(self, rows: slice) -> FloatArray:
        """(P, B, 2, 2, 2) bounds, never below 0, of patients ``rows`` over each block j: indexed
        [patient, block, site, extent, side]; extent 0 covers the block's own grid points
        ``j*block`` ... ``j*block + block - 1``, extent 1 also the next block's first point (for
        time above a threshold, interval by interval); side 0 is the lower bound, 1 the upper.

        On a block inside one piece, with E the decay at its first point and g = exp(-mu d) the
        decay over the block's span d, a term a E runs from a E to a E g: its lowest value is
        a E g if a ≥ 0 else a E, its highest a E if a ≥ 0 else a E g. So each bound is
        ``level + sum_m c_m E_m`` with per-patient coefficients c: one small matrix product per
        piece for all blocks, sites, extents and sides together.
        """
        count, step = self.grid.count, self.grid.step_min
        mu = self.mu[rows]
        patients, modes = mu.shape
        # Stored block-last, so that each (site, extent, side) is a (P, B) array of contiguous
        # rows (what the callers read); returned as a (P, B, 2, 2, 2) view.
        stored_out = np.empty((patients, 8, self.starts.size))
        out = stored_out.reshape(patients, 2, 2, 2, -1).transpose(0, 4, 1, 2, 3)
        piece = engine.piece_index(self.pw, self.times(self.starts))
        closed = self.starts + self.block
        plain = closed < count
        plain[plain] = engine.piece_index(self.pw, self.times(closed[plain])) == piece[plain]
        spans = step * np.array([self.block - 1, self.block], dtype=np.float64)
        g = np.exp(-mu[:, :, None] * spans[None, None, :])  # (P, M, extent)
        for k in np.unique(piece[plain]):
            (j,) = np.nonzero(plain & (piece == k))
            since = self.times(self.starts[j]) - self.pw.starts_min[k]
            # Mode-major (P, M + 1, J), so that each exponential runs along contiguous memory
            # (strided, numpy's vectorised exp is not used).
            stored = np.empty((patients, modes + 1, j.size))
            stored[:, modes] = 1.0
            arg = stored[:, :modes]
            np.multiply(mu[:, :, None], -since[None, None, :], out=arg)
            np.maximum(arg, _FLOOR, out=arg)
            np.exp(arg, out=arg)
            coefficients = self._coefficients(rows, int(k), g).transpose(0, 2, 1)
            if j[-1] - j[0] + 1 == j.size:  # a run of blocks: write straight into ``out``
                np.matmul(coefficients, stored, out=stored_out[:, :, j[0] : j[-1] + 1])
            else:
                stored_out[:, :, j] = np.matmul(coefficients, stored)
        (cut,) = np.nonzero(~plain)
        for site in range(2 if cut.size else 0):
            who = np.repeat(np.arange(rows.start, rows.stop, dtype=np.intp), cut.size)
            which = np.tile(cut, patients)
            values = self.values(who, which, self.block + 1, site).reshape(patients, cut.size, -1)
            slack = (_SLACK * self.scale[site][rows])[:, None]
            for extent, width in enumerate((self.block, self.block + 1)):
                out[:, cut, site, extent, 0] = values[:, :, :width].min(axis=2) - slack
                out[:, cut, site, extent, 1] = values[:, :, :width].max(axis=2) + slack
        np.maximum(stored_out, 0.0, out=stored_out)
        return out

    def _coefficients(self, rows: slice, piece: int, g: FloatArray) -> FloatArray:
        """(P, M + 1, 8): per mode (and the level, last, moved outwards by the slack) the
        coefficient of each bound, columns ordered [site, extent, side] as in ``bounds``."""
        patients, modes = g.shape[0], g.shape[1]
        out = np.empty((patients, modes + 1, 2, 2, 2))
        for site, (level, amplitude) in enumerate(self.sites):
            a = amplitude[rows, piece][:, :, None]  # (P, M, 1)
            rising = a < 0  # a E g > a E: the term grows towards 0 along the block
            out[:, :modes, site, :, 0] = a * np.where(rising, 1.0, g)
            out[:, :modes, site, :, 1] = a * np.where(rising, g, 1.0)
            slack = _SLACK * self.scale[site][rows]
            out[:, modes, site, :, 0] = (level[rows, piece] - slack)[:, None]
            out[:, modes, site, :, 1] = (level[rows, piece] + slack)[:, None]
        return out.reshape(patients, modes + 1, 8)

    def values(self, patients: IntArray, blocks: IntArray, width: int, site: int) -> FloatArray:
        """(S, width) values, never below 0, of patient ``patients[s]`` at the grid points
        ``blocks[s]*block`` ... ``+ width - 1``; points past the grid's end repeat its last one."""
        out = np.empty((patients.size, width))
        first = blocks * self.block
        piece = engine.piece_index(self.pw, self.times(first))
        last = first + (width - 1)
        whole = last < self.grid.count
        whole[whole] = engine.piece_index(self.pw, self.times(last[whole])) == piece[whole]
        for chosen, factored in ((whole, True), (~whole, False)):
            (where,) = np.nonzero(chosen)
            for s0 in range(0, where.size, _PAIRS_AT_ONCE):
                part = where[s0 : s0 + _PAIRS_AT_ONCE]
                if factored:
                    some = self._factored(patients[part], first[part], piece[part], width, site)
                else:
                    some = self._direct(patients[part], first[part], width, site)
                np.maximum(some, 0.0, out=some)  # while it is in cache
                _put(out, part, some)
        return out

    def _factored(
        self, patients: IntArray, first: IntArray, piece: IntArray, width: int, site: int
    ) -> FloatArray:
        """Points inside one piece: exp(-mu (d0 + r step)) = exp(-mu d0) exp(-mu r step), the
        second factor from a table made once per patient."""
        level, amplitude = self.sites[site]
        since = self.times(first) - self.pw.starts_min[piece]
        start = np.exp(np.maximum(-self.mu[patients] * since[:, None], _FLOOR))
        start *= amplitude[patients, piece]
        offsets = self._offset_table(width)
        out = np.repeat(level[patients, piece][:, None], width, axis=1)
        for m in range(start.shape[1]):
            out += start[:, m, None] * offsets[patients, m, :width]
        return out

    def _direct(self, patients: IntArray, first: IntArray, width: int, site: int) -> FloatArray:
        """Any points: each value from its own piece and its own exponentials."""
        level, amplitude = self.sites[site]
        index = np.minimum(first[:, None] + np.arange(width), self.grid.count - 1)
        times = self.times(index)
        piece = engine.piece_index(self.pw, times)
        since = times - self.pw.starts_min[piece]
        who = patients[:, None]
        out: FloatArray = level[who, piece].copy()
        for m in range(self.mu.shape[1]):
            decay = np.exp(np.maximum(-self.mu[who, m] * since, _FLOOR))
            out += amplitude[who, piece, m] * decay
        return out

    def _offset_table(self, width: int) -> FloatArray:
        """(N, M, W): exp(-mu_m r step) for r < W, W at least ``block + 1``."""
        if self._offsets is None or self._offsets.shape[2] < width:
            r = self.grid.step_min * np.arange(max(width, self.block + 1), dtype=np.float64)
            arg = np.maximum(-self.mu[:, :, None] * r[None, None, :], _FLOOR)
            self._offsets = np.exp(arg)
        return self._offsets
