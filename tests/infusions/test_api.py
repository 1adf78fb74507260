"""Infusion sessions over the API, on SQLite and PostgreSQL: scheduled, ordered, verified,
infused and stopped, with the delivered dose checked against a hand computation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.dosing.library import PROTOCOLS
from tests.conftest import Person, patient_body, token_for
from tests.infusions.blind import reading_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIGRAINE = "migraine-lauritsen-2016"


CALM_VITALS = {
    "systolic_mmhg": 124,
    "diastolic_mmhg": 78,
    "heart_rate_per_min": 72,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
}

#: A minimal PHQ-9: every item answered "not at all" except one "several days".
MOOD = {"instrument": "phq9", "answers": [1, 0, 0, 0, 0, 0, 0, 0, 0]}

#: Everything the nurse asks at check-in, nothing found (the test patient is a woman of 45).
CHECK_IN = {
    **CALM_VITALS,
    "pain_nrs": 7,
    "mood": MOOD,
    "pregnancy_status": "not_pregnant",
    "contraindications_changed": False,
    "escort_name": "A. Friend",
}


@contextmanager
def at(minutes: int) -> Iterator[None]:
    with clock.frozen_at(T0 + timedelta(minutes=minutes)):
        yield


class Team:
    def __init__(self, client: TestClient, make_person: Callable[..., Person]) -> None:
        self.client = client
        self.physician = token_for(client, make_person(Role.PHYSICIAN))
        self.nurse = token_for(client, make_person(Role.NURSE))
        self.second_nurse = token_for(client, make_person(Role.NURSE))
        self.admin = token_for(client, make_person(Role.ADMIN))  # keeps the chairs (issue 13)
        self._chairs = 0
        patient = client.post("/api/v1/patients", json=patient_body(), headers=self.nurse)
        assert patient.status_code == 201, patient.text
        self.patient_id: int = patient.json()["id"]
        rows = client.get("/api/v1/protocols", headers=self.nurse).json()
        self.protocol_id: int = next(r["id"] for r in rows if r["key"] == MIGRAINE)

    def new_chair(self) -> int:
        """A chair of its own for each session: every test books at ``T0``."""
        self._chairs += 1
        body = {"name": f"Team chair {self._chairs}"}
        with clock.frozen_at(min(clock.now(), T0)):
            made = self.client.post("/api/v1/scheduling/chairs", json=body, headers=self.admin)
        assert made.status_code == 201, made.text
        chair_id: int = made.json()["id"]
        return chair_id

    def schedule(self, protocol_key: str = MIGRAINE) -> int:
        rows = self.client.get("/api/v1/protocols", headers=self.nurse).json()
        body = {
            "patient_id": self.patient_id,
            "protocol_id": next(r["id"] for r in rows if r["key"] == protocol_key),
            "scheduled_at": T0.isoformat(),
            "chair_id": self.new_chair(),
        }
        with clock.frozen_at(min(clock.now(), T0)):  # booked before it happens, as the API asks
            response = self.client.post("/api/v1/sessions", json=body, headers=self.nurse)
        assert response.status_code == 201, response.text
        assert response.json()["state"] == "scheduled"
        value: int = response.json()["id"]
        return value

    def act(
        self, session_id: int, action: str, headers: dict[str, str], **body: Any
    ) -> dict[str, Any]:
        if action == "verify" and not body:  # the blind check of a correctly set pump
            body = self.reading(session_id)
        if action == "stop" and not body:
            # Most tests stop before the planned 4 h, which needs a reason (issue 11); the rule
            # itself is tested in test_stop_early.
            body = {"reason_category": "patient_request"}
        response = self.client.post(
            f"/api/v1/sessions/{session_id}/{action}", json=body, headers=headers
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def reading(self, session_id: int) -> dict[str, str]:
        """What the second nurse reads off the pump set as ordered."""
        url = f"/api/v1/sessions/{session_id}"
        return reading_for(self.client.get(url, headers=self.second_nurse).json())

    def ready(self, session_id: int) -> None:
        """Checked in, ordered by the physician and verified by a nurse."""
        self.act(session_id, "check-in", self.nurse, **CHECK_IN)
        self.act(session_id, "order", self.physician)
        self.act(session_id, "verify", self.second_nurse)


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def test_a_session_runs_from_schedule_to_stop_and_the_delivered_dose_is_exact(
    team: Team,
) -> None:
    with at(-30):
        sid = team.schedule()
        team.act(sid, "check-in", team.nurse, **CHECK_IN)
        ordered = team.act(sid, "order", team.physician)
        team.act(sid, "verify", team.second_nurse)
    # 72.5 kg × 0.1 mg/kg/h = 7.25 mg/h; at 1 mg/mL the pump is set down to 7.2 mL/h = 7.2 mg/h.
    assert Decimal(ordered["order"]["rate_mg_per_h"]) == Decimal("7.2")
    assert Decimal(ordered["order"]["pump_rate_ml_per_h"]) == Decimal("7.2")
    with at(0):
        started = team.act(sid, "start", team.nurse)
    assert started["state"] == "infusing"
    assert started["allowed_moves"] == ["pause", "stop", "abort"]
    with at(30):
        team.act(sid, "rate", team.nurse, rate_mg_per_h="20")
    with at(45):
        team.act(sid, "pause", team.nurse, reason="nausea")
    with at(55):
        paused = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()
        team.act(sid, "resume", team.nurse, reason="nausea settled")
    assert paused["state"] == "paused"
    assert paused["delivered"]["running"] is True
    with at(100):
        stopped = team.act(sid, "stop", team.nurse)

    # 7.2 mg/h × 30 min + 20 mg/h × 15 min, 10 min paused, then 20 mg/h (the rate before the
    # pause) × 45 min = 3.6 + 5 + 15 mg.
    expected_mg = Decimal("7.2") * 30 / 60 + Decimal(20) * 15 / 60 + Decimal(20) * 45 / 60
    assert expected_mg == Decimal("23.6")
    delivered = stopped["delivered"]
    assert stopped["state"] == "observing"
    assert delivered["running"] is False
    assert Decimal(delivered["total_mg"]) == expected_mg
    assert Decimal(delivered["total_ml"]) == expected_mg  # 1 mg/mL
    assert Decimal(delivered["paused_min"]) == 10
    assert Decimal(delivered["infusing_min"]) == 90
    assert [e["kind"] for e in stopped["events"]] == [
        "vitals", "check_in", "order", "verify", "start", "rate", "pause", "resume", "stop",
    ]  # fmt: skip
    assert stopped["events"][6]["reason"] == "nausea"


def test_start_is_refused_without_a_signed_and_verified_order(team: Team) -> None:
    sid = team.schedule()
    team.act(sid, "check-in", team.nurse, **CHECK_IN)
    url = f"/api/v1/sessions/{sid}/start"
    unsigned = team.client.post(url, json={}, headers=team.nurse)
    assert unsigned.status_code == 422
    assert "signed physician order" in unsigned.json()["detail"][0]["msg"]
    team.act(sid, "order", team.physician)
    unverified = team.client.post(url, json={}, headers=team.nurse)
    assert unverified.status_code == 422
    assert unverified.json()["detail"][0]["loc"] == ["second_nurse_verified"]
    state = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()["state"]
    assert state == "checked_in"


def test_the_signing_physician_may_not_verify_the_order(
    team: Team, client: TestClient, make_person: Callable[..., Person]
) -> None:
    sid = team.schedule()
    team.act(sid, "order", team.physician)
    url = f"/api/v1/sessions/{sid}/verify"
    assert client.post(url, json={}, headers=team.physician).status_code == 403
    verified = team.act(sid, "verify", team.nurse)
    assert verified["order"]["verified_by_user_id"] is not None


def test_an_illegal_move_answers_409_naming_the_allowed_moves(team: Team) -> None:
    sid = team.schedule()
    response = team.client.post(f"/api/v1/sessions/{sid}/stop", json={}, headers=team.nurse)
    assert response.status_code == 409
    assert response.json()["detail"][0]["msg"] == (
        "cannot stop from scheduled; allowed: check_in, cancel, mark_no_show, abort"
    )


def test_abort_needs_a_reason_and_keeps_it(team: Team) -> None:
    sid = team.schedule()
    team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    url = f"/api/v1/sessions/{sid}/abort"
    blank = team.client.post(url, json={"reason": "  "}, headers=team.nurse)
    assert blank.status_code == 422
    with at(20):
        aborted = team.act(sid, "abort", team.nurse, reason="hypertensive episode")
    assert aborted["state"] == "aborted"
    assert aborted["allowed_moves"] == []
    assert aborted["events"][-1]["reason"] == "hypertensive episode"
    assert Decimal(aborted["delivered"]["total_mg"]) == Decimal("7.2") * 20 / 60


def test_an_abort_during_observation_keeps_the_dose_given_before_the_stop(team: Team) -> None:
    """The state table lets a session be aborted while observing (the patient leaves against
    advice, or is sent to hospital); the pump stopped earlier, so the dose is the stop's."""
    sid = team.schedule()
    team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(30):
        stopped = team.act(sid, "stop", team.nurse)
    with at(50):
        aborted = team.act(sid, "abort", team.nurse, reason="transferred to hospital")
    assert (stopped["state"], aborted["state"]) == ("observing", "aborted")
    assert aborted["delivered"]["total_mg"] == stopped["delivered"]["total_mg"]
    assert Decimal(aborted["delivered"]["total_mg"]) == Decimal("7.2") * 30 / 60


