"""Bounded least squares: the same minimum as SciPy's BVLS, always inside the bounds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import lsq_linear

from ketaclinic.pk.lsq import bounded_lstsq


@settings(max_examples=200)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(3, 60),
    cols=st.integers(1, 10),
    collinear=st.booleans(),
)
def test_it_finds_the_same_minimum_as_scipy(seed, rows, cols, collinear) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(rows, cols))
    if collinear and cols > 1:
        a[:, 0] = a[:, -1] * (1 + 1e-3)
    b = rng.normal(size=rows) * rng.uniform(0.1, 10)
    lower = rng.uniform(-2, 0.5, cols)
    upper = lower + rng.uniform(1e-3, 2, cols)
    x = bounded_lstsq(a, b, lower, upper)
    reference = lsq_linear(a, b, bounds=(lower, upper), method="bvls", tol=1e-14).x

    def cost(v: np.ndarray) -> float:
        return float(np.sum((a @ v - b) ** 2))

    assert np.all((x >= lower) & (x <= upper))
    assert cost(x) <= cost(reference) * (1 + 1e-9) + 1e-12


def test_an_interior_minimum_is_the_plain_least_squares_answer() -> None:
    a = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    b = np.array([1.0, 2.0, 2.0])
    plain = np.linalg.lstsq(a, b, rcond=None)[0]
    got = bounded_lstsq(a, b, np.full(2, -10.0), np.full(2, 10.0))
    np.testing.assert_allclose(got, plain, rtol=1e-12)


def test_an_unknown_pinned_by_equal_bounds_stays_there() -> None:
    a = np.eye(2)
    got = bounded_lstsq(a, np.array([5.0, 5.0]), np.array([0.0, 1.0]), np.array([10.0, 1.0]))
    np.testing.assert_allclose(got, [5.0, 1.0])
