"""Migration 0013 carries an existing trail into the sealed scheme: it checks the old chain first,
keeps what it found as an event, and MACs every old event, so nothing is laundered by the upgrade."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import db, schema
from ketaclinic.audit import sealing
from ketaclinic.audit.models import AuditEvent
from ketaclinic.config import Settings
from ketaclinic.db import make_engine
from ketaclinic.schema import upgrade
from tests.audit.test_trail import busy_trail  # noqa: F401  (a fixture)


@pytest.fixture
def legacy(engine: Engine, busy_trail: int) -> Iterator[Engine]:  # noqa: F811
    """The test's database taken back to revision 0012, with the busy trail re-chained the old way;
    brought back to the newest revision afterwards whatever happens."""
    _downgrade(engine, "0012")
    try:
        yield engine
    finally:
        upgrade(engine)


def _downgrade(engine: Engine, revision: str) -> None:

    schema.downgrade(engine, revision)  # foreign keys checked at the end on SQLite


def _upgraded_trail(engine: Engine, factory: sessionmaker[Session]) -> tuple[str, bool]:
    upgrade(engine)
    sealing.seal_pending(factory)
    with factory() as session:
        marker = session.scalar(
            select(AuditEvent.detail).where(AuditEvent.action == "audit.upgraded")
        )
        intact = sealing.verify(session).intact
    assert marker is not None
    return marker, intact


def test_an_intact_old_chain_is_carried_over_and_said_to_be_intact(
    legacy: Engine, factory: sessionmaker[Session]
) -> None:
    with legacy.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    marker, intact = _upgraded_trail(legacy, factory)
    assert marker.startswith(f"legacy chain intact: {count} events")
    assert intact


def test_a_broken_old_chain_is_carried_over_and_said_to_be_broken(
    legacy: Engine, factory: sessionmaker[Session]
) -> None:
    with legacy.begin() as connection:
        if legacy.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER audit_event_no_update")
        else:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.exec_driver_sql("UPDATE audit_event SET action = 'x' WHERE seq = 2")
    marker, intact = _upgraded_trail(legacy, factory)
    assert marker == "legacy chain broken at event 2"
    assert intact  # the new trail vouches for what the upgrade found, including the break


def test_the_upgrade_refuses_to_run_over_events_without_the_audit_key(
    legacy: Engine, settings: Settings
) -> None:
    keyless = make_engine(settings)
    del db._settings_of[keyless]  # as if made elsewhere: no settings, so no key
    try:
        with pytest.raises(RuntimeError, match="passes the audit key"):
            upgrade(keyless)
    finally:
        keyless.dispose()


def test_the_app_works_on_the_upgraded_database(
    legacy: Engine, factory: sessionmaker[Session], client: TestClient
) -> None:
    _upgraded_trail(legacy, factory)
    assert client.post("/api/v1/auth/token", data={"username": "x", "password": "y"}).status_code
    sealing.seal_pending(factory)
    with factory() as session:
        assert sealing.verify(session).intact
