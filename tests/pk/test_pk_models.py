"""Model parameters: as published or coded, with the derived values the clinical reference gives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketaclinic.pk import engine
from ketaclinic.pk.models import MODELS, Patient, population_warnings, resolve
from ketaclinic.pk.schedule import Bolus, Schedule
from ketaclinic.pk.simulate import concentrations


def terminal_half_life_min(key: str) -> float:
    rates = engine.decompose(MODELS[key].parameters(70).rate_arrays()).rates_per_min[0]
    return math.log(2) / rates[0]


@pytest.mark.parametrize(
    ("key", "half_life_min", "clearance_ml_per_kg_min"),
    [
        # Clinical reference §7a, derived rows: Domino 114.6 min and 27.6 mL/kg/min; Clements 250
        # 183 min and 19.1 mL/kg/min; Hijazi 4.95 h and 36.0 mL/kg/min (= the published abstract).
        ("domino", 114.6, 27.6),
        ("clements", 183.0, 19.1),
        ("hijazi", 4.95 * 60, 36.0),
    ],
)
def test_derived_half_lives_and_clearances_match_the_clinical_reference(
    key: str, half_life_min: float, clearance_ml_per_kg_min: float
) -> None:
    assert terminal_half_life_min(key) == pytest.approx(half_life_min, rel=0.005)
    params = MODELS[key].parameters(70)
    assert params.cl_l_per_min / 70 * 1000 == pytest.approx(clearance_ml_per_kg_min, rel=0.005)


def test_domino_volumes_match_the_clinical_reference() -> None:
    p = MODELS["domino"].parameters(1.0)  # per kg
    assert (p.v1_l, p.v2_l, p.v3_l) == pytest.approx((0.063, 0.151, 2.546), abs=0.001)


def test_herd_scales_volumes_with_weight_and_clearances_to_the_three_quarter_power() -> None:
    p = MODELS["herd"].parameters(35.0)
    assert p.v1_l == pytest.approx(38.7 / 2)
    assert p.v2_l == pytest.approx(102 / 2)
    assert p.cl_l_per_min == pytest.approx(90 / 60 * 0.5**0.75)
    assert p.k12_per_min * p.v1_l == pytest.approx(215 / 60 * 0.5**0.75)


@pytest.mark.parametrize("key", ["domino", "clements", "hijazi"])
def test_the_adult_ke0_values_put_the_effect_peak_one_minute_after_a_bolus(key: str) -> None:
    t = np.linspace(0, 5, 30_001)
    _, effect = concentrations(MODELS[key].parameters(70), Schedule((Bolus(0, 10),)), t)
    assert t[np.argmax(effect)] == pytest.approx(1.0, abs=0.005)


def test_the_herd_ke0_is_the_measured_11_second_half_time() -> None:
    assert math.log(2) / MODELS["herd"].ke0_per_min * 60 == pytest.approx(11.0)


def test_every_model_names_its_sources_and_population() -> None:
    for model in MODELS.values():
        assert model.citation and model.parameter_source and model.ke0_source
        low, high = model.population.weight_kg
        assert low < high and model.population.ranges_source


def test_a_patient_inside_the_population_gets_no_warning() -> None:
    assert population_warnings(MODELS["hijazi"], Patient(75, 40)) == ()
    assert population_warnings(MODELS["herd"], Patient(40, 12)) == ()


def test_a_ke0_override_is_checked_for_range() -> None:
    with pytest.raises(ValueError, match=r"ke0_per_min must be between .* 1/min"):
        resolve("domino", Patient(70, 40), ke0_per_min=0.0)
