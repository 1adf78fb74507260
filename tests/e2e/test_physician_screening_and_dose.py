"""A physician screens a patient, overrides a relative contraindication with a reason, and plans
a dose that needs a soft-limit override."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.dosing.library import PROTOCOLS
from tests.conftest import Person, patient_body, token_for

pytestmark = pytest.mark.browser
KEY = "chronic-pain-low-dose"


@pytest.fixture
def physician_and_patient(
    sqlite_settings: Settings, make_sqlite_person: Callable[..., Person]
) -> tuple[Person, int]:
    physician = make_sqlite_person(Role.PHYSICIAN)
    app = create_app(sqlite_settings)
    with TestClient(app) as client:
        body = patient_body(weight_kg="60", diagnoses=[{"code": "M79.7", "is_primary": True}])
        created = client.post("/api/v1/patients", json=body, headers=token_for(client, physician))
    app.state.engine.dispose()
    return physician, created.json()["id"]


def test_screen_override_and_plan_a_dose_above_a_soft_limit(
    live_server: str, browser_page: Any, physician_and_patient: tuple[Person, int]
) -> None:
    physician, patient_id = physician_and_patient
    page = browser_page
    page.goto(f"{live_server}/login")
    page.fill("#f-username", physician.username)
    page.fill("#f-password", physician.password)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{live_server}/patients")

    page.goto(f"{live_server}/patients/{patient_id}")
    page.click("text=Screenings")
    page.click("text=New screening")
    assert "Fibromyalgia" in page.inner_text("main")
    for field, value in (
        ("systolic_mmhg", "126"),
        ("diastolic_mmhg", "80"),
        ("heart_rate_per_min", "70"),
        ("spo2_percent", "98"),
        ("resp_rate_per_min", "14"),
    ):
        page.fill(f"#f-{field}", value)
    page.check("input[value=psychosis]")
    page.click("button:has-text('Sign screening')")
    page.wait_for_selector("text=needs your reason")
    page.fill("#f-override_psychosis", "One episode in 2004 on high-dose steroids, none since")
    page.click("button:has-text('Sign screening')")
    page.wait_for_selector("text=Screening signed: eligible with precautions.")

    limit = PROTOCOLS[KEY].dose_limit
    assert limit is not None and limit.soft_max < limit.hard_max
    page.goto(f"{live_server}/patients/{patient_id}/dose-plan")
    page.select_option("#f-protocol_id", label=f"{PROTOCOLS[KEY].name} (v1)")
    page.fill("#f-dose", str(limit.soft_max + Decimal("0.1")))  # 60 kg: only the dose limit
    page.click("button:has-text('Calculate')")
    reason_box = "#f-override_dose_mg_per_kg_per_h"
    page.wait_for_selector(reason_box)
    page.fill(reason_box, "Tolerated the soft maximum twice; physician titration")
    page.click("button:has-text('Calculate')")
    page.wait_for_selector("text=override: Tolerated the soft maximum twice")
    page.wait_for_selector("#pk-chart .main-svg")
    assert "mL/h" in page.inner_text("main")
