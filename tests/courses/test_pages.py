"""The Courses section of a patient: a physician starts and ends courses; clinicians see the phase,
the series progress, the next suggestion and every session, aborted ones with their reason."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from tests.conftest import Person, csrf_from, log_in
from tests.courses.helpers import SERIES, T0, Clinic


@pytest.fixture
def clinic(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Clinic:
    return Clinic(client, make_person, factory)


def _browser(clinic: Clinic, person: Person) -> TestClient:
    browser = TestClient(clinic.client.app)
    log_in(browser, person)
    return browser


def _page(browser: TestClient, patient_id: int) -> str:
    response = browser.get(f"/patients/{patient_id}/courses")
    assert response.status_code == 200, response.text
    return response.text


def test_a_physician_starts_a_course_from_the_page_and_sees_its_series_progress(
    clinic: Clinic,
) -> None:
    browser = _browser(clinic, clinic.physician_person)
    page = _page(browser, clinic.patient_id)
    assert "Start a course" in page
    response = browser.post(
        f"/patients/{clinic.patient_id}/courses",
        data={"protocol_id": str(clinic.protocol_ids[SERIES]), "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 200
    definition = clinic.definition(SERIES)
    assert f"Course of {definition['name']} started." in response.text
    assert f"0 of {definition['series_sessions']}" in response.text
    assert "suggested; the physician decides" in response.text


def test_a_second_open_course_of_the_protocol_is_refused_on_the_page(clinic: Clinic) -> None:
    clinic.start_course()
    browser = _browser(clinic, clinic.physician_person)
    token = csrf_from(_page(browser, clinic.patient_id))
    response = browser.post(
        f"/patients/{clinic.patient_id}/courses",
        data={"protocol_id": str(clinic.protocol_ids[SERIES]), "csrf_token": token},
    )
    assert response.status_code == 409
    assert "still open for this patient" in response.text
    assert response.text.count('class="card course"') == 1


def test_aborted_sessions_are_shown_apart_with_their_reason(clinic: Clinic) -> None:
    course = clinic.start_course()
    clinic.discharged(course, T0)
    aborted = clinic.aborted(course, T0 + clinic.spacing(), "vomiting at 15 min")
    page = _page(_browser(clinic, clinic.nurse_person), clinic.patient_id)
    row = re.search(rf'<tr class="course-session aborted[^"]*">.*?#{aborted}.*?</tr>', page, re.S)
    assert row is not None, page
    assert "vomiting at 15 min" in row.group(0)
    assert f"1 of {clinic.definition(SERIES)['series_sessions']}" in page


def test_a_nurse_sees_courses_but_neither_start_nor_end_forms(clinic: Clinic) -> None:
    course = clinic.start_course()
    browser = _browser(clinic, clinic.nurse_person)
    page = _page(browser, clinic.patient_id)
    assert "Start a course" not in page
    assert f"/courses/{course['id']}/end" not in page
    refused = browser.post(
        f"/courses/{course['id']}/end", data={"reason": "x", "csrf_token": csrf_from(page)}
    )
    assert refused.status_code == 403
    record = browser.get(f"/patients/{clinic.patient_id}").text
    assert f'href="/patients/{clinic.patient_id}/courses"' in record


def test_ending_a_course_needs_a_reason_and_then_shows_it(clinic: Clinic) -> None:
    course = clinic.start_course()
    browser = _browser(clinic, clinic.physician_person)
    token = csrf_from(_page(browser, clinic.patient_id))
    url = f"/courses/{course['id']}/end"
    blank = browser.post(url, data={"reason": " ", "version": "1", "csrf_token": token})
    assert blank.status_code == 422
    assert f'id="e-reason-{course["id"]}"' in blank.text
    ended = browser.post(
        url, data={"reason": "patient moved away", "version": "1", "csrf_token": token}
    )
    assert ended.status_code == 200
    assert "Course ended." in ended.text
    assert "patient moved away" in ended.text
    assert url not in ended.text
    assert clinic.read(course["id"])["phase"] == "ended"


def test_another_clinic_sees_no_courses_page_and_cannot_end_a_course(
    clinic: Clinic, make_person: Callable[..., Person]
) -> None:
    course = clinic.start_course()
    outsider = _browser(clinic, make_person(Role.PHYSICIAN, clinic="SOUTH"))
    assert outsider.get(f"/patients/{clinic.patient_id}/courses").status_code == 404
    token = csrf_from(outsider.get("/login").text)
    response = outsider.post(
        f"/courses/{course['id']}/end", data={"reason": "x", "csrf_token": token}
    )
    assert response.status_code == 404
    assert clinic.read(course["id"])["phase"] != "ended"
