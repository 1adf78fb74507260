"""Virtual populations: reproducible, chunking-invariant, honest percentiles, bounded memory."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ketaclinic.pk import percentiles, population
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import MODELS, Patient, PkParameters
from ketaclinic.pk.population import (
    PERCENTILES,
    Variability,
    sample_parameters,
    simulate_population,
    time_above,
)
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import concentrations, concentrations_into

PROTOCOL = Schedule((Bolus(0, 24.5), Infusion(0, 240, 35)))
GRID = UniformGrid.until(300, 1 / 6)
ADULT = Patient(70, 45)
NONE = Variability(0, 0, 0, 0, 0, 0, 0)


def run(**kwargs):
    base = {"n": 300, "seed": 7, "threshold_ng_per_ml": 150.0}
    return simulate_population("domino", ADULT, PROTOCOL, GRID, **(base | kwargs))


@pytest.mark.parametrize("method", ["exact", "histogram"])
def test_chunked_and_unchunked_runs_agree_exactly(method: str) -> None:
    whole = run(n=700, chunk_patients=700, percentile_method=method)
    chunked = run(n=700, chunk_patients=64, percentile_method=method)
    for a, b in ((whole.plasma, chunked.plasma), (whole.effect_site, chunked.effect_site)):
        assert np.array_equal(a.percentiles_ng_per_ml, b.percentiles_ng_per_ml)
        assert np.array_equal(a.peak_ng_per_ml, b.peak_ng_per_ml)
        assert np.array_equal(a.time_above_threshold_min, b.time_above_threshold_min)


def test_exact_percentiles_are_those_of_the_same_patients_simulated_one_by_one() -> None:
    result = run(n=40, percentile_method="exact")
    rates = sample_parameters(MODELS["domino"].parameters(70), Variability(), 40, 7)
    curves = []
    for i in range(40):
        one = PkParameters(3, *(float(getattr(rates, f)[i]) for f in
                                ("v1_l", "k10", "k12", "k21", "k13", "k31", "ke0")))  # fmt: skip
        curves.append(concentrations(one, PROTOCOL, GRID.times()))
    plasma = np.array([c[0] for c in curves])
    effect = np.array([c[1] for c in curves])
    for summary, values in ((result.plasma, plasma), (result.effect_site, effect)):
        want = np.percentile(values, PERCENTILES, axis=0)
        assert np.abs(summary.percentiles_ng_per_ml - want).max() <= 1e-10 * want.max()
        np.testing.assert_allclose(summary.peak_ng_per_ml, values.max(axis=1), rtol=1e-10)


def test_histogram_percentiles_are_within_their_stated_accuracy() -> None:
    exact = run(n=3000, percentile_method="exact")
    binned = run(n=3000, percentile_method="histogram", bins_per_decade=400)
    bound = 10 ** (1 / 400) - 1
    assert "0.58%" in binned.percentile_accuracy
    for a, b in ((exact.plasma, binned.plasma), (exact.effect_site, binned.effect_site)):
        want, got = a.percentiles_ng_per_ml, b.percentiles_ng_per_ml
        ok = np.abs(got - want) <= bound * want + 0.01
        assert ok.all()


def test_the_same_seed_gives_the_same_population_and_another_does_not() -> None:
    first, again, other = run(), run(), run(seed=8)
    assert np.array_equal(first.plasma.peak_ng_per_ml, again.plasma.peak_ng_per_ml)
    assert not np.array_equal(first.plasma.peak_ng_per_ml, other.plasma.peak_ng_per_ml)


def test_without_variability_every_patient_is_the_typical_one() -> None:
    result = run(n=20, variability=NONE)
    plasma, effect = concentrations(MODELS["domino"].parameters(70), PROTOCOL, GRID.times())
    for summary, curve in ((result.plasma, plasma), (result.effect_site, effect)):
        assert np.abs(summary.percentiles_ng_per_ml - curve).max() <= 1e-11 * curve.max()
        expected = 1.0 if curve.max() > 150 else 0.0
        assert summary.fraction_peak_above_threshold == expected


def test_sampled_parameters_spread_log_normally_with_the_asked_cv() -> None:
    typical = MODELS["domino"].parameters(70)
    rates = sample_parameters(typical, Variability(v1=0.3, cl=0.5), 200_000, 3)
    log_v1 = np.log(rates.v1_l / typical.v1_l)
    log_cl = np.log(rates.k10 * rates.v1_l / typical.cl_l_per_min)
    assert np.std(log_v1) == pytest.approx(math.sqrt(math.log1p(0.3**2)), rel=0.01)
    assert np.std(log_cl) == pytest.approx(math.sqrt(math.log1p(0.5**2)), rel=0.01)
    assert abs(np.median(log_v1)) < 0.01


def test_time_above_a_threshold_matches_a_decaying_exponential() -> None:
    step, c0, k, threshold = 1 / 6, 400.0, 0.02, 150.0
    t = np.arange(0, 300 + step / 2, step)
    got = time_above((c0 * np.exp(-k * t))[None, :], threshold, step)[0]
    assert got == pytest.approx(math.log(c0 / threshold) / k, abs=1e-4)


def test_time_above_counts_a_plateau_exactly_at_the_threshold() -> None:
    assert time_above(np.full((1, 7), 5.0), 5.0, 0.5)[0] == pytest.approx(3.0)
    assert time_above(np.array([[0.0, 10.0, 0.0]]), 5.0, 1.0)[0] == pytest.approx(1.0)


def test_a_hundred_thousand_patients_on_a_10_s_grid_stay_under_a_gigabyte() -> None:
    """Slow because it simulates a hundred thousand patients with tracemalloc counting every
    allocation (about 10 s of CPU): the size is what it checks."""
    tracemalloc.start()
    try:
        result = run(n=100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.percentile_method == "exact"  # the block bounds fit the budget
    assert result.plasma.percentiles_ng_per_ml.shape == (3, 1801)
    assert peak < 1024**3


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"n": 0}, "n"),
        ({"seed": -1}, "seed"),
        ({"threshold_ng_per_ml": math.nan}, "threshold_ng_per_ml"),
        ({"percentile_method": "sorted"}, "percentile_method"),
        ({"chunk_patients": 0}, "chunk_patients"),
    ],
)
def test_it_refuses_bad_population_inputs(change, parameter) -> None:
    with pytest.raises(PkInputError) as caught:
        run(**change)
    assert caught.value.parameter == parameter


def test_it_refuses_a_negative_coefficient_of_variation() -> None:
    with pytest.raises(PkInputError, match=r"cv\.cl"):
        Variability(cl=-0.1)


def plain_time_above(row: np.ndarray, threshold: float, step: float) -> float:
    """The definition, one interval at a time: linear between grid points."""
    total = 0.0
    for a, b in itertools.pairwise(row):
        d0, d1 = a - threshold, b - threshold
        if d0 >= 0 and d1 >= 0:
            total += 1.0
        elif d0 >= 0 or d1 >= 0:
            total += max(d0, d1) / abs(d0 - d1)
    return total * step


#: Values that often sit exactly on a threshold, as well as anywhere between.
levels = st.one_of(st.sampled_from([0.0, 50.0, 100.0, 150.0]), st.floats(0, 300))


@settings(max_examples=60, deadline=None)
@given(
    values=arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 40)), elements=levels),
    threshold=st.sampled_from([0.0, 50.0, 100.0, 150.0, 123.4]),
    step=st.sampled_from([1 / 60, 1 / 6, 1.0]),
)
def test_vectorised_time_above_matches_the_definition(values, threshold, step) -> None:
    got = time_above(values, threshold, step)
    want = [plain_time_above(row, threshold, step) for row in values]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 25), seed=st.integers(0, 2**32), threshold=st.floats(20, 400))
def test_population_statistics_match_a_patient_by_patient_reference(n, seed, threshold) -> None:
    grid = UniformGrid.until(120, 1.0)
    result = simulate_population(
        "domino", ADULT, PROTOCOL, grid, n=n, seed=seed, threshold_ng_per_ml=threshold,
        percentile_method="exact", chunk_patients=7,
    )  # fmt: skip
    rates = sample_parameters(MODELS["domino"].parameters(70), Variability(), n, seed)
    for i in range(n):
        one = PkParameters(3, *(float(getattr(rates, f)[i]) for f in
                                ("v1_l", "k10", "k12", "k21", "k13", "k31", "ke0")))  # fmt: skip
        curves = concentrations(one, PROTOCOL, grid.times())
        for summary, curve in zip((result.plasma, result.effect_site), curves, strict=True):
            assert summary.peak_ng_per_ml[i] == pytest.approx(curve.max(), rel=1e-10)
            assert summary.time_above_threshold_min[i] == pytest.approx(
                plain_time_above(curve, threshold, 1.0), rel=1e-9, abs=1e-9
            )
    for summary in (result.plasma, result.effect_site):
        share = np.mean(summary.peak_ng_per_ml > threshold)
        assert summary.fraction_peak_above_threshold == share


def kernel_curves(n: int, seed: int, grid: UniformGrid) -> tuple[np.ndarray, np.ndarray]:
    """Every patient's curves from the engine's grid path, as the population call sees them."""
    rates = sample_parameters(MODELS["domino"].parameters(70), Variability(), n, seed)
    plasma, effect = np.empty((n, grid.count)), np.empty((n, grid.count))
    concentrations_into(rates, PROTOCOL, grid, plasma, effect)
    return np.maximum(plasma, 0.0), np.maximum(effect, 0.0)


@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 2**32),
    block=st.sampled_from([1, 2, 5, 32]),
    until=st.sampled_from([5.0, 47.0, 300.0]),
)
def test_exact_percentiles_from_block_bounds_equal_numpys(n, seed, block, until) -> None:
    """Whatever the block length (1: every value its own block), the result is numpy.percentile
    of all the curves."""
    grid = UniformGrid.until(until, until / 97)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(percentiles, "BLOCK", block)
        patch.setattr(population, "BLOCK", block)
        result = simulate_population(
            "domino", ADULT, PROTOCOL, grid, n=n, seed=seed, threshold_ng_per_ml=100.0,
            percentile_method="exact",
        )  # fmt: skip
    for summary, curves in zip(
        (result.plasma, result.effect_site), kernel_curves(n, seed, grid), strict=True
    ):
        want = np.percentile(curves, PERCENTILES, axis=0)
        assert np.abs(summary.percentiles_ng_per_ml - want).max() <= 1e-12 * max(want.max(), 1)


def test_exact_percentiles_of_thousands_of_patients_equal_numpys() -> None:
    grid = UniformGrid.until(300, 1 / 6)
    result = run(n=2600, percentile_method="exact")
    for summary, curves in zip(
        (result.plasma, result.effect_site), kernel_curves(2600, 7, grid), strict=True
    ):
        want = np.percentile(curves, PERCENTILES, axis=0)
        assert np.abs(summary.percentiles_ng_per_ml - want).max() <= 1e-12 * want.max()