def test_another_clinics_session_is_not_found(
    team: Team, client: TestClient, make_person: Callable[..., Person]
) -> None:
    sid = team.schedule()
    outsider = token_for(client, make_person(Role.NURSE, clinic="SOUTH"))
    assert client.get(f"/api/v1/sessions/{sid}", headers=outsider).status_code == 404
    response = client.post(f"/api/v1/sessions/{sid}/check-in", json=CHECK_IN, headers=outsider)
    assert response.status_code == 404
    assert client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()["state"] == "scheduled"


def test_a_stale_version_answers_409_and_changes_nothing(team: Team) -> None:
    sid = team.schedule()
    first = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()["version"]
    checked_in = team.act(sid, "check-in", team.nurse, version=first, **CHECK_IN)
    assert checked_in["version"] > first
    stale = team.client.post(
        f"/api/v1/sessions/{sid}/abort",
        json={"version": first, "reason": "double booked"},
        headers=team.nurse,
    )
    assert stale.status_code == 409
    assert stale.json()["detail"][0]["loc"] == ["body", "version"]
    state = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()["state"]
    assert state == "checked_in"


def test_it_refuses_a_rate_above_the_hard_limit_naming_the_limit(team: Team) -> None:
    sid = team.schedule()
    team.ready(sid)
    team.act(sid, "start", team.nurse)
    limit = PROTOCOLS[MIGRAINE].rate_limit_mg_per_h
    url = f"/api/v1/sessions/{sid}/rate"
    above = str(limit.hard_max + 1)
    response = team.client.post(
        url, json={"rate_mg_per_h": above, "reason": "any"}, headers=team.nurse
    )
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "rate_mg_per_h"]
    assert f"hard limit of {limit.hard_max} mg/h" in detail["msg"]
    soft = str(limit.soft_max + 1)
    unexplained = team.client.post(url, json={"rate_mg_per_h": soft}, headers=team.nurse)
    assert unexplained.status_code == 422
    assert "soft limit" in unexplained.json()["detail"][0]["msg"]
    explained = team.act(sid, "rate", team.nurse, rate_mg_per_h=soft, reason="pain 8/10")
    assert Decimal(explained["events"][-1]["rate_mg_per_h"]) == limit.soft_max + 1


