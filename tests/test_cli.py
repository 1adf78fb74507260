"""The ketaclinic command: exit codes and what it writes."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from typer.testing import CliRunner

from ketaclinic.accounts.models import Clinic, User
from ketaclinic.cli import app
from ketaclinic.config import Settings
from ketaclinic.db import engine_scope, make_session_factory
from ketaclinic.demo import CONDITIONS
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.patients.models import Diagnosis, Patient
from ketaclinic.schema import alembic_config
from tests.conftest import cli_env

runner = CliRunner()


def _env(settings: Settings) -> dict[str, str]:
    return cli_env(settings)


def test_db_upgrade_makes_the_schema_on_an_empty_database(tmp_path: Path) -> None:
    env = {"KETACLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"revision {head}" in result.output
    assert (tmp_path / "ketaclinic.secret").exists() is False  # no key needed to migrate


def test_user_create_reads_the_password_from_stdin_and_creates_the_clinic(
    settings: Settings,
) -> None:
    result = runner.invoke(
        app,
        ["user", "create", "rn.lee", "--role", "nurse", "--clinic", "EAST"],
        input="a long enough password\n",
        env=_env(settings),
    )
    assert result.exit_code == 0, result.output
    with engine_scope(settings) as engine, make_session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.username == "rn.lee"))
        assert user is not None and user.role == "nurse"
        assert user.clinic.code == "EAST"
        assert user.password_hash.startswith("$argon2id$")


def test_user_create_refuses_bad_input_with_exit_code_2(settings: Settings) -> None:
    cases = [
        (["rn.x", "--role", "wizard", "--clinic", "EAST"], "long enough password", "unknown role"),
        (["rn.y", "--role", "nurse", "--clinic", "EAST"], "short", "at least 10"),
        (["bad name", "--role", "nurse", "--clinic", "EAST"], "long enough password", "username"),
    ]
    for args, password, reason in cases:
        result = runner.invoke(
            app, ["user", "create", *args], input=password + "\n", env=_env(settings)
        )
        assert result.exit_code == 2, result.output
        assert reason in result.output


def test_demo_seeds_staff_a_portal_patient_and_every_condition(settings: Settings) -> None:
    result = runner.invoke(app, ["demo"], env=_env(settings))
    assert result.exit_code == 0, result.output
    for username in ("demo.admin", "demo.physician", "demo.nurse", "demo.staff", "demo.patient"):
        assert username in result.output
    with engine_scope(settings) as engine, make_session_factory(engine)() as session:
        assert (session.scalar(select(func.count()).select_from(Patient)) or 0) >= 40
        codes = set(session.scalars(select(Diagnosis.code)))
        assert all(codes & set(condition_codes) for _, condition_codes in CONDITIONS)
        names = session.scalars(select(Patient.family_name)).all()
        assert all(name.startswith("Synthetic-") for name in names)
        portal = session.scalar(select(User).where(User.username == "demo.patient"))
        assert portal is not None and portal.patient_id is not None
        assert session.scalar(select(func.count()).select_from(Clinic)) == 1
        # Today's floor (sessions outside any course; the seeded history is all in courses): one
        # chair in each state of the day, and two sessions later today.
        floor = InfusionSession.course_id.is_(None)
        states = session.scalars(select(InfusionSession.state).where(floor)).all()
        assert sorted(states) == sorted(
            ["observing", "infusing", "checked_in", "checked_in", "scheduled", "scheduled"]
        )
    again = runner.invoke(app, ["demo"], env=_env(settings))
    assert "already seeded" in again.output
    with engine_scope(settings) as engine, make_session_factory(engine)() as session:
        total = session.scalar(select(func.count()).select_from(InfusionSession).where(floor))
        assert total == len(states)  # today's floor is seeded once a day
    fresh = runner.invoke(app, ["demo", "--new-passwords"], env=_env(settings))
    assert "demo.nurse" in fresh.output


def test_a_bad_setting_exits_2_naming_it(tmp_path: Path) -> None:
    env = {
        "KETACLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "KETACLINIC_CLINIC_TIMEZONE": "Mars/Base",
    }
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 2
    assert "KETACLINIC_CLINIC_TIMEZONE" in result.output


def test_production_without_secure_cookies_exits_2(tmp_path: Path) -> None:
    env = {
        "KETACLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "KETACLINIC_ENVIRONMENT": "production",
    }
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 2
    assert "secure_cookies must be true" in result.output


def test_a_patient_record_gets_one_portal_account(settings: Settings) -> None:
    assert runner.invoke(app, ["demo"], env=_env(settings)).exit_code == 0
    args = ["user", "create", "second.login", "--role", "patient", "--clinic", "DEMO"]
    result = runner.invoke(
        app,
        [*args, "--patient-mrn", "DEMO-0001"],  # the demo's portal patient already has one
        input="a long enough password\n",
        env=_env(settings),
    )
    assert result.exit_code == 2, result.output
    assert "already has an account" in result.output
