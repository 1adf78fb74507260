"""Nurses charting the same patient at the same moment, through the app, on SQLite and
PostgreSQL: observations (vitals, side effects, adjuncts, alerts acknowledged) never conflict and
leave the session's version alone; moves still check it; a per-session limit holds when two doses
arrive at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from tests.conftest import Person, token_for
from tests.infusions.test_api import CALM_VITALS, CHECK_IN, Team, at

NURSES = 8
MIDAZOLAM = {"drug": "midazolam", "dose": "2", "unit": "mg", "route": "IV", "reason": "anxious"}


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The app with a long SQLite busy timeout: eight writers queue for SQLite's one write lock,
    and on a busy machine the default 5 s may not be enough for the last of them."""
    application = create_app(settings.model_copy(update={"sqlite_busy_timeout_ms": 600_000}))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def _checked_in(team: Team) -> int:
    with at(-30):
        sid = team.schedule()
        team.act(sid, "check-in", team.nurse, **CHECK_IN)
    return sid


def _at_once(
    app: FastAPI, calls: list[tuple[str, dict[str, Any], dict[str, str]]]
) -> list[httpx.Response]:
    """Post every (url, body, headers) from its own thread and client, released together."""
    barrier = threading.Barrier(len(calls))

    def post(call: tuple[str, dict[str, Any], dict[str, str]]) -> httpx.Response:
        url, body, headers = call
        try:
            own = TestClient(app)
        except BaseException:
            barrier.abort()
            raise
        barrier.wait()
        return own.post(url, json=body, headers=headers)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(post, calls))


def _session(team: Team, sid: int) -> dict[str, Any]:
    response = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _kinds(session: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in session["events"] if e["kind"] == kind]


def test_eight_nurses_charting_vitals_at_once_all_succeed_and_every_entry_is_stored(
    app: FastAPI, team: Team, make_person: Callable[..., Person]
) -> None:
    sid = _checked_in(team)
    before = _session(team, sid)
    nurses = [token_for(team.client, make_person(Role.NURSE)) for _ in range(NURSES)]
    url = f"/api/v1/sessions/{sid}/vitals"
    calls = [
        (url, {**CALM_VITALS, "heart_rate_per_min": 60 + i, "version": before["version"]}, nurse)
        for i, nurse in enumerate(nurses)
    ]
    with at(5):
        responses = _at_once(app, calls)
    assert [r.status_code for r in responses] == [200] * NURSES, [r.text for r in responses]
    after = _session(team, sid)
    new = _kinds(after, "vitals")[len(_kinds(before, "vitals")) :]
    assert sorted(e["data"]["heart_rate_per_min"] for e in new) == list(range(60, 60 + NURSES))
    assert after["version"] == before["version"]


def test_side_effects_adjuncts_and_vitals_charted_at_once_all_succeed(
    app: FastAPI, team: Team, make_person: Callable[..., Person]
) -> None:
    sid = _checked_in(team)
    before = _session(team, sid)
    nurses = [token_for(team.client, make_person(Role.NURSE)) for _ in range(3)]
    base = f"/api/v1/sessions/{sid}"
    calls = [
        (f"{base}/vitals", {**CALM_VITALS, "version": before["version"]}, nurses[0]),
        (
            f"{base}/side-effects",
            {"assessments": [{"effect": "nausea_vomiting", "grade": "mild"}]},
            nurses[1],
        ),
        (f"{base}/adjunct-medications", {**MIDAZOLAM, "version": 1}, nurses[2]),
    ]
    with at(5):
        responses = _at_once(app, calls)
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    after = _session(team, sid)
    for kind in ("vitals", "side_effects", "adjunct"):
        assert len(_kinds(after, kind)) == len(_kinds(before, kind)) + 1, kind
    assert after["version"] == before["version"]


