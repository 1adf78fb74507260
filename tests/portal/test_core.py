"""What is due on the portal: local calendar days, the weekly edge, never completed, per course."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.portal.core import (
    DEFAULT_SCHEDULE,
    MAX_EVERY_DAYS,
    PORTAL_INSTRUMENTS,
    Schedule,
    due_now,
    due_status,
    schedule_for,
    schedule_from,
)
from ketaclinic.portal.pages import PortalInstrument

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
DAILY = (Schedule("nrs", 1),)
WEEKLY = (Schedule("phq9", 7),)


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def test_everything_is_due_when_never_completed() -> None:
    statuses = due_status(DEFAULT_SCHEDULE, {}, datetime(2026, 3, 2, 9, tzinfo=UTC), BERLIN)
    assert due_now(statuses) == ("nrs", "phq9", "gad7")
    assert all(s.next_due_at is None and s.last_completed_at is None for s in statuses)


def test_the_default_is_a_daily_pain_diary_and_weekly_phq9_and_gad7() -> None:
    assert {(s.instrument, s.every_days) for s in DEFAULT_SCHEDULE} == {
        ("nrs", 1),
        ("phq9", 7),
        ("gad7", 7),
    }


def test_a_daily_diary_is_due_again_at_local_midnight_not_24_hours_later() -> None:
    last = local(BERLIN, 2026, 3, 2, 23, 50)
    before = local(BERLIN, 2026, 3, 2, 23, 59)
    after = local(BERLIN, 2026, 3, 3, 0, 0)
    (status,) = due_status(DAILY, {"nrs": last}, before, BERLIN)
    assert not status.is_due
    assert status.next_due_at == local(BERLIN, 2026, 3, 3).astimezone(UTC)
    (status,) = due_status(DAILY, {"nrs": last}, after, BERLIN)
    assert status.is_due


def test_the_day_is_the_clinics_not_utcs() -> None:
    # 23:30 in New York on 2 March is already 3 March in UTC; it is still the same clinic day.
    last = local(NEW_YORK, 2026, 3, 2, 8, 0)
    now = local(NEW_YORK, 2026, 3, 2, 23, 30)
    assert now.astimezone(UTC).date().day == 3
    (status,) = due_status(DAILY, {"nrs": last}, now.astimezone(UTC), NEW_YORK)
    assert not status.is_due


def test_a_daily_diary_done_this_morning_is_not_due_again_today() -> None:
    (status,) = due_status(
        DAILY,
        {"nrs": local(BERLIN, 2026, 3, 2, 0, 1)},
        local(BERLIN, 2026, 3, 2, 23, 0),
        BERLIN,
    )
    assert not status.is_due


def test_weekly_is_due_exactly_7_days_later() -> None:
    last = local(BERLIN, 2026, 3, 2, 10, 0)
    (status,) = due_status(WEEKLY, {"phq9": last}, last + timedelta(days=7), BERLIN)
    assert status.is_due
    assert status.next_due_at == local(BERLIN, 2026, 3, 9).astimezone(UTC)


def test_weekly_is_not_due_on_the_sixth_day() -> None:
    last = local(BERLIN, 2026, 3, 2, 10, 0)
    late_day_6 = local(BERLIN, 2026, 3, 8, 23, 59)
    (status,) = due_status(WEEKLY, {"phq9": last}, late_day_6, BERLIN)
    assert not status.is_due


def test_weekly_counts_calendar_days_across_a_daylight_saving_change() -> None:
    # Berlin moves to summer time on 29 March 2026: that week has 167 hours, still 7 days.
    last = local(BERLIN, 2026, 3, 25, 9, 0)
    (status,) = due_status(WEEKLY, {"phq9": last}, local(BERLIN, 2026, 4, 1, 0, 0), BERLIN)
    assert status.is_due
    assert status.next_due_at == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)


def test_other_instruments_do_not_count_toward_a_schedule() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    statuses = due_status(DEFAULT_SCHEDULE, {"peg": now, "gad7": now}, now, BERLIN)
    assert due_now(statuses) == ("nrs", "phq9")


def test_a_course_can_have_its_own_schedule_in_the_portals_order() -> None:
    assert schedule_for({"peg": 7, "nrs": 1}) == (Schedule("nrs", 1), Schedule("peg", 7))
    assert schedule_for(None) == DEFAULT_SCHEDULE
    assert schedule_for({}) == ()  # a course may ask for nothing between sessions


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"bpi_sf": 7}, "not offered on the portal: bpi_sf"),
        ({"nrs": 0}, "every 1–28 days"),
        ({"nrs": MAX_EVERY_DAYS + 1}, "every 1–28 days"),
        ({"phq9": True}, "every 1–28 days"),
    ],
)
def test_a_course_schedule_is_refused_outside_the_portals_offer(
    schedule: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        schedule_from(schedule)


def test_a_schedule_refuses_an_instrument_the_portal_does_not_offer() -> None:
    with pytest.raises(ValueError, match="bpi_sf"):
        Schedule("bpi_sf", 7)
    with pytest.raises(ValueError, match="every_days"):
        Schedule("nrs", 0)


def test_naive_times_are_refused_with_their_name() -> None:
    with pytest.raises(ValueError, match="now"):
        due_status(DAILY, {}, datetime(2026, 3, 2, 9), BERLIN)
    with pytest.raises(ValueError, match="last_completed"):
        due_status(
            DAILY,
            {"nrs": datetime(2026, 3, 1, 9)},
            datetime(2026, 3, 2, 9, tzinfo=UTC),
            BERLIN,
        )


def test_the_page_path_accepts_exactly_the_portal_instruments() -> None:
    assert PortalInstrument.__args__ == PORTAL_INSTRUMENTS  # type: ignore[attr-defined]


@given(
    last=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=1, max_value=30),
    gap_min=st.integers(min_value=0, max_value=60 * 24 * 40),
)
def test_due_exactly_from_next_due_at(last: datetime, days: int, gap_min: int) -> None:
    now = last + timedelta(minutes=gap_min)
    (status,) = due_status((Schedule("nrs", days),), {"nrs": last}, now, NEW_YORK)
    assert status.next_due_at is not None
    assert status.is_due == (now >= status.next_due_at)
    assert status.next_due_at > last
