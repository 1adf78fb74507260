"""Charting corrections over the API, on SQLite and PostgreSQL: an entry marked entered in error
stays on the record and everything derived leaves it out; implausible vitals need a confirmation;
late entries carry the time they were observed (issue 11, item 5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.audit.models import AuditEvent
from ketaclinic.dashboard import queries
from ketaclinic.dashboard.core import Window
from ketaclinic.db import transaction
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.monitoring.core import PLAUSIBILITY_BANDS
from ketaclinic.reports.content import _adverse_events
from tests.conftest import Person
from tests.infusions.test_api import CALM_VITALS, CHECK_IN, T0, Team, at

HIGH_BP = {**CALM_VITALS, "systolic_mmhg": 190}  # above the ">180" rule, inside its band


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def _running(team: Team) -> int:
    """A session checked in at T0-30 min, started at T0."""
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    return sid


def _mark(
    team: Team, sid: int, event_id: int, headers: dict[str, str], reason: str = "wrong patient"
) -> httpx.Response:
    url = f"/api/v1/sessions/{sid}/entries/{event_id}/entered-in-error"
    return team.client.post(url, json={"reason": reason}, headers=headers)


def _last(body: dict[str, Any], kind: str) -> dict[str, Any]:
    entry: dict[str, Any] = [e for e in body["events"] if e["kind"] == kind][-1]
    return entry


def _read(team: Team, sid: int) -> dict[str, Any]:
    body: dict[str, Any] = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()
    return body


def test_the_author_marks_vitals_entered_in_error_and_the_alert_it_raised_is_withdrawn(
    team: Team, factory: sessionmaker[Session]
) -> None:
    sid = _running(team)
    with at(10):
        charted = team.act(sid, "vitals", team.nurse, **HIGH_BP)
    reading = _last(charted, "vitals")
    [alert] = charted["alerts"]
    assert alert["event_id"] == reading["id"]
    assert alert["withdrawn_at"] is None
    with at(12):
        marked = _mark(team, sid, reading["id"], team.nurse, "typed into the wrong chair")
    assert marked.status_code == 200, marked.text
    body = marked.json()
    kept = next(e for e in body["events"] if e["id"] == reading["id"])
    assert kept["data"]["systolic_mmhg"] == 190  # nothing deleted
    assert kept["entered_in_error_reason"] == "typed into the wrong chair"
    assert kept["entered_in_error_by_user_id"] == reading["by_user_id"]
    assert kept["entered_in_error_at"].startswith((T0 + timedelta(minutes=12)).isoformat()[:16])
    [withdrawn] = body["alerts"]
    assert withdrawn["withdrawn_at"] == kept["entered_in_error_at"]
    assert withdrawn["acknowledged_at"] is None
    assert body["version"] == charted["version"]  # a correction is an observation
    with transaction(factory) as session:
        details = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "session.entered_in_error")
        ).all()
    assert details == [f"session_id={sid} event_id={reading['id']} kind=vitals"]


def test_a_withdrawn_alert_cannot_be_acknowledged(team: Team) -> None:
    sid = _running(team)
    charted = team.act(sid, "vitals", team.nurse, **HIGH_BP)
    assert _mark(team, sid, _last(charted, "vitals")["id"], team.nurse).status_code == 200
    url = f"/api/v1/sessions/{sid}/alerts/{charted['alerts'][0]['id']}/acknowledge"
    refused = team.client.post(url, json={}, headers=team.nurse)
    assert refused.status_code == 409
    assert "withdrawn" in refused.json()["detail"][0]["msg"]


def test_a_physician_may_mark_a_nurses_entry_but_another_nurse_may_not(team: Team) -> None:
    sid = _running(team)
    charted = team.act(
        sid, "side-effects", team.nurse, assessments=[{"effect": "sedation", "grade": 2}]
    )
    entry = _last(charted, "side_effects")
    refused = _mark(team, sid, entry["id"], team.second_nurse)
    assert refused.status_code == 403
    assert (
        "only the person who charted this side-effect assessment or a physician"
        in (refused.json()["detail"][0]["msg"])
    )
    assert _last(_read(team, sid), "side_effects")["entered_in_error_at"] is None
    assert all(a["withdrawn_at"] is None for a in _read(team, sid)["alerts"])
    marked = _mark(team, sid, entry["id"], team.physician)
    assert marked.status_code == 200
    corrected = _last(marked.json(), "side_effects")
    assert corrected["entered_in_error_by_user_id"] not in (None, entry["by_user_id"])
    assert all(a["withdrawn_at"] is not None for a in marked.json()["alerts"])  # deep sedation


def test_it_refuses_to_mark_an_entry_twice(team: Team) -> None:
    sid = _running(team)
    entry = _last(team.act(sid, "vitals", team.nurse, **CALM_VITALS), "vitals")
    assert _mark(team, sid, entry["id"], team.nurse).status_code == 200
    again = _mark(team, sid, entry["id"], team.physician, "second try")
    assert again.status_code == 409
    assert "already marked entered in error" in again.json()["detail"][0]["msg"]
    assert _last(_read(team, sid), "vitals")["entered_in_error_reason"] == "wrong patient"


def test_it_refuses_to_mark_a_move_or_an_unknown_entry_or_without_a_reason(team: Team) -> None:
    sid = _running(team)
    start = _last(_read(team, sid), "start")
    refused = _mark(team, sid, start["id"], team.physician)
    assert refused.status_code == 409
    assert "this entry is a start" in refused.json()["detail"][0]["msg"]
    assert _mark(team, sid, 999_999, team.nurse).status_code == 404
    entry = _last(team.act(sid, "vitals", team.nurse, **CALM_VITALS), "vitals")
    blank = _mark(team, sid, entry["id"], team.nurse, reason="  ")
    assert blank.status_code == 422
    assert blank.json()["detail"][0]["loc"] == ["body", "reason"]


def test_an_adjunct_entered_in_error_no_longer_counts_toward_the_session_limit(team: Team) -> None:
    sid = _running(team)
    url = f"/api/v1/sessions/{sid}/adjunct-medications"
    dose = {"drug": "midazolam", "dose": "2", "route": "IV", "reason": "anxiety"}
    first = team.client.post(url, json=dose, headers=team.nurse).json()
    assert team.client.post(url, json=dose, headers=team.nurse).status_code == 200
    # 2 + 2 mg reach the 4 mg session maximum (clinic policy), so a third dose is refused.
    assert team.client.post(url, json=dose, headers=team.nurse).status_code == 422
    assert _mark(team, sid, _last(first, "adjunct")["id"], team.nurse).status_code == 200
    # Charted in error, never given: 2 mg counted, so 2 more reach 4 mg again.
    assert team.client.post(url, json=dose, headers=team.nurse).status_code == 200


def test_vitals_due_counts_from_the_last_check_not_entered_in_error(team: Team) -> None:
    sid = _running(team)
    interval = timedelta(minutes=15)  # the migraine protocol's vitals_interval_min (default)
    with at(5):
        team.act(sid, "vitals", team.nurse, **CALM_VITALS)
    with at(10):
        later = team.act(sid, "vitals", team.nurse, **CALM_VITALS)
    assert later["vitals_due_at"].startswith(
        (T0 + timedelta(minutes=10) + interval).isoformat()[:16]
    )
    with at(11):
        marked = _mark(team, sid, _last(later, "vitals")["id"], team.nurse).json()
    assert marked["vitals_due_at"].startswith(
        (T0 + timedelta(minutes=5) + interval).isoformat()[:16]
    )


def test_it_refuses_implausible_vitals_until_confirmed_naming_field_value_and_band(
    team: Team,
) -> None:
    sid = _running(team)
    before = len(_read(team, sid)["events"])
    band = PLAUSIBILITY_BANDS["systolic_mmhg"]
    wild = {**CALM_VITALS, "systolic_mmhg": band.high + 10}
    url = f"/api/v1/sessions/{sid}/vitals"
    refused = team.client.post(url, json=wild, headers=team.nurse)
    assert refused.status_code == 422
    [detail] = refused.json()["detail"]
    assert detail["loc"] == ["body", "systolic_mmhg"]
    assert f"{band.high + 10} mmHg" in detail["msg"]
    assert f"{band.low}–{band.high} mmHg" in detail["msg"]
    assert "confirm_implausible" in detail["msg"]
    assert len(_read(team, sid)["events"]) == before  # nothing stored
    stored = team.client.post(url, json={**wild, "confirm_implausible": True}, headers=team.nurse)
    assert stored.status_code == 200
    reading = _last(stored.json(), "vitals")
    assert reading["data"]["systolic_mmhg"] == band.high + 10
    assert reading["data"]["confirmed_implausible"] is True
    assert "confirm_implausible" not in reading["data"]


def test_a_late_entry_keeps_the_observed_time_and_the_time_it_was_typed(team: Team) -> None:
    sid = _running(team)
    observed = T0 + timedelta(minutes=25)
    with at(40):
        charted = team.act(sid, "vitals", team.nurse, **HIGH_BP, observed_at=observed.isoformat())
    reading = _last(charted, "vitals")
    assert reading["at"].startswith(observed.isoformat()[:19])
    assert reading["recorded_at"].startswith((T0 + timedelta(minutes=40)).isoformat()[:19])
    [alert] = charted["alerts"]
    assert alert["observed_at"] == reading["at"]
    assert alert["raised_at"] == reading["recorded_at"]
    # The next check is due 15 min after the observation, not after the typing.
    assert charted["vitals_due_at"].startswith((observed + timedelta(minutes=15)).isoformat()[:16])


def test_it_refuses_a_late_entry_too_far_back_in_the_future_or_before_the_check_in(
    team: Team,
) -> None:
    sid = _running(team)  # checked in at T0-30
    url = f"/api/v1/sessions/{sid}/side-effects"
    body = {"assessments": [{"effect": "headache", "grade": "mild"}]}
    cases = {
        T0 + timedelta(minutes=21): "in the future",
        T0 - timedelta(minutes=31): "before the check-in",  # 51 min back, within the hour
    }
    with at(20):
        for observed, words in cases.items():
            refused = team.client.post(
                url, json={**body, "observed_at": observed.isoformat()}, headers=team.nurse
            )
            assert refused.status_code == 422
            assert refused.json()["detail"][0]["loc"] == ["body", "observed_at"]
            assert words in refused.json()["detail"][0]["msg"]
    with at(100):
        refused = team.client.post(
            url,
            json={**body, "observed_at": (T0 + timedelta(minutes=39)).isoformat()},
            headers=team.nurse,
        )
    assert refused.status_code == 422
    assert "more than 60 min ago" in refused.json()["detail"][0]["msg"]
    assert not [e for e in _read(team, sid)["events"] if e["kind"] == "side_effects"]


def _safety_and_adverse(
    factory: sessionmaker[Session], sid: int
) -> tuple[set[tuple[int, int]], list[str]]:
    """The dashboard's (infused, with alert, with adverse event) for the session's day, and the
    report's adverse-event kinds for the session."""
    with transaction(factory) as session:
        row = session.get(InfusionSession, sid)
        assert row is not None
        window = Window(T0.date(), T0.date(), row.clinic_id)
        lines = queries.safety(session, window, UTC, {})
        adverse = _adverse_events([row], ZoneInfo("UTC"))
        return (
            # The session's protocol's line and the all-protocols line alike.
            {(line.with_alert, line.with_adverse_event) for line in lines if line.infused},
            [a.kind for a in adverse],
        )


