"""The chairside pages, on SQLite and PostgreSQL: the chair board, the session page and its
forms, each posting one action and coming back; a stale form is a conflict that writes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.infusions.discharge import ALDRETE_NAMES
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for
from tests.infusions.test_api import CALM_VITALS, CHECK_IN, T0, Team, at

#: The check-in form as a nurse fills it in (the API's CHECK_IN, in form fields).
CHECK_IN_FORM = {
    **{k: str(v) for k, v in CALM_VITALS.items()},
    "pain_nrs": "7",
    "mood_instrument": "phq9",
    **{f"phq9_{n}": "1" if n == 1 else "0" for n in range(1, 10)},
    "pregnancy_status": "not_pregnant",
    "contraindications_changed": "no",
    "escort_name": "A. Friend",
}
VITALS_FORM = {k: str(v) for k, v in CALM_VITALS.items()}


class Browser:
    """One logged-in person's browser on the session pages."""

    def __init__(self, app: FastAPI, person: Person) -> None:
        self.client = TestClient(app)
        log_in(self.client, person)

    def page(self, sid: int) -> str:
        response = self.client.get(f"/sessions/{sid}")
        assert response.status_code == 200, response.text
        return response.text

    def post(self, sid: int, action: str, html: str | None = None, **fields: str) -> httpx.Response:
        """Post a form as rendered on ``html`` (the current page unless given: a stale one)."""
        html = html if html is not None else self.page(sid)
        data = {"csrf_token": csrf_from(html), "version": _version(html), **fields}
        return self.client.post(f"/sessions/{sid}/{action}", data=data, follow_redirects=False)

    def sign_order(self, sid: int, **inputs: str) -> httpx.Response:
        """As a physician signs on the page: preview the order, then sign what it showed."""
        preview = self.post(sid, "order", **inputs)
        assert preview.status_code == 200, preview.text
        return self.client.post(
            f"/sessions/{sid}/order", data=sign_form(preview.text), follow_redirects=False
        )

    def do(self, sid: int, action: str, **fields: str) -> None:
        if action == "order":
            response = self.sign_order(sid, **fields)
        else:
            response = self.post(sid, action, **fields)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/sessions/{sid}#top"


def sign_form(html: str) -> dict[str, str]:
    """The hidden fields of the preview's "Sign this order" form."""
    form = re.search(r'<form[^>]*id="sign-form".*?</form>', html, re.S)
    assert form, "no preview to sign"
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))


