"""Browser sessions and API tokens live on the server: ending one refuses every copy of it.

On SQLite and PostgreSQL, with the clock frozen where expiry matters.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import LoginSession
from ketaclinic.audit.models import AuditEvent
from ketaclinic.config import Settings
from tests.conftest import Person, csrf_from, log_in, token_for

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
COOKIE = "ketaclinic_session"


@pytest.fixture
def nurse(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.NURSE)


@pytest.fixture
def admin(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.ADMIN)


def _signed_in(app: FastAPI, person: Person) -> TestClient:
    browser = TestClient(app)
    log_in(browser, person)
    return browser


def _replay(app: FastAPI, cookie: str) -> TestClient:
    """Another browser holding a copy of someone's session cookie."""
    copy = TestClient(app)
    copy.cookies.set(COOKIE, cookie)
    return copy


def _page_status(browser: TestClient, path: str = "/patients") -> int:
    return browser.get(path, follow_redirects=False).status_code


def _post(browser: TestClient, path: str) -> int:
    token = csrf_from(browser.get("/login").text)
    return browser.post(path, data={"csrf_token": token}, follow_redirects=False).status_code


def _actions(factory: sessionmaker[Session], action: str) -> int:
    with factory() as session:
        count = session.scalar(select(func.count()).where(AuditEvent.action == action))
        return count or 0


def _rows(factory: sessionmaker[Session], person: Person) -> list[LoginSession]:
    with factory() as session:
        query = select(LoginSession).where(LoginSession.user_id == person.user_id)
        return list(session.scalars(query))


def test_a_logged_out_cookie_replayed_is_refused(app: FastAPI, nurse: Person) -> None:
    browser = _signed_in(app, nurse)
    cookie = browser.cookies[COOKIE]
    assert _page_status(_replay(app, cookie)) == 200  # the copy works while the session lives
    assert _post(browser, "/logout") == 303
    replayed = _replay(app, cookie).get("/patients", follow_redirects=False)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


def test_a_web_session_ends_after_its_lifetime_even_with_the_cookie(
    app: FastAPI, settings: Settings, nurse: Person
) -> None:
    lifetime = timedelta(minutes=settings.session_max_age_min)
    with clock.frozen_at(T0):
        cookie = _signed_in(app, nurse).cookies[COOKIE]
    with clock.frozen_at(T0 + lifetime - timedelta(seconds=1)):
        assert _page_status(_replay(app, cookie)) == 200
    with clock.frozen_at(T0 + lifetime):
        assert _page_status(_replay(app, cookie)) == 303


def test_a_revoked_token_is_refused_and_the_revocation_audited(
    client: TestClient, nurse: Person, factory: sessionmaker[Session]
) -> None:
    headers, other = token_for(client, nurse), token_for(client, nurse)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    response = client.post("/api/v1/auth/revoke", data={"token": token})
    assert response.status_code == 200
    assert response.json() == {"active": False}
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert client.get("/api/v1/me", headers=other).status_code == 200  # only that token ended
    assert client.post("/api/v1/auth/revoke", data={"token": token}).status_code == 200
    assert client.post("/api/v1/auth/revoke", data={"token": "never-issued"}).status_code == 200
    assert _actions(factory, "token.revoke") == 1


def test_a_revocation_without_a_token_names_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/auth/revoke", data={})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "token"]


def test_an_expired_token_is_refused(client: TestClient, settings: Settings, nurse: Person) -> None:
    lifetime = timedelta(minutes=settings.token_max_age_min)
    with clock.frozen_at(T0):
        response = client.post(
            "/api/v1/auth/token", data={"username": nurse.username, "password": nurse.password}
        )
    assert response.json()["expires_in"] == settings.token_max_age_min * 60
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    with clock.frozen_at(T0 + lifetime - timedelta(seconds=1)):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    with clock.frozen_at(T0 + lifetime):
        assert client.get("/api/v1/me", headers=headers).status_code == 401


def _session_key(cookie: str) -> str:
    """The random key inside Starlette's signed cookie (base64 JSON, then the signature)."""
    payload = cookie.split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    key: str = data["sid"]
    return key


