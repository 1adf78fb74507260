"""``ketaclinic pk``: exact JSON equal to the library's numbers, exit 2 with a reason on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ketaclinic.pk.cli import app
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import Patient
from ketaclinic.pk.population import Variability, simulate_population
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import simulate
from ketaclinic.pk.targets import Target, TciLimits
from ketaclinic.pk.tci import plan

runner = CliRunner()
DOSES = [
    {"kind": "bolus", "at_min": 0, "mg": 24.5},
    {"kind": "infusion", "start_min": 0, "end_min": 240, "mg_per_h": 35},
]
SCHEDULE = Schedule((Bolus(0, 24.5), Infusion(0, 240, 35)))
SIMULATE = {"model": "domino", "weight_kg": 70, "age_years": 45, "doses": DOSES,
            "times_min": [0, 1, 2.5]}  # fmt: skip


def invoke(command: str, data: object, *extra: str):
    text = data if isinstance(data, str) else json.dumps(data)
    return runner.invoke(app, [command, "-", *extra], input=text)


def test_simulate_prints_exactly_the_librarys_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(SIMULATE))
    result = runner.invoke(app, ["simulate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    sim = simulate("domino", Patient(70, 45), SCHEDULE, [0, 1, 2.5])
    assert answer["plasma_ng_per_ml"] == sim.plasma_ng_per_ml.tolist()
    assert answer["effect_site_ng_per_ml"] == sim.effect_site_ng_per_ml.tolist()
    assert answer["times_min"] == [0.0, 1.0, 2.5]
    assert answer["parameters"]["v1_l"] == pytest.approx(0.063 * 70)
    assert set(answer["parameters"]) >= {"k10_per_min", "k12_per_min", "k13_per_min",
                                         "k21_per_min", "k31_per_min", "ke0_per_min", "v3_l"}  # fmt: skip
    assert answer["warnings"] == []


def test_simulate_takes_a_grid_from_step_and_until() -> None:
    data = {k: v for k, v in SIMULATE.items() if k != "times_min"} | {
        "step_min": 0.5,
        "until_min": 3,
    }
    answer = json.loads(invoke("simulate", data, "--json").stdout)
    assert answer["times_min"] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_simulate_without_json_prints_a_summary() -> None:
    result = invoke("simulate", SIMULATE | {"weight_kg": 130})
    assert result.exit_code == 0
    assert "plasma" in result.stdout and "warning" in result.stdout


def test_tci_answers_doses_in_the_simulate_form_and_whether_it_reached() -> None:
    data = {"model": "domino", "weight_kg": 70, "age_years": 45, "duration_min": 60,
            "target": {"site": "effect", "ng_per_ml": 150}, "mode": "manual",
            "limits": {"max_rate_changes": 2, "min_hold_min": 20}}  # fmt: skip
    result = invoke("tci", data, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    limits = TciLimits(1200, 140, 24.5, max_rate_changes=2, min_hold_min=20)
    expected = plan("domino", Patient(70, 45), Target("effect", 150), 60, limits, mode="manual")
    assert answer["doses"] == expected.schedule.as_dicts()
    assert answer["reached"] is expected.reached
    assert answer["shortfall_ng_per_ml"] == expected.shortfall_ng_per_ml
    assert answer["limits"]["max_bolus_mg"] == pytest.approx(24.5)
    curves = simulate("domino", Patient(70, 45), expected.schedule, UniformGrid.until(60, 1.0))
    assert answer["effect_site_ng_per_ml"] == curves.effect_site_ng_per_ml.tolist()
    again = invoke("simulate", {"model": "domino", "weight_kg": 70, "age_years": 45,
                                "doses": answer["doses"], "times_min": answer["times_min"]}, "--json")  # fmt: skip
    resimulated = json.loads(again.stdout)["effect_site_ng_per_ml"]
    np.testing.assert_allclose(resimulated, answer["effect_site_ng_per_ml"], rtol=1e-12, atol=1e-9)


def test_tci_reports_a_target_it_cannot_reach() -> None:
    data = {"model": "domino", "weight_kg": 70, "age_years": 45, "duration_min": 30,
            "target": {"site": "plasma", "ng_per_ml": 300},
            "limits": {"max_mg_per_h": 5, "max_bolus_mg": 0}}  # fmt: skip
    answer = json.loads(invoke("tci", data, "--json").stdout)
    assert answer["reached"] is False and answer["shortfall_ng_per_ml"] > 0
    human = invoke("tci", data)
    assert human.exit_code == 0 and "NOT reached" in human.stdout


def test_population_matches_the_library_for_the_same_seed() -> None:
    data = {"model": "clements", "weight_kg": 80, "age_years": 50, "doses": DOSES, "n": 200,
            "seed": 3, "cv": {"cl": 0.2}, "threshold_ng_per_ml": 100, "step_min": 1,
            "until_min": 300}  # fmt: skip
    result = invoke("population", data, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    expected = simulate_population(
        "clements", Patient(80, 50), SCHEDULE, UniformGrid.until(300, 1), n=200, seed=3,
        threshold_ng_per_ml=100, variability=Variability(cl=0.2),
    )  # fmt: skip
    got = np.array(answer["effect_site"]["percentiles_ng_per_ml"])
    assert np.array_equal(got, expected.effect_site.percentiles_ng_per_ml)
    assert answer["plasma"]["fraction_peak_above_threshold"] == (
        expected.plasma.fraction_peak_above_threshold
    )
    assert answer["cv"]["cl"] == 0.2 and answer["cv"]["v1"] == Variability().v1
    assert "virtual patients" in invoke("population", data).stdout


@pytest.mark.parametrize(
    ("command", "data", "reason"),
    [
        ("simulate", SIMULATE | {"model": "marsh"}, "unknown model 'marsh'"),
        ("simulate", SIMULATE | {"doses": [{"kind": "bolus", "at_min": 0, "mg": -1}]}, "mg must not be negative"),
        ("simulate", SIMULATE | {"doses": [{"kind": "infusion", "start_min": 10, "end_min": 5, "mg_per_h": 1}]}, "end_min"),
        ("simulate", SIMULATE | {"weight_kg": 20}, "weight_kg must be between 30 and 300 kg"),
        ("simulate", SIMULATE | {"weight_kg": "70"}, "weight_kg"),
        ("simulate", SIMULATE | {"doses": [{"kind": "drip"}]}, "doses.0"),
        ("simulate", {k: v for k, v in SIMULATE.items() if k != "times_min"}, "times_min"),
        ("simulate", "{not json", "not valid JSON"),
        ("simulate", "[1, 2]", "input"),
        ("tci", {"model": "domino", "weight_kg": 70, "duration_min": 60,
                 "target": {"site": "liver", "ng_per_ml": 100}}, "target.site"),
        ("tci", {"model": "domino", "weight_kg": 70, "duration_min": 60,
                 "target": {"site": "effect", "ng_per_ml": 100},
                 "limits": {"max_bolus_mg": -3}}, "max_bolus_mg"),
        ("population", {"model": "domino", "weight_kg": 70, "doses": DOSES, "n": 0,
                        "threshold_ng_per_ml": 100, "until_min": 60}, "n must be between"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_a_one_line_reason(command, data, reason) -> None:
    result = invoke(command, data, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_missing_file_exits_2() -> None:
    result = runner.invoke(app, ["simulate", "/no/such/file.json"])
    assert result.exit_code == 2
    assert "cannot read /no/such/file.json" in result.stderr