def _version(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    return match.group(1) if match else ""


class Ward:
    """The API team of ``test_api`` plus page browsers for a nurse, a second nurse and a physician."""

    def __init__(self, app: FastAPI, team: Team, make_person: Callable[..., Person]) -> None:
        self.team = team
        self.nurse = Browser(app, make_person(Role.NURSE))
        self.second_nurse = Browser(app, make_person(Role.NURSE))
        self.physician = Browser(app, make_person(Role.PHYSICIAN))

    def state(self, sid: int) -> dict[str, Any]:
        response = self.team.client.get(f"/api/v1/sessions/{sid}", headers=self.team.nurse)
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def ward(app: FastAPI, client: TestClient, make_person: Callable[..., Person]) -> Ward:
    return Ward(app, Team(client, make_person), make_person)


def test_the_board_lists_todays_sessions_of_the_actors_clinic_only(
    app: FastAPI, ward: Ward, make_person: Callable[..., Person]
) -> None:
    team = ward.team
    with at(-60):
        today = team.schedule()
        body = {
            "patient_id": team.patient_id,
            "protocol_id": team.protocol_id,
            "scheduled_at": (T0 + timedelta(days=1)).isoformat(),
            "chair": "Chair 4",
        }
        tomorrow = team.client.post("/api/v1/sessions", json=body, headers=team.nurse)
        assert tomorrow.status_code == 201
        south = token_for(team.client, make_person(Role.NURSE, clinic="SOUTH"))
        other = team.client.post(
            "/api/v1/patients", json=patient_body(family_name="Elsewhere-Case"), headers=south
        ).json()["id"]
        protocols = team.client.get("/api/v1/protocols", headers=south).json()
        body = {**body, "patient_id": other, "protocol_id": protocols[0]["id"]}
        body.update(scheduled_at=T0.isoformat(), chair="Chair 4")
        assert team.client.post("/api/v1/sessions", json=body, headers=south).status_code == 201
    with at(0):
        board = ward.nurse.client.get("/board")
    assert board.status_code == 200
    assert f'href="/sessions/{today}"' in board.text
    assert "Chair 3" in board.text and "Synthetic-Case, Test" in board.text
    assert "Chair 9" not in board.text  # tomorrow
    assert "Elsewhere-Case" not in board.text and "Chair 5" not in board.text  # another clinic
    assert 'data-src="/board/data"' in board.text


def test_the_board_data_is_the_rows_alone_with_the_clocks_that_matter(ward: Ward) -> None:
    team = ward.team
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(20):
        team.act(sid, "vitals", team.nurse, **{**CALM_VITALS, "systolic_mmhg": 190})
    with at(50):
        data = ward.nurse.client.get("/board/data", headers={"X-Requested-With": "fetch"})
    assert data.status_code == 200
    assert "<html" not in data.text
    assert 'data-now="2026-03-02T09:50:00+00:00"' in data.text
    assert "50 min</span> since start" in data.text
    # Vitals were due 15 min after the check at 20 min, i.e. at 35: 15 min overdue.
    assert 'class="due overdue"' in data.text and "15 min ago" in data.text
    assert "1 open" in data.text


def test_the_session_page_shows_the_delivered_dose_the_alerts_and_the_curve(ward: Ward) -> None:
    team = ward.team
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(30):
        team.act(sid, "vitals", team.nurse, **{**CALM_VITALS, "spo2_percent": 89})
    with at(60):
        team.act(sid, "stop", team.nurse)
        html = ward.nurse.page(sid)
    # 7.2 mg/h for 60 min at 1 mg/mL.
    assert re.search(r'id="delivered-mg">7\.2 mg<', html)
    assert "7.2 mL · 60 min infusing" in html
    assert "SpO2 89" in html
    assert html.count("/acknowledge") == 2  # below 92 and below 90: two rules met
    assert '"pk": {' in html and '"plasma": [' in html
    assert "Discharge allowed" in html and "from 11:00" in html
    assert 'id="pk-problem"' not in html
    assert 'name="csrf_token" value=""' not in html  # every form carries the token


def test_a_session_without_a_weight_says_why_there_is_no_curve(ward: Ward) -> None:
    team = ward.team
    with at(-30):
        sid = team.schedule()
        html = ward.nurse.page(sid)
    assert "drawn once the infusion has started" in html
    assert 'name="csrf_token" value=""' not in html


def test_every_form_posts_its_action_and_comes_back_to_the_page(ward: Ward) -> None:
    sid = ward.team.schedule()
    with at(-30):
        ward.nurse.do(sid, "check-in", **{**CHECK_IN_FORM, "systolic_mmhg": "185"})
        assert ward.state(sid)["open_blocks"] == ["blood_pressure"]
        ward.physician.do(sid, "clearance", reason="Known white-coat hypertension, 150/90 at home")
        ward.physician.do(sid, "order", weight_kg="", dose="", duration_min="")
        ward.second_nurse.do(sid, "verify", **ward.team.reading(sid))
    with at(0):
        ward.nurse.do(sid, "start")
    with at(10):
        ward.nurse.do(sid, "vitals", **{**VITALS_FORM, "spo2_percent": "91"})
        ward.nurse.do(sid, "side-effects", se_sedation="4", se_nausea_vomiting="mild")
        ward.nurse.do(sid, "adjunct", drug="ondansetron", dose="4", route="IV", reason="nausea")
        ward.nurse.do(sid, "rate", rate_mg_per_h="10", reason="")
    with at(20):
        ward.nurse.do(sid, "pause", reason="patient asked for a break")
    with at(25):
        ward.nurse.do(sid, "resume", reason="feels better")
        alert_id = ward.state(sid)["alerts"][0]["id"]
        page = ward.nurse.page(sid)
        acknowledged = ward.nurse.client.post(
            f"/sessions/{sid}/alerts/{alert_id}/acknowledge",
            data={"csrf_token": csrf_from(page)},
            follow_redirects=False,
        )
        assert acknowledged.status_code == 303
    with at(45):  # before the planned end: early, so a reason and the confirmation step
        ward.nurse.do(sid, "stop", reason_category="patient_request", confirm="yes")
    with at(45 + 61):
        discharge = {f"aldrete_{name}": "2" for name in ALDRETE_NAMES}
        ward.nurse.do(
            sid,
            "discharge",
            **discharge,
            pain_nrs="2",
            mood_instrument="gad7",
            **{f"gad7_{n}": "0" for n in range(1, 8)},
            escort_confirmed="on",
            no_driving_advice_given="on",
        )
    record = ward.state(sid)
    assert record["state"] == "discharged"
    kinds = [e["kind"] for e in record["events"]]
    for kind in ("clearance", "order", "verify", "side_effects", "adjunct", "rate", "pause"):
        assert kind in kinds
    assert record["alerts"][0]["acknowledged_at"] is not None
    assert "Discharged." in ward.nurse.page(sid)


def test_cancel_no_show_and_abort_post_from_the_page_once_confirmed(ward: Ward) -> None:
    cancelled, no_show, aborted = (ward.team.schedule() for _ in range(3))
    ward.nurse.do(cancelled, "cancel", reason="patient has flu", confirm="yes")
    ward.nurse.do(no_show, "no-show", confirm="yes")
    ward.nurse.do(aborted, "abort", reason="chair out of service", confirm="yes")
    states = [ward.state(s)["state"] for s in (cancelled, no_show, aborted)]
    assert states == ["cancelled", "no_show", "aborted"]


def test_a_stale_form_is_a_conflict_that_writes_nothing(ward: Ward) -> None:
    team = ward.team
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(10):
        seen_by_both = ward.nurse.page(sid)
        ward.second_nurse.do(sid, "rate", rate_mg_per_h="10")
        before = ward.state(sid)
        late = ward.nurse.post(sid, "rate", html=seen_by_both, rate_mg_per_h="12")
    assert late.status_code == 409
    assert "Someone else changed this session" in late.text
    assert "check it and re-enter yours" in late.text
    assert f'name="version" value="{before["version"]}"' in late.text  # the fresh page
    after = ward.state(sid)
    assert after["version"] == before["version"]
    assert len(after["events"]) == len(before["events"])


def test_vitals_from_a_page_drawn_before_a_colleagues_entries_are_recorded(ward: Ward) -> None:
    team = ward.team
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(10):
        seen_by_both = ward.nurse.page(sid)
        ward.second_nurse.do(sid, "vitals", **VITALS_FORM)
        ward.second_nurse.do(sid, "side-effects", se_nausea_vomiting="mild")
        before = ward.state(sid)
        late = ward.nurse.post(
            sid, "vitals", html=seen_by_both, **{**VITALS_FORM, "heart_rate_per_min": "99"}
        )
    assert late.status_code == 303, late.text
    after = ward.state(sid)
    assert after["version"] == before["version"]
    assert after["events"][-1]["kind"] == "vitals"
    assert after["events"][-1]["data"]["heart_rate_per_min"] == 99
    assert len(after["events"]) == len(before["events"]) + 1


def test_impossible_vitals_are_refused_next_to_their_fields_and_write_nothing(
    ward: Ward,
) -> None:
    team = ward.team
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
        before = ward.state(sid)
        refused = ward.nurse.post(
            sid, "vitals", **{**VITALS_FORM, "spo2_percent": "140", "heart_rate_per_min": "-5"}
        )
    assert refused.status_code == 422
    html = refused.text
    spo2 = re.search(r'id="e-vitals-spo2_percent">([^<]+)<', html)
    heart = re.search(r'id="e-vitals-heart_rate_per_min">([^<]+)<', html)
    assert spo2 and "140 % is outside the possible range 50–100" in spo2.group(1)
    assert heart and "-5 /min is outside the possible range" in heart.group(1)
    assert 'value="140"' in html  # what was typed is kept to correct
    after = ward.state(sid)
    assert after["version"] == before["version"]
    assert len(after["events"]) == len(before["events"])


def test_a_refused_move_says_why_on_the_page(ward: Ward) -> None:
    sid = ward.team.schedule()
    ward.team.act(sid, "check-in", ward.team.nurse, **CHECK_IN)
    refused = ward.nurse.post(sid, "start")
    assert refused.status_code == 422
    assert "start needs a signed physician order" in refused.text
    assert ward.state(sid)["state"] == "checked_in"


def test_a_nurse_may_not_sign_and_another_clinic_sees_nothing(
    app: FastAPI, ward: Ward, make_person: Callable[..., Person]
) -> None:
    sid = ward.team.schedule()
    assert ward.nurse.post(sid, "order").status_code == 403
    outsider = TestClient(app)
    log_in(outsider, make_person(Role.NURSE, clinic="SOUTH"))
    assert outsider.get(f"/sessions/{sid}").status_code == 404


def test_the_bolus_form_appears_only_for_a_protocol_with_a_bolus(ward: Ward) -> None:
    without = ward.team.schedule()
    with_bolus = ward.team.schedule("chronic-pain-low-dose")
    for sid in (without, with_bolus):
        ward.team.ready(sid)
        ward.team.act(sid, "start", ward.team.nurse)
    assert f"/sessions/{without}/bolus" not in ward.nurse.page(without)
    assert f"/sessions/{with_bolus}/bolus" in ward.nurse.page(with_bolus)
    ward.nurse.do(with_bolus, "bolus", dose_mg="2", reason="breakthrough pain", override_reason="")
    [given] = [e for e in ward.state(with_bolus)["events"] if e["kind"] == "bolus"]
    assert given["data"]["dose_mg"] == "2"
