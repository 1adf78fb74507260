"""The patient pages: forms keep what was typed and put each error next to its field."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import Person, csrf_from, log_in


@pytest.fixture
def nurse_browser(client: TestClient, make_person: Callable[..., Person]) -> TestClient:
    log_in(client, make_person(Role.NURSE))
    return client


def _form(**overrides: str) -> dict[str, str]:
    form = {
        "mrn": "W-1",
        "given_name": "Wren",
        "family_name": "Synthetic-Ash",
        "birth_date": "1975-03-02",
        "sex": "male",
        "weight_kg": "81.4",
        "height_cm": "",
        "allergies": "latex\n\npenicillin",
        "medications": "",
        "diagnosis_code": "G90.50",
    }
    form.update(overrides)
    return form


def test_a_nurse_registers_a_patient_and_lands_on_the_record(nurse_browser: TestClient) -> None:
    token = csrf_from(nurse_browser.get("/patients/new").text)
    response = nurse_browser.post("/patients/new", data={**_form(), "csrf_token": token})
    assert response.status_code == 200
    assert "Patient Wren Synthetic-Ash registered." in response.text
    assert "Complex regional pain syndrome I, unspecified" in response.text
    assert "latex, penicillin" in response.text


def test_a_refused_form_keeps_what_was_typed_and_marks_each_bad_field(
    nurse_browser: TestClient,
) -> None:
    token = csrf_from(nurse_browser.get("/patients/new").text)
    bad = _form(weight_kg="12", diagnosis_code="M54.5", given_name="Keep Me")
    response = nurse_browser.post("/patients/new", data={**bad, "csrf_token": token})
    assert response.status_code == 422
    assert 'value="Keep Me"' in response.text
    assert 'id="e-weight_kg"' in response.text
    assert "must be at least 30 kg" in response.text
    assert 'id="e-diagnosis_code"' in response.text
    assert "M54.5 is a category" in response.text
    assert "nothing was saved" in response.text
    assert nurse_browser.get("/patients?q=Keep").text.count("Synthetic-Ash") == 0


def test_a_minor_is_refused_next_to_the_birth_date(nurse_browser: TestClient) -> None:
    token = csrf_from(nurse_browser.get("/patients/new").text)
    response = nurse_browser.post(
        "/patients/new", data={**_form(birth_date="2015-01-01"), "csrf_token": token}
    )
    assert response.status_code == 422
    assert 'id="e-birth_date"' in response.text
    assert "under 18" in response.text


def test_editing_with_a_stale_form_is_a_conflict_not_a_lost_write(
    nurse_browser: TestClient,
) -> None:
    token = csrf_from(nurse_browser.get("/patients/new").text)
    nurse_browser.post("/patients/new", data={**_form(), "csrf_token": token})
    edit = nurse_browser.get("/patients?q=W-1")
    patient_url = re.findall(r'href="/patients/(\d+)"', edit.text)[0]
    form_page = nurse_browser.get(f"/patients/{patient_url}/edit").text
    stale = {**_form(given_name="First"), "version": "1", "csrf_token": csrf_from(form_page)}
    assert "Changes saved." in nurse_browser.post(f"/patients/{patient_url}/edit", data=stale).text
    second = nurse_browser.post(
        f"/patients/{patient_url}/edit", data={**stale, "given_name": "Second"}
    )
    assert second.status_code == 409
    assert "someone else changed this patient" in second.text


def test_search_returns_only_the_results_partial_to_a_script(nurse_browser: TestClient) -> None:
    partial = nurse_browser.get("/patients?q=zzz", headers={"X-Requested-With": "fetch"})
    assert "<html" not in partial.text
    assert "No patients found." in partial.text


def test_an_unknown_patient_shows_a_friendly_404(nurse_browser: TestClient) -> None:
    response = nurse_browser.get("/patients/999999")
    assert response.status_code == 404
    assert "Not found" in response.text


def test_saving_the_form_with_the_same_weight_adds_no_weight_entry(
    nurse_browser: TestClient,
) -> None:
    token = csrf_from(nurse_browser.get("/patients/new").text)
    nurse_browser.post("/patients/new", data={**_form(weight_kg="81.40"), "csrf_token": token})
    listing = nurse_browser.get("/patients?q=W-1")
    patient_id = re.findall(r'href="/patients/(\d+)"', listing.text)[0]
    form_page = nurse_browser.get(f"/patients/{patient_id}/edit").text
    same = {**_form(weight_kg="81.4"), "version": "1", "csrf_token": csrf_from(form_page)}
    saved = nurse_browser.post(f"/patients/{patient_id}/edit", data=same)
    assert "Changes saved." in saved.text
    assert saved.text.count("<td>81.40</td>") == 1