def test_a_session_key_is_no_bearer_token_and_only_hashes_are_stored(
    app: FastAPI, client: TestClient, nurse: Person, factory: sessionmaker[Session]
) -> None:
    key = _session_key(_signed_in(app, nurse).cookies[COOKIE])
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    token = token_for(client, nurse)["Authorization"].removeprefix("Bearer ")
    stored = {row.key_hash for row in _rows(factory, nurse)}
    assert len(stored) == 2
    assert key not in stored and token not in stored


def test_a_signed_in_request_writes_nothing_to_check_its_sign_in(
    app: FastAPI, client: TestClient, engine: Engine, nurse: Person
) -> None:
    browser, headers = _signed_in(app, nurse), token_for(client, nurse)
    writes: list[str] = []

    def watch(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", watch)
    try:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert _page_status(browser, "/account/password") == 200
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert writes == []


def test_ended_and_expired_sessions_are_deleted_at_the_next_login(
    app: FastAPI, settings: Settings, nurse: Person, factory: sessionmaker[Session]
) -> None:
    with clock.frozen_at(T0):
        for _ in range(3):
            assert _post(_signed_in(app, nurse), "/logout") == 303
        _signed_in(app, nurse)  # never logged out: expires
    later = T0 + timedelta(minutes=settings.session_max_age_min)
    with clock.frozen_at(later):
        _signed_in(app, nurse)
    assert [row.created_at for row in _rows(factory, nurse)] == [later]


@pytest.fixture
def signed_in_everywhere(app: FastAPI, nurse: Person) -> Iterator[tuple[TestClient, TestClient]]:
    """The nurse in a browser and in a script (bearer token on the script client)."""
    browser, script = _signed_in(app, nurse), TestClient(app)
    script.headers.update(token_for(script, nurse))
    yield browser, script


def _still_in(browser: TestClient, script: TestClient) -> tuple[int, int]:
    return _page_status(browser), script.get("/api/v1/me").status_code


def test_an_admin_signs_a_user_out_everywhere(
    app: FastAPI,
    admin: Person,
    nurse: Person,
    signed_in_everywhere: tuple[TestClient, TestClient],
    factory: sessionmaker[Session],
) -> None:
    browser, script = signed_in_everywhere
    desk = _signed_in(app, admin)
    assert "1 browser session, 1 API token" in desk.get(f"/admin/users/{nurse.user_id}").text
    assert _post(desk, f"/admin/users/{nurse.user_id}/sessions/end") == 303
    assert _still_in(browser, script) == (303, 401)
    assert "0 browser sessions, 0 API tokens" in desk.get(f"/admin/users/{nurse.user_id}").text
    assert _actions(factory, "user.sessions_end") == 1
    assert _page_status(_signed_in(app, nurse)) == 200  # the password still works


def test_ending_their_own_sessions_keeps_the_admins_browser(
    app: FastAPI, admin: Person, client: TestClient
) -> None:
    desk, elsewhere = _signed_in(app, admin), _signed_in(app, admin)
    headers = token_for(client, admin)
    assert _post(desk, f"/admin/users/{admin.user_id}/sessions/end") == 303
    assert _page_status(desk, "/admin/users") == 200
    assert _page_status(elsewhere, "/admin/users") == 303
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_deactivation_ends_sessions_and_tokens_for_good(
    app: FastAPI, admin: Person, nurse: Person, signed_in_everywhere: tuple[TestClient, TestClient]
) -> None:
    browser, script = signed_in_everywhere
    desk = _signed_in(app, admin)
    assert _post(desk, f"/admin/users/{nurse.user_id}/deactivate") == 303
    assert _still_in(browser, script) == (303, 401)
    assert _post(desk, f"/admin/users/{nurse.user_id}/reactivate") == 303
    assert _still_in(browser, script) == (303, 401)  # ended, not merely paused


def test_an_admins_password_reset_ends_the_users_sessions_and_tokens(
    app: FastAPI, admin: Person, nurse: Person, signed_in_everywhere: tuple[TestClient, TestClient]
) -> None:
    browser, script = signed_in_everywhere
    desk = _signed_in(app, admin)
    token = csrf_from(desk.get("/login").text)
    new = {"password": "reset by the admin", "password_confirm": "reset by the admin"}
    response = desk.post(
        f"/admin/users/{nurse.user_id}/password",
        data={"csrf_token": token, **new},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _still_in(browser, script) == (303, 401)
