"""Booking a whole series from a course in a real browser, then seeing it on the day and week
grids, on a tablet and a desktop width without the page scrolling sideways.

The server runs in this process (``live_server``), so ``clock.frozen_at`` moves its clock too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.db import make_engine, make_session_factory
from ketaclinic.infusions.models import InfusionSession
from tests.conftest import Person, patient_body, token_for

pytestmark = pytest.mark.browser
MONDAY_7 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERIES = "depression-murrough-2013"
#: Where to save screenshots for a person to look at (unset: none).
SHOTS = os.environ.get("KETACLINIC_E2E_SHOTS", "")
HOURS = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(5)]


def _clinic(settings: Settings, people: dict[str, Person]) -> dict[str, int]:
    """Opening hours, a patient with a course of a series protocol, and another patient
    already booked on Chair 1 at Monday 09:00 (the series' first preferred slot)."""
    app = create_app(settings)
    with TestClient(app) as client, clock.frozen_at(MONDAY_7):
        admin = token_for(client, people["admin"])
        nurse = token_for(client, people["nurse"])
        physician = token_for(client, people["physician"])
        assert (
            client.put(
                "/api/v1/scheduling/hours", json={"intervals": HOURS}, headers=admin
            ).status_code
            == 200
        )
        patient = client.post("/api/v1/patients", json=patient_body(), headers=nurse).json()
        other = client.post(
            "/api/v1/patients",
            json=patient_body(mrn="MRN-2", given_name="Other", family_name="Booked-Already"),
            headers=nurse,
        ).json()
        protocols = client.get("/api/v1/protocols", headers=nurse).json()
        protocol_id = next(p["id"] for p in protocols if p["key"] == SERIES)
        course = client.post(
            "/api/v1/courses",
            json={"patient_id": patient["id"], "protocol_id": protocol_id},
            headers=physician,
        ).json()
        chairs = client.get("/api/v1/scheduling/chairs", headers=nurse).json()
        intruder = client.post(
            "/api/v1/scheduling/bookings",
            json={
                "patient_id": other["id"],
                "protocol_id": protocol_id,
                "scheduled_at": MONDAY_9.isoformat(),
                "chair_id": chairs[0]["id"],
            },
            headers=nurse,
        )
        assert intruder.status_code == 201, intruder.text
    app.state.engine.dispose()
    return {"patient": patient["id"], "course": course["id"], "intruder": intruder.json()["id"]}


def _log_in(page: Any, server: str, person: Person) -> None:
    page.goto(f"{server}/login")
    page.fill("#f-username", person.username)
    page.fill("#f-password", person.password)
    page.click("button:has-text('Log in')")
    page.wait_for_selector("button:has-text('Log out')")


def _no_sideways_scroll(page: Any) -> bool:
    result: bool = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return result


def test_a_nurse_books_a_series_from_the_course_and_sees_it_on_the_day_and_week(
    sqlite_settings: Settings,
    make_sqlite_person: Callable[..., Person],
    live_server: str,
    browser_page: Any,
) -> None:
    people = {r.value: make_sqlite_person(r) for r in (Role.ADMIN, Role.NURSE, Role.PHYSICIAN)}
    ids = _clinic(sqlite_settings, people)
    page = browser_page
    with clock.frozen_at(MONDAY_7):
        page.set_viewport_size({"width": 820, "height": 1180})  # a tablet
        _log_in(page, live_server, people["nurse"])
        page.goto(f"{live_server}/patients/{ids['patient']}/courses")
        page.click(f"#book-series-{ids['course']}")
        page.wait_for_selector("#series-confirm")
        rows = page.locator(".series-table tbody tr")
        count = rows.count()
        assert count == int(page.inner_text("#series-remaining"))
        assert count > 1
        first = page.locator("#f-session-1 option:checked").inner_text()
        assert first.startswith("Mon 02 Mar 09:00")
        assert "Chair 2" in first, "Chair 1 is taken at 09:00: the next chair in order"
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/series-820.png", full_page=True)
        page.click("#series-book")
        page.wait_for_selector("#day-grid")
        assert "series session(s) booked" in page.inner_text(".flash")

        with sqlite_settings_session(sqlite_settings) as session:
            booked = list(
                session.scalars(
                    select(InfusionSession.id).where(InfusionSession.course_id == ids["course"])
                )
            )
        assert len(booked) == count
        on_day = page.locator(".book-block").evaluate_all(
            "blocks => blocks.map(b => Number(b.dataset.session))"
        )
        assert sorted(on_day) == sorted([ids["intruder"], min(booked)])
        block = page.locator(f'.book-block[data-session="{min(booked)}"]')
        assert "Synthetic-Case, Test" in block.inner_text()
        assert _no_sideways_scroll(page)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/day-820.png", full_page=True)

        page.goto(f"{live_server}/scheduling/week?start=2026-03-02")
        page.wait_for_selector("#week-grid")
        in_week = set(
            page.locator(".book-block").evaluate_all(
                "blocks => blocks.map(b => Number(b.dataset.session))"
            )
        )
        this_week = _sessions_before(
            sqlite_settings, ids["course"], datetime(2026, 3, 9, tzinfo=UTC)
        )
        assert this_week and this_week <= in_week
        assert ids["intruder"] in in_week
        assert _no_sideways_scroll(page)

        page.set_viewport_size({"width": 1366, "height": 900})  # a desktop
        assert _no_sideways_scroll(page)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/week-1366.png", full_page=True)
        page.goto(f"{live_server}/scheduling/day?date=2026-03-02")
        assert _no_sideways_scroll(page)


@contextmanager
def sqlite_settings_session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _sessions_before(settings: Settings, course_id: int, before: datetime) -> set[int]:
    with sqlite_settings_session(settings) as session:
        return set(
            session.scalars(
                select(InfusionSession.id).where(
                    InfusionSession.course_id == course_id, InfusionSession.scheduled_at < before
                )
            )
        )
