"""Front-desk staff keep the registration desk and see no clinical content, on SQLite and
PostgreSQL: no screening answers or findings, no questionnaire answers or scores, no outcome chart,
no sessions, no notes. Each refusal is checked against a nurse who sees the same record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.outcomes.models import Measurement
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for

#: Words only the screening's notes hold, to look for on every page staff can open.
NOTE = "Synthetic-note-7f3a: sleeps poorly since the accident"
#: A screening answer the history page shows.
TRIED = "synthetic-treatment-7f3a"
SCREENING = {
    "systolic_mmhg": 128,
    "diastolic_mmhg": 82,
    "heart_rate_per_min": 72,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
    "indication_id": "crps",
    "notes": NOTE,
    "treatments_failed": [TRIED],
    "baseline_questionnaires": [
        {"instrument": "nrs", "answers": [8]},
        {"instrument": "phq9", "answers": [2, 2, 1, 1, 1, 1, 1, 1, 0]},
    ],
}


@dataclass(frozen=True)
class Record:
    """A patient with a signed screening (notes, baseline pain and PHQ-9) and a session."""

    patient_id: int
    staff: Person
    nurse: Person


@pytest.fixture
def record(client: TestClient, make_person: Callable[..., Person]) -> Record:
    physician = token_for(client, make_person(Role.PHYSICIAN))
    nurse = make_person(Role.NURSE)
    body = patient_body(diagnoses=[{"code": "G90.511", "is_primary": True}])
    patient_id = client.post("/api/v1/patients", json=body, headers=physician).json()["id"]
    url = f"/api/v1/patients/{patient_id}/screenings"
    signed = client.post(url, json=SCREENING, headers=physician)
    assert signed.status_code == 201, signed.text
    protocols = client.get("/api/v1/protocols", headers=physician).json()
    session = {
        "patient_id": patient_id,
        "protocol_id": protocols[0]["id"],
        "scheduled_at": "2030-01-07T09:00:00+00:00",
        "chair": "Chair 1",
    }
    scheduled = client.post("/api/v1/sessions", json=session, headers=physician)
    assert scheduled.status_code == 201, scheduled.text
    return Record(patient_id, make_person(Role.STAFF), nurse)


def _browser(app: FastAPI, person: Person) -> TestClient:
    browser = TestClient(app)
    log_in(browser, person)
    return browser


def _measurements(factory: sessionmaker[Session], patient_id: int) -> int:
    with factory() as session:
        query = select(func.count()).where(Measurement.patient_id == patient_id)
        return session.scalar(query) or 0


def test_front_desk_staff_are_refused_screening_answers_and_questionnaire_scores(
    client: TestClient, record: Record
) -> None:
    pid = record.patient_id
    staff, nurse = token_for(client, record.staff), token_for(client, record.nurse)
    for url in (f"/api/v1/patients/{pid}/screenings", f"/api/v1/patients/{pid}/measurements"):
        assert client.get(url, headers=nurse).status_code == 200
        refused = client.get(url, headers=staff)
        assert refused.status_code == 403
        assert refused.json()["detail"][0]["msg"] == "your role may not do this (clinical.read)"
    assert NOTE in client.get(f"/api/v1/patients/{pid}/screenings", headers=nurse).text


def test_front_desk_staff_may_not_record_a_questionnaire_and_nothing_is_written(
    client: TestClient, record: Record, factory: sessionmaker[Session]
) -> None:
    before = _measurements(factory, record.patient_id)
    url = f"/api/v1/patients/{record.patient_id}/measurements"
    body = {"instrument": "nrs", "answers": [4], "context": "follow_up"}
    refused = client.post(url, json=body, headers=token_for(client, record.staff))
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["msg"] == "your role may not do this (measurement.record)"
    assert _measurements(factory, record.patient_id) == before
    accepted = client.post(url, json=body, headers=token_for(client, record.nurse))
    assert accepted.status_code == 201, accepted.text
    assert _measurements(factory, record.patient_id) == before + 1


def test_the_screening_history_page_is_refused_to_front_desk_staff(
    app: FastAPI, record: Record
) -> None:
    url = f"/patients/{record.patient_id}/screenings"
    nurse_page = _browser(app, record.nurse).get(url)
    assert nurse_page.status_code == 200
    assert TRIED in nurse_page.text
    staff_page = _browser(app, record.staff).get(url)
    assert staff_page.status_code == 403
    assert TRIED not in staff_page.text


def test_the_patient_page_shows_front_desk_staff_no_clinical_content(
    app: FastAPI, record: Record
) -> None:
    url = f"/patients/{record.patient_id}"
    clinical = (
        f'href="/patients/{record.patient_id}/screenings"',  # screening answers and findings
        f'href="/patients/{record.patient_id}/dose-plan"',
        'id="trajectory"',  # pain and PHQ-9 scores over time
        "trajectory-data",
        'id="sessions"',  # sessions and their clinical details
        "PHQ-9",
    )
    nurse_page = _browser(app, record.nurse).get(url).text
    assert [marker for marker in clinical if marker not in nurse_page] == []
    staff_page = _browser(app, record.staff).get(url)
    assert staff_page.status_code == 200
    assert [marker for marker in clinical if marker in staff_page.text] == []
    assert NOTE not in staff_page.text
    assert TRIED not in staff_page.text
    assert "Synthetic-Case" in staff_page.text  # the demographics stay
    assert "G90.511" in staff_page.text


def test_front_desk_staff_keep_the_registration_desk(
    app: FastAPI, client: TestClient, record: Record
) -> None:
    staff = token_for(client, record.staff)
    found = client.get("/api/v1/patients", params={"q": "Synthetic"}, headers=staff)
    assert found.status_code == 200
    assert [p["id"] for p in found.json()["items"]] == [record.patient_id]
    registered = client.post(
        "/api/v1/patients", json=patient_body(mrn="MRN-2", diagnoses=[]), headers=staff
    )
    assert registered.status_code == 201, registered.text
    edited = client.patch(
        f"/api/v1/patients/{record.patient_id}", json={"given_name": "Renamed"}, headers=staff
    )
    assert edited.status_code == 200, edited.text
    browser = _browser(app, record.staff)
    listing = browser.get("/patients", params={"q": "Renamed"})
    assert listing.status_code == 200
    assert f'href="/patients/{record.patient_id}"' in listing.text
    edit_page = browser.get(f"/patients/{record.patient_id}/edit")
    assert edit_page.status_code == 200
    assert csrf_from(edit_page.text)
