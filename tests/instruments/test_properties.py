"""Properties over all answers, checked against the published rules written in ``published.py``."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.instruments import INSTRUMENTS, InvalidAnswers, exact_text, rounded, score

from .published import BPI_SEVERITY_BANDS, GAD7_BANDS, PHQ9_BANDS, published_band

phq9_answers = st.lists(st.integers(0, 3), min_size=9, max_size=9)
gad7_answers = st.lists(st.integers(0, 3), min_size=7, max_size=7)
zero_to_ten = st.integers(0, 10)


@pytest.mark.parametrize(("table", "highest"), [(PHQ9_BANDS, 27), (GAD7_BANDS, 21)])
def test_the_published_bands_partition_the_whole_range_with_no_gaps_or_overlaps(
    table: list[tuple[str, int, int]], highest: int
) -> None:
    covered = [total for _, low, high in table for total in range(low, high + 1)]
    assert covered == list(range(highest + 1))


@given(phq9_answers)
def test_a_phq9_total_is_the_sum_of_its_answers_and_within_0_to_27(answers: list[int]) -> None:
    result = score("phq9", answers)
    assert result.total == sum(answers)
    assert isinstance(result.total, int)
    assert 0 <= result.total <= 27


@given(phq9_answers)
def test_a_phq9_band_is_the_one_kroenke_published_for_its_total(answers: list[int]) -> None:
    assert score("phq9", answers).band == published_band(PHQ9_BANDS, sum(answers))


@given(phq9_answers)
def test_phq9_flags_suicide_risk_exactly_when_item_9_is_above_not_at_all(
    answers: list[int],
) -> None:
    assert score("phq9", answers).flags == (("suicide_risk",) if answers[8] > 0 else ())


@given(gad7_answers)
def test_a_gad7_total_is_the_sum_within_0_to_21_in_spitzers_band(answers: list[int]) -> None:
    result = score("gad7", answers)
    assert result.total == sum(answers)
    assert 0 <= sum(answers) <= 21
    assert result.band == published_band(GAD7_BANDS, sum(answers))
    assert result.flags == ()


@pytest.mark.parametrize(("instrument", "table"), [("phq9", PHQ9_BANDS), ("gad7", GAD7_BANDS)])
def test_every_reachable_total_gets_exactly_the_published_band(
    instrument: str, table: list[tuple[str, int, int]]
) -> None:
    items = len(INSTRUMENTS[instrument].items)
    for total in range(3 * items + 1):
        answers = [min(3, max(0, total - 3 * i)) for i in range(items)]
        assert score(instrument, answers).band == published_band(table, total), total


@given(st.lists(zero_to_ten, min_size=3, max_size=3))
def test_a_peg_score_is_the_exact_mean_of_its_3_items(answers: list[int]) -> None:
    total = score("peg", answers).total
    assert isinstance(total, Fraction)
    assert total * 3 == sum(answers)
    assert 0 <= total <= 10
    assert Fraction(exact_text(total)) == total
    assert abs(Fraction(rounded(total)) - total) <= Fraction(1, 200)


@given(zero_to_ten)
def test_an_nrs_score_is_its_one_answer(pain: int) -> None:
    assert score("nrs", [pain]).total == pain


@given(
    st.lists(zero_to_ten, min_size=4, max_size=4),
    st.lists(st.none() | zero_to_ten, min_size=7, max_size=7),
)
def test_bpi_interference_is_the_mean_of_the_answered_items_only_when_4_or_more_are(
    severity: list[int], interference: list[int | None]
) -> None:
    answered = [a for a in interference if a is not None]
    if len(answered) < 4:
        with pytest.raises(InvalidAnswers, match="interference needs at least 4"):
            score("bpi_sf", [*severity, *interference])
        return
    result = score("bpi_sf", [*severity, *interference])
    assert result["interference"] == Fraction(sum(answered), len(answered))
    assert result["severity"] == Fraction(sum(severity), 4)
    assert 0 <= result["severity"] <= 10 and 0 <= result["interference"] <= 10


@given(st.lists(zero_to_ten, min_size=4, max_size=4))
def test_a_bpi_severity_gets_the_eppoc_band_of_its_whole_part(severity: list[int]) -> None:
    # ePPOC prints whole ranges (0–4, 5–6, 7–10). A mean between two of them (4.75) stays in the
    # lower one until it reaches the next cut point: the project's reading, see ``Band``.
    mean = Fraction(sum(severity), 4)
    result = score("bpi_sf", [*severity, 0, 0, 0, 0, 0, 0, 0])
    assert result.band == published_band(BPI_SEVERITY_BANDS, math.floor(mean))


@given(
    st.sampled_from(["phq9", "gad7", "peg", "nrs", "bpi_sf"]),
    st.data(),
)
def test_an_answer_out_of_range_is_refused_naming_its_item(
    instrument: str, data: st.DataObject
) -> None:
    definition = INSTRUMENTS[instrument]
    answers: list[int | None] = [item.scale.low for item in definition.items]
    index = data.draw(st.integers(0, len(answers) - 1))
    item = definition.items[index]
    bad = data.draw(
        st.integers(max_value=item.scale.low - 1) | st.integers(min_value=item.scale.high + 1)
    )
    answers[index] = bad
    with pytest.raises(InvalidAnswers) as caught:
        score(instrument, answers)
    assert caught.value.msg == (
        f"item {index + 1} ({item.id}): {bad} is outside {item.scale.low}–{item.scale.high}"
    )
    assert caught.value.loc == ("answers", index)


@given(st.fractions(min_value=-100, max_value=100, max_denominator=10_000))
def test_display_rounding_is_within_half_a_hundredth_and_ties_go_away_from_zero(
    value: Fraction,
) -> None:
    shown = Fraction(rounded(value))
    error = shown - value
    assert abs(error) <= Fraction(1, 200)
    if abs(error) == Fraction(1, 200):
        assert abs(shown) > abs(value)
