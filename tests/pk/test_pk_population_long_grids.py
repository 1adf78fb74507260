"""The exact population method on grids long enough that late blocks share their brackets
(``percentiles._merged_smallest``): still numpy's percentiles of every value, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from ketaclinic.pk import percentiles
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.modal_blocks import ModalCurves
from ketaclinic.pk.models import MODELS, Patient
from ketaclinic.pk.percentiles import BLOCK
from ketaclinic.pk.population import (
    PERCENTILES,
    Variability,
    sample_parameters,
    simulate_population,
)
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule

from .test_pk_population_blocks import every_value

PROTOCOL = Schedule((Bolus(0, 24.5), Infusion(0, 240, 35)))


@pytest.mark.parametrize(("n", "step"), [(1, 1 / 12), (2, 1 / 12), (57, 1 / 30), (200, 1 / 20)])
def test_merged_brackets_give_numpys_percentiles_of_every_value(n: int, step: float) -> None:
    grid = UniformGrid.until(300, step)
    blocks = -(-grid.count // BLOCK)
    # The grid reaches past the merged groups, with blocks left over after the last whole group.
    assert blocks > percentiles._MERGE_FROM + 2 * percentiles._MERGE
    result = simulate_population(
        "domino", Patient(70, 45), PROTOCOL, grid, n=n, seed=5, threshold_ng_per_ml=150.0,
        percentile_method="exact",
    )  # fmt: skip
    rates = sample_parameters(MODELS["domino"].parameters(70), Variability(), n, 5)
    curves = ModalCurves(rates, PROTOCOL, grid, BLOCK)
    for site, summary in enumerate((result.plasma, result.effect_site)):
        values = every_value(curves, n, site)
        want = np.percentile(values, PERCENTILES, axis=0)
        assert np.array_equal(summary.percentiles_ng_per_ml, want)
