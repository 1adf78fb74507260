"""The ledger as the database keeps it, on SQLite and PostgreSQL: append-only whatever the
application does, two draws of the last vial at once leave exactly one standing, and migration
0019 runs both ways."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DatabaseError

from ketaclinic import schema
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.schema import current_revision, upgrade
from tests.conftest import Person
from tests.infusions.test_api import at
from tests.inventory.helpers import API, Stock


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """Two writers queue for SQLite's one write lock: a long busy timeout keeps a slow machine
    from turning the wait into a 503."""
    application = create_app(settings.model_copy(update={"sqlite_busy_timeout_ms": 600_000}))
    yield application
    application.state.engine.dispose()


@pytest.mark.parametrize(
    "statement", ["UPDATE ledger_entry SET quantity_mg = 1", "DELETE FROM ledger_entry"]
)
def test_the_database_refuses_to_change_or_remove_a_ledger_entry(
    stock: Stock, engine: Engine, statement: str
) -> None:
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM ledger_entry")).scalar() == 1


def test_the_database_refuses_to_truncate_the_ledger_on_postgresql(
    stock: Stock, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        # CASCADE: other tables (discrepancies, disposals) point to entries; it is refused all the same
        connection.execute(text("TRUNCATE ledger_entry CASCADE"))


def test_two_nurses_drawing_the_last_vial_at_once_exactly_one_succeeds(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    """Two vials on the shelf; one is drawn; two nurses then reach for the last one together."""
    team = stock.team
    with at(-30):
        first, second, third = (team.schedule() for _ in range(3))
        stock.draw(first, containers=1)
        body = {"lot_id": stock.lot_id, "location_id": stock.safe["id"], "containers": 1}
        barrier = threading.Barrier(2)

        def reach(sid: int) -> httpx.Response:
            with TestClient(app) as own:
                barrier.wait()
                return own.post(f"{API}/sessions/{sid}/draws", json=body, headers=team.nurse)

        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(reach, (second, third)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 422], [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 422)
    assert "is not on hand at this location" in refused.json()["detail"][0]["msg"]
    assert ("K-001", "Safe A") not in stock.balance()  # exactly zero left, never below


def _downgrade(engine: Engine, revision: str) -> None:
    schema.downgrade(engine, revision)  # foreign keys checked at the end on SQLite


def test_the_0019_migration_runs_both_ways(stock: Stock, engine: Engine) -> None:
    try:
        _downgrade(engine, "0018")
        assert current_revision(engine) == "0018"
        assert "ledger_entry" not in inspect(engine).get_table_names()
    finally:
        upgrade(engine)
    assert "ledger_entry" in inspect(engine).get_table_names()
    assert _ledger_triggers(engine) == _EXPECTED_TRIGGERS[engine.dialect.name]


_EXPECTED_TRIGGERS = {
    "sqlite": ["ledger_entry_no_delete", "ledger_entry_no_update"],
    "postgresql": ["ledger_entry_append_only", "ledger_entry_no_truncate"],
}


def _ledger_triggers(engine: Engine) -> list[str]:
    """The triggers on the ledger, read from the database's own catalogue."""
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'ledger_entry'",
        "postgresql": "SELECT tgname FROM pg_trigger WHERE tgrelid = 'ledger_entry'::regclass "
        "AND NOT tgisinternal",
    }[engine.dialect.name]
    with engine.connect() as connection:
        return sorted(connection.execute(text(query)).scalars())
