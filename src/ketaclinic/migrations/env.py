"""Alembic environment: the only way the schema is made (``ketaclinic db upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ketaclinic.db import Base
from ketaclinic.schema import import_all_models

import_all_models()
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through ketaclinic.schema.upgrade(), which passes a connection"
    )
run_migrations(connection)