def test_the_dashboard_and_the_report_leave_out_entries_in_error_and_their_alerts(
    team: Team, factory: sessionmaker[Session]
) -> None:
    sid = _running(team)
    with at(10):
        vitals = team.act(sid, "vitals", team.nurse, **HIGH_BP)
        severe = [{"effect": "nausea_vomiting", "grade": "severe"}]
        effects = team.act(sid, "side-effects", team.nurse, assessments=severe)
    # Before: one session with an alert and an adverse event; two alerts (the high BP, the
    # severe side effect) and the side effect itself in the report.
    assert _safety_and_adverse(factory, sid) == ({(1, 1)}, ["alert", "alert", "side effect"])
    with at(12):
        assert _mark(team, sid, _last(vitals, "vitals")["id"], team.nurse).status_code == 200
        assert _mark(team, sid, _last(effects, "side_effects")["id"], team.nurse).status_code == 200
    assert _safety_and_adverse(factory, sid) == ({(0, 0)}, [])


def test_check_in_vitals_beyond_a_band_also_need_a_confirmation(team: Team) -> None:
    with at(-30):
        sid = team.schedule()
        band = PLAUSIBILITY_BANDS["spo2_percent"]
        low = {**CHECK_IN, "spo2_percent": band.low - 1}
        url = f"/api/v1/sessions/{sid}/check-in"
        refused = team.client.post(url, json=low, headers=team.nurse)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "spo2_percent"]
        assert _read(team, sid)["state"] == "scheduled"
        confirmed = team.client.post(
            url, json={**low, "confirm_implausible": True}, headers=team.nurse
        )
    assert confirmed.status_code == 200, confirmed.text
    assert _last(confirmed.json(), "vitals")["data"]["spo2_percent"] == band.low - 1
