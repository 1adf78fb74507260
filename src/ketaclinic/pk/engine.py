"""Exact linear compartment kinetics as sums of exponentials, vectorised over patients and times.

The mammillary model (central compartment 1, peripheral 2 and 3, elimination from 1) is
``dx/dt = A x + u(t) e1`` for amounts x (mg). Written for concentrations its matrix is similar to
the symmetric matrix

    S = [[-(k10+k12+k13), sqrt(k12 k21), sqrt(k13 k31)],
         [ sqrt(k12 k21),        -k21,             0 ],
         [ sqrt(k13 k31),           0,          -k31 ]]

so its eigenvalues are real and negative and ``numpy.linalg.eigh`` finds them stably. With
``-S = U diag(lam) U^T`` the plasma response to 1 mg given at t = 0 is
``sum_i U[0,i]^2 / V1 exp(-lam_i t)``.

Every "mode" m (rate mu_m: the n disposition rates, then ke0) is driven by the same input, so one
modal amount per mode, ``dz_m/dt = -mu_m z_m + u(t)``, describes the whole state. Plasma is
``sum_m wp_m z_m``; the effect site (``dce/dt = ke0 (cp - ce)``) is
``sum_i wp_i ke0/(ke0 - lam_i) (z_i - z_ke0)``. Between dose events the input is constant, so
``z(t) = s + (z(tau) - s) exp(-mu (t - tau))`` with ``s = rate / mu``: exact, no time stepping.

Array shapes: P patients, n compartments (2 or 3), M = n + 1 modes, K pieces of constant input,
T times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketaclinic.pk.schedule import Piecewise

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: mg/L to ng/mL.
NG_PER_ML_PER_MG_PER_L = 1000.0
#: ke0 this close (relative) to a disposition rate makes ``ke0/(ke0 - lam)`` cancel badly; it is
#: moved by this relative amount, which changes effect-site values by less than ~1e-6 relative.
_KE0_MIN_GAP = 1e-7
#: exp() below this is treated as 0: it keeps subnormal numbers (slow on x86) out of the products.
_TINY = 1e-280
#: Elements per temporary block of the general evaluator (bounds its memory to ~ 40 MB).
_BLOCK_ELEMENTS = 1 << 19


@dataclass(frozen=True)
class RateArrays:
    """Parameters of P patients, each an array of shape (P,): ``v1_l`` (L), rate constants (1/min).

    ``compartments`` is 2 or 3; for 2, ``k13`` and ``k31`` are ignored.
    """

    compartments: int
    v1_l: FloatArray
    k10: FloatArray
    k12: FloatArray
    k21: FloatArray
    k13: FloatArray
    k31: FloatArray
    ke0: FloatArray

    @property
    def patients(self) -> int:
        return int(self.v1_l.shape[0])

    def take(self, rows: slice) -> RateArrays:
        """The patients in ``rows`` (a view, no copy)."""
        return RateArrays(
            self.compartments,
            self.v1_l[rows],
            self.k10[rows],
            self.k12[rows],
            self.k21[rows],
            self.k13[rows],
            self.k31[rows],
            self.ke0[rows],
        )


@dataclass(frozen=True)
class Modes:
    """The modal form of P patients' kinetics.

    ``rates_per_min`` (P, M): lam_1 < … < lam_n, then ke0. ``plasma_weights`` and
    ``effect_weights`` (P, M): mg/L of plasma / effect-site concentration per mg of modal amount
    (plasma's ke0 weight is 0). ``amount_weights`` (P, n, n): mg in compartment j per mg of
    disposition mode i.
    ``clearance_l_per_min`` (P,): k10 V1.
    """

    rates_per_min: FloatArray
    plasma_weights: FloatArray
    effect_weights: FloatArray
    amount_weights: FloatArray
    clearance_l_per_min: FloatArray


def decompose(p: RateArrays) -> Modes:
    """Eigen-decompose each patient's disposition (batched ``eigh`` on n × n symmetric matrices)."""
    n = p.compartments
    neg_s = np.zeros((p.patients, n, n))
    neg_s[:, 0, 0] = p.k10 + p.k12
    neg_s[:, 0, 1] = neg_s[:, 1, 0] = -np.sqrt(p.k12 * p.k21)
    neg_s[:, 1, 1] = p.k21
    scale = np.ones((p.patients, n))
    scale[:, 1] = np.sqrt(p.k12 / p.k21)  # sqrt(V2/V1)
    if n == 3:
        neg_s[:, 0, 0] += p.k13
        neg_s[:, 0, 2] = neg_s[:, 2, 0] = -np.sqrt(p.k13 * p.k31)
        neg_s[:, 2, 2] = p.k31
        scale[:, 2] = np.sqrt(p.k13 / p.k31)
    lam, vec = np.linalg.eigh(neg_s)
    head = vec[:, 0, :]
    plasma_pk = head**2 / p.v1_l[:, None]
    ke0 = _separated_ke0(p.ke0, lam)
    effect_pk = plasma_pk * (ke0[:, None] / (ke0[:, None] - lam))
    zeros = np.zeros((p.patients, 1))
    return Modes(
        rates_per_min=np.concatenate((lam, ke0[:, None]), axis=1),
        plasma_weights=np.concatenate((plasma_pk, zeros), axis=1),
        effect_weights=np.concatenate((effect_pk, -effect_pk.sum(axis=1, keepdims=True)), axis=1),
        amount_weights=scale[:, :, None] * vec * head[:, None, :],
        clearance_l_per_min=p.k10 * p.v1_l,
    )


def _separated_ke0(ke0: FloatArray, lam: FloatArray) -> FloatArray:
    """ke0, nudged off any disposition rate it (almost) equals; see ``_KE0_MIN_GAP``."""
    close = np.any(np.abs(ke0[:, None] - lam) < _KE0_MIN_GAP * ke0[:, None], axis=1)
    return np.where(close, ke0 * (1 + 4 * _KE0_MIN_GAP), ke0)


@dataclass(frozen=True)
class ModalStates:
    """Modal amounts at each piece's start, just after its bolus: ``start`` (P, K, M) mg.

    ``steady`` (P, K, M) is where each mode heads on that piece: rate / mu (mg).
    """

    start: FloatArray
    steady: FloatArray


def modal_states(modes: Modes, pw: Piecewise) -> ModalStates:
    """Carry the modal amounts exactly from each dose event to the next."""
    mu = modes.rates_per_min
    patients, m = mu.shape
    k = pw.starts_min.size
    start = np.empty((patients, k, m))
    start[:, 0, :] = pw.bolus_mg[0]
    gaps = np.diff(pw.starts_min)
    # Precomputing every piece's factors is faster for few pieces; the choice depends on K only,
    # never on how many patients share the call, so results do not depend on chunking.
    small = k <= 64
    if small and k > 1:
        x = mu[:, None, :] * gaps[None, :, None]
        decays, gains = np.exp(-x), -np.expm1(-x) / mu[:, None, :]
    for j in range(1, k):
        if small:
            decay, gain = decays[:, j - 1, :], gains[:, j - 1, :]
        else:
            x1 = mu * gaps[j - 1]
            decay, gain = np.exp(-x1), -np.expm1(-x1) / mu
        prev = start[:, j - 1, :]
        start[:, j, :] = prev * decay + pw.rate_mg_per_min[j - 1] * gain + pw.bolus_mg[j]
    steady = pw.rate_mg_per_min[None, :, None] / mu[:, None, :]
    return ModalStates(start, steady)


def site_coefficients(weights: FloatArray, states: ModalStates) -> tuple[FloatArray, FloatArray]:
    """Per piece, ``c(t) = level + sum_m amplitude_m exp(-mu_m (t - tau))``.

    ``weights`` (P, M) → ``level`` (P, K) and ``amplitude`` (P, K, M), in the weights' units.
    """
    level = np.einsum("pm,pkm->pk", weights, states.steady)
    amplitude = weights[:, None, :] * (states.start - states.steady)
    return level, amplitude


def piece_index(pw: Piecewise, times_min: FloatArray) -> IntArray:
    """Which piece each time falls in; a time equal to a dose event is in the piece it starts."""
    return np.searchsorted(pw.starts_min, times_min, side="right") - 1


def evaluate(
    modes: Modes, states: ModalStates, pw: Piecewise, times_min: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Plasma and effect-site concentrations (ng/mL), each (P, T), at any times ≥ 0 (min).

    Memory is bounded by working through blocks of about ``_BLOCK_ELEMENTS`` (patient, time, mode)
    triples.
    """
    mu = modes.rates_per_min
    patients, m = mu.shape
    piece = piece_index(pw, times_min)
    since = times_min - pw.starts_min[piece]
    out_p = np.empty((patients, times_min.size))
    out_e = np.empty((patients, times_min.size))
    pairs = [site_coefficients(w * NG_PER_ML_PER_MG_PER_L, states) for w in _weights(modes)]
    rows = max(1, _BLOCK_ELEMENTS // max(1, times_min.size * m))
    cols = max(1, _BLOCK_ELEMENTS // (m * min(rows, patients)))
    for p0 in range(0, patients, rows):
        ps = slice(p0, p0 + rows)
        for t0 in range(0, times_min.size, cols):
            ts = slice(t0, t0 + cols)
            arg = np.multiply(mu[ps, None, :], -since[None, ts, None])
            decay = np.exp(np.maximum(arg, -700.0))
            for (level, amplitude), out in zip(pairs, (out_p, out_e), strict=True):
                hit = amplitude[ps][:, piece[ts], :]
                out[ps, ts] = level[ps][:, piece[ts]] + np.einsum("ptm,ptm->pt", hit, decay)
    # Sums of exponentials that cancel exactly (the effect site at a first bolus) leave rounding
    # residue of about -1e-16 × peak; a concentration is never below 0.
    np.maximum(out_p, 0.0, out=out_p)
    np.maximum(out_e, 0.0, out=out_e)
    return out_p, out_e


def _weights(modes: Modes) -> tuple[FloatArray, FloatArray]:
    return modes.plasma_weights, modes.effect_weights


def evaluate_uniform_into(
    modes: Modes,
    states: ModalStates,
    pw: Piecewise,
    grid_start_min: float,
    grid_step_min: float,
    plasma_out: FloatArray,
    effect_out: FloatArray,
) -> None:
    """Write plasma and effect-site concentrations (ng/mL) on an even grid into (P, T) buffers.

    For the grid points of one piece, ``t - tau = d0 + (b*B + r) * step``, so each exponential is
    (block factor) × (offset factor) and the curve is a batched matrix product
    ``(P, blocks, M+1) @ (P, M+1, B)`` (the extra column carries the constant level) written by BLAS
    straight into a strided view of the output: no (P, T, M) temporaries, about one write per value.
    Unlike ``evaluate`` it does not clip rounding residue (|value| ≲ 1e-15 × peak) at 0: that
    would be a second pass over the output.
    """
    patients = modes.rates_per_min.shape[0]
    count = plasma_out.shape[1]
    for out in (plasma_out, effect_out):
        if out.shape != (patients, count) or out.dtype != np.float64 or not out.flags.c_contiguous:
            raise ValueError("output buffers must be C-contiguous float64 arrays of shape (P, T)")
    times = grid_start_min + grid_step_min * np.arange(count, dtype=np.float64)
    bounds = np.searchsorted(times, np.append(pw.starts_min, np.inf), side="left")
    block = int(min(512, max(8, np.ceil(np.sqrt(count)))))
    right = _offset_factors(modes.rates_per_min, grid_step_min, block)
    sites = [
        (site_coefficients(w * NG_PER_ML_PER_MG_PER_L, states), out)
        for w, out in zip(_weights(modes), (plasma_out, effect_out), strict=True)
    ]
    for piece in range(pw.starts_min.size):
        lo, hi = int(bounds[piece]), int(bounds[piece + 1])
        if hi > lo:
            first_gap = float(times[lo] - pw.starts_min[piece])
            _fill_piece(modes.rates_per_min, sites, piece, lo, hi, first_gap, grid_step_min, right)


Site = tuple[tuple[FloatArray, FloatArray], FloatArray]


def _fill_piece(
    mu: FloatArray,
    sites: list[Site],
    piece: int,
    lo: int,
    hi: int,
    first_gap: float,
    step: float,
    right: FloatArray,
) -> None:
    """Grid points ``lo`` to ``hi`` (one piece) of both sites: block factors times ``right``."""
    block = right.shape[2]
    blocks, rest = divmod(hi - lo, block)
    gaps = first_gap + step * block * np.arange(blocks + 1)
    decay = np.exp(np.maximum(-mu[:, None, :] * gaps[None, :, None], -700.0))
    decay[decay < _TINY] = 0.0
    left = np.empty((mu.shape[0], blocks + 1, mu.shape[1] + 1))
    for (level, amplitude), out in sites:
        np.multiply(amplitude[:, piece, None, :], decay, out=left[:, :, :-1])
        left[:, :, -1] = level[:, piece, None]
        if blocks:
            np.matmul(left[:, :blocks], right, out=_blocked_view(out, lo, blocks, block))
        if rest:
            tail = _blocked_view(out, hi - rest, 1, rest)
            np.matmul(left[:, blocks:], right[:, :, :rest], out=tail)


def _offset_factors(mu: FloatArray, step: float, block: int) -> FloatArray:
    """(P, M+1, B): exp(-mu r step) for r < B, and a row of ones for the level column."""
    right = np.ones((mu.shape[0], mu.shape[1] + 1, block))
    np.exp(-mu[:, :, None] * (step * np.arange(block))[None, None, :], out=right[:, :-1, :])
    right[right < _TINY] = 0.0
    return right


def _blocked_view(out: FloatArray, lo: int, blocks: int, width: int) -> FloatArray:
    """``out[:, lo : lo + blocks*width]`` seen as (P, blocks, width), writing through to ``out``."""
    row, col = out.strides
    shape, strides = (out.shape[0], blocks, width), (row, width * col, col)
    return np.lib.stride_tricks.as_strided(out[:, lo:], shape, strides, writeable=True)
