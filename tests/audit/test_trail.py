"""The audit trail in a real database: append-only, sealed, verifiable, visible to admins."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.audit import sealing, service
from ketaclinic.audit.models import AuditEvent, AuditSeal
from ketaclinic.audit.sealer import BackgroundSealer
from ketaclinic.cli import app as cli
from ketaclinic.config import Settings
from ketaclinic.db import transaction
from ketaclinic.web.csv_export import FORMULA_STARTS
from tests.conftest import Person, cli_env, log_in, patient_body, token_for


@pytest.fixture
def busy_trail(client: TestClient, make_person: Callable[..., Person]) -> int:
    """A trail with logins, a patient created and read; returns the patient id."""
    headers = token_for(client, make_person(Role.NURSE))
    patient_id: int = client.post("/api/v1/patients", json=patient_body(), headers=headers).json()[
        "id"
    ]
    client.get(f"/api/v1/patients/{patient_id}", headers=headers)
    return patient_id


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args], env=cli_env(settings))
    return result.exit_code, result.output


def _seal(factory: sessionmaker[Session]) -> None:
    assert sealing.seal_pending(factory) >= 1


def _checkpoint(settings: Settings, tmp_path: Path) -> Path:
    path = tmp_path / "checkpoint.json"
    code, output = _cli(settings, "checkpoint", "--out", str(path))
    assert code == 0, output
    return path


def _ids(factory: sessionmaker[Session]) -> list[int]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def _tamper(engine: Engine, *statements: str) -> None:
    """Bypass the append-only triggers, as an attacker with database access could."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            for table in ("audit_event", "audit_seal"):
                for verb in ("update", "delete"):
                    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        else:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for statement in statements:
            connection.execute(text(statement))


def _more_events(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        for action in ("test.one", "test.two"):
            service.record(session, actor=Actor(None, "system", None, None), action=action)


def test_verify_passes_on_an_intact_trail_sealed_or_not(
    busy_trail: int, settings: Settings, factory: sessionmaker[Session]
) -> None:
    code, output = _cli(settings, "verify")
    assert code == 0, output
    assert "intact" in output and "events not sealed yet" in output
    _seal(factory)
    code, output = _cli(settings, "verify", "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["intact"] and summary["unsealed_events"] == 0 and summary["seals"] >= 1


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "not-sealed"])
def test_verify_names_a_changed_event(
    busy_trail: int,
    settings: Settings,
    engine: Engine,
    factory: sessionmaker[Session],
    sealed: bool,
) -> None:
    if sealed:
        _seal(factory)
    victim = _ids(factory)[2]
    _tamper(engine, f"UPDATE audit_event SET action = 'patient.search' WHERE id = {victim}")
    code, output = _cli(settings, "verify")
    assert code == 1
    assert f"event {victim}: its content does not match its MAC" in output


def test_verify_catches_a_deleted_event_in_the_middle(
    busy_trail: int, settings: Settings, engine: Engine, factory: sessionmaker[Session]
) -> None:
    _seal(factory)
    victim = _ids(factory)[1]
    _tamper(engine, f"DELETE FROM audit_event WHERE id = {victim}")
    code, output = _cli(settings, "verify")
    assert code == 1
    assert "seal 1: its events were deleted" in output


def test_verify_catches_the_newest_event_deleted(
    busy_trail: int, settings: Settings, engine: Engine, factory: sessionmaker[Session]
) -> None:
    _seal(factory)
    _tamper(engine, f"DELETE FROM audit_event WHERE id = {_ids(factory)[-1]}")
    code, output = _cli(settings, "verify")
    assert code == 1
    assert "were deleted" in output


