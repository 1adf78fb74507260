"""Booking on a chair, on SQLite and PostgreSQL: conflicts named with free starts, opening hours
and closures, the chair freed by a cancellation, the front desk's rights, the last free slot."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from tests.conftest import Person, csrf_from, log_in
from tests.scheduling.conftest import MONDAY_9, NOW, B, Desk


def _weekday_hours(desk: Desk) -> None:
    week = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(5)]
    put = desk.client.put(f"{B}/hours", json={"intervals": week}, headers=desk.admin)
    assert put.status_code == 200, put.text


def test_a_week_with_no_hours_is_refused_because_it_would_open_the_book_around_the_clock(
    app: FastAPI, desk: Desk, make_person: Callable[..., Person]
) -> None:
    _weekday_hours(desk)
    refused = desk.client.put(f"{B}/hours", json={"intervals": []}, headers=desk.admin)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "intervals"] and "at least one day" in detail["msg"]
    page = TestClient(app)
    log_in(page, make_person(Role.ADMIN))
    token = csrf_from(page.get("/scheduling/hours").text)
    form = {f"day{d}": "" for d in range(7)} | {"csrf_token": token}
    cleared = page.post("/scheduling/hours", data=form, follow_redirects=False)
    assert cleared.status_code == 422 and "at least one day" in cleared.text
    kept = desk.client.get(f"{B}/hours", headers=desk.admin).json()
    assert len(kept["intervals"]) == 5  # the weekdays set first, untouched


def test_a_new_clinic_has_four_chairs_in_order(desk: Desk) -> None:
    assert [c["name"] for c in desk.chairs()] == ["Chair 1", "Chair 2", "Chair 3", "Chair 4"]


def test_an_overlapping_booking_is_refused_naming_the_session_and_offering_free_starts(
    desk: Desk,
) -> None:
    chair = desk.chairs()[0]["id"]
    with clock.frozen_at(NOW):
        first = desk.book(MONDAY_9, chair)
        assert first.status_code == 201, first.text
        inside = MONDAY_9 + timedelta(minutes=desk.visit_min + 14)
        refused = desk.book(inside, chair)
        after_turnover = desk.book(MONDAY_9 + timedelta(minutes=desk.visit_min + 15), chair)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "scheduled_at"]
    assert f"session #{first.json()['id']}" in detail["msg"]
    assert "Synthetic" not in detail["msg"] and "family" not in detail["msg"]
    offered = detail["alternatives"]
    assert {o["chair_id"] for o in offered} - {chair}, "no start offered on another chair"
    held_until = datetime.fromisoformat(first.json()["chair_held_until"])
    same_chair = [datetime.fromisoformat(o["start"]) for o in offered if o["chair_id"] == chair]
    assert same_chair and min(same_chair) >= held_until
    assert after_turnover.status_code == 201, after_turnover.text


def test_a_booking_outside_the_opening_hours_or_on_a_closure_is_refused(desk: Desk) -> None:
    _weekday_hours(desk)
    closure = {"first_date": "2031-03-04", "reason": "staff training"}
    assert desk.client.post(f"{B}/closures", json=closure, headers=desk.admin).status_code == 201
    with clock.frozen_at(NOW):
        too_late = desk.book(NOW.replace(hour=17, minute=30))
        closed = desk.book(MONDAY_9 + timedelta(days=1))
        weekend = desk.book(MONDAY_9 + timedelta(days=5))
        fits = desk.book(MONDAY_9)
    for refused in (too_late, closed, weekend):
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "scheduled_at"]
        assert refused.json()["detail"][0]["alternatives"]
    assert "staff training" in closed.json()["detail"][0]["msg"]
    assert fits.status_code == 201, fits.text


def test_a_cancelled_booking_frees_its_chair_and_the_front_desk_may_move_and_cancel(
    desk: Desk,
) -> None:
    chair = desk.chairs()[1]["id"]
    with clock.frozen_at(NOW):
        booked = desk.book(MONDAY_9, chair).json()
        moved = desk.client.post(
            f"{B}/bookings/{booked['id']}/reschedule",
            json={"scheduled_at": (MONDAY_9 + timedelta(hours=1)).isoformat()},
            headers=desk.staff,
        )
        assert moved.status_code == 200, moved.text
        blocked = desk.book(MONDAY_9 + timedelta(hours=1), chair)
        cancelled = desk.client.post(
            f"{B}/bookings/{booked['id']}/cancel",
            json={"reason": "the patient called"},
            headers=desk.staff,
        )
        again = desk.book(MONDAY_9 + timedelta(hours=1), chair)
    assert blocked.status_code == 409
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert again.status_code == 201, again.text


def test_two_bookings_of_the_last_free_slot_at_once_exactly_one_succeeds(
    app: FastAPI, desk: Desk
) -> None:
    chair = desk.chairs()[2]["id"]
    barrier = threading.Barrier(2)

    def reach(_: int) -> Any:
        with TestClient(app) as own, clock.frozen_at(NOW):
            desk_own = Desk(
                own,
                desk.admin,
                desk.nurse,
                desk.staff,
                desk.patient_id,
                desk.protocol_id,
                desk.visit_min,
            )
            barrier.wait()
            return desk_own.book(MONDAY_9, chair)

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(reach, (1, 2)))
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]


def test_the_clinic_cap_on_concurrent_bookings_is_off_until_set(desk: Desk) -> None:
    chairs = [c["id"] for c in desk.chairs()]
    put = desk.client.put(
        f"{B}/policy", json={"turnover_min": 15, "max_concurrent_bookings": 2}, headers=desk.admin
    )
    assert put.status_code == 200
    with clock.frozen_at(NOW):
        statuses = [desk.book(MONDAY_9, c).status_code for c in chairs[:3]]
    assert statuses == [201, 201, 409]


def test_free_starts_are_offered_for_a_protocol(desk: Desk) -> None:
    _weekday_hours(desk)
    with clock.frozen_at(NOW):
        desk.book(NOW.replace(hour=8), desk.chairs()[0]["id"])
        found = desk.client.get(
            f"{B}/free-starts",
            params={"protocol_id": desk.protocol_id, "limit": 3},
            headers=desk.staff,
        )
    assert found.status_code == 200
    starts = found.json()
    assert len(starts) == 3
    assert all(datetime.fromisoformat(s["start"]).hour >= 8 for s in starts)
    assert all(s["chair_id"] != desk.chairs()[0]["id"] for s in starts)
