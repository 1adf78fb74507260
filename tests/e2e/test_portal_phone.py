"""A patient completes a PHQ-9 on a phone-sized screen; the physician then sees it on the work list.

Item 9 is answered "several days", so the patient is shown crisis resources at once and the
answer waits on the physician's work list until acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts import service as accounts
from ketaclinic.accounts.core import Role
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.db import make_engine, make_session_factory, transaction
from tests.conftest import PASSWORD, Person, patient_body, token_for

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
ANSWERS = [1, 2, 3, 0, 1, 2, 3, 0, 1]  # total 13; item 9 above "not at all"


@pytest.fixture
def people(
    sqlite_settings: Settings, make_sqlite_person: Callable[..., Person]
) -> dict[str, Person]:
    """A physician, and a portal account linked to a patient the nurse registered."""
    nurse = make_sqlite_person(Role.NURSE)
    physician = make_sqlite_person(Role.PHYSICIAN)
    app = create_app(sqlite_settings)
    with TestClient(app) as client:
        body = patient_body(given_name="Wren", family_name="Synthetic-Phone")
        created = client.post("/api/v1/patients", json=body, headers=token_for(client, nurse))
        assert created.status_code == 201, created.text
        patient_id = created.json()["id"]
    app.state.engine.dispose()
    engine = make_engine(sqlite_settings)
    with transaction(make_session_factory(engine)) as session:
        clinic = accounts.ensure_clinic(session, code=nurse.clinic)
        user = accounts.create_user(
            session,
            clinic=clinic,
            username="wren.portal",
            password=PASSWORD,
            role=Role.PATIENT,
            patient_id=patient_id,
        )
        patient = Person("wren.portal", Role.PATIENT, nurse.clinic, user.id)
    engine.dispose()
    return {"physician": physician, "patient": patient}


@pytest.fixture
def phone(browser_page: Any) -> Iterator[Any]:
    """A new phone-sized, touch context in the fixture's browser."""
    context = browser_page.context.browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _log_in(page: Any, base: str, person: Person, target: str) -> None:
    page.goto(f"{base}{target}")
    page.fill("#f-username", person.username)
    page.fill("#f-password", person.password)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}{target}")


def test_a_patient_completes_a_phq9_on_a_phone_and_the_physician_sees_it(
    live_server: str, browser_page: Any, phone: Any, people: dict[str, Person]
) -> None:
    page = phone
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    _log_in(page, live_server, people["patient"], "/portal")
    assert "Hello, Wren Synthetic-Phone" in page.inner_text("h1")
    page.tap("a.portal-big:has-text('Mood (PHQ-9)')")
    page.wait_for_url(f"{live_server}/portal/questionnaires/phq9")

    # Nothing sticks out sideways on a 375 px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    for number, answer in enumerate(ANSWERS[:8], start=1):
        page.tap(f"label[for=q{number}-{answer}]")
    page.tap("button:has-text('Send my answers')")
    page.wait_for_selector("#missing")
    assert "Please answer question 9 before sending." in page.inner_text("#missing")
    assert page.is_checked("#q3-3")

    choice = page.locator("label[for=q9-1]")
    box = choice.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300  # thumb-sized
    choice.tap()
    page.tap("button:has-text('Send my answers')")
    page.wait_for_selector("#crisis")
    assert "call or text 988" in page.inner_text("#crisis")
    assert page.inner_text("#score") == "13"
    crisis = page.locator("#crisis").bounding_box()
    assert crisis is not None and crisis["y"] < PHONE["height"]  # seen without scrolling

    page.tap("a:has-text('Back to my page')")
    page.wait_for_selector("#portal-chart .main-svg")  # the progress chart drew
    assert "Mood (PHQ-9): next on" in page.inner_text("#due")
    assert script_errors == []

    desk = browser_page
    _log_in(desk, live_server, people["physician"], "/worklist")
    entry = desk.inner_text("main")
    assert "Wren Synthetic-Phone" in entry
    assert "suicide risk" in entry
    assert "PHQ9 (portal)" in entry
    assert "item 9 answer 1" in entry
