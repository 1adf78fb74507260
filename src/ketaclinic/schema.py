"""Applying migrations from code, for the CLI and the tests."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

from ketaclinic.db import settings_of

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MODEL_MODULES = (
    "ketaclinic.accounts.models",
    "ketaclinic.patients.models",
    "ketaclinic.audit.models",
    "ketaclinic.screening.models",
    "ketaclinic.outcomes.models",
    "ketaclinic.protocols.models",
    "ketaclinic.courses.models",
    "ketaclinic.scheduling.models",
    "ketaclinic.infusions.models",
    "ketaclinic.inventory.models",
    "ketaclinic.inventory.count_models",
    # reminders (issue 13, item 6)
    "ketaclinic.patients.contact_models",
    "ketaclinic.scheduling.reminders_models",
    # HL7 v2 messages (issue 14, item 3)
    "ketaclinic.interop.models",
)


def import_all_models() -> None:
    """Register every table on the shared metadata."""
    for module in MODEL_MODULES:
        importlib.import_module(module)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` in one transaction.

    A migration that must MAC existing audit events asks for the key through
    ``config.attributes["audit_key"]``: it is read (or generated) only then.
    """
    _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` in one transaction (tests of the way down)."""
    _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, step: Callable[[Config], None]) -> None:
    """Run ``step`` in one transaction. On SQLite foreign keys are off meanwhile (they cannot be
    switched inside a transaction): changing a column rebuilds the table (copy, drop, rename),
    and dropping a table that others point to would fail although the copy takes its place.
    Every reference is checked before the commit (``PRAGMA foreign_key_check``) instead."""
    config = alembic_config()
    settings = settings_of(engine)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys(connection, "OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                if settings is not None:
                    config.attributes["audit_key"] = lambda: settings.audit_signing_key
                step(config)
                if sqlite:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if dangling:
                        raise RuntimeError(
                            f"the migration leaves broken references: {dangling[:5]}"
                        )
        finally:
            if sqlite:
                _foreign_keys(connection, "ON")


def _foreign_keys(connection: Connection, state: str) -> None:
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys={state}")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
