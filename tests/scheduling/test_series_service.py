"""Booking a course's remaining series in one step, on both databases: the proposal around
conflicts, the all-or-nothing confirmation that checks every slot again, and attendance."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.db import transaction
from ketaclinic.infusions.models import InfusionSession
from tests.conftest import csrf_from, log_in
from tests.scheduling.book import MONDAY, Book

TUESDAY_9 = MONDAY.replace(hour=9) + timedelta(days=1)


@pytest.fixture
def book(client: TestClient, make_person, factory: sessionmaker[Session]) -> Iterator[Book]:  # type: ignore[no-untyped-def]
    with clock.frozen_at(MONDAY):
        yield Book(client, make_person, factory)


def _course_sessions(book: Book) -> int:
    with transaction(book.factory) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(InfusionSession)
                .where(InfusionSession.course_id == book.course["id"])
            )
            or 0
        )


def _day(instant: str) -> date:
    return datetime.fromisoformat(instant).date()


def test_a_fresh_course_gets_its_whole_series_at_the_preferred_time_on_open_days(
    book: Book,
) -> None:
    definition = book.definition("depression-murrough-2013")
    plan = book.plan(preferred="10:00")
    proposal = plan["proposal"]
    assert plan["remaining"] == definition["series_sessions"] == len(proposal)
    closed_days = [date.fromisoformat(p["due_date"]).weekday() >= 5 for p in proposal]
    assert any(closed_days), "the series runs into a weekend"
    assert [p["fit"] for p in proposal] == [
        "moved" if closed else "as_asked" for closed in closed_days
    ]
    starts = [datetime.fromisoformat(p["slot"]["start"]) for p in proposal]
    assert all(s.hour == 10 and s.minute == 0 for s in starts)
    assert all(s.weekday() < 5 for s in starts), "only days the clinic is open"
    for before, after in itertools.pairwise(starts):
        assert (after.date() - before.date()).days >= definition["series_spacing_days"]
    assert {p["slot"]["chair_id"] for p in proposal} == {book.chair_ids[0]}


def test_a_session_whose_time_is_taken_on_every_chair_is_moved_to_the_nearest_free_start(
    book: Book,
) -> None:
    first = book.plan(preferred="10:00")["proposal"]
    due = datetime.fromisoformat(first[1]["slot"]["start"])
    for index, chair_id in enumerate(book.chair_ids):
        other = book.new_patient(f"MRN-X{index}")
        assert book.book(other, due, chair_id).status_code == 201
    proposal = book.plan(preferred="10:00")["proposal"]
    assert proposal[0]["fit"] == "as_asked"
    moved = proposal[1]
    assert moved["fit"] == "moved"
    start = datetime.fromisoformat(moved["slot"]["start"])
    assert start.date() == due.date(), "the same day first"
    hold_end = due + timedelta(minutes=100 + 15)
    assert start >= hold_end or start + timedelta(minutes=100 + 15) <= due
    assert moved["alternatives"], "alternatives are offered beside it"
    assert [p["slot"] for p in proposal[2:]] == [p["slot"] for p in first[2:]], (
        "moved within its day, the rest of the series keeps its days"
    )


def test_confirming_books_every_session_in_the_course_and_the_day_view_shows_them(
    book: Book,
) -> None:
    slots = [p["slot"] for p in book.plan(preferred="09:00")["proposal"]]
    response = book.confirm(slots)
    assert response.status_code == 201, response.text
    booked = response.json()
    assert len(booked) == len(slots) == _course_sessions(book)
    assert {b["course_id"] for b in booked} == {book.course["id"]}
    day = book.client.get(
        "/api/v1/scheduling/day",
        params={"date": _day(slots[0]["start"]).isoformat()},
        headers=book.staff,
    ).json()
    shown = [b for c in day["chairs"] for b in c["bookings"]]
    assert [b["session_id"] for b in shown] == [booked[0]["id"]]
    assert shown[0]["patient"] == "Synthetic-Case, Test"
    assert book.plan()["remaining"] == 0


def test_a_slot_taken_after_the_proposal_refuses_the_whole_series_naming_the_collision(
    book: Book,
) -> None:
    slots = [p["slot"] for p in book.plan(preferred="09:00")["proposal"]]
    intruder = book.new_patient("MRN-LATE")
    taken = book.book(intruder, datetime.fromisoformat(slots[2]["start"]), slots[2]["chair_id"])
    assert taken.status_code == 201, taken.text
    response = book.confirm(slots)
    assert response.status_code == 409, response.text
    detail = response.json()["detail"][0]
    assert f"session #{taken.json()['id']}" in detail["msg"]
    assert "series session 3" in detail["msg"]
    assert detail["loc"][:3] == ["body", "sessions", 2]
    assert _course_sessions(book) == 0, "nothing of the series was written"


def test_more_sessions_than_the_course_still_needs_are_refused(book: Book) -> None:
    slots = [p["slot"] for p in book.plan(preferred="09:00")["proposal"]]
    assert book.confirm(slots[:2]).status_code == 201
    response = book.confirm(slots[2:] + slots[:1])
    assert response.status_code == 409
    assert "plan the series again" in response.json()["detail"][0]["msg"]
    assert _course_sessions(book) == 2


def test_sessions_closer_than_the_protocol_spacing_are_refused(book: Book) -> None:
    slots = [p["slot"] for p in book.plan(preferred="09:00")["proposal"]]
    squeezed = dict(
        slots[1], start=(datetime.fromisoformat(slots[0]["start"]) + timedelta(days=1)).isoformat()
    )
    response = book.confirm([slots[0], squeezed])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sessions", 1, "start"]
    assert _course_sessions(book) == 0


def test_late_cancellations_and_no_shows_are_counted_per_patient(book: Book) -> None:
    monday = MONDAY.replace(hour=9)
    early = book.book(book.patient_id, monday + timedelta(days=3), book.chair_ids[0]).json()
    late = book.book(book.patient_id, monday + timedelta(hours=6), book.chair_ids[0]).json()
    absent = book.book(book.patient_id, monday, book.chair_ids[1]).json()
    for row in (early, late):
        response = book.client.post(
            f"/api/v1/scheduling/bookings/{row['id']}/cancel",
            json={"reason": "patient called"},
            headers=book.staff,
        )
        assert response.status_code == 200, response.text
    with clock.frozen_at(monday + timedelta(hours=3)):
        response = book.client.post(
            f"/api/v1/sessions/{absent['id']}/no-show", json={}, headers=book.nurse
        )
    assert response.status_code == 200, response.text
    counts = book.client.get(
        f"/api/v1/scheduling/patients/{book.patient_id}/attendance", headers=book.staff
    ).json()
    assert counts == {
        "patient_id": book.patient_id,
        "cancellations": 2,
        "late_cancellations": 1,
        "no_shows": 1,
        "late_hours": 24,
    }
    log_in(book.client, book.staff_person)
    page = book.client.get(f"/patients/{book.patient_id}")
    assert page.status_code == 200
    assert "1 late cancellation(s) (under 24 h notice) of 2, 1 no-show(s)" in page.text


def test_the_series_page_shows_the_collision_and_a_fresh_proposal_when_a_slot_was_taken(
    book: Book,
) -> None:
    log_in(book.client, book.staff_person)
    page = book.client.get("/scheduling/series", params={"course_id": book.course["id"]})
    assert page.status_code == 200
    form = dict(
        re.findall(
            r'<select id="f-(session-\d+)" name="session-\d+">\s*<option value="([^"]*)" selected',
            page.text,
        )
    )
    assert len(form) == book.plan()["remaining"] > 1
    chair, _, start = form["session-1"].partition("@")
    taken = book.book(book.new_patient("MRN-RACE"), datetime.fromisoformat(start), int(chair))
    assert taken.status_code == 201
    response = book.client.post(
        "/scheduling/series",
        data={
            **form,
            "course_id": str(book.course["id"]),
            "preferred": "09:00",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 409
    assert f"session #{taken.json()['id']}" in response.text
    assert "nothing was booked" in response.text
    assert _course_sessions(book) == 0
    fresh = re.search(r'name="session-1">\s*<option value="([^"]*)" selected', response.text)
    assert fresh is not None and fresh.group(1) != form["session-1"], "proposed again around it"


def test_a_moved_booking_shows_where_it_was_on_the_session_timeline(book: Book) -> None:
    booked = book.book(book.patient_id, TUESDAY_9, book.chair_ids[0]).json()
    moved = book.client.post(
        f"/api/v1/scheduling/bookings/{booked['id']}/reschedule",
        json={"scheduled_at": (TUESDAY_9 + timedelta(hours=3)).isoformat(),
              "chair_id": book.chair_ids[2]},
        headers=book.staff,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    log_in(book.client, book.nurse_person)
    page = book.client.get(f"/sessions/{booked['id']}")
    assert page.status_code == 200
    assert "Booking moved" in page.text
    assert "from Tue 03 Mar 09:00 (Chair 1) to Tue 03 Mar 12:00 (Chair 3)" in page.text
