"""Model parameters: as published or coded, with the derived values the clinical reference gives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketaclinic.pk import engine
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.models import (
    MODELS,
    VALIDATED_MARGIN,
    WEIGHT_LIMITS_KG,
    Patient,
    population_warnings,
    resolve,
)
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


def test_the_herd_model_takes_children_from_its_validated_10_8_kg() -> None:
    _, params, warnings = resolve("herd", Patient(10.8, 1))
    assert warnings == ()
    assert params.v1_l == pytest.approx(38.7 * 10.8 / 70)
    assert resolve("herd", Patient(74.8, 14))[2] == ()


@pytest.mark.parametrize("key", sorted(MODELS))
def test_every_model_accepts_its_whole_validated_range_without_a_warning(key: str) -> None:
    population = MODELS[key].population
    low, high = population.accepted_weight_kg
    assert low <= population.weight_kg[0] and population.weight_kg[1] <= high
    for weight in population.weight_kg:
        for age in population.age_years:
            assert resolve(key, Patient(weight, age))[2] == ()


@pytest.mark.parametrize("key", sorted(MODELS))
def test_just_outside_the_validated_range_a_model_warns_and_does_not_refuse(key: str) -> None:
    population = MODELS[key].population
    (w_low, w_high), (a_low, a_high) = population.weight_kg, population.age_years
    middle_age = (a_low + a_high) / 2
    for weight, side in ((w_low * 0.95, "below"), (w_high * 1.05, "above")):
        _, _, warnings = resolve(key, Patient(weight, middle_age))
        assert len(warnings) == 1, side
        assert f"weight {weight:g} kg is outside the {MODELS[key].name}" in warnings[0]
    for age in (max(0.0, a_low - 0.5), a_high + 0.5):
        _, _, warnings = resolve(key, Patient((w_low + w_high) / 2, age))
        assert warnings and f"age {age:g} years is outside" in warnings[0]


@pytest.mark.parametrize("key", sorted(MODELS))
def test_beyond_what_a_model_accepts_the_weight_is_refused_naming_the_model(key: str) -> None:
    low, high = MODELS[key].population.accepted_weight_kg
    for weight in (low * 0.99, high * 1.01):
        if not WEIGHT_LIMITS_KG[0] <= weight <= WEIGHT_LIMITS_KG[1]:
            with pytest.raises(PkInputError, match="weight_kg must be between"):
                Patient(weight, 30)
            continue
        with pytest.raises(PkInputError) as caught:
            resolve(key, Patient(weight, 30))
        assert caught.value.parameter == "weight_kg"
        assert f"between {low:g} and {high:g} kg for the {MODELS[key].name} model" in str(
            caught.value
        )


def test_the_herd_margin_is_twenty_percent_of_its_validated_range() -> None:
    population = MODELS["herd"].population
    assert VALIDATED_MARGIN == 0.2
    assert population.accepted_weight_kg == pytest.approx((10.8 * 0.8, 74.8 * 1.2), abs=0.01)
    assert "opentiva" in population.ranges_source and "[R91]" in population.ranges_source
