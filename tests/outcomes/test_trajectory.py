"""The patient's trajectory on the patient page, on SQLite and PostgreSQL: scores over time, each
session's before/after pair, sessions marked, and the patient's goal."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.infusions.discharge import MIN_OBSERVATION_MIN
from ketaclinic.outcomes.core import pain_response
from tests.conftest import Person, csrf_from, log_in, token_for
from tests.infusions.test_api import CHECK_IN, T0, Team, at
from tests.infusions.test_check_in_and_discharge import DISCHARGE


def _chart(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="trajectory-data" type="application/json">(.*?)</script>', html)
    assert match, "no trajectory data on the page"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def _discharged_session(team: Team) -> int:
    with at(-20):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(40):
        team.act(sid, "stop", team.nurse)
    with at(40 + MIN_OBSERVATION_MIN):
        team.act(sid, "discharge", team.nurse, **DISCHARGE)
    return sid


def test_the_patient_page_draws_each_sessions_before_and_after_and_marks_it(
    app: FastAPI, client: TestClient, make_person: Callable[..., Person]
) -> None:
    team = Team(client, make_person)
    sid = _discharged_session(team)
    browser = TestClient(app)
    log_in(browser, make_person(Role.NURSE))
    data = _chart(browser.get(f"/patients/{team.patient_id}").text)

    pain = next(s for s in data["series"] if s["name"] == "Pain NRS")
    assert pain["y"] == [float(CHECK_IN["pain_nrs"]), float(DISCHARGE["pain_nrs"])]
    [pain_pair] = [p for p in data["pairs"] if p["name"] == "Pain NRS"]
    assert pain_pair["session_id"] == sid
    assert pain_pair["change"] == str(DISCHARGE["pain_nrs"] - CHECK_IN["pain_nrs"])
    phq9 = next(s for s in data["series"] if s["name"] == "PHQ-9")
    assert phq9["y"] == [float(sum(CHECK_IN["mood"]["answers"]))] * 2  # same answers before/after
    assert [s["id"] for s in data["sessions"]] == [sid]
    assert data["sessions"][0]["phase"] == "no course"
    assert data["goal"] is None
    # No baseline questionnaire: the first pain score (before the session) is the baseline.
    summary = data["summary"]
    before, after = Fraction(CHECK_IN["pain_nrs"]), Fraction(DISCHARGE["pain_nrs"])
    assert summary["pain"]["baseline"] == str(before)
    assert summary["pain"]["verdict"] == pain_response(before, after).value
    assert summary["sessions_paired"] == 1
    assert summary["mean_session_change"] == str(after - before)
    assert "70 %" in summary["relief"]  # pain has not come back since


def test_a_goal_is_saved_drawn_and_audited_and_a_bad_target_is_refused(
    app: FastAPI,
    client: TestClient,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    team = Team(client, make_person)
    browser = TestClient(app)
    log_in(browser, make_person(Role.PHYSICIAN))
    page = browser.get(f"/patients/{team.patient_id}").text
    url = f"/patients/{team.patient_id}/goals"
    form = {"csrf_token": csrf_from(page), "goal_text": "Walk the dog every morning"}
    bad = browser.post(url, data={**form, "target_pain_nrs": "11"}, follow_redirects=False)
    assert bad.status_code == 422
    assert re.search(r'id="e-target_pain_nrs">[^<]*0–10', bad.text)  # next to its field
    assert 'value="Walk the dog every morning"' in bad.text  # what was typed is kept
    blank = browser.post(url, data={**form, "goal_text": " "}, follow_redirects=False)
    assert blank.status_code == 422
    assert 'id="e-goal_text"' in blank.text
    saved = browser.post(url, data={**form, "target_pain_nrs": "3"}, follow_redirects=False)
    assert saved.status_code == 303
    data = _chart(browser.get(f"/patients/{team.patient_id}").text)
    assert data["goal"] == {"text": "Walk the dog every morning", "target_pain_nrs": 3}
    with factory() as db:
        actions = db.scalars(
            select(AuditEvent.action).where(AuditEvent.patient_id == team.patient_id)
        ).all()
    assert actions.count("goal.create") == 1
    assert "trajectory.read" in actions


def test_front_desk_staff_see_no_trajectory(
    app: FastAPI, client: TestClient, make_person: Callable[..., Person]
) -> None:
    team = Team(client, make_person)
    browser = TestClient(app)
    log_in(browser, make_person(Role.STAFF))
    page = browser.get(f"/patients/{team.patient_id}")
    assert page.status_code == 200
    assert "trajectory-data" not in page.text


def test_the_courses_page_shows_each_courses_response(
    app: FastAPI, client: TestClient, make_person: Callable[..., Person]
) -> None:
    team = Team(client, make_person)
    physician = make_person(Role.PHYSICIAN)
    with at(-30):
        course = client.post(
            "/api/v1/courses",
            json={"patient_id": team.patient_id, "protocol_id": team.protocol_id},
            headers=token_for(client, physician),
        )
    assert course.status_code == 201, course.text
    with at(-20):
        body = {
            "patient_id": team.patient_id,
            "protocol_id": team.protocol_id,
            "scheduled_at": T0.isoformat(),
            "chair": "Chair 1",
            "course_id": course.json()["id"],
        }
        sid = client.post("/api/v1/sessions", json=body, headers=team.nurse).json()["id"]
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(40):
        team.act(sid, "stop", team.nurse)
    with at(40 + MIN_OBSERVATION_MIN):
        team.act(sid, "discharge", team.nurse, **DISCHARGE)
    browser = TestClient(app)
    log_in(browser, physician)
    page = browser.get(f"/patients/{team.patient_id}/courses").text
    before, after = CHECK_IN["pain_nrs"], DISCHARGE["pain_nrs"]
    verdict = pain_response(Fraction(before), Fraction(after)).value
    assert f"pain {before} → {after}" in page
    assert verdict in page
