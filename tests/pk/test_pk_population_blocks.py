"""The exact population method from the patients' modal form: bounds that hold, results that are
numpy's to the bit and do not depend on chunking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.pk.engine import RateArrays
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.modal_blocks import ModalCurves
from ketaclinic.pk.models import MODELS, Patient, PkParameters
from ketaclinic.pk.percentiles import BLOCK
from ketaclinic.pk.population import (
    PERCENTILES,
    PopulationResult,
    Variability,
    sample_parameters,
    simulate_population,
)
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import concentrations

from .strategies import model_keys, schedules

PROTOCOL = Schedule((Bolus(0, 24.5), Infusion(0, 240, 35)))
ADULT = Patient(70, 45)


def exact(n: int, seed: int, grid: UniformGrid, chunk: int) -> PopulationResult:
    return simulate_population(
        "domino", ADULT, PROTOCOL, grid, n=n, seed=seed, threshold_ng_per_ml=150.0,
        percentile_method="exact", chunk_patients=chunk,
    )  # fmt: skip


def every_value(curves: ModalCurves, n: int, site: int) -> np.ndarray:
    """(N, T): every patient's value at every grid time, as the exact method computes values."""
    blocks = np.arange(curves.starts.size, dtype=np.intp)
    patients = np.repeat(np.arange(n, dtype=np.intp), blocks.size)
    values = curves.values(patients, np.tile(blocks, n), BLOCK, site)
    return values.reshape(n, -1)[:, : curves.grid.count]


def one_patient(rates: RateArrays, i: int) -> PkParameters:
    fields = ("v1_l", "k10", "k12", "k21", "k13", "k31", "ke0")
    return PkParameters(rates.compartments, *(float(getattr(rates, f)[i]) for f in fields))


def block_windows(curves: np.ndarray, width: int) -> np.ndarray:
    """(N, B, width): each block's first ``width`` points; points past the end repeat the last."""
    count = curves.shape[1]
    index = np.minimum(np.arange(0, count, BLOCK)[:, None] + np.arange(width), count - 1)
    return curves[:, index]


def assert_same_bits(a: PopulationResult, b: PopulationResult) -> None:
    for x, y in ((a.plasma, b.plasma), (a.effect_site, b.effect_site)):
        assert np.array_equal(x.percentiles_ng_per_ml, y.percentiles_ng_per_ml)
        assert np.array_equal(x.peak_ng_per_ml, y.peak_ng_per_ml)
        assert np.array_equal(x.time_above_threshold_min, y.time_above_threshold_min)
        assert x.time_above_threshold_percentiles_min == y.time_above_threshold_percentiles_min


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(1, 90),
    seed=st.integers(0, 2**32),
    chunks=st.lists(st.integers(1, 100), min_size=1, max_size=3),
)
def test_exact_results_are_the_same_bits_whatever_the_chunking(n, seed, chunks) -> None:
    grid = UniformGrid.until(300, 0.5)
    whole = exact(n, seed, grid, chunk=n)
    for chunk in chunks:
        assert_same_bits(whole, exact(n, seed, grid, chunk=chunk))


@pytest.mark.parametrize(("n", "chunk"), [(1, 1), (2, 1), (41, 7), (400, 128), (1001, 64)])
def test_exact_percentiles_are_numpys_of_every_value_to_the_bit(n: int, chunk: int) -> None:
    """Every value computed, all of them handed to numpy.percentile: the same bits. Odd and even
    N cover both of numpy's interpolation branches (weight below and at least 1/2)."""
    grid = UniformGrid.until(300, 1 / 6)
    result = exact(n, 11, grid, chunk)
    rates = sample_parameters(MODELS["domino"].parameters(70), Variability(), n, 11)
    curves = ModalCurves(rates, PROTOCOL, grid, BLOCK)
    for site, summary in enumerate((result.plasma, result.effect_site)):
        values = every_value(curves, n, site)
        want = np.percentile(values, PERCENTILES, axis=0)
        assert np.array_equal(summary.percentiles_ng_per_ml, want)
        assert np.array_equal(summary.peak_ng_per_ml, values.max(axis=1))


@settings(max_examples=40, deadline=None)
@given(
    schedule=schedules,
    model=model_keys,
    n=st.integers(1, 6),
    seed=st.integers(0, 2**32),
    step=st.sampled_from([1 / 60, 0.1, 1 / 6, 0.7, 2.0]),
    start=st.sampled_from([0.0, 3.3]),
)
def test_block_bounds_hold_every_value_at_both_sites(schedule, model, n, seed, step, start):
    """Lower and upper bounds of each block (its own points, and with the next block's first)
    hold the values the method selects among and the engine's direct evaluation."""
    rates = sample_parameters(MODELS[model].parameters(40.0), Variability(), n, seed)
    grid = UniformGrid(start, step, 400)
    curves = ModalCurves(rates, schedule, grid, BLOCK)
    bounds = curves.bounds(slice(0, n))
    assert np.all(bounds[..., 0] <= bounds[..., 1])
    direct = [concentrations(one_patient(rates, i), schedule, grid.times()) for i in range(n)]
    for site in (0, 1):
        values = every_value(curves, n, site)
        engine = np.maximum(np.array([d[site] for d in direct]), 0.0)
        for extent, width in enumerate((BLOCK, BLOCK + 1)):
            low, high = bounds[:, :, site, extent, 0], bounds[:, :, site, extent, 1]
            for curve in (values, engine):
                covered = block_windows(curve, width)
                assert np.all(low[..., None] <= covered), (site, extent)
                assert np.all(covered <= high[..., None]), (site, extent)
