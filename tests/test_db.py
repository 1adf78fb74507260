"""SQLite under contention: writers wait their turn, readers of the sign-in never queue, and a
wait that outlasts the busy timeout is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ketaclinic.accounts.core import Role
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.db import begin_read_only, is_contention, make_engine, make_session_factory
from tests.conftest import Person, log_in, token_for


def _factory(settings: Settings, busy_timeout_ms: int):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.model_copy(update={"sqlite_busy_timeout_ms": busy_timeout_ms}))
    return engine, make_session_factory(engine)


def test_a_second_writer_waits_for_the_first_instead_of_failing(sqlite_settings: Settings) -> None:
    engine, factory = _factory(sqlite_settings, 10_000)
    waiting, errors = threading.Event(), []

    def second_writer() -> None:
        try:
            with factory() as session, session.begin():
                waiting.set()
                session.execute(text("INSERT INTO clinic (code, name, created_at) "
                                     "VALUES ('B', 'B', '2026-01-01')"))  # fmt: skip
        except OperationalError as error:
            errors.append(error)

    with factory() as first, first.begin():
        # Read first, write later: the pattern a deferred transaction cannot survive.
        first.execute(text("SELECT count(*) FROM clinic"))
        thread = threading.Thread(target=second_writer)
        thread.start()
        waiting.wait()
        first.execute(text("INSERT INTO clinic (code, name, created_at) "
                           "VALUES ('A', 'A', '2026-01-01')"))  # fmt: skip
    thread.join()
    with factory() as session:
        codes = session.scalars(text("SELECT code FROM clinic ORDER BY code")).all()
    engine.dispose()
    assert errors == []
    assert codes == ["A", "B"]


def test_a_read_only_session_does_not_wait_for_a_writer(sqlite_settings: Settings) -> None:
    engine, factory = _factory(sqlite_settings, 50)
    with factory() as writer, writer.begin():
        writer.execute(text("SELECT 1"))  # holds SQLite's write lock
        with factory() as reader:
            begin_read_only(reader)
            assert reader.execute(text("SELECT count(*) FROM clinic")).scalar() == 0
        with factory() as other, pytest.raises(OperationalError) as refused:
            other.execute(text("SELECT count(*) FROM clinic"))
    engine.dispose()
    assert is_contention(refused.value)


def test_a_wait_longer_than_the_busy_timeout_answers_503_with_retry_after(
    sqlite_settings: Settings, make_sqlite_person: Callable[..., Person]
) -> None:
    nurse = make_sqlite_person(Role.NURSE)
    app = create_app(sqlite_settings.model_copy(update={"sqlite_busy_timeout_ms": 50}))
    engine, factory = _factory(sqlite_settings, 50)
    with TestClient(app) as client:
        headers = token_for(client, nurse)
        log_in(client, nurse)
        with factory() as holder, holder.begin():
            holder.execute(text("SELECT 1"))  # another process's long write
            busy = client.get("/api/v1/patients", headers=headers)
            page = client.get("/patients")
        after = client.get("/api/v1/patients", headers=headers)
    engine.dispose()
    app.state.engine.dispose()
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert "busy" in busy.json()["detail"][0]["msg"]
    assert page.status_code == 503 and page.headers["retry-after"] == "1"
    assert "busy" in page.text
    assert after.status_code == 200


def test_postgresql_connections_run_without_jit(settings: Settings) -> None:
    """Pages run short queries; JIT compiling one the planner over-estimates cost the dashboard
    about 60 ms a request (issue #15)."""
    if settings.is_sqlite:
        pytest.skip("JIT is a PostgreSQL setting; SQLite has none")
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW jit")).scalar_one() == "off"
    finally:
        engine.dispose()