def test_an_order_above_a_hard_limit_is_refused_and_nothing_is_signed(team: Team) -> None:
    sid = team.schedule()
    limit = PROTOCOLS[MIGRAINE].dose_limit
    assert limit is not None
    url = f"/api/v1/sessions/{sid}/order"
    body = {"dose": str(limit.hard_max + Decimal("0.01"))}
    response = team.client.post(url, json=body, headers=team.physician)
    assert response.status_code == 422
    assert "hard limit" in response.json()["detail"][0]["msg"]
    assert team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()["order"] is None


def test_nurses_may_not_sign_orders(team: Team) -> None:
    sid = team.schedule()
    response = team.client.post(f"/api/v1/sessions/{sid}/order", json={}, headers=team.nurse)
    assert response.status_code == 403


def test_a_high_blood_pressure_at_check_in_blocks_the_start_until_a_physician_decides(
    team: Team,
) -> None:
    sid = team.schedule()
    high = {**CHECK_IN, "systolic_mmhg": 141}  # above the default 140/90 threshold
    team.act(sid, "check-in", team.nurse, **high)
    team.act(sid, "order", team.physician)
    team.act(sid, "verify", team.second_nurse)
    url = f"/api/v1/sessions/{sid}"
    blocked = team.client.post(f"{url}/start", json={}, headers=team.nurse)
    assert blocked.status_code == 422
    assert "blood" in blocked.json()["detail"][0]["msg"]
    by_nurse = team.client.post(f"{url}/clearance", json={"reason": "ok"}, headers=team.nurse)
    assert by_nurse.status_code == 403
    team.act(sid, "clearance", team.physician, reason="Rechecked 138/86 after 10 min rest")
    assert team.act(sid, "start", team.nurse)["state"] == "infusing"


