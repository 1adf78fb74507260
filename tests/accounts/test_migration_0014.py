"""Migration 0014 (server-side sessions, login throttle) runs both ways on a database with data:
users that audit events and signed records point at are kept, and can log in afterwards."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text

from ketaclinic import schema
from ketaclinic.accounts.core import Role
from ketaclinic.schema import current_revision, upgrade
from tests.conftest import Person, log_in, token_for


def _downgrade(engine: Engine, revision: str) -> None:
    schema.downgrade(engine, revision)  # foreign keys checked at the end on SQLite


def _user_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns("user_account")}


def test_the_0014_migration_keeps_every_user_both_ways(
    app: FastAPI, engine: Engine, make_person: Callable[..., Person]
) -> None:
    nurse = make_person(Role.NURSE)
    with TestClient(app) as client:
        token_for(client, nurse)  # a login: an audit event that references the user
    with engine.connect() as connection:
        users = connection.execute(text("SELECT id, username FROM user_account")).all()
    try:
        _downgrade(engine, "0013")
        assert current_revision(engine) == "0013"
        assert {"failed_login_count", "locked_until", "credentials_version"} <= _user_columns(
            engine
        )
        assert "login_session" not in inspect(engine).get_table_names()
    finally:
        upgrade(engine)
    assert "credentials_version" not in _user_columns(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, username FROM user_account")).all() == users
    with TestClient(app) as browser:
        log_in(browser, nurse)
        assert browser.get("/patients", follow_redirects=False).status_code == 200