def test_removing_the_newest_seal_and_its_events_is_caught_by_the_checkpoint(
    busy_trail: int,
    settings: Settings,
    engine: Engine,
    factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    _seal(factory)
    first_seal_ends = _ids(factory)[-1]
    _more_events(factory)
    checkpoint = _checkpoint(settings, tmp_path)
    _tamper(
        engine,
        f"DELETE FROM audit_event WHERE id > {first_seal_ends}",
        "DELETE FROM audit_seal WHERE seq > 1",
    )
    assert _cli(settings, "verify")[0] == 0  # consistent in itself: the database alone can't tell
    code, output = _cli(settings, "verify", "--checkpoint", str(checkpoint))
    assert code == 1
    assert "checkpoint (seal 2)" in output and "were removed" in output


def test_an_emptied_trail_is_caught_with_or_without_a_checkpoint(
    busy_trail: int,
    settings: Settings,
    engine: Engine,
    factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    checkpoint = _checkpoint(settings, tmp_path)
    _tamper(engine, "DELETE FROM audit_event", "DELETE FROM audit_seal")
    code, output = _cli(settings, "verify")
    assert code == 1 and "it is empty, yet the database holds" in output
    code, output = _cli(settings, "verify", "--checkpoint", str(checkpoint))
    assert code == 1 and "checkpoint (seal 1)" in output


@pytest.mark.postgres
def test_postgres_refuses_truncate_and_a_truncated_trail_is_caught(
    busy_trail: int, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE triggers are PostgreSQL's; SQLite has no TRUNCATE")
    checkpoint = _checkpoint(settings, tmp_path)
    for table in ("audit_event", "audit_seal"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {table}"))
    _tamper(engine, "TRUNCATE audit_event, audit_seal")
    code, output = _cli(settings, "verify", "--checkpoint", str(checkpoint))
    assert code == 1
    assert "checkpoint (seal 1)" in output and "it is empty" in output


def test_a_chain_rewritten_without_the_key_is_caught(
    busy_trail: int, settings: Settings, engine: Engine, factory: sessionmaker[Session]
) -> None:
    _seal(factory)
    victim = _ids(factory)[0]
    forged = {
        **cli_env(settings),
        "KETACLINIC_AUDIT_KEY": "an-attackers-guess-at-the-key-0123456789",
    }
    _tamper(engine, f"DELETE FROM audit_event WHERE id = {victim}", "DELETE FROM audit_seal")
    result = CliRunner().invoke(cli, ["audit", "seal"], env=forged)  # re-seal with a guessed key
    assert result.exit_code == 0, result.output
    code, output = _cli(settings, "verify")
    assert code == 1
    assert "seal 1: its content does not match its MAC" in output


def test_a_chain_rewritten_with_the_key_is_caught_by_an_earlier_checkpoint(
    busy_trail: int,
    settings: Settings,
    engine: Engine,
    factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    checkpoint = _checkpoint(settings, tmp_path)
    victim = _ids(factory)[0]
    _tamper(engine, f"DELETE FROM audit_event WHERE id = {victim}", "DELETE FROM audit_seal")
    _seal(factory)  # an insider who holds the key re-seals what is left
    assert _cli(settings, "verify")[0] == 0
    code, output = _cli(settings, "verify", "--checkpoint", str(checkpoint))
    assert code == 1
    assert "the seal named by the checkpoint differs" in output


def test_checkpoint_and_verify_refuse_bad_files_with_exit_2(
    busy_trail: int, settings: Settings, tmp_path: Path
) -> None:
    existing = _checkpoint(settings, tmp_path)
    assert _cli(settings, "checkpoint", "--out", str(existing))[0] == 2
    assert _cli(settings, "checkpoint", "--out", str(tmp_path / "no" / "such.json"))[0] == 2
    assert _cli(settings, "verify", "--checkpoint", str(tmp_path / "missing.json"))[0] == 2
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    code, output = _cli(settings, "verify", "--checkpoint", str(garbage))
    assert code == 2 and "malformed" in output
    forged = tmp_path / "forged.json"
    forged.write_text(existing.read_text().replace('"last_event_id": ', '"last_event_id": 1'))
    code, output = _cli(settings, "verify", "--checkpoint", str(forged))
    assert code == 1 and "signature is wrong" in output


def test_a_checkpoint_of_an_empty_trail_is_refused(settings: Settings, tmp_path: Path) -> None:
    code, output = _cli(settings, "checkpoint", "--out", str(tmp_path / "c.json"))
    assert code == 2 and "nothing is sealed yet" in output


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"]
)
def test_the_database_refuses_to_change_events(
    busy_trail: int, engine: Engine, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))


@pytest.mark.parametrize("statement", ["UPDATE audit_seal SET mac = 'x'", "DELETE FROM audit_seal"])
def test_the_database_refuses_to_change_seals(
    busy_trail: int, engine: Engine, factory: sessionmaker[Session], statement: str
) -> None:
    _seal(factory)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))


def test_events_of_a_transaction_go_in_together_and_vanish_with_a_rollback(
    factory: sessionmaker[Session],
) -> None:
    with factory() as session:
        with session.begin():
            _system_event(session, "test.kept.1")
            _system_event(session, "test.kept.2")
        with pytest.raises(RuntimeError), session.begin():
            _system_event(session, "test.dropped")
            raise RuntimeError("the change failed")
        with session.begin():
            _system_event(session, "test.kept.3")
    with factory() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["test.kept.1", "test.kept.2", "test.kept.3"]


def test_every_event_lands_in_exactly_one_seal(
    busy_trail: int, factory: sessionmaker[Session]
) -> None:
    _seal(factory)
    _more_events(factory)
    _seal(factory)
    with factory() as session:
        seals = session.scalars(select(AuditSeal).order_by(AuditSeal.seq)).all()
        events = session.scalar(select(func.count()).select_from(AuditEvent))
    assert [s.seq for s in seals] == [1, 2]
    assert sum(s.event_count for s in seals) == events
    assert seals[1].key_from == seals[0].key_to
    assert sealing.seal_pending(factory) == 0  # nothing left


def test_a_refused_request_leaves_no_audit_event(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> None:
    headers = token_for(client, make_person(Role.NURSE))
    before = _ids(factory)
    client.post("/api/v1/patients", json=patient_body(birth_date="2020-01-01"), headers=headers)
    assert _ids(factory) == before


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
    assert client.get("/audit", params={"patient": "9" * 40}).status_code == 200
    export = client.get("/audit/export.csv", params={"patient": "MRN-1"})
    assert export.headers["content-type"].startswith("text/csv")
    assert len(export.text.strip().splitlines()) == 3  # header, create, read
    with factory() as session:
        last = session.execute(text("SELECT action FROM audit_event ORDER BY id DESC")).first()
    assert last is not None and last[0] == "audit.export"


def test_the_trail_page_says_how_far_it_is_sealed(
    client: TestClient,
    busy_trail: int,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    log_in(client, make_person(Role.ADMIN))
    assert "nothing is sealed yet" in client.get("/audit").text
    _seal(factory)
    assert "the newest seal is 1" in client.get("/audit").text


def test_another_clinics_admin_sees_none_of_our_patient_events(
    client: TestClient, busy_trail: int, make_person: Callable[..., Person]
) -> None:
    log_in(client, make_person(Role.ADMIN, clinic="SOUTH"))
    page = client.get("/audit")
    assert "patient.read" not in page.text


def test_failed_logins_for_unknown_usernames_are_the_systems_not_any_clinics(
    client: TestClient,
    make_person: Callable[..., Person],
    settings: Settings,
) -> None:
    typed = "no.such.person"
    client.post("/api/v1/auth/token", data={"username": typed, "password": "whatever-it-is"})
    for clinic in ("NORTH", "SOUTH"):
        admin = TestClient(client.app)
        log_in(admin, make_person(Role.ADMIN, clinic=clinic))
        assert typed not in admin.get("/audit").text
        assert typed not in admin.get("/audit/export.csv").text
    code, output = _cli(settings, "system", "--json")
    assert code == 0
    assert [row["username"] for row in json.loads(output)] == [typed]


def test_the_csv_export_neutralises_formulas(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> None:
    admin = make_person(Role.ADMIN)
    formulas = ['=HYPERLINK("http://evil.example","x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    with transaction(factory) as session:
        clinic_id = session.scalar(text("SELECT id FROM clinic WHERE code = 'NORTH'"))
        for typed in formulas:
            actor = Actor(None, None, None, clinic_id)
            service.record(session, actor=actor, action="login.failure", username=typed)
    log_in(client, admin)
    rows = list(csv.DictReader(io.StringIO(client.get("/audit/export.csv").text, newline="")))
    usernames = [row["username"] for row in rows if row["action"] == "login.failure"]
    assert sorted(usernames) == sorted(f"'{typed}" for typed in formulas)
    assert all(not cell.startswith(FORMULA_STARTS) for row in rows for cell in row.values())


def _system_event(session: Session, action: str) -> None:
    service.record(session, actor=Actor(None, "system", None, None), action=action)


@pytest.mark.postgres
def test_an_event_of_a_transaction_still_open_waits_for_the_next_seal(
    busy_trail: int, engine: Engine, factory: sessionmaker[Session]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: a sealer cannot run beside an open write")
    with factory() as slow, slow.begin():
        _system_event(slow, "test.slow")
        service.write_pending(slow)  # written first (as a long request would), committed last
        with transaction(factory) as quick:
            _system_event(quick, "test.quick")
        _seal(factory)
        with factory() as session:
            sealed = session.scalar(select(func.sum(AuditSeal.event_count)))
            total = session.scalar(select(func.count()).select_from(AuditEvent))
        # The open transaction holds back the seal: neither its event nor the later one is in.
        assert sealed == total - 1
    _seal(factory)
    with factory() as session:
        assert sealing.verify(session).intact
        assert session.scalar(select(func.sum(AuditSeal.event_count))) == session.scalar(
            select(func.count()).select_from(AuditEvent)
        )


@pytest.mark.postgres
def test_two_writers_append_events_without_waiting_for_each_other(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time by design")
    with factory() as first, first.begin():
        _system_event(first, "test.first")
        service.write_pending(first)  # inserted, not committed
        with factory() as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            _system_event(second, "test.second")
            service.write_pending(second)  # would time out if both touched one row
        _system_event(first, "test.first-again")
    with factory() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["test.first", "test.second", "test.first-again"]


def test_the_background_sealer_seals_what_is_written_and_once_more_when_stopped(
    busy_trail: int, factory: sessionmaker[Session]
) -> None:
    sealer = BackgroundSealer(factory, interval_s=3600)  # only the final round runs here
    sealer.start()
    with transaction(factory) as session:
        _system_event(session, "test.late")
    sealer.stop()
    with factory() as session:
        verdict = sealing.verify(session)
    assert verdict.intact and verdict.unsealed_events == 0


def test_the_app_seals_in_the_background_while_it_serves(settings: Settings) -> None:
    from ketaclinic.app import create_app

    app = create_app(settings.model_copy(update={"audit_seal_interval_s": 0.05}))
    with TestClient(app) as client:
        client.post("/api/v1/auth/token", data={"username": "ghost", "password": "whatever-1"})
    with app.state.session_factory() as session:
        verdict = sealing.verify(session)
    app.state.engine.dispose()
    assert verdict.intact and verdict.events_checked == 1 and verdict.unsealed_events == 0
