"""Admins manage their clinic's accounts in the browser: create, reset, unlock, (de)activate."""

from __future__ import annotations

from collections.abc import Callable

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import User
from ketaclinic.audit.models import AuditEvent
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for

NEW_PASSWORD = "a long new passphrase"
OTHER_PASSWORD = "another long passphrase"


@pytest.fixture
def admin(client: TestClient, make_person: Callable[..., Person]) -> Person:
    person: Person = make_person(Role.ADMIN)
    log_in(client, person)
    return person


def _patient(client: TestClient, make_person: Callable[..., Person], clinic: str, mrn: str) -> int:
    """A patient record registered by a nurse of ``clinic``, on a throwaway client."""
    nurse = make_person(Role.NURSE, clinic=clinic)
    with TestClient(client.app) as other:
        response = other.post(
            "/api/v1/patients", json=patient_body(mrn=mrn), headers=token_for(other, nurse)
        )
    assert response.status_code == 201, response.text
    patient_id: int = response.json()["id"]
    return patient_id


def _post(client: TestClient, path: str, **data: str) -> httpx.Response:
    token = csrf_from(client.get("/login").text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def _create(client: TestClient, **overrides: str) -> httpx.Response:
    data = {
        "username": "new.user",
        "display_name": "New User",
        "role": "staff",
        "patient_mrn": "",
        "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
    }
    data.update(overrides)
    return _post(client, "/admin/users/new", **data)


def _can_log_in(app: FastAPI, username: str, password: str) -> int:
    """The status of a fresh browser's login: 303 in, 401 wrong, 429 locked."""
    with TestClient(app) as browser:
        token = csrf_from(browser.get("/login").text)
        response = browser.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        return response.status_code


def _user(factory: sessionmaker[Session], username: str) -> User | None:
    with factory() as session:
        return session.scalar(select(User).where(User.username == username))


def _counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        users = session.scalar(select(func.count()).select_from(User))
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        return users or 0, events or 0


def _events(factory: sessionmaker[Session], prefix: str = "user.") -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action.startswith(prefix))
        return list(session.scalars(query.order_by(AuditEvent.id)))


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.PATIENT])
def test_an_admin_creates_a_staff_account_that_can_log_in(
    app: FastAPI, client: TestClient, admin: Person, factory: sessionmaker[Session], role: Role
) -> None:
    response = _create(client, username=f"new.{role.value}", role=role.value)
    assert response.status_code == 303
    user = _user(factory, f"new.{role.value}")
    assert user is not None
    assert (user.role, user.display_name, user.patient_id) == (role.value, "New User", None)
    assert response.headers["location"] == f"/admin/users/{user.id}"
    assert _can_log_in(app, f"new.{role.value}", NEW_PASSWORD) == 303
    assert f"new.{role.value}" in client.get("/admin/users").text


