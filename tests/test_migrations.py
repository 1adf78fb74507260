"""The migrations make exactly the schema the models describe, on SQLite and PostgreSQL: a model
change without its migration (or the reverse) fails here, not in a clinic's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from ketaclinic.db import Base
from ketaclinic.schema import current_revision, import_all_models


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    import_all_models()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_database_is_at_the_newest_revision(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    from ketaclinic.schema import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"more than one migration head: {heads}"
    assert current_revision(engine) == heads[0]
