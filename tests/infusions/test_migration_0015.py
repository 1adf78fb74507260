"""Migration 0015 (charting corrections) runs both ways on a database with sessions, vitals and
alerts: every row is kept, the new columns are filled from the old ones, and the way down is
refused while an entry is marked entered in error (0014 could not keep the mark)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text

from ketaclinic import schema
from ketaclinic.schema import current_revision, upgrade
from tests.conftest import Person
from tests.infusions.test_api import CALM_VITALS, Team, at

HIGH_BP = {**CALM_VITALS, "systolic_mmhg": 190}


def _downgrade(engine: Engine, revision: str) -> None:
    schema.downgrade(engine, revision)  # foreign keys checked at the end on SQLite


def _columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def _rows(engine: Engine) -> tuple[list[Any], list[Any]]:
    with engine.connect() as connection:
        events = connection.execute(
            text("SELECT id, session_id, kind, at, by_user_id FROM session_event ORDER BY id")
        ).all()
        alerts = connection.execute(
            text("SELECT id, session_id, rule_id, raised_at FROM session_alert ORDER BY id")
        ).all()
    return events, alerts


def _charted_session(
    client: TestClient, make_person: Callable[..., Person]
) -> tuple[Team, int, dict[str, Any]]:
    team = Team(client, make_person)
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(10):
        charted = team.act(sid, "vitals", team.nurse, **HIGH_BP)
    return team, sid, charted


def test_the_0015_migration_keeps_every_event_and_alert_both_ways(
    client: TestClient, engine: Engine, make_person: Callable[..., Person]
) -> None:
    team, sid, charted = _charted_session(client, make_person)
    assert charted["alerts"]
    before = _rows(engine)
    try:
        _downgrade(engine, "0014")
        assert current_revision(engine) == "0014"
        assert "recorded_at" not in _columns(engine, "session_event")
        assert "withdrawn_at" not in _columns(engine, "session_alert")
        assert _rows(engine) == before
    finally:
        upgrade(engine)
    assert _rows(engine) == before
    with engine.connect() as connection:
        unfilled = connection.execute(
            text(
                "SELECT count(*) FROM session_event WHERE recorded_at IS NULL OR recorded_at <> at"
            )
        ).scalar_one()
        alerts = connection.execute(
            text("SELECT observed_at, raised_at, event_id FROM session_alert")
        ).all()
    assert unfilled == 0
    assert [(a.observed_at, a.event_id) for a in alerts] == [(a.raised_at, None) for a in alerts]
    # The record still works: the old reading can be marked entered in error.
    reading = [e for e in charted["events"] if e["kind"] == "vitals"][-1]
    url = f"/api/v1/sessions/{sid}/entries/{reading['id']}/entered-in-error"
    marked = client.post(url, json={"reason": "wrong patient"}, headers=team.nurse)
    assert marked.status_code == 200, marked.text


def test_the_way_down_is_refused_while_an_entry_is_marked_entered_in_error(
    client: TestClient, engine: Engine, make_person: Callable[..., Person]
) -> None:
    team, sid, charted = _charted_session(client, make_person)
    reading = [e for e in charted["events"] if e["kind"] == "vitals"][-1]
    url = f"/api/v1/sessions/{sid}/entries/{reading['id']}/entered-in-error"
    assert client.post(url, json={"reason": "wrong patient"}, headers=team.nurse).status_code == 200
    head = current_revision(engine)
    with pytest.raises(RuntimeError, match="1 charted entries are marked entered in error"):
        _downgrade(engine, "0014")
    assert current_revision(engine) == head
    with engine.connect() as connection:
        kept = connection.execute(
            text("SELECT entered_in_error_reason FROM session_event WHERE id = :id"),
            {"id": reading["id"]},
        ).scalar_one()
    assert kept == "wrong patient"
