"""Applying migrations from code, for the CLI and the tests."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

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
    config = alembic_config()
    settings = settings_of(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if settings is not None:
            config.attributes["audit_key"] = lambda: settings.audit_signing_key
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
