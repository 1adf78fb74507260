"""A whole chairside session in a real browser: a nurse checks in from the chair board, a physician
signs the order, a second nurse verifies it, the first nurse runs the pump and charts, and after
the observation time the patient is discharged with the modified Aldrete score.

The server runs in this process (``live_server``), so ``clock.frozen_at`` moves its clock too:
the 60 minutes of observation pass by setting the clock, with nothing written into the past.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.infusions.discharge import ALDRETE_NAMES
from tests.conftest import Person, patient_body, token_for

pytestmark = pytest.mark.browser
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIGRAINE = "migraine-lauritsen-2016"


@contextmanager
def at(minutes: int) -> Iterator[None]:
    with clock.frozen_at(T0 + timedelta(minutes=minutes)):
        yield


@pytest.fixture
def scheduled(
    sqlite_settings: Settings, make_sqlite_person: Callable[..., Person]
) -> tuple[dict[str, Person], int]:
    """Three people and a session booked for Chair 2 at T0, scheduled over the API."""
    people = {
        "nurse": make_sqlite_person(Role.NURSE),
        "second_nurse": make_sqlite_person(Role.NURSE),
        "physician": make_sqlite_person(Role.PHYSICIAN),
    }
    app = create_app(sqlite_settings)
    with TestClient(app) as client:
        auth = token_for(client, people["nurse"])
        patient = client.post("/api/v1/patients", json=patient_body(), headers=auth).json()
        protocols = client.get("/api/v1/protocols", headers=auth).json()
        body = {
            "patient_id": patient["id"],
            "protocol_id": next(p["id"] for p in protocols if p["key"] == MIGRAINE),
            "scheduled_at": T0.isoformat(),
            "chair": "Chair 2",
        }
        with clock.frozen_at(T0):  # booked when it happens: the API refuses a past booking
            created = client.post("/api/v1/sessions", json=body, headers=auth)
        assert created.status_code == 201, created.text
    app.state.engine.dispose()
    return people, created.json()["id"]


def _log_in(page: Any, server: str, person: Person) -> None:
    if page.locator("button:has-text('Log out')").count():
        page.click("button:has-text('Log out')")
    page.goto(f"{server}/login")
    page.fill("#f-username", person.username)
    page.fill("#f-password", person.password)
    page.click("button:has-text('Log in')")
    page.wait_for_selector("button:has-text('Log out')")


def _fill(page: Any, form: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f"#f-{form}-{name}", value)


def _state(page: Any) -> str:
    text: str = page.inner_text("#session-state")
    return text


def test_a_nurse_and_a_physician_run_a_session_from_check_in_to_discharge(
    live_server: str, browser_page: Any, scheduled: tuple[dict[str, Person], int]
) -> None:
    """Slow because it plays a whole session in Chromium, two people's logins and every step
    from check-in to discharge (most of its time is Chromium's, not this process's)."""
    people, sid = scheduled
    page = browser_page
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet in portrait
    url = f"{live_server}/sessions/{sid}"
    calm = {
        "systolic_mmhg": "124",
        "diastolic_mmhg": "78",
        "heart_rate_per_min": "72",
        "spo2_percent": "98",
        "resp_rate_per_min": "14",
    }

    with at(-30):
        _log_in(page, live_server, people["nurse"])
        page.click("nav >> text=Chair board")
        page.click(".chair-card:has-text('Chair 2')")
        page.wait_for_url(url)
        assert _state(page) == "scheduled"
        assert page.get_attribute("#f-check_in-spo2_percent", "inputmode") == "numeric"
        _fill(page, "check_in", {**calm, "pain_nrs": "6", "escort_name": "A. Friend"})
        page.select_option("#f-check_in-pregnancy_status", "not_pregnant")
        page.check("input[name=contraindications_changed][value=no]")
        for n in range(1, 10):
            page.select_option(f"select[name=phq9_{n}]", "0")
        page.click("button:has-text('Check in')")
        page.wait_for_selector("text=Checked in.")
        assert _state(page) == "checked in"

        _log_in(page, live_server, people["physician"])
        page.goto(url)
        page.click("button:has-text('Preview the order')")
        page.wait_for_selector("#order-preview")
        # 0.1 mg/kg/h × 72.5 kg = 7.25 mg/h, set down to 7.2 mL/h at 1 mg/mL: seen before signing.
        assert "7.2 mL/h" in page.inner_text("#order-preview")
        assert "Order signed." not in page.content()
        page.click("button:has-text('Sign this order')")
        page.wait_for_selector("text=Order signed.")
        assert "not verified yet" in page.inner_text("#verification")

        _log_in(page, live_server, people["second_nurse"])
        page.goto(url)
        # The blind check: what the pump shows, typed without the order's values on the form
        # (7.25 mg/h set down to 7.2 mL/h at 1 mg/mL; 7.2 × 4 h = 28.8 mL).
        assert "7.2" not in page.inner_text("#verify")
        _fill(page, "verify", {"drug": "ketamine", "concentration_mg_per_ml": "1",
                               "rate_ml_per_h": "7.2", "volume_to_be_infused_ml": "28.8"})  # fmt: skip
        page.click("button:has-text('Compare with the order')")
        page.wait_for_selector("text=Blind check passed")

        _log_in(page, live_server, people["nurse"])
        page.goto(url)
    with at(0):
        page.click("button:has-text('Start infusion')")
        page.wait_for_selector("text=Infusion started.")
        assert _state(page) == "infusing"
    with at(10):
        _fill(page, "vitals", {**calm, "spo2_percent": "91"})
        page.click("button:has-text('Record vitals')")
        page.wait_for_selector("text=Vitals recorded.")
        assert "1 open" in page.inner_text("#alerts")
        page.click("#alerts button:has-text('Acknowledge')")
        page.wait_for_selector("text=Alert acknowledged.")
        _fill(page, "rate", {"rate_mg_per_h": "10"})
        page.click("button:has-text('Change rate')")
        page.wait_for_selector("text=Rate changed.")
    with at(20):
        page.click("a:has-text('Pause…')")
        _fill(page, "pause", {"reason": "patient asked for a break"})
        page.click("button:has-text('Pause infusion')")
        page.wait_for_selector("text=Paused.")
        assert _state(page) == "paused"
    with at(25):
        page.click("a:has-text('Resume…')")
        _fill(page, "resume", {"reason": "rested, feels fine"})
        page.click("button:has-text('Resume infusion')")
        page.wait_for_selector("text=Resumed.")
    with at(45):  # before the planned 240 min: a reason, then the confirmation step
        page.select_option("#f-stop-reason_category", "patient_request")
        page.click("#stop button:has-text('Stop infusion')")
        page.wait_for_selector("text=Stop the infusion now: 6.2 mg given of 28.8 mg ordered")
        assert _state(page) == "infusing"
        page.click("button:has-text('Confirm stop')")
        page.wait_for_selector("text=Infusion stopped; observation has begun.")
        assert _state(page) == "observing"
        page.wait_for_selector("#session-chart .main-svg")
        # 7.2 mg/h × 10 min + 10 mg/h × 10 min, paused 5 min, then 10 mg/h × 20 min.
        assert page.inner_text("#delivered-mg") == "6.2 mg"
        assert "from 10:45" in page.inner_text("#discharge-at")
        timeline = page.inner_text("#timeline")
        assert timeline.index("Infusion stopped") < timeline.index("Infusion started")

    with at(45 + 30):  # too early: refused, naming the time
        _fill_discharge(page)
        page.click("#discharge button:has-text('Discharge')")
        page.wait_for_selector("#e-discharge-all")
        assert "10:45" in page.inner_text("#e-discharge-all")
        assert _state(page) == "observing"
    with at(45 + 61):
        page.goto(url)
        _fill_discharge(page)
        page.click("#discharge button:has-text('Discharge')")
        page.wait_for_selector("text=Discharged.")
        assert _state(page) == "discharged"


def _fill_discharge(page: Any) -> None:
    for name in ALDRETE_NAMES:
        page.select_option(f"#f-discharge-aldrete_{name}", "2")
    _fill(page, "discharge", {"pain_nrs": "2"})
    page.check("#discharge input[name=escort_confirmed]")
    page.check("#discharge input[name=no_driving_advice_given]")
    for n in range(1, 10):
        page.select_option(f"#discharge select[name=phq9_{n}]", "0")
