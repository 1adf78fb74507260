"""Real databases for every test: a fresh SQLite file, and a real PostgreSQL when one is given.

PostgreSQL tests use ``KETACLINIC_TEST_POSTGRES_URL`` (a server URL; a fresh database is created
for the run and dropped after). Without it they skip with the reason; under ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts import security
from ketaclinic.accounts import service as accounts
from ketaclinic.accounts.core import Role
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.db import Base, make_engine, make_session_factory, transaction
from ketaclinic.schema import import_all_models, upgrade

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
TEST_AUDIT_KEY = "test-audit-key-kept-outside-the-database-0123456789"
PASSWORD = "correct horse battery"
PG_ENV = "KETACLINIC_TEST_POSTGRES_URL"

pytest_plugins = ["tests.slow_tests"]

# No wall-clock deadline on any property test: on a busy machine (CI, or 2 cores shared) the
# 200 ms default fails examples by timing alone (DeadlineExceeded, then FlakyFailure).
hypothesis_settings.register_profile("ketaclinic", deadline=None)
hypothesis_settings.load_profile("ketaclinic")

#: The hasher the application ships with (argon2id, RFC 9106 low-memory profile: 64 MiB, three
#: passes). tests/accounts/test_password_hashing.py checks it and hashes with it.
PRODUCTION_HASHER = security._hasher
#: argon2id at the library's smallest cost, for the tests only: a production hash takes 0.1 to
#: 0.8 s of both cores here, and thousands of tests create users and log in. What is hashed and
#: verified, and every refusal, stays the same; only the work factor differs.
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Every test hashes passwords with ``TEST_HASHER`` (the unknown-username dummy too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(security, "_hasher", TEST_HASHER)
        patch.setattr(security, "_DUMMY_HASH", TEST_HASHER.hash("not-a-real-password-for-timing"))
        yield


def _settings(url: str) -> Settings:
    """Test settings: fixed keys, a low lockout, and no background sealer (tests seal
    explicitly, so what is sealed when is theirs to decide)."""
    return Settings(
        database_url=url,
        secret_key=TEST_SECRET,
        audit_key=TEST_AUDIT_KEY,
        audit_seal_interval_s=0,
        lockout_failures=3,
    )


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a CLI command needs to work on the test's database with its keys."""
    return {
        "KETACLINIC_DATABASE_URL": settings.database_url,
        "KETACLINIC_SECRET_KEY": TEST_SECRET,
        "KETACLINIC_AUDIT_KEY": TEST_AUDIT_KEY,
    }


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(_settings(f"sqlite:///{path}"))
    upgrade(engine)
    raw = engine.raw_connection()  # outside a transaction: a checkpoint cannot run inside one
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this run (of this xdist worker), migrated once, dropped at the end."""
    url = _create_postgres_database("ketaclinic_test")
    engine = make_engine(_settings(url))
    upgrade(engine)
    engine.dispose()
    yield url
    _drop_postgres_database(url)


def _create_postgres_database(prefix: str) -> str:
    """A new, empty database on the server at ``KETACLINIC_TEST_POSTGRES_URL``; its URL.

    Its commits do not wait for the disk (``synchronous_commit = off``): a crash of the server
    could lose the last few, which a test database never needs, and each commit is still atomic
    and visible to the next transaction exactly as before."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        if _ci():
            pytest.fail(f"CI=true but {PG_ENV} is not set: the PostgreSQL tests must run in CI")
        pytest.skip(f"no PostgreSQL: set {PG_ENV}=postgresql+psycopg://user@host:port/db to run")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except Exception as error:  # the server did not answer or refused
        if _ci():
            pytest.fail(f"PostgreSQL at {PG_ENV} is not usable: {error}")
        pytest.skip(f"PostgreSQL at {PG_ENV} is not usable: {error}")
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    server_url = os.environ[PG_ENV]
    name = make_url(url).database
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_reset_engine(postgres_database: str) -> Iterator[Engine]:
    """One connection kept for the resets between tests (a new connection costs a process)."""
    engine = create_engine(postgres_database, pool_size=1)
    yield engine
    engine.dispose()


def _reset_postgres(engine: Engine) -> None:
    """Leave the database as the migration left it: empty every table a test wrote to and
    restart every sequence it drew from (ids start at 1 again).

    One query finds the tables holding rows; DELETE empties those few small tables in
    milliseconds, where TRUNCATE of every table (as this did before) replaces every table's
    files and took 0.3 to 0.9 s per test. The audit tables refuse deletion through triggers,
    which a superuser's replica mode switches off for this transaction only, foreign-key
    checks with them, so the order of the deletes does not matter."""
    import_all_models()
    tables = [t.name for t in Base.metadata.sorted_tables]
    holding_rows = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT FROM \"{name}\")" for name in tables
    )
    with engine.begin() as connection:
        written = connection.execute(text(holding_rows)).scalars().all()
        drawn = connection.execute(text(_DRAWN_SEQUENCES)).scalars().all()
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for name in written:
            connection.execute(text(f'DELETE FROM "{name}"'))
        for sequence in drawn:
            connection.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))


