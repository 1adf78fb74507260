"""A patient asks from the portal to move a booking; staff see it and mark it handled. The request
moves nothing, and only the patient's own future booking can be asked about (both engines)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.scheduling.reminders_models import RescheduleRequest
from tests.conftest import Person, csrf_from, log_in
from tests.scheduling.reminder_fixtures import NOW, Book


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def portal(book: Book, make_person: Callable[..., Person]) -> TestClient:
    browser = TestClient(book.client.app)
    log_in(browser, make_person(Role.PATIENT, patient_id=book.patient_id))
    return browser


def _requests(factory: sessionmaker[Session]) -> list[RescheduleRequest]:
    with factory() as session:
        return list(session.scalars(select(RescheduleRequest)))


def test_a_patient_asks_to_move_a_booking_and_staff_handle_it(
    book: Book,
    portal: TestClient,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
) -> None:
    start = NOW + timedelta(days=3)
    session_id = book.book(book.patient_id, start)
    home = portal.get("/portal")
    assert f"/portal/sessions/{session_id}/reschedule" in home.text
    page = portal.get(f"/portal/sessions/{session_id}/reschedule")
    assert page.status_code == 200
    sent = portal.post(
        f"/portal/sessions/{session_id}/reschedule",
        data={
            "csrf_token": csrf_from(page.text),
            "preferred_at": "2026-03-10T09:30",
            "note": "Mornings are better for my driver.",
        },
    )
    assert sent.status_code == 200, sent.text
    assert "The clinic has your request" in sent.text
    (request,) = _requests(factory)
    assert request.preferred_at == NOW.replace(day=10, hour=9, minute=30)  # clinic zone is UTC
    with factory() as session:
        booking = session.get(InfusionSession, session_id)
        assert booking is not None and booking.scheduled_at == start  # nothing moved
    again = portal.post(
        f"/portal/sessions/{session_id}/reschedule",
        data={"csrf_token": csrf_from(page.text), "preferred_at": "", "note": ""},
    )
    assert again.status_code == 409 and "You asked to move this booking" in again.text
    assert len(_requests(factory)) == 1

    desk = TestClient(book.client.app)
    log_in(desk, make_person(Role.STAFF))
    staff_page = desk.get("/scheduling/reminders")
    listed = staff_page.text.split('id="requests"')[1].split("</section>")[0]
    assert "Mornings are better for my driver." in listed and "Synthetic-Case" in listed
    handled = desk.post(
        f"/scheduling/reschedule-requests/{request.id}/handled",
        data={"csrf_token": csrf_from(staff_page.text)},
        follow_redirects=False,
    )
    assert handled.status_code == 303
    (request,) = _requests(factory)
    assert request.handled_at == NOW
    assert "Mornings are better" not in desk.get("/scheduling/reminders").text


def test_another_patients_or_a_past_booking_cannot_be_asked_about(
    book: Book, portal: TestClient, factory: sessionmaker[Session]
) -> None:
    other = book.book(book.new_patient("MRN-2"), NOW + timedelta(days=3))
    past = book.book(book.patient_id, NOW - timedelta(hours=1))
    for session_id in (other, past):
        assert portal.get(f"/portal/sessions/{session_id}/reschedule").status_code == 404
    token = csrf_from(portal.get("/portal").text)
    refused = portal.post(f"/portal/sessions/{other}/reschedule", data={"csrf_token": token})
    assert refused.status_code == 404
    assert _requests(factory) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"preferred_at": "next week"}, "enter a date and time"),
        ({"preferred_at": "2026-03-01T09:00"}, "must be in the future"),
        ({"note": "x" * 501}, "at most 500 characters"),
    ],
)
def test_a_bad_request_is_refused_and_nothing_is_stored(
    book: Book,
    portal: TestClient,
    factory: sessionmaker[Session],
    fields: dict[str, str],
    message: str,
) -> None:
    session_id = book.book(book.patient_id, NOW + timedelta(days=3))
    page = portal.get(f"/portal/sessions/{session_id}/reschedule")
    response = portal.post(
        f"/portal/sessions/{session_id}/reschedule",
        data={"csrf_token": csrf_from(page.text), **fields},
    )
    assert response.status_code == 422
    assert message in response.text
    assert _requests(factory) == []
