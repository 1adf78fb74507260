"""The chair board, on SQLite and PostgreSQL: one card per active chair in the clinic's order,
even an empty one; cancelled and no-show sessions off the floor; the day's later bookings."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from tests.conftest import Person, log_in
from tests.scheduling.conftest import MONDAY_9, NOW, B, Desk


def test_the_board_shows_every_active_chair_in_order_and_leaves_cancelled_ones_off(
    app: FastAPI, desk: Desk, make_person: Callable[..., Person]
) -> None:
    chairs = desk.chairs()
    by_name = {c["name"]: c["id"] for c in chairs}
    admin = desk.admin
    first = desk.client.put(
        f"{B}/chairs/{by_name['Chair 4']}",
        json={"name": "Chair 4", "display_order": 0, "active": True},
        headers=admin,
    )
    retired = desk.client.put(
        f"{B}/chairs/{by_name['Chair 3']}",
        json={"name": "Chair 3", "active": False},
        headers=admin,
    )
    assert first.status_code == retired.status_code == 200
    later_start = MONDAY_9 + timedelta(minutes=desk.visit_min + 30)
    with clock.frozen_at(NOW):
        now_on_2 = desk.book(MONDAY_9, by_name["Chair 2"]).json()["id"]
        later_on_2 = desk.book(later_start, by_name["Chair 2"]).json()["id"]
        cancelled = desk.book(MONDAY_9, by_name["Chair 4"]).json()["id"]
        no_show = desk.book(later_start, by_name["Chair 4"]).json()["id"]
        assert (
            desk.client.post(
                f"{B}/bookings/{cancelled}/cancel", json={"reason": "ill"}, headers=desk.staff
            ).status_code
            == 200
        )
        marked = desk.client.post(
            f"/api/v1/sessions/{no_show}/no-show", json={}, headers=desk.nurse
        )
        assert marked.status_code == 200, marked.text
        browser = TestClient(app)
        log_in(browser, make_person(Role.NURSE))
        page = browser.get("/board/data")
    assert page.status_code == 200
    cards = re.findall(r'<div class="chair-card[^"]*" data-chair="(\d+)"', page.text)
    assert cards == [str(by_name[n]) for n in ("Chair 4", "Chair 1", "Chair 2")]
    sessions = re.findall(r'data-session="(\d+)"', page.text)
    assert sorted(sessions) == sorted([str(now_on_2), str(later_on_2)])
    assert "Later today:" in page.text
    assert page.text.count("No one in this chair") == 2  # Chair 4 (nothing held) and Chair 1
