"""Courses over the API, on SQLite and PostgreSQL: started by a physician, read by clinicians,
counted from their sessions, ended with a reason; another clinic's course is not found."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from tests.conftest import Person, token_for
from tests.courses.helpers import SERIES, SINGLE, T0, Clinic


@pytest.fixture
def clinic(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Clinic:
    return Clinic(client, make_person, factory)


def test_a_physician_starts_a_course_in_stabilisation_with_nothing_done(clinic: Clinic) -> None:
    series = clinic.definition(SERIES)["series_sessions"]
    with clock.frozen_at(T0):
        course = clinic.start_course()
    assert course["phase"] == "stabilisation"
    assert course["series_progress"] == f"0 of {series}"
    assert course["protocol_key"] == SERIES
    assert course["next_session"]["kind"] == "series"
    assert course["next_session"]["earliest_date"] == T0.date().isoformat()
    assert "suggested; the physician decides" in course["next_session"]["text"]
    assert course["sessions"] == []


def test_a_second_open_course_of_the_same_protocol_is_refused_until_the_first_ends(
    clinic: Clinic,
) -> None:
    first = clinic.start_course()
    body = {"patient_id": clinic.patient_id, "protocol_id": clinic.protocol_ids[SERIES]}
    again = clinic.client.post("/api/v1/courses", json=body, headers=clinic.physician)
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "protocol_id"]
    assert str(first["id"]) in again.json()["detail"][0]["msg"]

    other_protocol = clinic.start_course(SINGLE)  # another protocol may run alongside
    other_patient = clinic.start_course(patient_id=clinic.new_patient("MRN-2"))
    assert {other_protocol["id"], other_patient["id"]}.isdisjoint({first["id"]})

    ended = clinic.client.post(
        f"/api/v1/courses/{first['id']}/end",
        json={"reason": "relapse plan"},
        headers=clinic.physician,
    )
    assert ended.status_code == 200, ended.text
    assert clinic.start_course()["id"] != first["id"]


def test_the_course_counts_discharged_sessions_and_shows_aborted_ones_with_their_reason(
    clinic: Clinic,
) -> None:
    definition = clinic.definition(SERIES)
    spacing = timedelta(days=definition["series_spacing_days"])
    course = clinic.start_course()
    first = clinic.discharged(course, T0)
    second = clinic.discharged(course, T0 + spacing)
    with clock.frozen_at(T0 + spacing + timedelta(days=1)):
        stopped = clinic.aborted(course, T0 + spacing + timedelta(days=1), "BP 190/110 at 20 min")
        read = clinic.read(course["id"])

    assert read["phase"] == "stabilisation"
    assert read["series_completed"] == 2
    assert read["series_progress"] == f"2 of {definition['series_sessions']}"
    assert read["aborted"] == 1
    sessions = {s["id"]: s for s in read["sessions"]}
    assert sessions[stopped]["state"] == "aborted"
    assert sessions[stopped]["reason"] == "BP 190/110 at 20 min"
    assert sessions[stopped]["counts_toward_series"] is False
    assert sessions[first]["counts_toward_series"] and sessions[second]["counts_toward_series"]
    assert sessions[second]["date"] == (T0 + spacing).date().isoformat()
    # Spaced from the last discharged session; the aborted one does not move it.
    expected = max((T0 + 2 * spacing).date(), (T0 + spacing + timedelta(days=1)).date())
    assert read["next_session"]["earliest_date"] == expected.isoformat()


def test_after_the_series_the_course_is_in_maintenance_with_the_protocol_rule(
    clinic: Clinic,
) -> None:
    definition = clinic.definition(SERIES)
    course = clinic.start_course()
    for i in range(definition["series_sessions"]):
        clinic.discharged(course, T0 + i * timedelta(days=definition["series_spacing_days"]))
    read = clinic.read(course["id"])
    assert read["phase"] == "maintenance"
    assert read["series_completed"] == definition["series_sessions"]
    assert read["next_session"]["kind"] == "maintenance"
    assert read["next_session"]["earliest_date"] is None
    assert definition["maintenance_rule"] in read["next_session"]["text"]


def test_a_session_booked_ahead_is_named_instead_of_a_new_suggestion(clinic: Clinic) -> None:
    course = clinic.start_course()
    booked_at = T0 + timedelta(days=3)
    with clock.frozen_at(T0):
        booked = clinic.session_in(course, booked_at)
        read = clinic.read(course["id"])
    assert read["next_session"]["kind"] == "booked"
    assert read["next_session"]["earliest_date"] == booked_at.date().isoformat()
    assert str(booked) in read["next_session"]["text"]


def test_a_course_ends_with_a_reason_once_and_a_stale_version_is_refused(clinic: Clinic) -> None:
    course = clinic.start_course()
    url = f"/api/v1/courses/{course['id']}/end"
    blank = clinic.client.post(url, json={"reason": "  "}, headers=clinic.physician)
    assert blank.status_code == 422
    stale = clinic.client.post(
        url, json={"reason": "done", "version": course["version"] + 1}, headers=clinic.physician
    )
    assert stale.status_code == 409
    assert stale.json()["detail"][0]["loc"] == ["body", "version"]
    by_nurse = clinic.client.post(url, json={"reason": "done"}, headers=clinic.nurse)
    assert by_nurse.status_code == 403

    ended = clinic.client.post(
        url,
        json={"reason": "series complete", "version": course["version"]},
        headers=clinic.physician,
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["phase"] == "ended"
    assert ended.json()["end_reason"] == "series complete"
    assert ended.json()["next_session"]["kind"] == "none"
    again = clinic.client.post(url, json={"reason": "again"}, headers=clinic.physician)
    assert again.status_code == 409


def test_a_nurse_reads_and_lists_courses_but_may_not_start_one(clinic: Clinic) -> None:
    course = clinic.start_course()
    listed = clinic.client.get(
        "/api/v1/courses", params={"patient_id": clinic.patient_id}, headers=clinic.nurse
    )
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()] == [course["id"]]
    body = {"patient_id": clinic.patient_id, "protocol_id": clinic.protocol_ids[SINGLE]}
    assert clinic.client.post("/api/v1/courses", json=body, headers=clinic.nurse).status_code == 403


def test_another_clinics_course_and_patient_are_not_found(
    clinic: Clinic, make_person: Callable[..., Person]
) -> None:
    course = clinic.start_course()
    outsider = token_for(clinic.client, make_person(Role.PHYSICIAN, clinic="SOUTH"))
    read = clinic.client.get(f"/api/v1/courses/{course['id']}", headers=outsider)
    assert read.status_code == 404
    assert read.json()["detail"][0]["loc"] == ["path", "course_id"]
    end = clinic.client.post(
        f"/api/v1/courses/{course['id']}/end", json={"reason": "x"}, headers=outsider
    )
    assert end.status_code == 404
    listed = clinic.client.get(
        "/api/v1/courses", params={"patient_id": clinic.patient_id}, headers=outsider
    )
    assert listed.status_code == 404
    body = {"patient_id": clinic.patient_id, "protocol_id": clinic.protocol_ids[SERIES]}
    assert clinic.client.post("/api/v1/courses", json=body, headers=outsider).status_code == 404
    assert clinic.read(course["id"])["end_reason"] is None


def test_every_read_and_write_of_a_course_is_audited_with_the_patient(clinic: Clinic) -> None:
    course = clinic.start_course()
    clinic.read(course["id"])
    clinic.client.get(
        "/api/v1/courses", params={"patient_id": clinic.patient_id}, headers=clinic.nurse
    )
    clinic.client.post(
        f"/api/v1/courses/{course['id']}/end", json={"reason": "done"}, headers=clinic.physician
    )
    with clinic.factory() as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.patient_id, AuditEvent.detail)
            .where(AuditEvent.action.like("course.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [e.action for e in events] == [
        "course.create",
        "course.read",
        "course.list",
        "course.read",
        "course.end",
    ]
    assert {e.patient_id for e in events} == {clinic.patient_id}
    assert events[0].detail == f"course_id={course['id']}"
