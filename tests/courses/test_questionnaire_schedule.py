"""A course sets which portal questionnaires the patient is asked, and how often; the portal
follows it. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.patients.models import Patient
from ketaclinic.portal import service as portal
from ketaclinic.portal.core import DEFAULT_SCHEDULE
from tests.conftest import Person, csrf_from, log_in
from tests.courses.helpers import Clinic

PAIN_ONLY = {"nrs": 1, "peg": 7}


@pytest.fixture
def clinic(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Clinic:
    return Clinic(client, make_person, factory)


def _set(clinic: Clinic, course_id: int, headers: dict[str, str], **body: Any) -> Any:
    return clinic.client.post(
        f"/api/v1/courses/{course_id}/questionnaires", json=body, headers=headers
    )


def _due_instruments(clinic: Clinic) -> list[str]:
    with clinic.factory() as session:
        patient = session.get(Patient, clinic.patient_id)
        assert patient is not None
        statuses = portal.due(session, patient=patient, zone=ZoneInfo("UTC"))
        return [s.instrument for s in statuses]


def test_the_portal_asks_what_the_course_sets_and_the_default_otherwise(clinic: Clinic) -> None:
    assert _due_instruments(clinic) == [s.instrument for s in DEFAULT_SCHEDULE]  # no course yet
    course = clinic.start_course()
    assert course["questionnaire_schedule"] is None
    response = _set(clinic, course["id"], clinic.physician, every_days=PAIN_ONLY)
    assert response.status_code == 200, response.text
    assert response.json()["questionnaire_schedule"] == PAIN_ONLY
    assert _due_instruments(clinic) == list(PAIN_ONLY)
    back = _set(clinic, course["id"], clinic.physician, every_days=None)
    assert back.json()["questionnaire_schedule"] is None
    assert _due_instruments(clinic) == [s.instrument for s in DEFAULT_SCHEDULE]


@pytest.mark.parametrize(
    ("every_days", "message"),
    [({"bpi_sf": 7}, "bpi_sf"), ({"nrs": 0}, "1–28 days"), ({"phq9": 29}, "1–28 days")],
)
def test_a_schedule_outside_the_portals_offer_is_refused_and_changes_nothing(
    clinic: Clinic, every_days: dict[str, int], message: str
) -> None:
    course = clinic.start_course()
    response = _set(clinic, course["id"], clinic.physician, every_days=every_days)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "every_days"]
    assert message in response.json()["detail"][0]["msg"]
    assert clinic.read(course["id"])["questionnaire_schedule"] is None


def test_only_a_physician_sets_it_and_never_on_an_ended_or_stale_course(clinic: Clinic) -> None:
    course = clinic.start_course()
    assert _set(clinic, course["id"], clinic.nurse, every_days=PAIN_ONLY).status_code == 403
    stale = _set(clinic, course["id"], clinic.physician, every_days=PAIN_ONLY, version=99)
    assert stale.status_code == 409
    ended = clinic.client.post(
        f"/api/v1/courses/{course['id']}/end", json={"reason": "done"}, headers=clinic.physician
    )
    assert ended.status_code == 200
    assert _set(clinic, course["id"], clinic.physician, every_days=PAIN_ONLY).status_code == 409


def test_the_courses_page_sets_the_questionnaires(clinic: Clinic, app: Any) -> None:
    course = clinic.start_course()
    browser = TestClient(app)
    log_in(browser, clinic.physician_person)
    url = f"/patients/{clinic.patient_id}/courses"
    page = browser.get(url).text
    assert "(clinic default)" in page
    form = {"csrf_token": csrf_from(page), "version": str(course["version"]), "nrs": "1"}
    saved = browser.post(
        f"/courses/{course['id']}/questionnaires", data={**form, "peg": "7"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert clinic.read(course["id"])["questionnaire_schedule"] == PAIN_ONLY
    page = browser.get(url).text
    assert "Pain diary (NRS) daily, PEG weekly" in page
    bad = browser.post(
        f"/courses/{course['id']}/questionnaires",
        data={
            **form,
            "csrf_token": csrf_from(page),
            "version": str(clinic.read(course["id"])["version"]),
            "nrs": "0",
        },
        follow_redirects=False,
    )
    assert bad.status_code == 422
    assert "1–28 days" in bad.text


def test_a_tampered_version_on_the_page_is_refused_and_changes_nothing(
    clinic: Clinic, app: Any
) -> None:
    course = clinic.start_course()
    browser = TestClient(app)
    log_in(browser, clinic.physician_person)
    page = browser.get(f"/patients/{clinic.patient_id}/courses").text
    form = {"csrf_token": csrf_from(page), "version": "abc", "nrs": "1"}
    refused = browser.post(f"/courses/{course['id']}/questionnaires", data=form)
    assert refused.status_code == 422
    assert "version must be a whole number" in refused.text
    assert clinic.read(course["id"])["questionnaire_schedule"] is None
