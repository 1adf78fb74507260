"""Stopping early (issue 11, item 3): before the planned end with the ordered dose not all given
a stop needs a reason category, kept on the event and shown in the timeline, the course and the
PDF report as "stopped early: 5.4 of 28.8 mg given"; at or after the planned end none is needed.
The page asks for confirmation first. On SQLite and PostgreSQL.

The test order (migraine, 72.5 kg): 7.2 mL/h = 7.2 mg/h (1 mg/mL) for 240 min, 28.8 mg in all.
At 45 min 7.2 × 45/60 = 5.4 mg has been given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from tests.conftest import Person
from tests.infusions.test_api import Team, at, team
from tests.infusions.test_pages import Browser
from tests.reports.helpers import build_record, pdf_text

__all__ = ["team"]

EARLY_TEXT = "stopped early: 5.4 of 28.8 mg given"


def _infusing(team: Team) -> int:
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    return sid


def _stop(team: Team, sid: int, minutes: int, **body: Any) -> Any:
    with at(minutes):
        return team.client.post(f"/api/v1/sessions/{sid}/stop", json=body, headers=team.nurse)


def _session(team: Team, sid: int) -> dict[str, Any]:
    result: dict[str, Any] = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()
    return result


def test_it_refuses_an_early_stop_without_a_reason_and_writes_nothing(team: Team) -> None:
    sid = _infusing(team)
    response = _stop(team, sid, 45)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "reason_category"]
    assert "side_effects, patient_request, equipment, other" in detail["msg"]
    assert _session(team, sid)["state"] == "infusing"


def test_an_early_stop_keeps_its_reason_and_what_was_given(team: Team) -> None:
    sid = _infusing(team)
    response = _stop(team, sid, 45, reason_category="side_effects", reason="drowsy")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "observing"
    stop = body["events"][-1]
    assert stop["kind"] == "stop" and stop["reason"] == "drowsy"
    assert stop["data"]["early"] is True
    assert stop["data"]["reason_category"] == "side_effects"
    assert body["stopped_early"] == f"{EARLY_TEXT} (side effects: drowsy)"


def test_other_needs_words(team: Team) -> None:
    sid = _infusing(team)
    response = _stop(team, sid, 45, reason_category="other")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]
    assert _stop(team, sid, 45, reason_category="other", reason="fire drill").status_code == 200


def test_an_unknown_reason_category_is_refused(team: Team) -> None:
    sid = _infusing(team)
    response = _stop(team, sid, 45, reason_category="bored")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reason_category"]


def test_a_stop_at_the_planned_end_needs_no_reason(team: Team) -> None:
    sid = _infusing(team)
    response = _stop(team, sid, 240)
    assert response.status_code == 200, response.text
    assert response.json()["events"][-1]["data"]["early"] is False
    assert response.json()["stopped_early"] is None


def test_a_pause_moves_the_planned_end_so_a_stop_at_the_clocks_4_h_is_still_early(
    team: Team,
) -> None:
    sid = _infusing(team)
    with at(60):
        team.act(sid, "pause", team.nurse, reason="nausea")
    with at(80):
        team.act(sid, "resume", team.nurse, reason="settled")
    # 220 min of the 240 ordered have run at 240 on the clock (20 paused): still early.
    assert _stop(team, sid, 240).status_code == 422
    assert _stop(team, sid, 260).status_code == 200


def test_a_stop_once_the_ordered_dose_is_given_needs_no_reason(team: Team) -> None:
    sid = _infusing(team)
    with at(10):
        team.act(sid, "rate", team.nurse, rate_ml_per_h="40")
    # 7.2 × 10/60 = 1.2 mg, then 40 mg/h: 1.2 + 40 × 50/60 = 34.53 mg at 60 min, past 28.8 mg.
    response = _stop(team, sid, 60)
    assert response.status_code == 200, response.text
    assert response.json()["stopped_early"] is None


def test_an_early_stop_is_shown_in_the_timeline(
    app: FastAPI, team: Team, make_person: Callable[..., Person]
) -> None:
    sid = _infusing(team)
    assert _stop(team, sid, 45, reason_category="equipment", reason="pump alarm").status_code == 200
    with at(50):
        html = Browser(app, make_person(Role.NURSE)).page(sid)
    assert "Infusion stopped early" in html
    assert f"{EARLY_TEXT} (equipment: pump alarm)" in html


def test_an_early_stop_is_shown_on_the_course_page_and_in_the_pdf_report(
    app: FastAPI,
    client: TestClient,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    # The report's record stops its course session at 45 min, for the patient's request.
    record = build_record(client, make_person, factory)
    web = Browser(app, make_person(Role.PHYSICIAN)).client
    course_page = web.get(f"/patients/{record.patient_id}/courses")
    assert course_page.status_code == 200
    assert f"{EARLY_TEXT} (patient request)" in course_page.text
    report = web.get(f"/patients/{record.patient_id}/report.pdf")
    assert report.status_code == 200
    assert f"{EARLY_TEXT} (patient request)" in pdf_text(report.content)


# --- the page: reason, then a confirmation step ----------------------------------------------


@pytest.fixture
def nurse(app: FastAPI, make_person: Callable[..., Person]) -> Browser:
    return Browser(app, make_person(Role.NURSE))


def test_the_stop_section_asks_why_only_when_the_stop_would_be_early(
    team: Team, nurse: Browser
) -> None:
    sid = _infusing(team)
    with at(45):
        early = nurse.page(sid)
    with at(240):
        on_time = nurse.page(sid)
    assert '<section class="card" id="stop">' in early
    assert 'name="reason_category"' in early and "5.4 of 28.8 mg" in early
    assert '<section class="card" id="stop">' in on_time
    assert 'name="reason_category"' not in on_time


def test_stop_on_the_page_asks_for_confirmation_naming_what_will_happen_then_stops(
    team: Team, nurse: Browser
) -> None:
    sid = _infusing(team)
    with at(45):
        asked = nurse.post(sid, "stop", reason_category="side_effects", reason="drowsy")
    assert asked.status_code == 200
    assert (
        "Stop the infusion now: 5.4 mg given of 28.8 mg ordered; observation begins. "
        "Stopping early: side effects." in asked.text
    )
    assert 'name="confirm" value="yes"' in asked.text
    assert "Confirm stop" in asked.text and "Keep infusing" in asked.text
    assert _session(team, sid)["state"] == "infusing"  # the first step writes nothing
    with at(46):
        done = nurse.post(
            sid, "stop", html=asked.text, reason_category="side_effects", reason="drowsy",
            confirm="yes",
        )  # fmt: skip
    assert done.status_code == 303, done.text
    stopped = _session(team, sid)
    assert stopped["state"] == "observing"
    # 7.2 × 46/60 = 5.52 mg given when the stop was confirmed.
    assert stopped["stopped_early"] == "stopped early: 5.52 of 28.8 mg given (side effects: drowsy)"


def test_an_early_stop_without_a_reason_on_the_page_is_refused_before_any_confirmation(
    team: Team, nurse: Browser
) -> None:
    sid = _infusing(team)
    with at(45):
        refused = nurse.post(sid, "stop", reason_category="", reason="", confirm="yes")
    assert refused.status_code == 422
    assert 'id="e-stop-reason_category"' in refused.text
    assert 'name="confirm" value="yes"' not in refused.text
    assert _session(team, sid)["state"] == "infusing"


def test_the_confirmation_of_an_on_time_stop_names_no_early_reason(
    team: Team, nurse: Browser
) -> None:
    sid = _infusing(team)
    with at(240):
        asked = nurse.post(sid, "stop", reason="")
    assert asked.status_code == 200
    assert "Stop the infusion now: 28.8 mg given of 28.8 mg ordered; observation begins." in (
        asked.text
    )
    assert "Stopping early" not in asked.text
