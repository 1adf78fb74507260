"""The response summary picks the right scores: the baseline, the latest, each session's pair and
the first return of pain after the last session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from ketaclinic.outcomes.core import ScorePoint, pain_response
from ketaclinic.outcomes.summary import summarise

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _at(days: float, value: int, context: str, session_id: int | None = None) -> ScorePoint:
    return ScorePoint(T0 + timedelta(days=days), Fraction(value), context, session_id)


def test_nothing_to_compare_gives_no_verdict() -> None:
    result = summarise([], [], None)
    assert result.pain is None and result.phq9 is None
    assert result.mean_session_change is None and result.relief_days is None
    only_baseline = summarise([_at(0, 8, "baseline")], [], None)
    assert only_baseline.pain is None


def test_the_baseline_is_the_first_baseline_score_even_when_recorded_later() -> None:
    pain = [_at(1, 9, "pre", 1), _at(0.5, 8, "baseline"), _at(1.1, 4, "post", 1)]
    result = summarise(pain, [], None)
    assert result.pain is not None
    assert result.pain.baseline == 8 and result.pain.latest == 4
    assert result.pain.change_percent == Fraction(4 - 8, 8) * 100
    assert result.pain.verdict == pain_response(Fraction(8), Fraction(4)).value == "substantial"


def test_phq9_remission_is_named_before_response() -> None:
    result = summarise([], [_at(0, 20, "baseline"), _at(9, 4, "portal")], None)
    assert result.phq9 is not None and result.phq9.verdict == "remission"
    partial = summarise([], [_at(0, 20, "baseline"), _at(9, 10, "portal")], None)
    assert partial.phq9 is not None and partial.phq9.verdict == "response"
    none = summarise([], [_at(0, 20, "baseline"), _at(9, 11, "portal")], None)
    assert none.phq9 is not None and none.phq9.verdict == "none"


def test_within_session_change_is_the_mean_of_paired_sessions_only() -> None:
    pain = [
        _at(0, 8, "baseline"),
        _at(1, 8, "pre", 1),
        _at(1.1, 5, "post", 1),
        _at(3, 7, "pre", 2),
        _at(3.1, 6, "post", 2),
        _at(5, 7, "pre", 3),  # no post: left out
    ]
    result = summarise(pain, [], None)
    assert result.sessions_paired == 2
    assert result.mean_session_change == Fraction((5 - 8) + (6 - 7), 2)


def test_relief_lasts_until_pain_is_back_to_seventy_percent_of_baseline() -> None:
    end = T0 + timedelta(days=3, hours=2)
    pain = [
        _at(0, 10, "baseline"),
        _at(3.1, 3, "post", 2),
        _at(5, 6, "portal"),  # 60 % of baseline: still relieved
        _at(9.5, 7, "portal"),  # 70 %: back
    ]
    result = summarise(pain, [], end)
    assert result.relief_days == Fraction(
        (T0 + timedelta(days=9.5) - end) // timedelta(microseconds=1),
        timedelta(days=1) // timedelta(microseconds=1),
    )
    assert summarise(pain[:3], [], end).relief_days is None
