"""An unknown username answers and locks exactly like a real one, on the page and the API, so the
answers never tell which usernames exist. The test settings lock after 3 failures in 15 minutes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts import service, throttle
from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import LoginThrottle
from ketaclinic.config import Settings
from tests.conftest import Person, csrf_from

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
GHOST = "ghost.nobody"


@pytest.fixture
def nurse(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.NURSE)


def _api(app: FastAPI, username: str, password: str) -> tuple[int, object]:
    with TestClient(app) as script:
        response = script.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
    return response.status_code, response.json()


def _page(app: FastAPI, username: str, password: str) -> tuple[int, str]:
    """A fresh browser's login: the status and the page, less its CSRF token and the username
    echoed back into the form."""
    with TestClient(app) as browser:
        token = csrf_from(browser.get("/login").text)
        response = browser.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
    page = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text)
    return response.status_code, page.replace(f'value="{username}"', 'value="(typed)"')


LOGINS = {"api": _api, "page": _page}


@pytest.mark.parametrize("channel", LOGINS)
def test_unknown_and_known_usernames_get_identical_answers_through_the_lockout(
    app: FastAPI, settings: Settings, nurse: Person, channel: str
) -> None:
    login = LOGINS[channel]
    attempts = settings.lockout_failures + 2
    with clock.frozen_at(T0):
        known = [login(app, nurse.username, "wrong password") for _ in range(attempts)]
        unknown = [login(app, GHOST, "wrong password") for _ in range(attempts)]
        known.append(login(app, nurse.username, nurse.password))  # locked: even the right one
    unknown.append(known[-1])  # nobody can type the unknown user's right password
    assert known == unknown
    statuses = [status for status, _ in known]
    failures = settings.lockout_failures
    assert statuses == [401] * (failures - 1) + [429] * (attempts - failures + 2)
    assert known[0] != known[-1]  # wrong and locked do read differently


def test_an_unknown_usernames_lock_ends_like_a_real_one(
    app: FastAPI, settings: Settings, nurse: Person
) -> None:
    with clock.frozen_at(T0):
        for name in (nurse.username, GHOST):
            for _ in range(settings.lockout_failures):
                _api(app, name, "wrong password")
    with clock.frozen_at(T0 + timedelta(minutes=settings.lockout_minutes)):
        assert _api(app, GHOST, "wrong password")[0] == 401
        assert _api(app, nurse.username, nurse.password)[0] == 200


def test_failures_spread_wider_than_the_window_never_lock(app: FastAPI, settings: Settings) -> None:
    gap = timedelta(minutes=settings.lockout_minutes / (settings.lockout_failures - 1))
    for i in range(settings.lockout_failures * 2):
        with clock.frozen_at(T0 + i * gap):
            assert _api(app, GHOST, "wrong password")[0] == 401


def test_a_successful_login_clears_the_failures(
    app: FastAPI, settings: Settings, nurse: Person
) -> None:
    with clock.frozen_at(T0):
        for _ in range(2):
            for _ in range(settings.lockout_failures - 1):
                assert _api(app, nurse.username, "wrong password")[0] == 401
            assert _api(app, nurse.username, nurse.password)[0] == 200


def _throttle_rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(LoginThrottle)) or 0


def test_typed_usernames_are_forgotten_after_the_window_and_never_kept_in_clear(
    app: FastAPI, settings: Settings, factory: sessionmaker[Session]
) -> None:
    names = [f"typo{i}.nobody" for i in range(5)]
    with clock.frozen_at(T0):
        for name in names:
            _api(app, name, "wrong password")
    assert _throttle_rows(factory) == len(names)
    with factory() as session:
        stored = " ".join(row.username_hash for row in session.scalars(select(LoginThrottle)))
    assert not any(name in stored for name in names)
    with clock.frozen_at(T0 + timedelta(minutes=settings.lockout_minutes)):
        _api(app, GHOST, "wrong password")
    assert _throttle_rows(factory) == 1


def test_concurrent_failures_for_a_new_name_all_count(app: FastAPI, settings: Settings) -> None:
    with clock.frozen_at(T0), ThreadPoolExecutor(max_workers=settings.lockout_failures) as pool:
        attempts = [
            pool.submit(_api, app, GHOST, "wrong password")
            for _ in range(settings.lockout_failures)
        ]
        statuses = sorted(future.result()[0] for future in attempts)
    assert statuses == [401] * (settings.lockout_failures - 1) + [429]
    with clock.frozen_at(T0):
        assert _api(app, GHOST, "wrong password")[0] == 429


def test_pruning_never_waits_for_a_name_another_login_holds(
    app: FastAPI, settings: Settings, factory: sessionmaker[Session]
) -> None:
    """Two logins each holding their own stale name and pruning the other's would deadlock;
    pruning skips rows another transaction holds instead (PostgreSQL; SQLite runs one writer)."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one write transaction at a time: no row is ever held by another")
    policy = service.lockout_policy(settings.lockout_failures, settings.lockout_minutes)
    with clock.frozen_at(T0):
        _api(app, GHOST, "wrong password")
    later = T0 + timedelta(minutes=settings.lockout_minutes)
    with factory() as holder, holder.begin():
        throttle.current(holder, typed=GHOST)  # another login holds the stale row
        with factory() as other, other.begin():
            # Without SKIP LOCKED this would wait for the holder; fail rather than hang.
            other.execute(text("SET LOCAL lock_timeout = '5s'"))
            state = throttle.record_failure(other, typed="someone.else", policy=policy, at=later)
        assert state.failed_count == 1
    assert _throttle_rows(factory) == 2  # the held row was left for a later failure to prune