@pytest.mark.parametrize(("field", "value"), [("spo2_percent", 140), ("heart_rate_per_min", -5)])
def test_impossible_check_in_vitals_are_refused_naming_the_field(
    team: Team, field: str, value: int
) -> None:
    sid = team.schedule()
    response = team.client.post(
        f"/api/v1/sessions/{sid}/check-in", json={**CHECK_IN, field: value}, headers=team.nurse
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_vitals_beyond_a_rule_raise_an_alert_that_is_acknowledged_by_name(team: Team) -> None:
    sid = team.schedule()
    team.ready(sid)
    team.act(sid, "start", team.nurse)
    calm = team.act(sid, "vitals", team.nurse, **CALM_VITALS)
    assert calm["alerts"] == []
    high = {**CALM_VITALS, "systolic_mmhg": 181}  # the rule reads ">180" (REFERENCE §4d)
    charted = team.act(sid, "vitals", team.nurse, **high)
    [alert] = charted["alerts"]
    assert alert["severity"] == "urgent"
    assert alert["suggested_action"] == "pause"
    assert alert["acknowledged_at"] is None
    url = f"/api/v1/sessions/{sid}/alerts/{alert['id']}/acknowledge"
    acked = team.client.post(url, json={}, headers=team.physician)
    assert acked.status_code == 200
    assert acked.json()["alerts"][0]["acknowledged_by_user_id"] is not None
    assert team.client.post(url, json={}, headers=team.nurse).status_code == 409


def test_vitals_are_refused_before_check_in_and_when_impossible(team: Team) -> None:
    sid = team.schedule()
    url = f"/api/v1/sessions/{sid}/vitals"
    early = team.client.post(url, json=CALM_VITALS, headers=team.nurse)
    assert early.status_code == 409
    team.act(sid, "check-in", team.nurse, **CHECK_IN)
    impossible = team.client.post(
        url, json={**CALM_VITALS, "spo2_percent": 140}, headers=team.nurse
    )
    assert impossible.status_code == 422
    assert impossible.json()["detail"][0]["loc"] == ["body", "spo2_percent"]


def test_deep_sedation_raises_an_alert_and_a_bad_grade_names_its_place(team: Team) -> None:
    sid = team.schedule()
    team.ready(sid)
    team.act(sid, "start", team.nurse)
    charted = team.act(
        sid,
        "side-effects",
        team.nurse,
        assessments=[
            {"effect": "dissociation", "grade": "mild"},
            {"effect": "sedation", "grade": 2},
        ],
    )
    assert [a["suggested_action"] for a in charted["alerts"]] == ["stop"]  # MOAA/S ≤ 2
    bad = team.client.post(
        f"/api/v1/sessions/{sid}/side-effects",
        json={"assessments": [{"effect": "nausea_vomiting", "grade": "awful"}]},
        headers=team.nurse,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "assessments", 0, "severity"]


def test_adjunct_doses_are_refused_above_the_session_limit_naming_it(team: Team) -> None:
    sid = team.schedule()
    team.ready(sid)
    team.act(sid, "start", team.nurse)
    url = f"/api/v1/sessions/{sid}/adjunct-medications"
    dose = {"drug": "midazolam", "dose": "2", "route": "IV", "reason": "anxiety"}
    assert team.client.post(url, json=dose, headers=team.nurse).status_code == 200
    assert team.client.post(url, json=dose, headers=team.nurse).status_code == 200
    third = team.client.post(url, json=dose, headers=team.nurse)  # Schwartzman gave 2 mg × 2
    assert third.status_code == 422
    assert "maximum session dose of 4 mg" in third.json()["detail"][0]["msg"]
    wrong_route = team.client.post(url, json={**dose, "route": "PO"}, headers=team.nurse)
    assert wrong_route.status_code == 422


def test_a_rate_with_more_than_six_decimals_is_refused_not_rounded(team: Team) -> None:
    sid = team.schedule()
    team.ready(sid)
    team.act(sid, "start", team.nurse)
    response = team.client.post(
        f"/api/v1/sessions/{sid}/rate", json={"rate_mg_per_h": "5.1234567"}, headers=team.nurse
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "rate_mg_per_h"]
    # Six places are accepted when they come to a pump setting (5.100000 mg/h = 5.1 mL/h at
    # 1 mg/mL); a setting the pump cannot take is refused too (test_rates).
    exact = team.act(sid, "rate", team.nurse, rate_mg_per_h="5.100000")
    assert Decimal(exact["events"][-1]["rate_mg_per_h"]) == Decimal("5.1")
