"""Simulation: exact against independent solutions, superposition, mass balance, input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.pk import engine
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import MODELS, Patient, PkParameters
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import amounts, concentrations, simulate
from tests.pk.pk_reference import reference
from tests.pk.strategies import model_keys, schedules, weights_kg

CLINIC_DAY = Schedule(
    (Bolus(0, 24.5), Infusion(0, 240, 35), Bolus(37.3, 5), Infusion(100.5, 130, 80))
)
TIMES = np.linspace(0, 300, 1201)


def one_compartment(v1_l: float, k10: float, ke0: float) -> PkParameters:
    """A two-compartment set with no exchange (k12 = 0): exactly one compartment."""
    return PkParameters(2, v1_l, k10, 0.0, 0.05, 0.0, 0.0, ke0)


def assert_close_to_peak(actual: np.ndarray, expected: np.ndarray, rel: float) -> None:
    peak = max(float(np.abs(expected).max()), 1e-300)
    assert np.abs(actual - expected).max() <= rel * peak


@pytest.mark.parametrize("key", sorted(MODELS))
def test_each_model_matches_an_implicit_ode_solution(key: str) -> None:
    params = MODELS[key].parameters(60.0)
    plasma, effect = concentrations(params, CLINIC_DAY, TIMES)
    ref = reference(params, CLINIC_DAY, TIMES, method="Radau", rtol=1e-10)
    assert_close_to_peak(plasma, ref["plasma"], 1e-9)
    assert_close_to_peak(effect, ref["effect"], 1e-9)


def event_times(schedule: Schedule) -> np.ndarray:
    times = [b.at_min for b in schedule.boluses] + [i.end_min for i in schedule.infusions]
    return np.array(times, dtype=np.float64)


@settings(max_examples=40)
@given(key=model_keys, weight=weights_kg, schedule=schedules, data=st.data())
def test_random_schedules_match_an_ode_solution(key, weight, schedule, data) -> None:
    times = np.array(
        data.draw(st.lists(st.floats(0.0, 360.0), min_size=1, max_size=40)), dtype=np.float64
    )
    params = MODELS[key].parameters(weight)
    plasma, effect = concentrations(params, schedule, times)
    # The ODE is also solved at the dose events, where plasma peaks, to know the curve's peak.
    ask = np.concatenate((times, event_times(schedule)))
    ref = reference(params, schedule, ask, "LSODA", 1e-12)
    peak = max(ref["plasma"].max(), ref["effect"].max(), 1e-300)
    assert np.abs(plasma - ref["plasma"][: times.size]).max() <= 1e-9 * peak
    assert np.abs(effect - ref["effect"][: times.size]).max() <= 1e-9 * peak


def test_a_one_compartment_bolus_decays_as_a_single_exponential() -> None:
    v1, k10, ke0, dose = 20.0, 0.1, 0.7, 30.0
    t = np.linspace(0, 120, 241)
    plasma, effect = concentrations(one_compartment(v1, k10, ke0), Schedule((Bolus(0, dose),)), t)
    cp = dose / v1 * np.exp(-k10 * t) * 1000
    ce = dose / v1 * ke0 / (ke0 - k10) * (np.exp(-k10 * t) - np.exp(-ke0 * t)) * 1000
    np.testing.assert_allclose(plasma, cp, rtol=1e-13)
    assert_close_to_peak(effect, ce, 1e-13)


def test_a_one_compartment_infusion_rises_and_falls_in_closed_form() -> None:
    v1, k10, rate_mg_per_min, stop = 20.0, 0.1, 0.5, 60.0
    t = np.linspace(0, 180, 361)
    schedule = Schedule((Infusion(0, stop, rate_mg_per_min * 60),))
    plasma, _ = concentrations(one_compartment(v1, k10, 2.0), schedule, t)
    plateau = rate_mg_per_min / (k10 * v1) * 1000
    at_stop = plateau * (1 - math.exp(-k10 * stop))
    cp = np.where(t < stop, plateau * (1 - np.exp(-k10 * t)), at_stop * np.exp(-k10 * (t - stop)))
    np.testing.assert_allclose(plasma, cp, rtol=1e-12)


def test_a_two_compartment_bolus_is_the_textbook_biexponential() -> None:
    p = MODELS["clements"].parameters(70.0)
    k10, k12, k21 = p.k10_per_min, p.k12_per_min, p.k21_per_min
    total, product = k10 + k12 + k21, k10 * k21
    alpha = (total + math.sqrt(total**2 - 4 * product)) / 2
    beta = product / alpha
    a = (alpha - k21) / (alpha - beta) / p.v1_l
    b = (k21 - beta) / (alpha - beta) / p.v1_l
    t = np.linspace(0, 600, 601)
    plasma, _ = concentrations(p, Schedule((Bolus(0, 17.5),)), t)
    np.testing.assert_allclose(
        plasma, 17.5e3 * (a * np.exp(-alpha * t) + b * np.exp(-beta * t)), rtol=1e-12
    )


@settings(max_examples=40)
@given(key=model_keys, weight=weights_kg, first=schedules, second=schedules)
def test_two_schedules_given_together_add_up(key, weight, first, second) -> None:
    params = MODELS[key].parameters(weight)
    t = np.linspace(0, 400, 401)
    p1, e1 = concentrations(params, first, t)
    p2, e2 = concentrations(params, second, t)
    both_p, both_e = concentrations(params, first + second, t)
    assert_close_to_peak(both_p, p1 + p2, 1e-12)
    assert_close_to_peak(both_e, e1 + e2, 1e-12)


@settings(max_examples=30)
@given(key=model_keys, weight=weights_kg, schedule=schedules)
def test_drug_in_the_body_plus_drug_eliminated_equals_drug_given(key, weight, schedule) -> None:
    t = np.linspace(0, 400, 201)
    a = amounts(MODELS[key].parameters(weight), schedule, t)
    scale = max(schedule.total_mg, 1e-12)
    assert (
        np.abs(a.compartments_mg.sum(axis=0) + a.eliminated_mg - a.given_mg).max() <= 1e-12 * scale
    )
    assert np.all(a.eliminated_mg >= -1e-12 * scale)


def test_the_eliminated_amount_matches_the_integrated_ode() -> None:
    params = MODELS["domino"].parameters(80.0)
    a = amounts(params, CLINIC_DAY, TIMES)
    ref = reference(params, CLINIC_DAY, TIMES, method="Radau", rtol=1e-10)
    assert_close_to_peak(a.eliminated_mg, ref["eliminated"], 1e-9)
    assert_close_to_peak(a.compartments_mg, ref["amounts"], 1e-9)


@settings(max_examples=25)
@given(
    key=model_keys,
    schedule=schedules,
    start=st.floats(0.0, 30.0),
    step=st.floats(0.01, 2.0),
    count=st.integers(1, 3000),
)
def test_the_fast_grid_path_equals_the_general_one(key, schedule, start, step, count) -> None:
    grid = UniformGrid(start, step, count)
    weights = np.array([45.0, 70.0, 130.0])
    rates = [MODELS[key].parameters(w).rate_arrays() for w in weights]
    batch = engine.RateArrays(
        rates[0].compartments,
        *(
            np.concatenate([getattr(r, f) for r in rates])
            for f in ("v1_l", "k10", "k12", "k21", "k13", "k31", "ke0")
        ),
    )
    modes = engine.decompose(batch)
    pw = schedule.piecewise()
    states = engine.modal_states(modes, pw)
    general = engine.evaluate(modes, states, pw, grid.times())
    fast = (np.empty((3, count)), np.empty((3, count)))
    engine.evaluate_uniform_into(modes, states, pw, start, step, *fast)
    # Rounding residue scales with the terms summed (bolus/V1, rate/CL), not with the value at the
    # few grid times drawn, which may be exactly 0.
    p = MODELS[key].parameters(45.0)
    terms = [d.mg / p.v1_l for d in schedule.boluses]
    terms += [d.mg_per_h / 60 / p.cl_l_per_min for d in schedule.infusions]
    scale = max(float(np.abs(general[0]).max()), 1000 * sum(terms), 1e-300)
    for got, want in zip(fast, general, strict=True):
        assert np.abs(got - want).max() <= 1e-12 * scale


def test_a_bolus_is_in_the_concentration_at_its_own_time() -> None:
    sim = simulate("domino", Patient(70, 40), Schedule((Bolus(10, 7.0),)), [9.999, 10.0])
    assert sim.plasma_ng_per_ml[0] == 0.0
    assert sim.plasma_ng_per_ml[1] == pytest.approx(7.0 / (0.063 * 70) * 1000, rel=1e-13)
    assert sim.effect_site_ng_per_ml[1] == 0.0


def test_it_reports_the_parameters_it_used_including_a_ke0_override() -> None:
    sim = simulate("domino", Patient(70, 40), CLINIC_DAY, [0, 1], ke0_per_min=1.5)
    assert sim.parameters.ke0_per_min == 1.5
    assert sim.parameters.v1_l == pytest.approx(0.063 * 70)
    assert sim.warnings == ()


def test_unsorted_times_give_the_same_values_as_sorted_ones() -> None:
    shuffled = np.array([200.0, 0.0, 35.5, 300.0, 1.0])
    sim = simulate("hijazi", Patient(80, 50), CLINIC_DAY, shuffled)
    order = np.argsort(shuffled)
    again = simulate("hijazi", Patient(80, 50), CLINIC_DAY, shuffled[order])
    np.testing.assert_array_equal(sim.plasma_ng_per_ml[order], again.plasma_ng_per_ml)


def test_it_warns_when_the_patient_is_heavier_than_the_models_population() -> None:
    sim = simulate("domino", Patient(140, 40), CLINIC_DAY, [0, 1])
    assert len(sim.warnings) == 1
    assert "weight 140 kg" in sim.warnings[0] and "50–100 kg" in sim.warnings[0]


def test_it_warns_when_an_adult_is_given_the_paediatric_model() -> None:
    sim = simulate("herd", Patient(60, 35), CLINIC_DAY, [0, 1])
    assert any("age 35 years" in w for w in sim.warnings)


def test_it_warns_that_an_unknown_age_was_not_checked() -> None:
    sim = simulate("clements", Patient(70), CLINIC_DAY, [0])
    assert sim.warnings == ("age not given: the Clements 250 model's age range was not checked",)


@pytest.mark.parametrize(
    ("build", "parameter", "unit"),
    [
        (lambda: Bolus(0, -5), "mg", "mg"),
        (lambda: Infusion(10, 5, 20), "end_min", "min"),
        (lambda: Infusion(0, 10, -1), "mg_per_h", "mg/h"),
        (lambda: Infusion(0, math.inf, 10), "end_min", "min"),
        (lambda: Bolus(math.nan, 1), "at_min", "min"),
        (lambda: Patient(8.6), "weight_kg", "kg"),
        (lambda: simulate("domino", Patient(29.9, 40), CLINIC_DAY, [0]), "weight_kg", "kg"),
        (lambda: simulate("herd", Patient(90, 14), CLINIC_DAY, [0]), "weight_kg", "kg"),
        (lambda: Patient(301), "weight_kg", "kg"),
        (lambda: Patient(70, -1), "age_years", "years"),
        (lambda: UniformGrid(0, 0, 10), "step_min", "min"),
    ],
)
def test_it_refuses_bad_input_naming_the_parameter_and_unit(build, parameter, unit) -> None:
    with pytest.raises(PkInputError) as caught:
        build()
    assert caught.value.parameter == parameter
    assert parameter in str(caught.value) and unit in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_it_refuses_an_unknown_model_and_lists_the_known_ones() -> None:
    with pytest.raises(PkInputError, match=r"unknown model 'marsh'.*domino"):
        simulate("marsh", Patient(70, 40), CLINIC_DAY, [0])


@pytest.mark.parametrize("times", [[], [-1.0], [math.nan], [[0.0, 1.0]], ["soon"]])
def test_it_refuses_times_that_are_not_a_list_of_minutes(times) -> None:
    with pytest.raises(PkInputError, match="times_min"):
        simulate("domino", Patient(70, 40), CLINIC_DAY, times)


def test_it_refuses_a_dose_that_is_not_a_number() -> None:
    with pytest.raises(PkInputError, match="mg must be a number"):
        Bolus(0, "5")  # type: ignore[arg-type]
