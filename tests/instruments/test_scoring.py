"""Scoring by example: every band edge, the item-9 flag, exact means, and refusals that name the item."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest

from ketaclinic.errors import InvalidInput
from ketaclinic.instruments import (
    InvalidAnswers,
    UnknownInstrument,
    describe,
    exact_text,
    rounded,
    score,
)

from .published import answers_with_total

# --- PHQ-9 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (24, "severe"),
    ],
)
def test_a_phq9_total_falls_in_the_band_kroenke_published(total: int, band: str) -> None:
    result = score("phq9", answers_with_total(total, 9, 3))
    assert result.total == total
    assert result.band == band
    assert result.flags == ()  # item 9 stays 0 up to 24


def test_a_phq9_of_10_is_moderate() -> None:
    assert score("phq9", [2, 2, 2, 1, 1, 1, 1, 0, 0]).band == "moderate"


def test_a_phq9_of_27_is_severe_and_flags_suicide_risk() -> None:
    result = score("phq9", [3] * 9)
    assert (result.total, result.band, result.flags) == (27, "severe", ("suicide_risk",))


@pytest.mark.parametrize("item_9", [1, 2, 3])
def test_any_item_9_answer_above_not_at_all_flags_suicide_risk(item_9: int) -> None:
    assert score("phq9", [0] * 8 + [item_9]).flags == ("suicide_risk",)


def test_item_9_not_at_all_raises_no_flag_even_at_a_severe_total() -> None:
    result = score("phq9", [3] * 8 + [0])
    assert (result.total, result.band, result.flags) == (24, "severe", ())


def test_the_suicide_risk_flag_does_not_wait_for_a_high_total() -> None:
    result = score("phq9", [0] * 8 + [1])
    assert (result.total, result.band, result.flags) == (1, "minimal", ("suicide_risk",))


# --- GAD-7 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_a_gad7_total_falls_in_the_band_spitzer_published(total: int, band: str) -> None:
    result = score("gad7", answers_with_total(total, 7, 3))
    assert (result.total, result.band, result.flags) == (total, band, ())


# --- NRS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pain", [0, 7, 10])
def test_an_nrs_score_is_the_answer_itself_with_no_band(pain: int) -> None:
    result = score("nrs", [pain])
    assert (result.total, result.band, result.flags) == (pain, None, ())


def test_an_nrs_of_11_is_refused_naming_the_item() -> None:
    with pytest.raises(InvalidAnswers, match=r"^item 1 \(nrs_pain\): 11 is outside 0–10$"):
        score("nrs", [11])


# --- PEG ----------------------------------------------------------------------------------------


def test_a_peg_mean_is_kept_exact_as_a_fraction() -> None:
    result = score("peg", [6, 6, 7])
    assert result.total == Fraction(19, 3)
    assert isinstance(result.total, Fraction)
    assert exact_text(Fraction(19, 3)) == "19/3"
    assert rounded(Fraction(19, 3)) == Decimal("6.33")
    assert result.as_json() == {
        "instrument": "peg",
        "total": {"exact": "19/3", "rounded": "6.33"},
        "band": None,
        "flags": [],
    }


@pytest.mark.parametrize(
    ("answers", "exact", "shown"),
    [
        ([0, 0, 0], "0", "0.00"),
        ([0, 0, 1], "1/3", "0.33"),
        ([1, 1, 0], "2/3", "0.67"),
        ([5, 5, 6], "16/3", "5.33"),
        ([10, 10, 9], "29/3", "9.67"),
        ([10, 10, 10], "10", "10.00"),
    ],
)
def test_a_peg_mean_is_shown_to_2_places_and_kept_exact(
    answers: list[int], exact: str, shown: str
) -> None:
    total = score("peg", answers).total
    assert total is not None
    assert (exact_text(total), str(rounded(total))) == (exact, shown)


def test_the_peg_has_no_bands_because_krebs_2009_publishes_none() -> None:
    assert score("peg", [9, 9, 9]).band is None


# --- BPI short form -----------------------------------------------------------------------------

SEVERITY = [5, 3, 4, 4]


def test_bpi_interference_is_valid_with_exactly_4_of_7_answered() -> None:
    result = score("bpi_sf", [*SEVERITY, 2, None, 3, None, 1, None, 6])
    assert result["interference"] == Fraction(12, 4)  # the mean of the 4 answered, not over 7
    assert result.scores[1].answered == 4
    assert result.scores[1].loinc == "77565-0"


def test_bpi_interference_is_refused_with_only_3_of_7_answered() -> None:
    with pytest.raises(InvalidAnswers, match="at least 4 of its 7") as caught:
        score("bpi_sf", [*SEVERITY, 2, None, 3, None, 1, None, None])
    assert "items 6, 8, 10, 11" in caught.value.msg
    assert caught.value.loc == ("answers",)


def test_bpi_interference_with_all_7_answered_is_their_mean() -> None:
    result = score("bpi_sf", [*SEVERITY, 1, 2, 3, 4, 5, 6, 7])
    assert result["interference"] == 4
    assert result["severity"] == 4


def test_bpi_severity_is_the_exact_mean_of_the_4_severity_items() -> None:
    result = score("bpi_sf", [7, 2, 5, 5, 0, 0, 0, 0, 0, 0, 0])
    assert result["severity"] == Fraction(19, 4)
    assert result.total is None
    assert result.as_json() == {
        "instrument": "bpi_sf",
        "scores": {
            "severity": {"exact": "19/4", "rounded": "4.75"},
            "interference": {"exact": "0", "rounded": "0.00"},
        },
        "band": "mild",
        "flags": [],
    }


@pytest.mark.parametrize("missing", [0, 1, 2, 3])
def test_every_bpi_severity_item_must_be_answered(missing: int) -> None:
    answers: list[int | None] = [*SEVERITY, 1, 1, 1, 1, 1, 1, 1]
    answers[missing] = None
    with pytest.raises(InvalidAnswers, match=rf"^item {missing + 1} \(bpi_\w+\) is unanswered"):
        score("bpi_sf", answers)


@pytest.mark.parametrize(
    ("severity", "band"),
    [(0, "mild"), (4, "mild"), (5, "moderate"), (6, "moderate"), (7, "severe"), (10, "severe")],
)
def test_bpi_severity_bands_follow_the_eppoc_usage(severity: int, band: str) -> None:
    assert score("bpi_sf", [severity] * 4 + [0] * 7).band == band


def test_a_bpi_severity_between_4_and_5_is_mild_because_5_is_the_cut_point() -> None:
    assert score("bpi_sf", [5, 4, 5, 5, 0, 0, 0, 0, 0, 0, 0]).band == "mild"  # 19/4 = 4.75


def test_the_bpi_line_says_its_band_is_from_a_secondary_source() -> None:
    line = describe(score("bpi_sf", [5, 3, 4, 4, 2, None, 3, None, 1, None, 6]))
    assert line == (
        "BPI-SF severity 4.00, interference 3.00: severity mild (band from a secondary source)"
    )


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 8, 10])
def test_a_phq9_with_the_wrong_number_of_answers_is_refused(count: int) -> None:
    with pytest.raises(InvalidAnswers) as caught:
        score("phq9", [0] * count)
    assert caught.value.msg == f"PHQ-9 needs 9 answers, got {count}"
    assert caught.value.loc == ("answers",)


@pytest.mark.parametrize(("instrument", "count"), [("gad7", 7), ("peg", 3), ("bpi_sf", 11)])
def test_other_instruments_refuse_one_answer_too_few(instrument: str, count: int) -> None:
    with pytest.raises(InvalidAnswers, match=f"needs {count} answers, got {count - 1}$"):
        score(instrument, [0] * (count - 1))


def test_an_out_of_range_answer_is_refused_naming_the_item_and_its_index() -> None:
    with pytest.raises(InvalidAnswers) as caught:
        score("phq9", [0, 0, 4, 0, 0, 0, 0, 0, 0])
    assert caught.value.msg == "item 3 (phq9_3): 4 is outside 0–3"
    assert caught.value.loc == ("answers", 2)
    assert caught.value.detail() == [
        {
            "loc": ["answers", 2],
            "msg": "item 3 (phq9_3): 4 is outside 0–3",
            "type": "InvalidAnswers",
        }
    ]


def test_a_negative_answer_is_refused() -> None:
    with pytest.raises(InvalidAnswers, match=r"^item 7 \(gad7_7\): -1 is outside 0–3$"):
        score("gad7", [0, 0, 0, 0, 0, 0, -1])


@pytest.mark.parametrize("bad", [2.5, 2.0, True, "3", Fraction(1)])
def test_an_answer_that_is_not_a_whole_number_is_refused(bad: object) -> None:
    answers = [0, bad, 0, 0, 0, 0, 0, 0, 0]
    with pytest.raises(InvalidAnswers, match=r"^item 2 \(phq9_2\): .* is not a whole number$") as c:
        score("phq9", answers)  # type: ignore[arg-type]
    assert c.value.loc == ("answers", 1)


def test_an_unanswered_phq9_item_is_refused_because_only_bpi_interference_may_be_skipped() -> None:
    with pytest.raises(InvalidAnswers, match=r"^item 5 \(phq9_5\) is unanswered; PHQ-9 needs it$"):
        score("phq9", [0, 0, 0, 0, None, 0, 0, 0, 0])


def test_a_string_of_digits_is_not_taken_for_a_list_of_answers() -> None:
    with pytest.raises(InvalidAnswers, match="must be a list"):
        score("phq9", "000000000")  # type: ignore[arg-type]


def test_an_unknown_instrument_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownInstrument) as caught:
        score("phq8", [0] * 8)
    assert caught.value.msg == "unknown instrument 'phq8'; known: nrs, peg, phq9, gad7, bpi_sf"
    assert caught.value.loc == ("instrument",)


def test_refusals_are_invalid_input_so_the_api_answers_422() -> None:
    assert issubclass(InvalidAnswers, InvalidInput)
    assert issubclass(UnknownInstrument, InvalidInput)
    assert InvalidAnswers("x").status_code == 422


# --- the result ---------------------------------------------------------------------------------


def test_a_score_is_frozen_and_keeps_the_answers() -> None:
    result = score("gad7", [1, 2, 3, 0, 1, 2, 3])
    assert result.answers == (1, 2, 3, 0, 1, 2, 3)
    assert result.scores[0].loinc == "70274-6"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.band = "minimal"  # type: ignore[misc]


def test_asking_a_score_for_a_name_it_does_not_have_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        score("phq9", [0] * 9)["severity"]


def test_the_human_line_names_the_instrument_total_band_and_flags() -> None:
    assert describe(score("phq9", [3, 3, 3, 0, 0, 0, 0, 0, 1])) == (
        "PHQ-9 total 10: moderate; flags: suicide_risk"
    )
    assert describe(score("peg", [6, 6, 7])) == "PEG total 6.33 (exactly 19/3)"
    assert describe(score("peg", [6, 6, 6])) == "PEG total 6.00"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Fraction(1, 8), "0.13"),  # a tie rounds away from zero
        (Fraction(-1, 8), "-0.13"),
        (Fraction(1, 200), "0.01"),
        (Fraction(1, 201), "0.00"),
        (Fraction(2, 3), "0.67"),
        (7, "7.00"),
    ],
)
def test_rounding_for_display_is_half_away_from_zero_and_exact(
    value: int | Fraction, shown: str
) -> None:
    assert str(rounded(value)) == shown
