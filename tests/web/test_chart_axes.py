"""Chart axes: one point or one day of points never gets an hour-by-hour or repeating axis, and
whole-number scores get whole-number ticks."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.web.chart_axes import (
    CLOCK_STEP,
    MIN_CLOCK,
    MIN_DAYS,
    clock_axis,
    day_axis,
    score_axis,
)

DAY = timedelta(days=1)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))


def _range(axis: dict[str, object]) -> tuple[datetime, datetime]:
    low, high = axis["range"]  # type: ignore[misc]
    return datetime.fromisoformat(str(low)), datetime.fromisoformat(str(high))


def test_one_score_gets_a_week_of_whole_days_labelled_by_day() -> None:
    axis = day_axis([datetime(2026, 12, 1, 15, 36)])
    low, high = _range(axis)
    assert (low, high) == (datetime(2026, 11, 28), datetime(2026, 12, 5))  # 3 days either side
    assert axis["tickformat"] == "%d %b"
    assert (high - low) / axis["nticks"] >= DAY  # type: ignore[operator]


def test_a_days_scores_are_drawn_on_days_not_hours() -> None:
    morning, evening = datetime(2026, 12, 1, 8, 0), datetime(2026, 12, 1, 19, 30)
    axis = day_axis([morning, evening])
    assert axis == day_axis([morning])
    assert "%H" not in str(axis["tickformat"])


def test_one_vitals_reading_gets_half_an_hour_with_ticks_five_minutes_apart_or_more() -> None:
    axis = clock_axis([datetime(2026, 12, 1, 15, 36, 20)])
    low, high = _range(axis)
    assert (low, high) == (datetime(2026, 12, 1, 15, 35), datetime(2026, 12, 1, 16, 5))
    assert axis["tickformat"] == "%H:%M"
    assert (high - low) / axis["nticks"] >= CLOCK_STEP  # type: ignore[operator]


def test_score_axes_tick_on_whole_numbers_from_zero() -> None:
    axis = score_axis(10, 2)
    assert axis == {"range": [0, 10.5], "tick0": 0, "dtick": 2, "tickformat": "d"}


@given(st.lists(instants, min_size=1, max_size=30))
def test_a_date_axis_holds_every_point_and_never_ticks_more_than_daily(
    times: list[datetime],
) -> None:
    axis = day_axis(times)
    low, high = _range(axis)
    assert low <= min(times) and max(times) < high
    assert high - low >= MIN_DAYS * DAY
    assert low.time() == high.time() == datetime.min.time()
    assert axis["nticks"] >= 1 and (high - low) / axis["nticks"] >= DAY  # type: ignore[operator]


@given(st.lists(instants, min_size=1, max_size=30).filter(lambda t: max(t) - min(t) < DAY))
def test_a_clock_axis_holds_every_point_and_never_ticks_closer_than_five_minutes(
    times: list[datetime],
) -> None:
    axis = clock_axis(times)
    low, high = _range(axis)
    assert low <= min(times) and max(times) <= high
    assert high - low >= MIN_CLOCK
    assert (high - low) / axis["nticks"] >= CLOCK_STEP  # type: ignore[operator]
