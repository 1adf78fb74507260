"""The test suite's shared databases (``own_database`` with ``refuse_writes``, used where one
seeded database serves several tests) cannot be changed by a test that shares them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ketaclinic.accounts import service as accounts
from ketaclinic.accounts.models import Clinic
from ketaclinic.db import begin_read_only, engine_scope, make_session_factory, transaction
from tests.conftest import own_database, refuse_writes


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_shared_database_reads_what_was_seeded_and_refuses_every_write(
    kind: str, tmp_path: Path, sqlite_template: Path
) -> None:
    with own_database(kind, tmp_path, sqlite_template) as settings:
        with (
            engine_scope(settings) as engine,
            transaction(make_session_factory(engine)) as session,
        ):
            accounts.ensure_clinic(session, code="SHARED")
        with engine_scope(settings) as engine:
            refuse_writes(engine)
            with make_session_factory(engine)() as session:
                begin_read_only(session)
                assert session.scalar(select(func.count()).select_from(Clinic)) == 1
                with pytest.raises(DBAPIError, match=r"read-?only"):
                    session.execute(text("DELETE FROM clinic"))
