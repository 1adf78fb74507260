"""Migration 0022 (the appointment book) runs both ways on a database with sessions: the chair
names go back to text, and up again each distinct (clinic, name) becomes one chair record that
its sessions point to, with when the chair is free again backfilled by the booking rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, inspect, text

from ketaclinic import clock, schema
from ketaclinic.schema import current_revision, upgrade
from tests.scheduling.conftest import MONDAY_9, NOW, Desk


def _downgrade(engine: Engine, revision: str) -> None:
    schema.downgrade(engine, revision)  # foreign keys checked at the end on SQLite


def _sessions(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT s.id, c.name, s.chair_held_until FROM infusion_session s "
                    "JOIN chair c ON c.id = s.chair_id ORDER BY s.id"
                )
            )
        )


def test_the_0022_migration_moves_chair_names_to_records_and_back(
    desk: Desk, engine: Engine
) -> None:
    by_name = {c["name"]: c["id"] for c in desk.chairs()}
    with clock.frozen_at(NOW):
        for name, hours in (("Chair 4", 0), ("Chair 2", 0), ("Chair 4", 8)):
            at = MONDAY_9 + timedelta(hours=hours)
            assert desk.book(at, by_name[name]).status_code == 201
    before = _sessions(engine)
    assert len(before) == 3
    try:
        _downgrade(engine, "0021")
        assert current_revision(engine) == "0021"
        assert "chair" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            names = connection.execute(text("SELECT chair FROM infusion_session ORDER BY id"))
            assert [n for (n,) in names] == [name for _, name, _ in before]
    finally:
        upgrade(engine)
    after = _sessions(engine)
    assert [(sid, name) for sid, name, _ in after] == [(sid, name) for sid, name, _ in before]
    assert [held for *_, held in after] == [held for *_, held in before]
    with engine.connect() as connection:
        chairs = connection.execute(text("SELECT name, display_order FROM chair ORDER BY id"))
        assert [tuple(row) for row in chairs] == [("Chair 2", 1), ("Chair 4", 2)]