def test_a_move_decided_on_a_version_goes_through_after_charting_and_a_stale_one_is_refused(
    team: Team,
) -> None:
    with at(-30):
        sid = team.schedule()
        scheduled = _session(team, sid)["version"]
        checked_in = team.act(sid, "check-in", team.nurse, version=scheduled, **CHECK_IN)
        seen = checked_in["version"]
        # A nurse still on the page drawn before the check-in charts vitals: no conflict.
        charted = team.act(sid, "vitals", team.nurse, version=scheduled, **CALM_VITALS)
        assert charted["version"] == seen
        ordered = team.act(sid, "order", team.physician, version=seen)
    assert ordered["version"] > seen
    stale = team.client.post(
        f"/api/v1/sessions/{sid}/abort",
        json={"version": seen, "reason": "decided on an old page"},
        headers=team.nurse,
    )
    assert stale.status_code == 409
    assert stale.json()["detail"][0]["loc"] == ["body", "version"]
    assert _session(team, sid)["state"] == "checked_in"


def test_two_adjunct_doses_at_once_never_both_pass_the_session_limit(
    app: FastAPI, team: Team, make_person: Callable[..., Person]
) -> None:
    sid = _checked_in(team)
    url = f"/api/v1/sessions/{sid}/adjunct-medications"
    with at(0):
        team.act(sid, "adjunct-medications", team.nurse, **MIDAZOLAM)  # 2 of 4 mg
    nurses = [token_for(team.client, make_person(Role.NURSE)) for _ in range(2)]
    with at(5):
        responses = _at_once(app, [(url, MIDAZOLAM, nurse) for nurse in nurses])
    assert sorted(r.status_code for r in responses) == [200, 422], [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 422)
    assert "over the maximum session dose of 4 mg" in refused.json()["detail"][0]["msg"]
    doses = [e["data"]["dose"] for e in _kinds(_session(team, sid), "adjunct")]
    assert doses == ["2", "2"]


def test_an_alert_acknowledged_by_two_nurses_at_once_is_acknowledged_once(
    app: FastAPI, team: Team, make_person: Callable[..., Person]
) -> None:
    sid = _checked_in(team)
    with at(0):
        high = {**CALM_VITALS, "systolic_mmhg": 190, "diastolic_mmhg": 105}
        alerted = team.act(sid, "vitals", team.nurse, **high)
    alert_id = alerted["alerts"][0]["id"]
    url = f"/api/v1/sessions/{sid}/alerts/{alert_id}/acknowledge"
    nurses = [token_for(team.client, make_person(Role.NURSE)) for _ in range(2)]
    with at(5):
        responses = _at_once(app, [(url, {}, nurse) for nurse in nurses])
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    after = _session(team, sid)
    assert after["alerts"][0]["acknowledged_at"] is not None
    assert after["version"] == alerted["version"]


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)  # row locks are PostgreSQL's
def test_an_adjunct_waits_for_a_dose_being_charted_and_is_judged_with_it(
    app: FastAPI,
    team: Team,
    engine: Engine,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
) -> None:
    """Deterministic on PostgreSQL: a colleague's transaction holds the session row (as the app
    does while charting a dose) with a dose not yet committed. The request must wait for it and
    then refuse: judged before the commit, it would have seen 2 mg given and passed. (SQLite has
    one writer at a time by design: the concurrent test above covers it.)"""
    sid = _checked_in(team)
    with at(0):
        team.act(sid, "adjunct-medications", team.nurse, **MIDAZOLAM)  # 2 of 4 mg
    colleague = make_person(Role.NURSE)
    url = f"/api/v1/sessions/{sid}/adjunct-medications"
    auth = token_for(team.client, make_person(Role.NURSE))
    with at(5), factory() as held:
        row = held.get(InfusionSession, sid, with_for_update=True)
        assert row is not None
        row.events.append(
            SessionEvent(
                kind="adjunct",
                at=clock.now(),
                by_user_id=colleague.user_id,
                reason="anxious",
                data={"drug": "midazolam", "dose": "2", "unit": "mg", "route": "IV"},
            )
        )
        held.flush()
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(TestClient(app).post, url, json=MIDAZOLAM, headers=auth)
            _wait_until_blocked_or_done(engine, pending)
            held.commit()
            response = pending.result()
    assert response.status_code == 422, response.text
    assert "over the maximum session dose of 4 mg" in response.json()["detail"][0]["msg"]


def _wait_until_blocked_or_done(engine: Engine, pending: Future[Any]) -> None:
    """Until the request waits on a lock in the database, or has finished without waiting."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as watcher:
        while not pending.done() and not watcher.execute(query).scalar():
            watcher.rollback()
            time.sleep(0.01)
