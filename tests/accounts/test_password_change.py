"""Passwords a user did not choose must be replaced before anything else; a change ends every
other session and token of that user. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts import service
from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import User
from ketaclinic.audit.models import AuditEvent
from ketaclinic.db import transaction
from tests.conftest import PASSWORD, Person, csrf_from, log_in, token_for

NEW = "a brand new passphrase"
ADMIN_SET = "chosen by the admin"


def _change(client: TestClient, current: str, new: str, confirm: str | None = None) -> int:
    token = csrf_from(client.get("/account/password").text)
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "password": new,
            "password_confirm": new if confirm is None else confirm,
        },
        follow_redirects=False,
    )
    return response.status_code


def _admin_reset(factory: sessionmaker[Session], person: Person) -> None:
    with transaction(factory) as session:
        user = session.get(User, person.user_id)
        assert user is not None
        service.set_password(session, user=user, password=ADMIN_SET, must_change=True)


def test_a_user_changes_their_password_and_other_sessions_end(
    app: FastAPI, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> None:
    nurse = make_person(Role.NURSE)
    here, elsewhere = TestClient(app), TestClient(app)
    log_in(here, nurse)
    log_in(elsewhere, nurse)
    api = TestClient(app)
    headers = token_for(api, nurse)

    assert _change(here, "wrong current", NEW) == 422
    assert _change(here, PASSWORD, NEW, confirm="a different one") == 422
    assert _change(here, PASSWORD, NEW) == 303

    assert here.get("/patients", follow_redirects=False).status_code == 200  # this browser stays
    assert (
        elsewhere.get("/patients", follow_redirects=False).headers["location"].startswith("/login")
    )
    assert api.get("/api/v1/me", headers=headers).status_code == 401  # the old token is dead
    with factory() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
        details = " ".join(d or "" for d in session.scalars(select(AuditEvent.detail)))
    assert actions.count("user.password_change") == 1
    assert NEW not in details and PASSWORD not in details


def test_a_password_set_by_an_admin_must_be_replaced_first(
    app: FastAPI, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> None:
    nurse = make_person(Role.NURSE)
    _admin_reset(factory, nurse)
    browser = TestClient(app)
    token = csrf_from(browser.get("/login").text)
    login = browser.post(
        "/login",
        data={"username": nurse.username, "password": ADMIN_SET, "csrf_token": token},
        follow_redirects=False,
    )
    assert login.headers["location"] == "/account/password"
    elsewhere = browser.get("/patients", follow_redirects=False)
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"] == "/account/password"

    api = TestClient(app)
    refused = api.post(
        "/api/v1/auth/token", data={"username": nurse.username, "password": ADMIN_SET}
    )
    assert refused.status_code == 403

    assert _change(browser, ADMIN_SET, ADMIN_SET) == 422  # the same password again is refused
    assert _change(browser, ADMIN_SET, NEW) == 303
    assert browser.get("/patients", follow_redirects=False).status_code == 200
    with factory() as session:
        user = session.get(User, nurse.user_id)
        assert user is not None and user.password_must_change is False
