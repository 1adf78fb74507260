"""The check the infusions service makes before a session joins a course."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import User
from ketaclinic.accounts.service import actor_for
from ketaclinic.courses import service
from ketaclinic.courses.models import Course
from ketaclinic.errors import Conflict, InvalidInput, NotFound
from tests.conftest import Person
from tests.courses.helpers import SINGLE, Clinic


@pytest.fixture
def clinic(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Clinic:
    return Clinic(client, make_person, factory)


def _check(
    clinic: Clinic, actor_person: Person, course: dict[str, Any], **overrides: int
) -> Course:
    """``require_open_course`` as the infusions service calls it, for ``course`` by default."""
    arguments = {
        "course_id": course["id"],
        "patient_id": course["patient_id"],
        "protocol_version_id": course["protocol_id"],
    } | overrides
    with clinic.factory() as session, session.begin():
        user = session.get(User, actor_person.user_id)
        assert user is not None
        actor = actor_for(user, None)
        return service.require_open_course(session, actor=actor, **arguments)


def test_an_open_course_of_the_patient_on_the_same_version_is_returned(clinic: Clinic) -> None:
    course = clinic.start_course()
    assert _check(clinic, clinic.physician_person, course).id == course["id"]


def test_another_clinics_course_is_not_found_at_the_course_id(
    clinic: Clinic, make_person: Callable[..., Person]
) -> None:
    course = clinic.start_course()
    outsider = make_person(Role.NURSE, clinic="SOUTH")
    with pytest.raises(NotFound) as caught:
        _check(clinic, outsider, course)
    assert caught.value.loc == ("body", "course_id")


def test_another_patients_course_is_refused(clinic: Clinic) -> None:
    course = clinic.start_course()
    other = clinic.new_patient("MRN-9")
    with pytest.raises(InvalidInput) as caught:
        _check(clinic, clinic.physician_person, course, patient_id=other)
    assert caught.value.loc == ("body", "course_id")


def test_an_ended_course_is_a_conflict(clinic: Clinic) -> None:
    course = clinic.start_course()
    ended = clinic.client.post(
        f"/api/v1/courses/{course['id']}/end", json={"reason": "done"}, headers=clinic.physician
    )
    assert ended.status_code == 200
    with pytest.raises(Conflict) as caught:
        _check(clinic, clinic.physician_person, course)
    assert caught.value.loc == ("body", "course_id")


def test_a_session_on_another_protocol_version_is_refused_naming_both(clinic: Clinic) -> None:
    course = clinic.start_course()
    other = clinic.protocol_ids[SINGLE]
    with pytest.raises(InvalidInput) as caught:
        _check(clinic, clinic.physician_person, course, protocol_version_id=other)
    assert f"protocol version {course['protocol_id']}" in caught.value.msg
    assert f"protocol version {other}" in caught.value.msg
    assert course["protocol_name"] in caught.value.msg
