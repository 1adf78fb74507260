"""The day and week grid as data: blocks at their real instants, DST days, shaded closed hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ketaclinic.scheduling import core, grid

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = [core.DailyHours(d, 8 * 60, 18 * 60) for d in range(7)]


def _opening(day: date, zone: ZoneInfo) -> list[core.Interval]:
    return core.open_intervals(WEEK, [], zone, grid.local_day(day, zone))


def _booking(
    start: datetime, visit_min: int = 100, turnover_min: int = 15, chair: int = 1
) -> grid.GridBooking:
    return grid.GridBooking(
        session_id=1,
        chair_id=chair,
        start=start,
        visit_end=start + timedelta(minutes=visit_min),
        hold_end=start + timedelta(minutes=visit_min + turnover_min),
        state="scheduled",
    )


def test_a_local_day_is_23_or_25_hours_when_the_clocks_change() -> None:
    spring = grid.local_day(date(2026, 3, 29), BERLIN)
    autumn = grid.local_day(date(2026, 10, 25), BERLIN)
    plain = grid.local_day(date(2026, 3, 30), BERLIN)
    assert spring.minutes == 23 * 60
    assert autumn.minutes == 25 * 60
    assert plain.minutes == 24 * 60


def test_a_block_spans_its_visit_then_its_turnover_in_real_minutes() -> None:
    day = date(2026, 3, 30)
    opening = _opening(day, BERLIN)
    start = datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN).astimezone(UTC)
    g = grid.day_grid(
        day=day, zone=BERLIN, chairs=[(1, "Chair 1")], opening=opening, bookings=[_booking(start)]
    )
    axis_min = g.axis.minutes
    assert g.axis.start == datetime(2026, 3, 30, 8, 0, tzinfo=BERLIN)
    assert g.axis.end == datetime(2026, 3, 30, 18, 0, tzinfo=BERLIN)
    (block,) = g.columns[0].blocks
    assert block.visit.top == round(100 * 120 / axis_min, 3)
    assert block.visit.height == round(100 * 100 / axis_min, 3)
    assert block.turnover is not None
    assert abs(block.turnover.height - 100 * 15 / axis_min) < 0.01
    assert g.booked_minutes == 100
    assert g.utilisation_percent == round(100 * 100 / 600, 1)


def test_on_the_spring_forward_day_the_skipped_hour_has_no_mark_and_blocks_keep_real_length() -> (
    None
):
    day = date(2026, 3, 29)
    start = datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN).astimezone(UTC)
    booking = _booking(start, visit_min=120, turnover_min=0)
    g = grid.day_grid(day=day, zone=BERLIN, chairs=[(1, "Chair 1")], opening=[], bookings=[booking])
    labels = [m.label for m in g.marks]
    assert "02:00" not in labels
    assert labels[:3] == ["01:00", "03:00", "04:00"]
    (block,) = g.columns[0].blocks
    # Two real hours from 01:00 end at 04:00 local time, which is the third mark.
    end_mark = next(m for m in g.marks if m.label == "04:00")
    assert abs(block.visit.top + block.visit.height - end_mark.top) < 0.01


def test_on_the_fall_back_day_the_repeated_hour_is_marked_twice() -> None:
    day = date(2026, 10, 25)
    start = datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN).astimezone(UTC)
    g = grid.day_grid(
        day=day, zone=BERLIN, chairs=[(1, "Chair 1")], opening=[], bookings=[_booking(start, 180)]
    )
    labels = [m.label for m in g.marks]
    assert labels.count("02:00") == 2
    # 01:00 to 04:00 on the wall is four real hours on this day: 02:00-03:00 happens twice.
    assert g.axis.start.astimezone(BERLIN).hour == 1
    assert g.axis.end.astimezone(BERLIN).hour == 4
    assert g.axis.minutes == 4 * 60


def test_closed_hours_and_closed_days_are_shaded() -> None:
    day = date(2026, 3, 30)
    hours = [core.DailyHours(0, 8 * 60, 12 * 60), core.DailyHours(0, 13 * 60, 17 * 60)]
    opening = core.open_intervals(hours, [], BERLIN, grid.local_day(day, BERLIN))
    axis = grid.axis_between(day, BERLIN, time(7, 0), time(18, 0))
    g = grid.day_grid(
        day=day, zone=BERLIN, chairs=[(1, "Chair 1")], opening=opening, bookings=[], axis=axis
    )
    hour = 100 / 11
    assert [(round(s.top, 2), round(s.height, 2)) for s in g.shaded] == [
        (0.0, round(hour, 2)),
        (round(5 * hour, 2), round(hour, 2)),
        (round(10 * hour, 2), round(hour, 2)),
    ]
    closed = grid.day_grid(
        day=day,
        zone=BERLIN,
        chairs=[(1, "Chair 1")],
        opening=opening,
        bookings=[],
        closed_reason="Holiday",
        axis=axis,
    )
    assert closed.shaded == [grid.Span(0.0, 100.0)]
    assert closed.utilisation_percent is None


def test_a_booking_on_a_chair_not_listed_gets_its_own_column() -> None:
    day = date(2026, 3, 30)
    start = datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN).astimezone(UTC)
    g = grid.day_grid(
        day=day,
        zone=BERLIN,
        chairs=[(1, "Chair 1")],
        opening=_opening(day, BERLIN),
        bookings=[_booking(start, chair=9)],
    )
    assert [c.chair_id for c in g.columns] == [1, 9]
    assert len(g.columns[1].blocks) == 1


def test_the_week_shares_one_clock_span_from_the_earliest_opening_to_the_latest_closing() -> None:
    hours = [core.DailyHours(0, 8 * 60 + 30, 17 * 60), core.DailyHours(5, 9 * 60, 18 * 60 + 15)]
    monday = date(2026, 3, 30)
    window = core.Interval(
        grid.local_day(monday, BERLIN).start, grid.local_day(monday + timedelta(days=6), BERLIN).end
    )
    opening = core.open_intervals(hours, [], BERLIN, window)
    assert grid.week_clock_span(BERLIN, opening) == (time(8, 0), time(19, 0))
    assert grid.monday_of(date(2026, 4, 2)) == monday
