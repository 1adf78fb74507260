"""The day and week views on both databases: blocks where the bookings are, names only for those
who may read patient records (and audited), closures shown, the next free slot found."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.db import transaction
from tests.conftest import log_in
from tests.scheduling.book import MONDAY, Book

TUESDAY_10 = MONDAY.replace(hour=10) + timedelta(days=1)
NAME = "Synthetic-Case, Test"


@pytest.fixture
def book(client: TestClient, make_person, factory: sessionmaker[Session]) -> Iterator[Book]:  # type: ignore[no-untyped-def]
    with clock.frozen_at(MONDAY):
        yield Book(client, make_person, factory)


def _day(book: Book, headers: dict[str, str], day: str) -> dict:  # type: ignore[type-arg]
    response = book.client.get("/api/v1/scheduling/day", params={"date": day}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_day_shows_each_booking_on_its_chair_with_its_visit_and_hold(book: Book) -> None:
    booked = book.book(book.patient_id, TUESDAY_10, book.chair_ids[1]).json()
    day = _day(book, book.staff, "2026-03-03")
    assert [c["chair_id"] for c in day["chairs"]] == book.chair_ids
    (block,) = day["chairs"][1]["bookings"]
    assert block["session_id"] == booked["id"]
    start = datetime.fromisoformat(block["start"])
    assert start == TUESDAY_10
    assert datetime.fromisoformat(block["visit_end"]) == start + timedelta(minutes=100)
    assert datetime.fromisoformat(block["hold_end"]) == datetime.fromisoformat(
        booked["chair_held_until"]
    )
    assert block["patient"] == NAME
    assert block["protocol"] == booked["protocol"]
    assert day["booked_minutes"] == 100
    assert day["open_minutes"] == 600
    assert all(c["bookings"] == [] for i, c in enumerate(day["chairs"]) if i != 1)


def test_an_admin_sees_the_blocks_without_patient_names(book: Book) -> None:
    book.book(book.patient_id, TUESDAY_10, book.chair_ids[0])
    day = _day(book, book.admin, "2026-03-03")
    (block,) = day["chairs"][0]["bookings"]
    assert block["patient"] is None


def test_each_named_booking_shown_is_audited_as_a_read_of_that_patient(
    book: Book, factory: sessionmaker[Session]
) -> None:
    book.book(book.patient_id, TUESDAY_10, book.chair_ids[0])

    def reads() -> int:
        with transaction(factory) as session:
            return (
                session.scalar(
                    select(func.count()).where(
                        AuditEvent.action == "session.book_view",
                        AuditEvent.patient_id == book.patient_id,
                    )
                )
                or 0
            )

    before = reads()
    _day(book, book.staff, "2026-03-03")
    assert reads() == before + 1
    _day(book, book.admin, "2026-03-03")
    assert reads() == before + 1, "no name shown, no patient read"


def test_the_day_and_week_pages_draw_the_block_and_a_closure(book: Book, make_person) -> None:  # type: ignore[no-untyped-def]
    booked = book.book(book.patient_id, TUESDAY_10, book.chair_ids[0]).json()
    closure = {"first_date": "2026-03-05", "reason": "Staff training"}
    assert (
        book.client.post(
            "/api/v1/scheduling/closures", json=closure, headers=book.admin
        ).status_code
        == 201
    )
    clerk = make_person(Role.STAFF)
    log_in(book.client, clerk)
    day = book.client.get("/scheduling/day", params={"date": "2026-03-03"})
    assert day.status_code == 200
    assert f'data-session="{booked["id"]}"' in day.text
    assert NAME in day.text
    assert f'href="/scheduling/bookings/{booked["id"]}"' in day.text
    week = book.client.get("/scheduling/week", params={"start": "2026-03-04"})
    assert week.status_code == 200
    assert f'data-session="{booked["id"]}"' in week.text
    assert NAME not in week.text, "the week is for planning: no names"
    assert "closed: Staff training" in week.text
    closed = book.client.get("/scheduling/day", params={"date": "2026-03-05"})
    assert "The clinic is closed: Staff training" in closed.text


def test_the_next_free_slot_comes_after_the_holds_of_every_chair(book: Book, make_person) -> None:  # type: ignore[no-untyped-def]
    eight = MONDAY.replace(hour=8) + timedelta(days=1)
    for index, chair_id in enumerate(book.chair_ids):
        assert book.book(book.new_patient(f"MRN-F{index}"), eight, chair_id).status_code == 201
    log_in(book.client, make_person(Role.NURSE))
    protocol = book.protocol_ids["depression-murrough-2013"]
    page = book.client.get(
        "/scheduling/day", params={"date": "2026-03-03", "protocol_id": protocol, "from": "08:00"}
    )
    assert page.status_code == 200
    found = re.findall(r"<strong>(\w{3} \d\d \w{3} \d\d:\d\d)</strong> on ([^<]+) <a", page.text)
    assert found, page.text[-2000:]
    # Every chair is held 08:00-09:55 (100 min visit, 15 min turnover): the first start is 09:55.
    assert found[0] == ("Tue 03 Mar 09:55", "Chair 1")
    assert len({chair for _, chair in found[:4]}) == 4
