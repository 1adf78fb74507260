"""The audit trail in a real database: append-only, verifiable, visible to admins."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ketaclinic.accounts.core import Role
from ketaclinic.audit import service
from ketaclinic.cli import app as cli
from ketaclinic.config import Settings
from tests.conftest import Person, log_in, patient_body, token_for


@pytest.fixture
def busy_trail(client: TestClient, make_person: Callable[..., Person]) -> int:
    """A trail with logins, a patient created and read; returns the patient id."""
    headers = token_for(client, make_person(Role.NURSE))
    patient_id: int = client.post("/api/v1/patients", json=patient_body(), headers=headers).json()[
        "id"
    ]
    client.get(f"/api/v1/patients/{patient_id}", headers=headers)
    return patient_id


def _verify(settings: Settings) -> tuple[int, str]:
    env = {"KETACLINIC_DATABASE_URL": settings.database_url, "KETACLINIC_SECRET_KEY": "x" * 40}
    result = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    return result.exit_code, result.output


def _tamper(engine: Engine, statement: str) -> None:
    """Bypass the append-only triggers, as an attacker with database access could."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER audit_event_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
        else:
            connection.exec_driver_sql(
                "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"
            )
        connection.execute(text(statement))
        if engine.dialect.name != "sqlite":
            connection.exec_driver_sql(
                "ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"
            )


def test_verify_passes_on_an_intact_trail(busy_trail: int, settings: Settings) -> None:
    code, output = _verify(settings)
    assert code == 0, output
    assert "intact" in output


def test_verify_names_the_first_altered_event(
    busy_trail: int, settings: Settings, engine: Engine
) -> None:
    _tamper(engine, "UPDATE audit_event SET action = 'patient.search' WHERE seq = 3")
    code, output = _verify(settings)
    assert code == 1
    assert "event 3" in output


def test_verify_catches_a_removed_event(
    busy_trail: int, settings: Settings, engine: Engine
) -> None:
    _tamper(engine, "DELETE FROM audit_event WHERE seq = 2")
    code, output = _verify(settings)
    assert code == 1
    assert "event 2 is missing" in output


def test_verify_catches_removal_of_the_newest_events(
    busy_trail: int, settings: Settings, engine: Engine, factory: sessionmaker[Session]
) -> None:
    with factory() as session:
        last = session.execute(text("SELECT max(seq) FROM audit_event")).scalar_one()
    _tamper(engine, f"DELETE FROM audit_event WHERE seq = {last}")
    code, output = _verify(settings)
    assert code == 1
    assert "removed" in output


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"]
)
def test_the_database_refuses_to_change_the_trail(
    busy_trail: int, engine: Engine, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))


def test_a_refused_request_leaves_no_audit_event(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> None:
    headers = token_for(client, make_person(Role.NURSE))
    with factory() as session:
        before = (
            service.verify(session),
            session.execute(text("SELECT count(*) FROM audit_event")).scalar(),
        )
    client.post("/api/v1/patients", json=patient_body(birth_date="2020-01-01"), headers=headers)
    with factory() as session:
        after = (
            service.verify(session),
            session.execute(text("SELECT count(*) FROM audit_event")).scalar(),
        )
    assert before == after


def test_admins_filter_the_trail_by_patient_and_user_and_exports_are_audited(
    client: TestClient,
    busy_trail: int,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    log_in(client, make_person(Role.ADMIN))
    page = client.get("/audit", params={"patient": "MRN-1"})
    assert page.status_code == 200
    assert page.text.count("patient.read") == 1
    assert "patient.create" in page.text
    assert "login.success" not in page.text
    by_user = client.get("/audit", params={"user": "nobody"})
    assert "No events match." in by_user.text
    export = client.get("/audit/export.csv", params={"patient": "MRN-1"})
    assert export.headers["content-type"].startswith("text/csv")
    assert len(export.text.strip().splitlines()) == 3  # header, create, read
    with factory() as session:
        last = session.execute(text("SELECT action FROM audit_event ORDER BY seq DESC")).first()
    assert last is not None and last[0] == "audit.export"


def test_another_clinics_admin_sees_none_of_our_patient_events(
    client: TestClient, busy_trail: int, make_person: Callable[..., Person]
) -> None:
    log_in(client, make_person(Role.ADMIN, clinic="SOUTH"))
    page = client.get("/audit")
    assert "patient.read" not in page.text
