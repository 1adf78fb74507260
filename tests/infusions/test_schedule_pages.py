"""Scheduling a session from the pages, on SQLite and PostgreSQL, in a clinic west of UTC: the time
is typed in the clinic's zone and stored as UTC; bad input is a message next to its field and
writes nothing; the patient page lists the latest sessions, audited once per list."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.config import Settings
from ketaclinic.db import transaction
from ketaclinic.infusions.listing import RECENT_LIMIT
from ketaclinic.infusions.models import InfusionSession
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for
from tests.courses.helpers import SERIES, SINGLE, Clinic

ZONE = "America/New_York"
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Each engine's settings, with a clinic zone whose offset from UTC is not zero."""
    return settings.model_copy(update={"clinic_timezone": ZONE})


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def clinic(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Clinic:
    return Clinic(client, make_person, factory)


def _browser(clinic: Clinic, person: Person) -> TestClient:
    browser = TestClient(clinic.client.app)
    log_in(browser, person)
    return browser


def _local(instant: datetime) -> str:
    """What a ``datetime-local`` input sends for ``instant`` in the clinic's zone."""
    return instant.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


def _post(browser: TestClient, patient_id: int, **fields: str) -> tuple[int, str, str | None]:
    form = browser.get(f"/patients/{patient_id}/sessions/new")
    assert form.status_code == 200, form.text
    response = browser.post(
        f"/patients/{patient_id}/sessions/new",
        data={"csrf_token": csrf_from(form.text), **fields},
        follow_redirects=False,
    )
    return response.status_code, response.text, response.headers.get("location")


def _stored(factory: sessionmaker[Session]) -> list[InfusionSession]:
    with transaction(factory) as session:
        rows = list(session.scalars(select(InfusionSession).order_by(InfusionSession.id)))
        session.expunge_all()
    return rows


def _error(page: str, field: str) -> str:
    match = re.search(rf'<small class="error-text" id="e-{field}">([^<]*)</small>', page)
    assert match, f"no message next to {field}"
    return html.unescape(match.group(1))


def _valid(clinic: Clinic, **overrides: str) -> dict[str, str]:
    fields = {
        "protocol_id": str(clinic.protocol_ids[SINGLE]),
        "scheduled_at": _local(NOW + timedelta(days=2)),
        "chair_id": "",
        "course_id": "",
    }
    fields.update(overrides)
    return fields


def test_a_nurse_schedules_in_the_clinics_local_time_and_lands_on_the_session_page(
    clinic: Clinic, factory: sessionmaker[Session]
) -> None:
    typed = "2026-03-04T14:30"
    expected = datetime.fromisoformat(typed).replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
    assert expected.replace(tzinfo=None) != datetime.fromisoformat(typed)  # the zone matters
    browser = _browser(clinic, clinic.nurse_person)
    chairs = clinic.client.get("/api/v1/scheduling/chairs", headers=clinic.nurse).json()
    chair = next(c for c in chairs if c["name"] == "Chair 3")
    status, _, location = _post(
        browser, clinic.patient_id, **_valid(clinic, scheduled_at=typed, chair_id=str(chair["id"]))
    )
    assert status == 303
    [row] = _stored(factory)
    assert location == f"/sessions/{row.id}"
    assert row.scheduled_at == expected
    assert (row.patient_id, row.chair.name, row.state) == (
        clinic.patient_id,
        "Chair 3",
        "scheduled",
    )
    assert row.protocol_version_id == clinic.protocol_ids[SINGLE]
    assert row.course_id is None
    page = browser.get(location)
    assert page.status_code == 200
    assert "Session scheduled for 2026-03-04 14:30 in Chair 3." in page.text


def test_the_form_from_a_course_is_prefilled_with_it_and_shows_its_next_suggestion(
    clinic: Clinic, factory: sessionmaker[Session]
) -> None:
    course = clinic.start_course(SERIES)
    browser = _browser(clinic, clinic.physician_person)
    courses_page = browser.get(f"/patients/{clinic.patient_id}/courses").text
    link = f"/patients/{clinic.patient_id}/sessions/new?course_id={course['id']}"
    assert f'href="{link}"' in courses_page
    form = html.unescape(browser.get(link).text)
    assert re.search(rf'<option value="{course["id"]}"[^>]*selected', form)
    assert re.search(rf'<option value="{course["protocol_id"]}" selected', form)
    suggestion = clinic.read(course["id"])["next_session"]["text"]
    assert f"suggests: {suggestion}" in form
    response = browser.post(
        f"/patients/{clinic.patient_id}/sessions/new",
        data={
            **_valid(clinic, protocol_id=str(course["protocol_id"]), course_id=str(course["id"])),
            "csrf_token": csrf_from(form),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    [row] = _stored(factory)
    assert (row.course_id, row.protocol_version_id) == (course["id"], course["protocol_id"])
    assert clinic.read(course["id"])["sessions"][0]["id"] == row.id


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("chair_id", "999999", "choose a chair from the list"),
        ("chair_id", "Chair 7", "choose a chair from the list"),
        ("scheduled_at", "", "enter the date and time"),
        ("scheduled_at", "2026-03-04", "enter the time as well as the date"),
        ("scheduled_at", "next tuesday", "enter a date and time"),
        ("scheduled_at", "2026-03-08T02:30", "does not exist in America/New_York"),
        ("scheduled_at", _local(NOW - timedelta(minutes=61)), "more than 1 hour in the past"),
        ("protocol_id", "", "choose a protocol"),
        ("protocol_id", "999999", "choose a protocol"),
        ("course_id", "x", "choose one of the patient's open courses"),
    ],
)
def test_bad_input_is_a_message_next_to_its_field_and_writes_nothing(
    clinic: Clinic, factory: sessionmaker[Session], field: str, value: str, message: str
) -> None:
    browser = _browser(clinic, clinic.nurse_person)
    fields = _valid(clinic, **{field: value})
    status, page, _ = _post(browser, clinic.patient_id, **fields)
    assert status == 422
    assert message in _error(page, field)
    assert _stored(factory) == []
    if field != "scheduled_at":
        assert f'value="{fields["scheduled_at"]}"' in page  # what was typed is kept


def test_a_time_within_the_hour_past_is_accepted(
    clinic: Clinic, factory: sessionmaker[Session]
) -> None:
    browser = _browser(clinic, clinic.nurse_person)
    late = _local(NOW - timedelta(minutes=59))
    status, _, _ = _post(browser, clinic.patient_id, **_valid(clinic, scheduled_at=late))
    assert status == 303
    [row] = _stored(factory)
    assert row.scheduled_at == datetime.fromisoformat(late).replace(tzinfo=ZoneInfo(ZONE))


def test_a_course_of_another_protocol_version_is_refused(
    clinic: Clinic, factory: sessionmaker[Session]
) -> None:
    course = clinic.start_course(SERIES)
    assert clinic.protocol_ids[SINGLE] != course["protocol_id"]
    browser = _browser(clinic, clinic.nurse_person)
    status, page, _ = _post(
        browser,
        clinic.patient_id,
        **_valid(clinic, protocol_id=str(clinic.protocol_ids[SINGLE]), course_id=str(course["id"])),
    )
    assert status == 422
    assert f"course {course['id']} follows protocol version {course['protocol_id']}" in _error(
        page, "protocol_id"
    )
    assert _stored(factory) == []


def test_another_clinics_patient_is_not_found_and_nothing_is_written(
    clinic: Clinic, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> None:
    outsider = make_person(Role.NURSE, clinic="SOUTH")
    browser = _browser(clinic, outsider)
    assert browser.get(f"/patients/{clinic.patient_id}/sessions/new").status_code == 404
    token = csrf_from(browser.get("/login").text)
    response = browser.post(
        f"/patients/{clinic.patient_id}/sessions/new",
        data={**_valid(clinic), "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 404
    assert _stored(factory) == []


def _schedule(clinic: Clinic, at: datetime, chair: str | None, key: str = SINGLE) -> int:
    """A booking on the chair named, or on the first free one."""
    body = {
        "patient_id": clinic.patient_id,
        "protocol_id": clinic.protocol_ids[key],
        "scheduled_at": at.isoformat(),
    }
    if chair is not None:
        body["chair"] = chair
    response = clinic.client.post("/api/v1/sessions", json=body, headers=clinic.nurse)
    assert response.status_code == 201, response.text
    value: int = response.json()["id"]
    return value


def _list_audits(factory: sessionmaker[Session], patient_id: int) -> list[str | None]:
    with transaction(factory) as session:
        return list(
            session.scalars(
                select(AuditEvent.detail).where(
                    AuditEvent.action == "session.list", AuditEvent.patient_id == patient_id
                )
            )
        )


def test_the_patient_page_lists_the_sessions_most_recent_first_and_audits_the_list(
    clinic: Clinic, factory: sessionmaker[Session]
) -> None:
    earlier = _schedule(clinic, NOW + timedelta(days=1), "Chair 2", SINGLE)
    later = _schedule(clinic, NOW + timedelta(days=8), "Chair 4", SERIES)
    protocols = {
        r["id"]: r for r in clinic.client.get("/api/v1/protocols", headers=clinic.nurse).json()
    }
    browser = _browser(clinic, clinic.nurse_person)
    page = html.unescape(browser.get(f"/patients/{clinic.patient_id}").text)
    rows = re.findall(r'<tr class="patient-session [^"]*">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    for row, sid, at, chair, key in (
        (rows[0], later, NOW + timedelta(days=8), "Chair 4", SERIES),
        (rows[1], earlier, NOW + timedelta(days=1), "Chair 2", SINGLE),
    ):
        protocol = protocols[clinic.protocol_ids[key]]
        assert f'href="/sessions/{sid}"' in row
        assert at.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M") in row
        assert chair in row and "scheduled" in row
        assert protocol["name"] in row and f"v{protocol['version']}" in row
    assert f'href="/patients/{clinic.patient_id}/sessions/new"' in page
    assert _list_audits(factory, clinic.patient_id) == ["results=2"]


def test_the_patient_page_shows_only_the_latest_sessions(clinic: Clinic) -> None:
    first = NOW + timedelta(days=1)
    ids = [_schedule(clinic, first + timedelta(days=i), None) for i in range(21)]
    assert len(ids) > RECENT_LIMIT
    browser = _browser(clinic, clinic.physician_person)
    page = browser.get(f"/patients/{clinic.patient_id}").text
    shown = [int(s) for s in re.findall(r'href="/sessions/(\d+)"', page)]
    assert shown == list(reversed(ids))[:RECENT_LIMIT]


def test_staff_see_the_bookings_not_the_sessions_and_the_list_is_audited(
    clinic: Clinic, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> None:
    booked = _schedule(clinic, NOW + timedelta(days=1), "Chair 2")
    browser = _browser(clinic, make_person(Role.STAFF))
    page = browser.get(f"/patients/{clinic.patient_id}")
    assert page.status_code == 200
    assert 'id="sessions"' not in page.text and f'href="/sessions/{booked}"' not in page.text
    assert f'href="/scheduling/bookings/{booked}"' in page.text
    assert f'href="/patients/{clinic.patient_id}/sessions/new"' in page.text
    assert _list_audits(factory, clinic.patient_id) == ["results=1"]


def test_another_clinics_sessions_are_not_listed(
    clinic: Clinic, make_person: Callable[..., Person]
) -> None:
    south = token_for(clinic.client, make_person(Role.NURSE, clinic="SOUTH"))
    other = clinic.client.post(
        "/api/v1/patients", json=patient_body(mrn="S-1"), headers=south
    ).json()["id"]
    protocol = clinic.client.get("/api/v1/protocols", headers=south).json()[0]["id"]
    body = {
        "patient_id": other,
        "protocol_id": protocol,
        "scheduled_at": (NOW + timedelta(days=1)).isoformat(),
        "chair": "Chair 1",
    }
    assert clinic.client.post("/api/v1/sessions", json=body, headers=south).status_code == 201
    mine = _schedule(clinic, NOW + timedelta(days=1), "Chair 1")
    page = _browser(clinic, clinic.nurse_person).get(f"/patients/{clinic.patient_id}").text
    assert re.findall(r'href="/sessions/(\d+)"', page) == [str(mine)]
