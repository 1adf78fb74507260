"""Web and API logins: cookies, CSRF, lockout, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts import service
from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import User
from ketaclinic.audit.models import AuditEvent
from ketaclinic.config import Settings
from ketaclinic.db import make_engine, make_session_factory, transaction
from tests.conftest import PASSWORD, Person, csrf_from, log_in, token_for

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def nurse(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.NURSE)


def _actions(factory: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with factory() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.username).order_by(AuditEvent.id)
        )
        return [(a, u) for a, u in rows if a.startswith(("login", "logout"))]


def test_the_api_gives_a_bearer_token_for_the_right_password(
    client: TestClient, nurse: Person
) -> None:
    headers = token_for(client, nurse)
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == nurse.username
    assert me.json()["role"] == "nurse"


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic abc"])
def test_the_api_answers_401_without_a_valid_token(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/patients", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"][0]["loc"] == ["header", "Authorization"]


def test_the_api_does_not_accept_the_web_session_cookie(client: TestClient, nurse: Person) -> None:
    log_in(client, nurse)
    assert client.get("/api/v1/patients").status_code == 401


def test_a_wrong_password_answers_401_and_is_audited(
    client: TestClient, nurse: Person, factory: sessionmaker[Session]
) -> None:
    response = client.post(
        "/api/v1/auth/token", data={"username": nurse.username, "password": "nope"}
    )
    assert response.status_code == 401
    ghost = client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope"})
    assert ghost.status_code == 401
    token_for(client, nurse)
    assert _actions(factory) == [
        ("login.failure", nurse.username),
        ("login.failure", "ghost"),
        ("login.success", nurse.username),
    ]


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    client: TestClient, nurse: Person
) -> None:
    with clock.frozen_at(T0):
        for _ in range(3):  # the test settings lock after 3
            client.post("/api/v1/auth/token", data={"username": nurse.username, "password": "bad"})
        locked = client.post(
            "/api/v1/auth/token", data={"username": nurse.username, "password": nurse.password}
        )
    assert locked.status_code == 429
    with clock.frozen_at(T0 + timedelta(minutes=16)):
        assert token_for(client, nurse)


def test_the_session_cookie_is_httponly_and_samesite(client: TestClient, nurse: Person) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": nurse.username, "password": nurse.password, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert response.headers["location"] == "/patients"


def test_a_form_without_the_csrf_token_is_refused(client: TestClient, nurse: Person) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": nurse.username, "password": nurse.password})
    assert response.status_code == 403
    log_in(client, nurse)
    forged = client.post("/patients/new", data={"mrn": "X", "csrf_token": "forged"})
    assert forged.status_code == 403


def test_pages_send_an_anonymous_visitor_to_the_login_page(client: TestClient) -> None:
    response = client.get("/patients?q=a", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/patients%3Fq%3Da"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_login_never_redirects_off_site(client: TestClient, nurse: Person, target: str) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "username": nurse.username,
            "password": nurse.password,
            "csrf_token": token,
            "next": target,
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/patients"


def test_a_wrong_web_login_keeps_the_username_and_shows_the_error(
    client: TestClient, nurse: Person
) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login", data={"username": nurse.username, "password": "wrong", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert f'value="{nurse.username}"' in response.text


def test_logout_ends_the_session_and_is_audited(
    client: TestClient, nurse: Person, factory: sessionmaker[Session]
) -> None:
    log_in(client, nurse)
    page = client.get("/patients")
    response = client.post(
        "/logout", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/patients", follow_redirects=False).status_code == 303
    assert _actions(factory)[-1] == ("logout", nurse.username)


def test_a_deactivated_user_is_refused(
    client: TestClient, nurse: Person, factory: sessionmaker[Session]
) -> None:
    from ketaclinic.accounts.models import User

    headers = token_for(client, nurse)
    with factory() as session, session.begin():
        user = session.get(User, nurse.user_id)
        assert user is not None
        user.is_active = False
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_password_is_hashed_before_the_login_takes_any_lock(
    sqlite_settings: Settings, make_sqlite_person: Callable[..., Person]
) -> None:
    nurse = make_sqlite_person(Role.NURSE)
    engine = make_engine(sqlite_settings.model_copy(update={"sqlite_busy_timeout_ms": 50}))
    factory = make_session_factory(engine)
    with factory() as writer, writer.begin():
        writer.execute(select(1))  # another request holds SQLite's write lock meanwhile
        with factory() as session:
            check = service.check_password(session, username=nurse.username, password=PASSWORD)
    engine.dispose()
    assert check.user_id == nurse.user_id and check.verified_hash is not None


def test_a_password_changed_after_it_was_checked_does_not_let_the_old_one_in(
    factory: sessionmaker[Session], nurse: Person
) -> None:
    policy = service.lockout_policy(3, 15)
    with factory() as session:
        check = service.check_password(session, username=nurse.username, password=PASSWORD)
    with transaction(factory) as session:
        user = session.get(User, nurse.user_id)
        assert user is not None
        service.set_password(session, user=user, password="a brand new password")
    with transaction(factory) as session:
        outcome = service.authenticate(
            session, username=nurse.username, check=check, policy=policy, client_address=None
        )
        assert outcome.user is None and not outcome.locked
