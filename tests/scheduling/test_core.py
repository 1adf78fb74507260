"""The booking rule, pure: opening hours in a zone across DST, conflicts and free starts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.scheduling import core

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)  # a Monday, 07:00 in Berlin
WEEKDAYS_8_TO_18 = [core.DailyHours(d, 8 * 60, 18 * 60) for d in range(5)]


def test_a_visit_holds_the_infusion_an_hour_of_observation_and_the_turnover() -> None:
    visit = core.visit_minutes(240, None)
    hold = core.hold_for(T0, visit, core.DEFAULT_TURNOVER_MIN)
    assert visit == 240 + 60
    assert hold.end - hold.start == timedelta(minutes=240 + 60 + 15)


def test_a_protocol_may_ask_for_more_observation_never_less() -> None:
    assert core.visit_minutes(40, 90) == 130
    assert core.visit_minutes(40, 30) == 100


def test_opening_hours_are_local_time_on_both_sides_of_the_spring_clock_change() -> None:
    # Berlin moves to summer time on Sunday 2026-03-29: 08:00 local is 07:00 UTC before, 06:00 after.
    window = core.Interval(datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    opening = core.open_intervals(WEEKDAYS_8_TO_18, [], BERLIN, window)
    starts = [o.start for o in opening]
    assert starts == [datetime(2026, 3, 27, 7, tzinfo=UTC), datetime(2026, 3, 30, 6, tzinfo=UTC)]
    assert all(o.start.astimezone(BERLIN).hour == 8 for o in opening)
    assert all(o.end.astimezone(BERLIN).hour == 18 for o in opening)


def test_a_closed_day_has_no_opening() -> None:
    window = core.Interval(T0, T0 + timedelta(days=2))
    closed = [core.ClosedDays(date(2026, 3, 23), date(2026, 3, 23), "holiday")]
    opening = core.open_intervals(WEEKDAYS_8_TO_18, closed, BERLIN, window)
    assert [o.start.astimezone(BERLIN).date() for o in opening] == [date(2026, 3, 24)]


def test_overlapping_hours_on_one_weekday_are_refused_naming_the_interval() -> None:
    week = [core.DailyHours(0, 480, 720), core.DailyHours(0, 700, 900)]
    assert core.hours_problem(week) == (1, "overlaps another opening interval on Monday")
    assert core.hours_problem([core.DailyHours(0, 600, 600)]) is not None


def test_a_booking_ending_at_the_next_start_minus_turnover_does_not_conflict() -> None:
    first = core.Booked(1, 1, core.hold_for(T0, 100, 15))
    later = core.hold_for(T0 + timedelta(minutes=115), 100, 15)
    assert core.conflicts(later, [first]) == []
    assert core.conflicts(core.hold_for(T0 + timedelta(minutes=114), 100, 15), [first]) == [first]


def test_peak_concurrency_counts_the_most_holds_at_one_instant() -> None:
    a = core.Interval(T0, T0 + timedelta(hours=2))
    b = core.Interval(T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    c = core.Interval(T0 + timedelta(hours=2), T0 + timedelta(hours=4))  # starts as a ends
    assert core.peak_concurrency([a, b, c], core.Interval(T0, T0 + timedelta(hours=4))) == 2


def test_free_starts_skip_a_booking_and_offer_the_instant_its_hold_ends() -> None:
    window = core.Interval(T0, T0 + timedelta(days=1))
    opening = core.open_intervals(WEEKDAYS_8_TO_18, [], BERLIN, window)
    busy = [core.Interval(opening[0].start, opening[0].start + timedelta(minutes=130))]
    starts = core.free_starts(
        visit_min=100, turnover_min=15, opening=opening, busy=busy, after=T0, limit=2
    )
    assert starts[0] == busy[0].end


offsets = st.integers(min_value=0, max_value=7 * 24 * 4).map(lambda q: timedelta(minutes=15 * q))
lengths = st.integers(min_value=1, max_value=8 * 4).map(lambda q: timedelta(minutes=15 * q))
bookings = st.lists(st.tuples(offsets, lengths), max_size=12)
weeks = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 22 * 4), st.integers(1, 8 * 4)).map(
        lambda t: core.DailyHours(t[0], t[1] * 15, min(core.MINUTES_PER_DAY, t[1] * 15 + t[2] * 15))
    ),
    max_size=6,
).filter(lambda week: core.hours_problem(week) is None)


@settings(max_examples=150, deadline=None)
@given(
    week=weeks,
    busy=bookings,
    visit=st.integers(min_value=45, max_value=360),
    turnover=st.integers(min_value=0, max_value=60),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_no_free_start_overlaps_a_booking_and_every_visit_lies_inside_the_hours(
    week: list[core.DailyHours],
    busy: list[tuple[timedelta, timedelta]],
    visit: int,
    turnover: int,
    zone: str,
) -> None:
    window = core.Interval(T0, T0 + timedelta(days=8))
    opening = core.open_intervals(week, [], ZoneInfo(zone), window)
    holds = [core.Interval(T0 + start, T0 + start + length) for start, length in busy]
    starts = core.free_starts(
        visit_min=visit, turnover_min=turnover, opening=opening, busy=holds, after=T0, limit=20
    )
    assert starts == sorted(starts)
    for start in starts:
        hold = core.hold_for(start, visit, turnover)
        assert not any(hold.overlaps(b) for b in holds)
        assert core.inside_hours(core.visit_for(start, visit), opening)
        assert start >= T0
