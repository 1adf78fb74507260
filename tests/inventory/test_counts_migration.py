"""Migration 0020 (counts, discrepancies, disposals) runs both ways, on SQLite and PostgreSQL,
with a count and its discrepancy in the tables."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from ketaclinic.schema import current_revision, upgrade
from tests.infusions.test_api import at
from tests.inventory.helpers import Stock
from tests.inventory.test_ledger import _downgrade

TABLES = {
    "stock_count",
    "stock_count_line",
    "stock_discrepancy",
    "stock_disposal",
    "stock_disposal_line",
}


def test_the_0020_migration_runs_both_ways(stock: Stock, engine: Engine) -> None:
    line = {"lot_id": stock.lot_id, "location_id": stock.safe["id"], "sealed_containers": 1}
    body = {"kind": "initial", "timing": "opening", "lines": [line], "witness": stock.witness}
    with at(0):
        stock.post("/counts", body, stock.team.nurse)
    try:
        _downgrade(engine, "0019")
        assert current_revision(engine) == "0019"
        assert TABLES & set(inspect(engine).get_table_names()) == set()
        assert "ledger_entry" in inspect(engine).get_table_names()
    finally:
        upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
