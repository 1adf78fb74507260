"""Whole numbers typed into page forms: "²" passes ``str.isdigit`` but not ``int``, and a pasted
5,000-digit number is more than Python reads; both answer 422 with the form, never a 500."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.web.forms import MAX_WHOLE_DIGITS, whole_number
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for

NOT_WHOLE = ["²", "٣x", "9" * 5000, "1.5", "-3", " "]


@pytest.mark.parametrize("text", NOT_WHOLE)
def test_whole_number_reads_only_ascii_digits_of_reasonable_length(text: str) -> None:
    assert whole_number(text) is None


def test_whole_number_reads_what_a_person_types() -> None:
    assert whole_number(" 28 ") == 28
    assert whole_number("9" * MAX_WHOLE_DIGITS) == int("9" * MAX_WHOLE_DIGITS)
    assert whole_number("9" * (MAX_WHOLE_DIGITS + 1)) is None


@pytest.mark.parametrize("text", ["²", "9" * 5000])
def test_the_course_questionnaire_form_refuses_a_number_int_cannot_read(
    client: TestClient, make_person: Callable[..., Person], text: str
) -> None:
    physician = make_person(Role.PHYSICIAN)
    api = token_for(client, physician)
    patient = client.post("/api/v1/patients", json=patient_body(), headers=api).json()["id"]
    protocol = client.get("/api/v1/protocols", headers=api).json()[0]["id"]
    body = {"patient_id": patient, "protocol_id": protocol}
    course = client.post("/api/v1/courses", json=body, headers=api).json()["id"]
    log_in(client, physician)
    token = csrf_from(client.get(f"/patients/{patient}/courses").text)
    url = f"/courses/{course}/questionnaires"
    every = client.post(url, data={"csrf_token": token, "nrs": text})
    assert every.status_code == 422
    assert "nrs: choose how often" in every.text
    version = client.post(url, data={"csrf_token": token, "nrs": "1", "version": text})
    assert version.status_code == 422
    assert "version must be a whole number" in version.text


@pytest.mark.parametrize("text", ["²", "9" * 5000])
def test_the_protocol_editor_refuses_a_number_int_cannot_read(
    client: TestClient, make_person: Callable[..., Person], text: str
) -> None:
    admin = make_person(Role.ADMIN)
    protocol = client.get("/api/v1/protocols", headers=token_for(client, admin)).json()[0]["id"]
    log_in(client, admin)
    page = client.get(f"/protocols/{protocol}/edit").text
    form = dict(re.findall(r'name="([^"]+)" type="text" value="([^"]*)"', page))
    form["csrf_token"] = csrf_from(page)
    assert "default_duration_min" in form
    response = client.post(
        f"/protocols/{protocol}/edit", data={**form, "default_duration_min": text}
    )
    assert response.status_code == 422
    assert "default_duration_min must be a whole number" in response.text
