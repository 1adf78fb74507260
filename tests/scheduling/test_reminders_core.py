"""Which reminder is due, why one is skipped, the retry delays, and the iCalendar text (RFC 5545),
read back by an independent parser (``icalendar``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.scheduling.reminders_core import (
    ICS_LINE_OCTETS,
    PREPARATION_ADVICE,
    RETRY_DELAYS_MIN,
    Visit,
    build_ics,
    due_offset,
    email_text,
    escape_text,
    fold,
    retry_at,
    skip_reason,
    sms_text,
)

START = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)
OFFSETS = [48 * 60, 2 * 60]


def _visit(name: str = "North Clinic", zone: str = "America/New_York") -> Visit:
    return Visit(
        session_id=7,
        starts_at=START,
        ends_at=START + timedelta(hours=2),
        clinic_name=name,
        clinic_code="NORTH",
        zone=ZoneInfo(zone),
    )


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (timedelta(hours=49), None),
        (timedelta(hours=48), 48 * 60),
        (timedelta(hours=3), 48 * 60),
        (timedelta(hours=2), 2 * 60),
        (timedelta(minutes=1), 2 * 60),
        (timedelta(0), None),
        (-timedelta(hours=1), None),
    ],
)
def test_the_nearest_passed_offset_is_due(before: timedelta, expected: int | None) -> None:
    assert due_offset(START, OFFSETS, START - before) == expected


def test_a_reminder_is_sent_only_while_the_session_stands_as_queued() -> None:
    now = START - timedelta(hours=1)
    assert skip_reason(booked_at=START, current_at=START, still_booked=True, now=now) is None
    moved = skip_reason(
        booked_at=START, current_at=START + timedelta(days=1), still_booked=True, now=now
    )
    assert moved is not None and "moved" in moved
    cancelled = skip_reason(booked_at=START, current_at=START, still_booked=False, now=now)
    assert cancelled is not None and "no longer booked" in cancelled
    late = skip_reason(booked_at=START, current_at=START, still_booked=True, now=START)
    assert late is not None and "passed" in late


def test_retries_wait_longer_each_time_then_stop() -> None:
    now = START
    waits = [retry_at(n, now, max_attempts=len(RETRY_DELAYS_MIN) + 1) for n in range(1, 5)]
    assert [w - now for w in waits if w] == [timedelta(minutes=m) for m in RETRY_DELAYS_MIN]
    assert retry_at(3, now, max_attempts=3) is None
    assert retry_at(9, now, max_attempts=10) == now + timedelta(minutes=RETRY_DELAYS_MIN[-1])


def test_the_calendar_parses_back_with_the_session_times_in_utc() -> None:
    stamp = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    text = build_ics(_visit("North; Clinic, Suite 2 \\ Ward"), stamp=stamp)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert "DTSTART:20260306T153000Z\r\n" in text
    calendar = icalendar.Calendar.from_ical(text)
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == START + timedelta(hours=2)
    assert event.decoded("DTSTAMP") == stamp
    assert str(event["UID"]) == "session-7@north.ketaclinic"
    assert str(event["LOCATION"]) == "North; Clinic, Suite 2 \\ Ward"
    assert str(event["DESCRIPTION"]) == " ".join(PREPARATION_ADVICE)
    assert str(calendar["VERSION"]) == "2.0"


@given(st.text(min_size=0, max_size=400))
def test_folding_keeps_lines_within_75_octets_and_unfolds_to_the_same_text(value: str) -> None:
    line = "DESCRIPTION:" + escape_text(value)
    folded = fold(line)
    assert all(len(part.encode()) <= ICS_LINE_OCTETS for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line


@given(st.text(max_size=200))
def test_escaped_text_reads_back_as_written(value: str) -> None:
    calendar_text = build_ics(_visit(name=value.replace("\r", "") or "x"), stamp=START)
    (event,) = icalendar.Calendar.from_ical(calendar_text).walk("VEVENT")
    assert str(event["LOCATION"]) == (value.replace("\r", "") or "x")


def test_messages_name_the_local_time_the_clinic_and_the_advice() -> None:
    visit = _visit()
    text, sms = email_text(visit), sms_text(visit)
    # 15:30 UTC is 10:30 in New York in March before the clocks change (EST, UTC-5).
    assert "Friday 06 March 2026 at 10:30 (America/New_York)" in text
    assert "10:30" in sms and "North Clinic" in sms
    assert all(advice in text for advice in PREPARATION_ADVICE)
