"""The patient portal on both engines: own record only, questionnaires, crisis answers, audit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.outcomes.models import Measurement
from tests.conftest import Person, csrf_from, log_in, patient_body
from tests.courses.helpers import Clinic

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
PHQ9_12 = [1, 2, 3, 0, 1, 2, 3, 0, 0]  # total 12: moderate (Kroenke 2001 cut points)


@pytest.fixture
def clinic(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Clinic:
    return Clinic(client, make_person, factory)


@pytest.fixture
def patient_person(clinic: Clinic, make_person: Callable[..., Person]) -> Person:
    return make_person(Role.PATIENT, patient_id=clinic.patient_id)


@pytest.fixture
def portal(clinic: Clinic, patient_person: Person) -> TestClient:
    browser = TestClient(clinic.client.app)
    log_in(browser, patient_person)
    return browser


@pytest.fixture(autouse=True)
def _frozen() -> object:
    with clock.frozen_at(NOW):
        yield


def _post(browser: TestClient, instrument: str, answers: list[int | None]) -> object:
    page = browser.get(f"/portal/questionnaires/{instrument}")
    assert page.status_code == 200, page.text
    data = {f"q{n}": str(a) for n, a in enumerate(answers, start=1) if a is not None}
    data["csrf_token"] = csrf_from(page.text)
    return browser.post(f"/portal/questionnaires/{instrument}", data=data)


def _measurements(clinic: Clinic) -> list[Measurement]:
    with clinic.factory() as session:
        return list(session.scalars(select(Measurement).order_by(Measurement.id)))


def _audit_count(clinic: Clinic) -> int:
    with clinic.factory() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_a_patient_sees_their_own_record_and_no_one_elses(
    clinic: Clinic, portal: TestClient, make_person: Callable[..., Person]
) -> None:
    other = clinic.client.post(
        "/api/v1/patients",
        json=patient_body(mrn="MRN-2", given_name="Otto", family_name="Synthetic-Other"),
        headers=clinic.nurse,
    ).json()["id"]
    response = portal.get(f"/portal?patient_id={other}")
    assert response.status_code == 200
    assert "Test Synthetic-Case" in response.text
    assert "Otto" not in response.text
    with clinic.factory() as session:
        reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "portal.read")).all()
    assert [(r.patient_id, r.role) for r in reads] == [(clinic.patient_id, "patient")]


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.NURSE, Role.STAFF, Role.ADMIN])
def test_every_other_role_is_refused(
    clinic: Clinic, make_person: Callable[..., Person], role: Role
) -> None:
    browser = TestClient(clinic.client.app)
    log_in(browser, make_person(role))
    token = csrf_from(browser.get("/login").text)
    for path in ("/portal", "/portal/questionnaires/phq9", "/portal/information"):
        assert browser.get(path).status_code == 403, path
    posted = browser.post("/portal/questionnaires/phq9", data={"csrf_token": token, "q1": "1"})
    assert posted.status_code == 403


def test_completing_a_phq9_stores_a_portal_measurement_with_the_exact_total(
    clinic: Clinic, portal: TestClient
) -> None:
    response = _post(portal, "phq9", PHQ9_12)
    assert response.status_code == 200, response.text
    assert re.search(r'id="score">12<', response.text)
    assert "988" not in response.text
    (stored,) = _measurements(clinic)
    assert (stored.patient_id, stored.instrument, stored.context) == (
        clinic.patient_id,
        "phq9",
        "portal",
    )
    assert stored.answers == PHQ9_12
    assert stored.scores == {"total": "12"}
    assert stored.band == "moderate"
    assert stored.flags == []
    assert stored.measured_at == NOW


def test_a_completed_questionnaire_is_no_longer_due_until_next_week(
    clinic: Clinic, portal: TestClient
) -> None:
    home = portal.get("/portal").text
    assert 'href="/portal/questionnaires/phq9"' in home
    _post(portal, "phq9", PHQ9_12)
    home = portal.get("/portal").text
    due = home.split('id="due"')[1].split("</section>")[0]
    assert "Mood (PHQ-9): next on Wednesday 11 March" in due
    assert 'class="button primary portal-big" href="/portal/questionnaires/phq9"' not in due


def test_a_suicide_risk_answer_shows_crisis_resources_and_reaches_the_work_list(
    clinic: Clinic, portal: TestClient
) -> None:
    answers = [*PHQ9_12[:8], 1]
    response = _post(portal, "phq9", answers)
    assert response.status_code == 200, response.text
    assert 'role="alert" id="crisis"' in response.text
    assert "call or text 988" in response.text
    assert "emergency number" in response.text
    (stored,) = _measurements(clinic)
    assert stored.flags == ["suicide_risk"]
    assert 'id="crisis"' in portal.get("/portal").text  # until a physician has acted

    physician = TestClient(clinic.client.app)
    log_in(physician, clinic.physician_person)
    worklist = physician.get("/worklist").text
    assert "Test Synthetic-Case" in worklist
    assert "suicide risk" in worklist
    assert "PHQ9 (portal)" in worklist


def test_a_partial_answer_is_refused_naming_the_items_and_writes_nothing(
    clinic: Clinic, portal: TestClient
) -> None:
    portal.get("/portal/questionnaires/phq9")
    before = _audit_count(clinic)
    response = _post(portal, "phq9", [*PHQ9_12[:7], None, None])
    assert response.status_code == 422
    assert "Please answer questions 8 and 9 before sending." in response.text
    assert "Question 8 needs an answer." in response.text
    assert 'id="q3-3" name="q3" value="3" checked' in response.text  # answers kept
    assert _measurements(clinic) == []
    assert _audit_count(clinic) == before + 1  # only the GET of the form in _post


def test_an_answer_outside_the_scale_counts_as_unanswered(
    clinic: Clinic, portal: TestClient
) -> None:
    response = _post(portal, "gad7", [0, 1, 2, 3, 0, 1, 9])
    assert response.status_code == 422
    assert "Please answer question 7 before sending." in response.text
    assert _measurements(clinic) == []


def test_only_portal_instruments_are_accepted(clinic: Clinic, portal: TestClient) -> None:
    assert portal.get("/portal/questionnaires/bpi_sf").status_code == 422
    token = csrf_from(portal.get("/portal").text)
    posted = portal.post("/portal/questionnaires/bpi_sf", data={"csrf_token": token, "q1": "1"})
    assert posted.status_code == 422
    assert _measurements(clinic) == []


def test_a_post_without_the_csrf_token_is_refused(clinic: Clinic, portal: TestClient) -> None:
    response = portal.post("/portal/questionnaires/nrs", data={"q1": "4"})
    assert response.status_code == 403
    assert _measurements(clinic) == []


def test_a_peg_shows_its_mean_and_stores_it_exactly(clinic: Clinic, portal: TestClient) -> None:
    response = _post(portal, "peg", [6, 6, 7])
    assert re.search(r'id="score">6.33<', response.text)
    (stored,) = _measurements(clinic)
    assert stored.scores == {"total": "19/3"}


def test_upcoming_sessions_and_the_chart_are_the_patients_own(
    clinic: Clinic, portal: TestClient
) -> None:
    course = clinic.start_course()
    other = clinic.new_patient("MRN-9")
    other_course = clinic.start_course(patient_id=other)
    clinic.discharged(course, NOW - timedelta(days=2))
    clinic.session_in(course, NOW + timedelta(days=3))
    clinic.session_in(other_course, NOW + timedelta(days=1))
    _post(portal, "nrs", [4])
    _post(portal, "phq9", PHQ9_12)
    home = portal.get("/portal").text
    upcoming = home.split('id="sessions"')[1].split("</section>")[0]
    assert upcoming.count("<li>") == 1
    assert "Saturday 07 March 2026, 12:00" in upcoming
    assert "Chair 1" in upcoming
    raw = re.search(r'id="portal-chart-data" type="application/json">(.*?)</script>', home, re.S)
    assert raw is not None
    chart = json.loads(raw.group(1))
    assert chart["series"]["nrs"]["values"] == [4.0]
    assert chart["series"]["phq9"] == {"times": ["2026-03-04 12:00:00"], "values": [12.0]}
    assert chart["sessions"] == ["2026-03-02 09:00:00"]
    assert "/static/vendor/plotly.min.js" in home


def test_an_account_linked_to_another_clinics_record_sees_nothing_of_it(
    clinic: Clinic, make_person: Callable[..., Person]
) -> None:
    browser = TestClient(clinic.client.app)
    log_in(browser, make_person(Role.PATIENT, clinic="SOUTH", patient_id=clinic.patient_id))
    home = browser.get("/portal").text
    assert "not linked to a patient record" in home
    assert "Synthetic-Case" not in home
    assert browser.get("/portal/questionnaires/phq9").status_code == 404


def test_the_information_page_covers_side_effects_observation_and_going_home(
    portal: TestClient,
) -> None:
    page = portal.get("/portal/information")
    assert page.status_code == 200
    text = page.text
    for phrase in (
        "decided by the clinic's team",
        "dissociation",
        "Feeling sick (nausea)",
        "Dizziness",
        "Higher blood pressure",
        "at least 60 minutes",
        "An adult must take you home.",
        "Do not drive",
        "24 hours",
        "When to call the clinic",
    ):
        assert phrase in text, phrase
