"""Series placement, pure: properties over random books, and the spacing and late-cancel rules."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.scheduling import core, series
from ketaclinic.scheduling.core import Booked, Interval

BERLIN = ZoneInfo("Europe/Berlin")
FIRST = date(2026, 3, 23)  # a Monday, a week before the clocks change
NOW = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)
CHAIRS = [11, 12, 13]
WEEKDAYS = [core.DailyHours(d, 8 * 60, 18 * 60) for d in range(5)]
TURNOVER = 15


def _window(days: int) -> Interval:
    start = datetime.combine(FIRST - timedelta(days=1), time(), tzinfo=BERLIN)
    return Interval(start.astimezone(UTC), (start + timedelta(days=days)).astimezone(UTC))


def _opening(closures: list[core.ClosedDays]) -> list[Interval]:
    return core.open_intervals(WEEKDAYS, closures, BERLIN, _window(120))


@st.composite
def books(draw: st.DrawFn) -> tuple[series.SeriesAsk, series.Clinic]:
    visit = draw(st.sampled_from([100, 160, 300]))
    ask = series.SeriesAsk(
        count=draw(st.integers(1, 6)),
        first_day=FIRST + timedelta(days=draw(st.integers(0, 6))),
        spacing_days=draw(st.integers(0, 4)),
        preferred=time(draw(st.integers(6, 17)), draw(st.sampled_from([0, 15, 30, 45]))),
        visit_min=visit,
        turnover_min=TURNOVER,
        not_before=NOW,
    )
    booked: list[Booked] = []
    for sid in range(draw(st.integers(0, 40))):
        day = FIRST + timedelta(days=draw(st.integers(0, 30)))
        at = datetime.combine(
            day, time(draw(st.integers(7, 17)), draw(st.sampled_from([0, 30]))), tzinfo=BERLIN
        ).astimezone(UTC)
        length = draw(st.integers(60, 320))
        booked.append(Booked(sid, draw(st.sampled_from(CHAIRS)), core.hold_for(at, length, 0)))
    closed_from = FIRST + timedelta(days=draw(st.integers(0, 20)))
    closures = [core.ClosedDays(closed_from, closed_from + timedelta(days=draw(st.integers(0, 3))))]
    clinic = series.Clinic(zone=BERLIN, chair_ids=CHAIRS, opening=_opening(closures), booked=booked)
    return ask, clinic


@settings(max_examples=40)
@given(books())
def test_no_proposed_slot_collides_leaves_the_hours_or_breaks_the_spacing(
    drawn: tuple[series.SeriesAsk, series.Clinic],
) -> None:
    ask, clinic = drawn
    proposal = series.place_series(ask, clinic)
    assert [p.number for p in proposal] == list(range(1, ask.count + 1))
    placed = [p.slot for p in proposal if p.slot is not None]
    holds = [(s.chair_id, core.hold_for(s.start, ask.visit_min, ask.turnover_min)) for s in placed]
    for slot, (chair_id, hold) in zip(placed, holds, strict=True):
        assert slot.start >= ask.not_before
        assert core.inside_hours(core.visit_for(slot.start, ask.visit_min), clinic.opening)
        assert not core.conflicts(hold, [b for b in clinic.booked if b.chair_id == chair_id])
    for i, (chair_a, a) in enumerate(holds):
        for chair_b, b in holds[i + 1 :]:
            assert chair_a != chair_b or not a.overlaps(b), "two proposals on one chair collide"
    days = [s.start.astimezone(BERLIN).date() for s in placed]
    assert days == sorted(days)
    for before, after in itertools.pairwise(placed):
        gap = after.start.astimezone(BERLIN).date() - before.start.astimezone(BERLIN).date()
        assert gap.days >= ask.spacing_days
        assert after.start >= before.start + timedelta(minutes=ask.visit_min), "one chair at a time"
    assert not placed or days[0] >= ask.first_day
    for p in proposal:
        if p.fit is series.Fit.AS_ASKED:
            assert p.slot is not None and p.slot.start == p.wanted
        assert p.slot is None or p.slot not in p.alternatives


@settings(max_examples=40)
@given(books())
def test_every_alternative_is_free_of_the_existing_bookings_and_inside_the_hours(
    drawn: tuple[series.SeriesAsk, series.Clinic],
) -> None:
    ask, clinic = drawn
    for p in series.place_series(ask, clinic):
        for alt in p.alternatives:
            hold = core.hold_for(alt.start, ask.visit_min, ask.turnover_min)
            assert core.inside_hours(core.visit_for(alt.start, ask.visit_min), clinic.opening)
            assert not core.conflicts(
                hold, [b for b in clinic.booked if b.chair_id == alt.chair_id]
            )


def test_the_first_free_chair_in_the_clinics_order_takes_the_preferred_time() -> None:
    at = datetime.combine(FIRST, time(9), tzinfo=BERLIN).astimezone(UTC)
    clinic = series.Clinic(
        zone=BERLIN,
        chair_ids=CHAIRS,
        opening=_opening([]),
        booked=[Booked(1, 11, core.hold_for(at, 100, TURNOVER))],
    )
    ask = series.SeriesAsk(
        count=1,
        first_day=FIRST,
        spacing_days=2,
        preferred=time(9),
        visit_min=100,
        turnover_min=TURNOVER,
        not_before=NOW,
    )
    (only,) = series.place_series(ask, clinic)
    assert only.fit is series.Fit.AS_ASKED
    assert only.slot == series.Slot(12, at)


def test_a_full_day_moves_the_session_to_the_nearest_start_and_keeps_the_next_spacing() -> None:
    day_open = datetime.combine(FIRST, time(8), tzinfo=BERLIN).astimezone(UTC)
    full = [
        Booked(i, chair, Interval(day_open, day_open + timedelta(hours=10)))
        for i, chair in enumerate(CHAIRS)
    ]
    clinic = series.Clinic(zone=BERLIN, chair_ids=CHAIRS, opening=_opening([]), booked=full)
    ask = series.SeriesAsk(
        count=2,
        first_day=FIRST,
        spacing_days=2,
        preferred=time(9),
        visit_min=100,
        turnover_min=TURNOVER,
        not_before=NOW,
    )
    first, second = series.place_series(ask, clinic)
    assert first.fit is series.Fit.MOVED
    assert first.slot is not None
    assert first.slot.start == datetime.combine(FIRST + timedelta(days=1), time(9), tzinfo=BERLIN)
    assert second.due_day == FIRST + timedelta(days=3)


def test_nothing_free_within_the_search_is_left_unplaced() -> None:
    ask = series.SeriesAsk(
        count=1,
        first_day=FIRST,
        spacing_days=2,
        preferred=time(9),
        visit_min=11 * 60,  # longer than the clinic's day
        turnover_min=TURNOVER,
        not_before=NOW,
    )
    clinic = series.Clinic(zone=BERLIN, chair_ids=CHAIRS, opening=_opening([]), booked=[])
    (only,) = series.place_series(ask, clinic)
    assert only.fit is series.Fit.UNPLACED
    assert only.slot is None


def test_the_spacing_check_names_the_first_session_too_close() -> None:
    at = datetime.combine(FIRST, time(9), tzinfo=BERLIN).astimezone(UTC)
    starts = [at, at + timedelta(days=2), at + timedelta(days=3)]
    problem = series.spacing_problem(
        starts, zone=BERLIN, spacing_days=2, visit_min=100, earliest_day=FIRST
    )
    assert problem is not None and problem[0] == 2
    assert (
        series.spacing_problem(
            starts[:2], zone=BERLIN, spacing_days=2, visit_min=100, earliest_day=FIRST
        )
        is None
    )
    early = series.spacing_problem(
        starts, zone=BERLIN, spacing_days=2, visit_min=100, earliest_day=FIRST + timedelta(days=1)
    )
    assert early is not None and early[0] == 0


def test_a_cancellation_under_the_notice_is_late() -> None:
    due = datetime(2026, 3, 24, 9, 0, tzinfo=UTC)
    assert series.is_late_cancellation(due, due - timedelta(hours=23, minutes=59), 24)
    assert not series.is_late_cancellation(due, due - timedelta(hours=24), 24)
    assert series.is_late_cancellation(due, due + timedelta(minutes=5), 24)
