"""A nurse logs in, registers a patient with a diagnosis, and finds them by search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ketaclinic.accounts.core import Role
from tests.conftest import Person

pytestmark = pytest.mark.browser


@pytest.fixture
def nurse(sqlite_settings: Any, make_sqlite_person: Callable[..., Person]) -> Person:
    return make_sqlite_person(Role.NURSE)


def test_a_nurse_registers_a_patient_and_finds_them_by_search(
    live_server: str, browser_page: Any, nurse: Person
) -> None:
    page = browser_page
    page.goto(f"{live_server}/patients")
    page.fill("#f-username", nurse.username)
    page.fill("#f-password", nurse.password)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{live_server}/patients")

    page.click("text=Register a patient")
    page.fill("#f-mrn", "E2E-7")
    page.fill("#f-given_name", "Juniper")
    page.fill("#f-family_name", "Synthetic-Quince")
    page.fill("#f-birth_date", "1969-07-20")
    page.select_option("#f-sex", "female")
    page.fill("#f-weight_kg", "64.2")
    page.fill("#f-diagnosis_code", "M54.5")
    page.click("button:has-text('Register patient')")
    assert "M54.5 is a category" in page.inner_text("#e-diagnosis_code")
    assert page.input_value("#f-given_name") == "Juniper"

    page.fill("#f-diagnosis_code", "M54.50")
    page.click("button:has-text('Register patient')")
    page.wait_for_selector("text=Patient Juniper Synthetic-Quince registered.")
    assert "Low back pain, unspecified" in page.inner_text("main")

    page.click("nav >> text=Patients")
    page.fill("#q", "quince")
    page.wait_for_selector("#results >> text=Synthetic-Quince, Juniper")
    assert page.inner_text("#results").count("Synthetic-") == 1
    page.click("#results >> text=Synthetic-Quince, Juniper")
    page.wait_for_selector("h1:has-text('Juniper Synthetic-Quince')")
