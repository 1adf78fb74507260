"""Response thresholds, within-session change, duration of relief and the booster rule: every
edge of each rule, and properties checked against the thresholds written as integer inequalities
(IMMPACT [R30][R65]; PHQ-9 response and remission [R79][R80])."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.errors import InvalidInput
from ketaclinic.outcomes.core import (
    DEFAULT_RELIEF_RETURN_FRACTION,
    BoosterRule,
    PainResponse,
    ScorePoint,
    SessionChange,
    booster_suggestion,
    depression_status,
    pain_response,
    percent_change,
    relief_days,
    within_session_changes,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
F = Fraction
scores = st.fractions(min_value=0, max_value=27, max_denominator=12)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def point(value: Fraction | int, at: datetime, context: str = "follow_up", sid: int | None = None):  # type: ignore[no-untyped-def]
    return ScorePoint(at=at, value=F(value), context=context, session_id=sid)


# --- pain -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "value", "expected"),
    [
        (F(10), F(5), PainResponse.SUBSTANTIAL),  # exactly 50 %
        (F(10), F(7), PainResponse.MODERATE),  # exactly 30 %
        (F(10), F(7) + F(1, 10**9), PainResponse.NONE),  # 29.99999999 %
        (F(10), F(5) + F(1, 10**9), PainResponse.MODERATE),  # 49.99999999 %
        (F(19, 3), F(19, 3) * F(7, 10), PainResponse.MODERATE),  # exactly 30 % of a PEG mean
        (F(8), F(9), PainResponse.NONE),  # worse
        (F(8), F(8), PainResponse.NONE),  # unchanged
        (F(8), F(0), PainResponse.SUBSTANTIAL),  # pain-free
        (F(0), F(0), PainResponse.NOT_APPLICABLE),
        (F(0), F(3), PainResponse.NOT_APPLICABLE),
    ],
)
def test_pain_response_at_each_immpact_edge(
    baseline: Fraction, value: Fraction, expected: PainResponse
) -> None:
    assert pain_response(baseline, value) is expected


def test_percent_change_is_exact_negative_for_improvement_and_none_for_baseline_zero() -> None:
    assert percent_change(F(3), F(2)) == F(-100, 3)
    assert percent_change(F(4), F(5)) == 25
    assert percent_change(F(0), F(5)) is None


@pytest.mark.parametrize(
    ("baseline", "value", "name"), [(F(-1), F(2), "baseline"), (F(5), F(-1, 3), "value")]
)
def test_negative_scores_are_refused_naming_the_argument(
    baseline: Fraction, value: Fraction, name: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        pain_response(baseline, value)
    assert raised.value.loc == (name,)


@given(scores, scores)
def test_pain_response_agrees_with_the_thresholds_as_integer_inequalities(
    baseline: Fraction, value: Fraction
) -> None:
    got = pain_response(baseline, value)
    drop = baseline - value
    if baseline == 0:
        assert got is PainResponse.NOT_APPLICABLE
    elif 2 * drop >= baseline:
        assert got is PainResponse.SUBSTANTIAL
    elif 10 * drop >= 3 * baseline:
        assert got is PainResponse.MODERATE
    else:
        assert got is PainResponse.NONE


@given(scores, scores)
def test_percent_change_reproduces_the_value(baseline: Fraction, value: Fraction) -> None:
    change = percent_change(baseline, value)
    if baseline == 0:
        assert change is None
    else:
        assert change is not None
        assert baseline + baseline * change / 100 == value


# --- depression -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "value", "response", "remission"),
    [
        (20, 10, True, False),  # exactly 50 %
        (20, 11, False, False),  # 45 %
        (F(21), F(21, 2) + F(1, 10**9), False, False),  # just under 50 %
        (9, 4, True, True),  # 4 is below 5: remission
        (9, 5, False, False),  # 5 is not: no remission, 44 % no response
        (10, 5, True, False),  # 50 % but 5 is mild, not remission
        (6, 4, False, True),  # remission without response (33 %)
        (0, 0, False, True),  # baseline 0: no response possible
    ],
)
def test_phq9_response_and_remission_edges(
    baseline: int | Fraction, value: int | Fraction, response: bool, remission: bool
) -> None:
    status = depression_status(F(baseline), F(value))
    assert (status.response, status.remission) == (response, remission)
    if baseline:
        assert status.change_percent == (F(value) - F(baseline)) / F(baseline) * 100
    else:
        assert status.change_percent is None


@given(st.integers(0, 27), st.integers(0, 27))
def test_phq9_status_over_every_pair_of_totals(baseline: int, value: int) -> None:
    status = depression_status(F(baseline), F(value))
    assert status.response == (baseline > 0 and 2 * (baseline - value) >= baseline)
    assert status.remission == (value <= 4)


# --- within a session -------------------------------------------------------------------------


def test_within_session_change_pairs_pre_and_post_of_each_session() -> None:
    points = [
        point(8, day(7), "pre", 2),
        point(7, day(0), "pre", 1),
        point(3, day(0.1), "post", 1),
        point(6, day(7.1), "post", 2),
        point(5, day(14), "pre", 3),  # no post: left out
        point(2, day(1), "follow_up"),
        point(4, day(1), "post", None),  # no session: left out
    ]
    assert within_session_changes(points) == [
        SessionChange(session_id=1, pre=F(7), post=F(3), change=F(-4), change_percent=F(-400, 7)),
        SessionChange(session_id=2, pre=F(8), post=F(6), change=F(-2), change_percent=F(-25)),
    ]


def test_a_session_with_pre_zero_has_a_change_but_no_percentage() -> None:
    (change,) = within_session_changes([point(0, T0, "pre", 9), point(2, T0, "post", 9)])
    assert (change.change, change.change_percent) == (F(2), None)


def test_a_later_re_entry_of_a_pre_score_replaces_the_first() -> None:
    points = [point(9, T0, "pre", 1), point(6, day(0.01), "pre", 1), point(3, day(0.2), "post", 1)]
    assert within_session_changes(points)[0].pre == F(6)


# --- duration of relief -----------------------------------------------------------------------


def test_relief_lasts_until_pain_is_back_to_seventy_percent_of_baseline() -> None:
    later = [
        point(2, day(1)),
        point(F(11, 2), day(10)),
        point(F(28, 5), day(17.5)),
        point(8, day(30)),
    ]
    # 70 % of 8 is 28/5: 11/2 is below it, 28/5 on day 17.5 is the first at it.
    assert F(28, 5) == DEFAULT_RELIEF_RETURN_FRACTION * 8
    assert relief_days(T0, F(8), later) == F(35, 2)


def test_relief_days_are_exact_to_the_second() -> None:
    at = T0 + timedelta(days=3, hours=7, seconds=1)
    assert relief_days(T0, F(10), [point(7, at)]) == F(3 * 86400 + 7 * 3600 + 1, 86400)


def test_relief_that_never_returns_is_none() -> None:
    assert relief_days(T0, F(8), [point(5, day(3)), point(F(55, 10), day(20))]) is None
    assert relief_days(T0, F(8), []) is None


def test_a_score_at_the_session_end_counts_and_earlier_ones_do_not() -> None:
    assert relief_days(T0, F(10), [point(9, day(-1)), point(7, T0)]) == 0
    assert relief_days(T0, F(10), [point(9, day(-1))]) is None


def test_relief_with_a_baseline_of_zero_is_none_and_a_custom_fraction_is_used() -> None:
    assert relief_days(T0, F(0), [point(3, day(1))]) is None
    assert relief_days(T0, F(10), [point(5, day(2))], return_fraction=F(1, 2)) == 2


def test_relief_refuses_a_naive_session_end_and_a_zero_fraction() -> None:
    with pytest.raises(InvalidInput) as raised:
        relief_days(T0.replace(tzinfo=None), F(8), [])
    assert raised.value.loc == ("session_end",)
    with pytest.raises(InvalidInput) as raised:
        relief_days(T0, F(8), [], return_fraction=F(0))
    assert raised.value.loc == ("return_fraction",)


def test_a_score_point_refuses_a_naive_time_a_negative_value_and_an_unknown_context() -> None:
    for kwargs, name in [
        ({"at": T0.replace(tzinfo=None), "value": F(1), "context": "pre"}, "at"),
        ({"at": T0, "value": F(-1), "context": "pre"}, "value"),
        ({"at": T0, "value": F(1), "context": "later"}, "context"),
    ]:
        with pytest.raises(InvalidInput) as raised:
            ScorePoint(**kwargs)  # type: ignore[arg-type]
        assert raised.value.loc == (name,)


# --- the booster rule -------------------------------------------------------------------------

RULE = BoosterRule()
NOW = day(30)


def suggest(  # type: ignore[no-untyped-def]
    rule: BoosterRule = RULE,
    *,
    baseline: Fraction | None = F(8),
    pain=(),
    phq9=(),
    last: datetime | None = T0,
    now: datetime = NOW,
):
    return booster_suggestion(
        rule, pain_baseline=baseline, pain=pain, phq9=phq9, last_session_at=last, now=now
    )


@pytest.mark.parametrize(
    ("latest", "fires"),
    [(F(28, 5), True), (F(28, 5) - F(1, 10**6), False), (F(7), True), (F(9), True)],
)
def test_the_pain_rule_fires_from_seventy_percent_of_baseline(
    latest: Fraction, fires: bool
) -> None:
    pain = [point(2, day(1), "post"), point(latest, day(20))]
    result = suggest(pain=pain)
    assert (result is not None) == fires
    if result is not None:
        assert result.evidence == (pain[1],)
        assert result.reasons[-1].endswith("the physician decides.")


def test_the_pain_reason_reads_as_a_physician_would_say_it() -> None:
    result = suggest(pain=[point(7, datetime(2026, 3, 4, 10, tzinfo=UTC))], last=day(0))
    assert result is not None
    # 7 of 8 is 87.5 %, shown rounded half up.
    assert result.reasons[0] == (
        "Pain 7/10 on 2026-03-04 is 88% of the baseline 8/10 (rule: ≥ 70%)."
    )


def test_only_the_latest_pain_counts() -> None:
    pain = [point(8, day(10)), point(3, day(20))]
    assert suggest(pain=pain) is None
    assert suggest(pain=list(reversed(pain))) is None  # order given does not matter, time does


def test_pain_before_the_last_session_was_already_treated() -> None:
    assert suggest(pain=[point(8, day(-1), "pre")], last=T0) is None
    assert suggest(pain=[point(8, day(-1), "pre")], last=None) is not None


def test_no_pain_baseline_or_a_zero_one_cannot_fire_the_pain_rule() -> None:
    pain = [point(8, day(20))]
    assert suggest(baseline=None, pain=pain) is None
    assert suggest(baseline=F(0), pain=pain) is None
    assert suggest(BoosterRule(pain_return_fraction=None), pain=pain) is None


@pytest.mark.parametrize(("latest", "fires"), [(11, True), (10, False), (12, True)])
def test_the_phq9_rule_fires_at_five_above_the_best_since_the_last_session(
    latest: int, fires: bool
) -> None:
    phq9 = [
        point(20, day(-1), "pre"),
        point(9, day(1), "post"),
        point(6, day(8)),
        point(latest, day(25)),
    ]
    result = suggest(phq9=phq9)
    assert (result is not None) == fires
    if result is not None:
        best, last = phq9[2], phq9[3]
        assert result.evidence == (best, last)
        assert result.reasons[0] == (
            f"PHQ-9 {latest} on {last.at.date().isoformat()} is {latest - 6} points above its "
            f"best since the last session, 6 on {best.at.date().isoformat()} (rule: a rise of ≥ 5)."
        )


def test_the_phq9_best_before_the_last_session_does_not_count() -> None:
    # 3 was before the last session; since then the best is 8 and the latest 12: a rise of 4.
    phq9 = [point(3, day(-5)), point(8, day(1)), point(12, day(20))]
    assert suggest(phq9=phq9) is None
    assert suggest(phq9=phq9, last=None) is not None


def test_both_rules_give_both_reasons_and_all_the_evidence() -> None:
    pain = [point(7, day(20))]
    phq9 = [point(4, day(1)), point(9, day(20))]
    result = suggest(pain=pain, phq9=phq9)
    assert result is not None
    assert len(result.reasons) == 3
    assert result.reasons[0].startswith("Pain") and result.reasons[1].startswith("PHQ-9")
    assert result.evidence == (pain[0], phq9[0], phq9[1])


def test_no_suggestion_sooner_than_the_rule_allows_after_the_last_session() -> None:
    rule = BoosterRule(min_days_since_last_session=14)
    pain = [point(8, day(5))]
    assert suggest(rule, pain=pain, now=day(14) - timedelta(seconds=1)) is None
    assert suggest(rule, pain=pain, now=day(14)) is not None


def test_the_booster_rule_refuses_malformed_input_naming_it() -> None:
    cases = [
        (lambda: BoosterRule(pain_return_fraction=F(0)), ("pain_return_fraction",)),
        (lambda: BoosterRule(phq9_rise_from_best=0), ("phq9_rise_from_best",)),
        (lambda: BoosterRule(min_days_since_last_session=-1), ("min_days_since_last_session",)),
        (lambda: suggest(now=NOW.replace(tzinfo=None)), ("now",)),
        (lambda: suggest(last=T0.replace(tzinfo=None)), ("last_session_at",)),
        (lambda: suggest(baseline=F(-1)), ("pain_baseline",)),
        (lambda: suggest(pain=[point(5, NOW + timedelta(seconds=1))]), ("pain", 0, "at")),
    ]
    for call, loc in cases:
        with pytest.raises(InvalidInput) as raised:
            call()
        assert raised.value.loc == loc


@given(
    st.integers(1, 10),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 10)), min_size=1, max_size=6),
)
def test_the_pain_rule_is_latest_times_ten_at_least_seven_times_baseline(
    baseline: int, readings: list[tuple[int, int]]
) -> None:
    pain = [point(v, T0 + timedelta(hours=h)) for h, v in readings]
    latest = max(range(len(pain)), key=lambda i: (pain[i].at, i))
    expected = 10 * pain[latest].value >= 7 * baseline
    result = suggest(baseline=F(baseline), pain=pain, now=day(30))
    assert (result is not None) == expected
