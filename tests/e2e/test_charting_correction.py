"""A nurse charts a vitals row that raises an alert, marks it entered in error in a real browser
(Debian's Chromium), and sees it struck through with its alert withdrawn (issue 11, item 5).

The session is brought to infusing over the API first; the browser does only the correction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from tests.conftest import Person, patient_body, token_for
from tests.infusions.blind import reading_for
from tests.infusions.test_api import CHECK_IN, MIGRAINE, T0, at

pytestmark = pytest.mark.browser


@pytest.fixture
def infusing(
    sqlite_settings: Settings, make_sqlite_person: Callable[..., Person]
) -> tuple[Person, int]:
    """A session of Chair 2 checked in, ordered, verified and started at T0, over the API."""
    nurse = make_sqlite_person(Role.NURSE)
    app = create_app(sqlite_settings)
    with TestClient(app) as client:
        auth = token_for(client, nurse)
        physician = token_for(client, make_sqlite_person(Role.PHYSICIAN))
        second = token_for(client, make_sqlite_person(Role.NURSE))
        patient = client.post("/api/v1/patients", json=patient_body(), headers=auth).json()
        protocols = client.get("/api/v1/protocols", headers=auth).json()
        body = {
            "patient_id": patient["id"],
            "protocol_id": next(p["id"] for p in protocols if p["key"] == MIGRAINE),
            "scheduled_at": T0.isoformat(),
            "chair": "Chair 2",
        }
        with at(-30):
            sid = client.post("/api/v1/sessions", json=body, headers=auth).json()["id"]
            for action, who, data in [("check-in", auth, CHECK_IN), ("order", physician, {})]:
                done = client.post(f"/api/v1/sessions/{sid}/{action}", json=data, headers=who)
                assert done.status_code == 200, done.text
            # The blind check: what the second nurse reads off a correctly set pump.
            reading = reading_for(done.json())
            done = client.post(f"/api/v1/sessions/{sid}/verify", json=reading, headers=second)
            assert done.status_code == 200, done.text
        with at(0):
            started = client.post(f"/api/v1/sessions/{sid}/start", json={}, headers=auth)
            assert started.status_code == 200, started.text
    app.state.engine.dispose()
    return nurse, sid


def test_a_nurse_marks_an_alerting_vitals_row_entered_in_error_and_its_alert_is_withdrawn(
    live_server: str, browser_page: Any, infusing: tuple[Person, int]
) -> None:
    nurse, sid = infusing
    page = browser_page
    with at(10):
        page.goto(f"{live_server}/login")
        page.fill("#f-username", nurse.username)
        page.fill("#f-password", nurse.password)
        page.click("button:has-text('Log in')")
        page.wait_for_selector("button:has-text('Log out')")
        page.goto(f"{live_server}/sessions/{sid}")
        vitals = {
            "systolic_mmhg": "195",  # above the ">180" rule: an urgent alert
            "diastolic_mmhg": "80",
            "heart_rate_per_min": "72",
            "spo2_percent": "98",
            "resp_rate_per_min": "14",
        }
        for name, value in vitals.items():
            page.fill(f"#f-vitals-{name}", value)
        page.click("button:has-text('Record vitals')")
        page.wait_for_selector("text=Vitals recorded.")
        assert "1 open" in page.inner_text("#alerts")
    with at(12):
        entry = page.locator("#timeline li.tl-vitals", has_text="BP 195/80")
        entry.locator("summary:has-text('Entered in error')").click()
        entry.locator("input[name=reason]").fill("charted for the patient in Chair 3")
        entry.locator("button:has-text('Mark entered in error')").click()
        page.wait_for_selector("text=Marked entered in error")
        entry = page.locator("#timeline li.tl-vitals", has_text="BP 195/80")
        assert entry.locator("del").inner_text().startswith("Vitals")
        assert "BP 195/80" in entry.locator("del").inner_text()
        assert "charted for the patient in Chair 3" in entry.inner_text()
        assert "09:12" in entry.inner_text()
        assert "No open alerts." in page.inner_text("#alerts")
        alert = page.locator("#timeline li.tl-alert")
        assert "withdrawn 09:12" in alert.inner_text()
        assert alert.locator("del").count() == 1
        page.goto(f"{live_server}/board")
        assert "open" not in page.inner_text(".chair-card:has-text('Chair 2')")