#: Sequences that handed out a value since they were created or last restarted.
_DRAWN_SEQUENCES = (
    "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences "
    "WHERE last_value IS NOT NULL"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Settings:
    """Settings for a fresh, migrated database of each engine."""
    if request.param == "sqlite":
        path = tmp_path / "ketaclinic.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
        _reset_postgres(request.getfixturevalue("postgres_reset_engine"))
    return _settings(url)


@contextmanager
def own_database(kind: str, directory: Path, sqlite_template: Path) -> Iterator[Settings]:
    """Settings for a new migrated database of ``kind`` ("sqlite" or "postgresql") that no other
    fixture resets, for a fixture shared by several tests (``scope="module"``); dropped after."""
    if kind == "sqlite":
        path = directory / "shared.db"
        shutil.copy(sqlite_template, path)
        yield _settings(f"sqlite:///{path}")
        return
    url = _create_postgres_database("ketaclinic_shared")
    try:
        engine = make_engine(_settings(url))
        upgrade(engine)
        engine.dispose()
        yield _settings(url)
    finally:
        _drop_postgres_database(url)


def refuse_writes(engine: Engine) -> None:
    """Every connection ``engine`` opens from now on can only read: a shared database stays
    as it was seeded, whatever a test sharing it does (a write fails loudly)."""

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()
        cursor.close()


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    path = tmp_path / "ketaclinic.db"
    shutil.copy(sqlite_template, path)
    return _settings(f"sqlite:///{path}")


#: One application per distinct test settings (the database aside), served to every test with
#: those settings. FastAPI works out each route's dependencies on an app's first request (about
#: 0.15 s of CPU, the largest cost of a short test), which each test paid again with an app of
#: its own.
_apps: dict[str, FastAPI] = {}


def _app_key(settings: Settings) -> str:
    """Every setting but the database, secrets included (the middleware keeps the signing key)."""
    values = []
    for name in sorted(type(settings).model_fields):
        value = getattr(settings, name)
        reveal = getattr(value, "get_secret_value", None)
        values.append((name, reveal() if reveal else value))
    return repr([(name, value) for name, value in values if name != "database_url"])


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The app for ``settings``: each test gets the state a new ``create_app(settings)`` makes
    (its own engine and session factory on the test's database, and whatever else
    ``create_app`` puts in ``app.state``) in an app whose routes and middleware, which depend on
    nothing but the settings here, were built once."""
    fresh = create_app(settings)
    application = _apps.setdefault(_app_key(settings), fresh)
    application.state = fresh.state
    yield application
    fresh.state.engine.dispose()


@pytest.fixture
def engine(app: FastAPI) -> Engine:
    result: Engine = app.state.engine
    return result


@pytest.fixture
def factory(app: FastAPI) -> sessionmaker[Session]:
    result: sessionmaker[Session] = app.state.session_factory
    return result


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass(frozen=True)
class Person:
    username: str
    role: Role
    clinic: str
    user_id: int
    password: str = PASSWORD


@pytest.fixture
def make_person(factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """Create a user of ``role`` in ``clinic`` (created when new)."""
    counter = iter(range(1, 10_000))

    def make(role: Role, clinic: str = "NORTH", patient_id: int | None = None) -> Person:
        username = f"{role.value}{next(counter)}.{clinic.lower()}"
        with transaction(factory) as session:
            c = accounts.ensure_clinic(session, code=clinic)
            user = accounts.create_user(
                session,
                clinic=c,
                username=username,
                password=PASSWORD,
                role=role,
                patient_id=patient_id,
            )
            return Person(username, role, clinic, user.id)

    return make


@pytest.fixture
def make_sqlite_person(sqlite_settings: Settings):  # type: ignore[no-untyped-def]
    """Like make_person, for tests that run their own server on ``sqlite_settings``."""
    engine = make_engine(sqlite_settings)
    counter = iter(range(1, 10_000))

    def make(role: Role, clinic: str = "NORTH") -> Person:
        username = f"{role.value}{next(counter)}.{clinic.lower()}"
        with transaction(make_session_factory(engine)) as session:
            c = accounts.ensure_clinic(session, code=clinic)
            user = accounts.create_user(
                session, clinic=c, username=username, password=PASSWORD, role=role
            )
            return Person(username, role, clinic, user.id)

    yield make
    engine.dispose()


def token_for(client: TestClient, person: Person) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": person.username, "password": person.password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: TestClient, person: Person) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": person.username, "password": person.password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def patient_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "mrn": "MRN-1",
        "given_name": "Test",
        "family_name": "Synthetic-Case",
        "birth_date": "1980-05-17",
        "sex": "female",
        "weight_kg": "72.5",
        "diagnoses": [{"code": "M79.7", "is_primary": True}],
    }
    body.update(overrides)
    return body
