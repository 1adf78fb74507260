"""``ketaclinic score``: exact JSON, a human line, exit 2 with the reason on stderr."""

from __future__ import annotations

import json

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from ketaclinic.instruments.cli import app

runner = CliRunner()


def test_phq9_json_is_exactly_instrument_total_band_and_flags() -> None:
    result = runner.invoke(app, ["phq9", "--answers", "1,0,2,1,0,0,3,1,2", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        '{"instrument": "phq9", "total": 10, "band": "moderate", "flags": ["suicide_risk"]}\n'
    )


def test_without_json_it_prints_one_human_line() -> None:
    result = runner.invoke(app, ["gad7", "--answers", "1, 1, 1, 1, 1, 0, 0"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "GAD-7 total 5: mild\n"


def test_a_peg_mean_is_written_as_an_exact_fraction_and_a_2_place_string() -> None:
    result = runner.invoke(app, ["peg", "--answers", "6,6,7", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "instrument": "peg",
        "total": {"exact": "19/3", "rounded": "6.33"},
        "band": None,
        "flags": [],
    }


def test_bpi_accepts_empty_entries_for_unanswered_interference_items() -> None:
    result = runner.invoke(app, ["bpi_sf", "--answers", "5,3,4,5,,2,3,,1,,6", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "instrument": "bpi_sf",
        "scores": {
            "severity": {"exact": "17/4", "rounded": "4.25"},
            "interference": {"exact": "3", "rounded": "3.00"},
        },
        "band": "mild",
        "flags": [],
    }


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["phq9", "--answers", "1,0,2,1,0,0,3,1"], "error: PHQ-9 needs 9 answers, got 8"),
        (["phq9", "--answers", "1,0,4,1,0,0,3,1,2"], "error: item 3 (phq9_3): 4 is outside 0–3"),
        (["phq9", "--answers", "1,0,2.5,1,0,0,3,1,2"], "item 3 (phq9_3): '2.5' is not a whole"),
        (["phq9", "--answers", "1,0,x,1,0,0,3,1,2"], "item 3 (phq9_3): 'x' is not a whole number"),
        (["phq9", "--answers", "1,0,,1,0,0,3,1,2"], "item 3 (phq9_3) is unanswered"),
        (["nrs", "--answers", "-1"], "error: item 1 (nrs_pain): -1 is outside 0–10"),
        (["nrs", "--answers", "٣"], "item 1 (nrs_pain): '٣' is not a whole number"),
        (["phq8", "--answers", "1"], "error: unknown instrument 'phq8'; known: nrs, peg"),
        (["bpi_sf", "--answers", "5,3,4,4,,,3,,1,,6"], "interference needs at least 4 of its 7"),
        (["bpi_sf", "--answers", ",3,4,4,1,2,3,1,1,1,6"], "item 1 (bpi_worst) is unanswered"),
    ],
)
def test_bad_input_exits_2_with_the_reason_on_stderr_and_no_traceback(
    args: list[str], reason: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert reason in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_the_json_total_is_the_sum_of_the_answers_given(answers: list[int]) -> None:
    text = ",".join(map(str, answers))
    result = runner.invoke(app, ["phq9", "--answers", text, "--json"])
    assert json.loads(result.stdout)["total"] == sum(answers)


def test_mounted_without_a_name_it_is_the_score_verb_of_a_bigger_app() -> None:
    main = typer.Typer()

    @main.command()
    def other() -> None:
        """A second command, so the bigger app is a group as the real one is."""

    main.add_typer(app)
    result = runner.invoke(main, ["score", "nrs", "--answers", "4", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 4


def test_the_ketaclinic_command_scores_when_the_lead_has_mounted_it() -> None:
    from ketaclinic.cli import app as ketaclinic

    if "score" not in getattr(typer.main.get_command(ketaclinic), "commands", {}):
        pytest.skip("ketaclinic.cli does not mount `score` yet")
    result = runner.invoke(
        ketaclinic, ["score", "phq9", "--answers", "0,0,0,0,0,0,0,0,1", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "instrument": "phq9",
        "total": 1,
        "band": "minimal",
        "flags": ["suicide_risk"],
    }