def test_an_admin_creates_a_patient_account_linked_by_mrn(
    app: FastAPI,
    client: TestClient,
    admin: Person,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    patient_id = _patient(client, make_person, "NORTH", "MRN-77")
    response = _create(client, username="pat.one", role="patient", patient_mrn="MRN-77")
    assert response.status_code == 303
    user = _user(factory, "pat.one")
    assert user is not None and user.patient_id == patient_id
    with TestClient(app) as browser:
        log_in(browser, Person("pat.one", Role.PATIENT, "NORTH", user.id, NEW_PASSWORD))
        assert browser.get("/portal").status_code == 200
    listing = client.get("/admin/users").text
    assert "MRN-77" in listing


def test_a_taken_username_is_refused_next_to_the_field(
    client: TestClient, admin: Person, factory: sessionmaker[Session]
) -> None:
    before = _counts(factory)
    response = _create(client, username=admin.username)
    assert response.status_code == 409
    assert 'id="e-username"' in response.text
    assert "is taken" in response.text
    assert _counts(factory) == before


@pytest.mark.parametrize(
    ("password", "confirm", "field", "message"),
    [
        ("too short", "too short", "password", "at least 10 characters"),
        (" leading space pass", " leading space pass", "password", "start or end with spaces"),
        (NEW_PASSWORD, OTHER_PASSWORD, "password_confirm", "not the same"),
    ],
)
def test_a_bad_password_is_refused_naming_the_field_and_nothing_is_written(
    client: TestClient,
    admin: Person,
    factory: sessionmaker[Session],
    password: str,
    confirm: str,
    field: str,
    message: str,
) -> None:
    before = _counts(factory)
    response = _create(client, password=password, password_confirm=confirm)
    assert response.status_code == 422
    html = response.text
    assert f'id="e-{field}"' in html and message in html
    assert 'value="new.user"' in html  # the other fields are kept for the retry
    assert password not in html and confirm not in html
    assert _counts(factory) == before
    assert _user(factory, "new.user") is None


def test_a_patient_account_needs_a_known_unlinked_mrn_of_this_clinic(
    client: TestClient,
    admin: Person,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    _patient(client, make_person, "SOUTH", "MRN-SOUTH")
    _patient(client, make_person, "NORTH", "MRN-TAKEN")
    first = _create(client, username="first", role="patient", patient_mrn="MRN-TAKEN")
    assert first.status_code == 303
    before = _counts(factory)
    cases = [
        ("MRN-NOPE", "no patient with MRN MRN-NOPE"),
        ("MRN-SOUTH", "no patient with MRN MRN-SOUTH"),
        ("MRN-TAKEN", "already has an account"),
        ("", "needs the MRN"),
    ]
    for mrn, message in cases:
        response = _create(client, username="second", role="patient", patient_mrn=mrn)
        assert response.status_code == 422, mrn
        assert 'id="e-patient_mrn"' in response.text and message in response.text
    assert _counts(factory) == before


def test_after_a_reset_the_old_password_fails_and_the_new_one_works(
    app: FastAPI, client: TestClient, admin: Person, make_person: Callable[..., Person]
) -> None:
    nurse = make_person(Role.NURSE)
    response = _post(
        client,
        f"/admin/users/{nurse.user_id}/password",
        password=NEW_PASSWORD,
        password_confirm=NEW_PASSWORD,
    )
    assert response.status_code == 303
    assert _can_log_in(app, nurse.username, nurse.password) == 401
    assert _can_log_in(app, nurse.username, NEW_PASSWORD) == 303


def test_a_mistyped_reset_changes_nothing(
    app: FastAPI, client: TestClient, admin: Person, make_person: Callable[..., Person]
) -> None:
    nurse = make_person(Role.NURSE)
    path = f"/admin/users/{nurse.user_id}/password"
    response = _post(client, path, password=NEW_PASSWORD, password_confirm=OTHER_PASSWORD)
    assert response.status_code == 422
    assert 'id="e-password_confirm"' in response.text
    assert NEW_PASSWORD not in response.text
    assert _can_log_in(app, nurse.username, nurse.password) == 303


def test_an_admin_unlocks_a_locked_account(
    app: FastAPI,
    client: TestClient,
    admin: Person,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    nurse = make_person(Role.NURSE)
    statuses = [_can_log_in(app, nurse.username, "wrong password!") for _ in range(3)]
    assert statuses[-1] == 429
    assert _can_log_in(app, nurse.username, nurse.password) == 429
    assert "locked" in client.get("/admin/users").text
    response = _post(client, f"/admin/users/{nurse.user_id}/unlock")
    assert response.status_code == 303
    assert _can_log_in(app, nurse.username, nurse.password) == 303
    assert [e.action for e in _events(factory, "user.unlock")] == ["user.unlock"]


def test_unlocking_an_unlocked_account_writes_nothing(
    client: TestClient,
    admin: Person,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    nurse = make_person(Role.NURSE)
    before = _counts(factory)
    assert _post(client, f"/admin/users/{nurse.user_id}/unlock").status_code == 303
    assert _counts(factory) == before


def test_a_deactivated_account_cannot_log_in_until_reactivated(
    app: FastAPI, client: TestClient, admin: Person, make_person: Callable[..., Person]
) -> None:
    nurse = make_person(Role.NURSE)
    with TestClient(app) as nurse_browser:
        log_in(nurse_browser, nurse)
        assert nurse_browser.get("/patients").status_code == 200
        assert _post(client, f"/admin/users/{nurse.user_id}/deactivate").status_code == 303
        ended = nurse_browser.get("/patients", follow_redirects=False)
        assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    assert _can_log_in(app, nurse.username, nurse.password) == 401
    assert "deactivated" in client.get("/admin/users").text
    assert _post(client, f"/admin/users/{nurse.user_id}/reactivate").status_code == 303
    assert _can_log_in(app, nurse.username, nurse.password) == 303


def test_an_admin_cannot_deactivate_themselves(
    app: FastAPI, client: TestClient, admin: Person
) -> None:
    assert _post(client, f"/admin/users/{admin.user_id}/deactivate").status_code == 403
    assert client.get("/admin/users").status_code == 200
    assert _can_log_in(app, admin.username, admin.password) == 303


def test_the_list_shows_only_this_clinics_users(
    client: TestClient, admin: Person, make_person: Callable[..., Person]
) -> None:
    north = make_person(Role.PHYSICIAN)
    south = make_person(Role.PHYSICIAN, clinic="SOUTH")
    listing = client.get("/admin/users").text
    assert north.username in listing and south.username not in listing


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("GET", "", {}),
        ("POST", "/password", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}),
        ("POST", "/unlock", {}),
        ("POST", "/deactivate", {}),
        ("POST", "/reactivate", {}),
    ],
)
def test_another_clinics_user_is_not_found(
    app: FastAPI,
    client: TestClient,
    make_person: Callable[..., Person],
    method: str,
    suffix: str,
    data: dict[str, str],
) -> None:
    north_nurse = make_person(Role.NURSE)
    south_admin = make_person(Role.ADMIN, clinic="SOUTH")
    log_in(client, south_admin)
    path = f"/admin/users/{north_nurse.user_id}{suffix}"
    response = client.get(path) if method == "GET" else _post(client, path, **data)
    assert response.status_code == 404
    assert _can_log_in(app, north_nurse.username, north_nurse.password) == 303


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_manage_users(
    client: TestClient,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
    role: Role,
) -> None:
    patient_id = _patient(client, make_person, "NORTH", "MRN-5") if role is Role.PATIENT else None
    person = make_person(role, patient_id=patient_id)
    log_in(client, person)
    before = _counts(factory)
    assert client.get("/admin/users").status_code == 403
    assert _create(client).status_code == 403
    path = f"/admin/users/{person.user_id}/password"
    reset = _post(client, path, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)
    assert reset.status_code == 403
    assert _counts(factory)[0] == before[0]
    assert "/admin/users" not in client.get("/login").text


def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, admin: Person, factory: sessionmaker[Session]
) -> None:
    data = {"username": "sneaky", "role": "staff", "password": NEW_PASSWORD}
    response = client.post("/admin/users/new", data={**data, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 403
    assert _user(factory, "sneaky") is None


def test_every_change_is_audited_without_any_password(
    client: TestClient,
    admin: Person,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    patient_id = _patient(client, make_person, "NORTH", "MRN-9")
    _create(client, username="pat.nine", role="patient", patient_mrn="MRN-9")
    _create(client, username="desk.one", role="staff")
    pat, desk = _user(factory, "pat.nine"), _user(factory, "desk.one")
    assert pat is not None and desk is not None
    for user in (pat, desk):
        base = f"/admin/users/{user.id}"
        _post(client, f"{base}/password", password=OTHER_PASSWORD, password_confirm=OTHER_PASSWORD)
        _post(client, f"{base}/deactivate")
        _post(client, f"{base}/reactivate")
    events = [e for e in _events(factory) if e.user_id == admin.user_id]
    expected_actions = [
        "user.create",
        "user.password_reset",
        "user.deactivate",
        "user.reactivate",
    ]
    for user, linked in ((pat, patient_id), (desk, None)):
        mine = [e for e in events if e.detail and e.detail.split()[0] == f"user_id={user.id}"]
        assert sorted(e.action for e in mine) == sorted(expected_actions)
        resets = [e for e in mine if e.action != "user.create"]
        assert {e.patient_id for e in resets} == {linked}
    with factory() as session:
        every = session.execute(select(AuditEvent.detail, AuditEvent.username)).all()
    text = " ".join(str(v) for row in every for v in row)
    assert NEW_PASSWORD not in text and OTHER_PASSWORD not in text
