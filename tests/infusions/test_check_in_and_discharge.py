"""Check-in findings, the physician's clearance, boluses, cancellation and discharge over the API,
on SQLite and PostgreSQL, with a frozen clock for every time rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ketaclinic.dosing.library import PROTOCOLS
from ketaclinic.infusions.discharge import MIN_OBSERVATION_MIN
from tests.infusions.test_api import CALM_VITALS, CHECK_IN, MOOD, T0, Team, at, team

__all__ = ["team"]  # the fixture, imported so pytest finds it here

LOW_DOSE = "chronic-pain-low-dose"  # the library protocol with a bolus

GOOD_ALDRETE = {"activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2, "spo2": 2}
DISCHARGE = {
    "aldrete": GOOD_ALDRETE,
    "pain_nrs": 3,
    "mood": MOOD,
    "escort_confirmed": True,
    "no_driving_advice_given": True,
}


def _post(team: Team, sid: int, action: str, headers: dict[str, str], **body: Any) -> Any:
    return team.client.post(f"/api/v1/sessions/{sid}/{action}", json=body, headers=headers)


def _measurements(team: Team) -> list[dict[str, Any]]:
    url = f"/api/v1/patients/{team.patient_id}/measurements"
    rows: list[dict[str, Any]] = team.client.get(url, headers=team.nurse).json()
    return rows


def _stopped_at(team: Team, minutes: int, protocol_key: str = "migraine-lauritsen-2016") -> int:
    """A session started at T0 and stopped ``minutes`` later."""
    with at(-20):
        sid = team.schedule(protocol_key)
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(minutes):
        team.act(sid, "stop", team.nurse)
    return sid


# --- check-in -----------------------------------------------------------------------------------


def test_check_in_stores_pain_and_mood_before_the_session_tied_to_it(team: Team) -> None:
    sid = team.schedule()
    checked_in = team.act(sid, "check-in", team.nurse, **CHECK_IN)
    assert checked_in["state"] == "checked_in"
    assert checked_in["open_blocks"] == []
    pre = [m for m in _measurements(team) if m["context"] == "pre"]
    assert sorted(m["instrument"] for m in pre) == ["nrs", "phq9"]
    assert {m["session_id"] for m in pre} == {sid}
    nrs = next(m for m in pre if m["instrument"] == "nrs")
    assert nrs["answers"] == [CHECK_IN["pain_nrs"]]


@pytest.mark.parametrize(
    ("change", "block"),
    [
        ({"systolic_mmhg": 141}, "blood_pressure"),
        ({"pregnancy_status": "unknown"}, "pregnancy"),
        ({"pregnancy_status": "pregnant"}, "pregnancy"),
        (
            {"contraindications_changed": True, "contraindication_note": "new chest pain"},
            "new_contraindication",
        ),
    ],
)
def test_each_check_in_finding_blocks_the_start_until_a_physician_clears_it(
    team: Team, change: dict[str, Any], block: str
) -> None:
    sid = team.schedule()
    checked_in = team.act(sid, "check-in", team.nurse, **{**CHECK_IN, **change})
    assert checked_in["open_blocks"] == [block]
    team.act(sid, "order", team.physician)
    team.act(sid, "verify", team.second_nurse)
    refused = _post(team, sid, "start", team.nurse)
    assert refused.status_code == 422
    assert _post(team, sid, "clearance", team.nurse, reason="fine").status_code == 403
    cleared = team.act(sid, "clearance", team.physician, reason="Seen and examined; proceed")
    assert cleared["open_blocks"] == []
    assert team.act(sid, "start", team.nurse)["state"] == "infusing"


def test_a_clearance_without_an_open_finding_is_a_conflict(team: Team) -> None:
    sid = team.schedule()
    team.act(sid, "check-in", team.nurse, **CHECK_IN)
    assert _post(team, sid, "clearance", team.physician, reason="x").status_code == 409


def test_a_changed_contraindication_needs_a_note(team: Team) -> None:
    sid = team.schedule()
    body = {**CHECK_IN, "contraindications_changed": True}
    response = _post(team, sid, "check-in", team.nurse, **body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "contraindication_note"]
    assert team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()["events"] == []
    assert _measurements(team) == []


def test_pregnancy_status_is_asked_of_a_woman_of_childbearing_age_not_of_a_man(
    team: Team,
) -> None:
    sid = team.schedule()
    body = {k: v for k, v in CHECK_IN.items() if k != "pregnancy_status"}
    response = _post(team, sid, "check-in", team.nurse, **body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "pregnancy_status"]

    team.client.patch(
        f"/api/v1/patients/{team.patient_id}", json={"sex": "male"}, headers=team.nurse
    )
    assert team.act(sid, "check-in", team.nurse, **body)["state"] == "checked_in"


def test_a_new_weight_at_check_in_joins_the_history_and_an_unchanged_one_does_not(
    team: Team,
) -> None:
    def weights() -> list[str]:
        url = f"/api/v1/patients/{team.patient_id}"
        patient = team.client.get(url, headers=team.nurse).json()
        return [w["weight_kg"] for w in patient["weights"]]

    before = weights()
    first = team.schedule()
    team.act(first, "check-in", team.nurse, **{**CHECK_IN, "weight_kg": before[0]})
    assert weights() == before
    second = team.schedule()
    team.act(second, "check-in", team.nurse, **{**CHECK_IN, "weight_kg": "74.10"})
    assert [Decimal(w) for w in weights()] == [Decimal("74.10"), *map(Decimal, before)]


def test_a_pain_score_out_of_range_is_refused_naming_it(team: Team) -> None:
    sid = team.schedule()
    response = _post(team, sid, "check-in", team.nurse, **{**CHECK_IN, "pain_nrs": 11})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "pain_nrs"]


# --- cancel and no-show -------------------------------------------------------------------------


def test_a_scheduled_session_is_cancelled_with_a_reason_or_marked_no_show(team: Team) -> None:
    cancelled_id = team.schedule()
    assert _post(team, cancelled_id, "cancel", team.nurse, reason=" ").status_code == 422
    cancelled = team.act(cancelled_id, "cancel", team.nurse, reason="Patient has flu")
    assert cancelled["state"] == "cancelled"
    assert cancelled["events"][-1]["reason"] == "Patient has flu"
    no_show = team.act(team.schedule(), "no-show", team.nurse)
    assert no_show["state"] == "no_show"
    assert no_show["allowed_moves"] == []


def test_a_checked_in_session_cannot_be_cancelled_only_aborted(team: Team) -> None:
    sid = team.schedule()
    team.act(sid, "check-in", team.nurse, **CHECK_IN)
    response = _post(team, sid, "cancel", team.nurse, reason="changed mind")
    assert response.status_code == 409
    assert "abort" in response.json()["detail"][0]["msg"]


# --- bolus --------------------------------------------------------------------------------------


def _bolus_limits_mg(team: Team, session: dict[str, Any]) -> tuple[Decimal, Decimal]:
    protocol = PROTOCOLS[LOW_DOSE]
    assert protocol.bolus is not None
    weight = Decimal(session["order"]["plan"]["weight_basis_kg"])
    limit = protocol.bolus.limit_mg_per_kg
    return limit.soft_max * weight, limit.hard_max * weight


def test_boluses_count_toward_the_bolus_limit_and_the_delivered_dose(team: Team) -> None:
    with at(-10):
        sid = team.schedule(LOW_DOSE)
        team.ready(sid)
    with at(0):
        started = team.act(sid, "start", team.nurse)
    soft, hard = _bolus_limits_mg(team, started)
    first = soft / 2
    with at(5):
        given = team.act(sid, "bolus", team.nurse, dose_mg=str(first), reason="breakthrough pain")
    assert Decimal(given["delivered"]["bolus_mg"]) == first
    with at(6):
        # first + (soft - first) + 1 mg is above the soft limit: needs an override reason.
        over_soft = soft - first + 1
        refused = _post(team, sid, "bolus", team.nurse, dose_mg=str(over_soft), reason="pain")
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "override_reason"]
        assert str(soft) in refused.json()["detail"][0]["msg"]
        over_hard = hard - first + 1
        refused = _post(
            team, sid, "bolus", team.nurse, dose_mg=str(over_hard), reason="x", override_reason="y"
        )
        assert refused.status_code == 422
        assert str(hard) in refused.json()["detail"][0]["msg"]
        team.act(
            sid, "bolus", team.nurse, dose_mg=str(over_soft), reason="pain", override_reason="Dr ok"
        )
    with at(60):
        stopped = team.act(sid, "stop", team.nurse)
    rate = Decimal(started["order"]["rate_mg_per_h"])
    assert Decimal(stopped["delivered"]["bolus_mg"]) == first + over_soft
    assert Decimal(stopped["delivered"]["total_mg"]) == rate + first + over_soft  # 60 min


def test_a_bolus_is_refused_on_a_protocol_without_one_and_before_the_start(team: Team) -> None:
    sid = team.schedule()
    team.ready(sid)
    assert _post(team, sid, "bolus", team.nurse, dose_mg="5", reason="x").status_code == 409
    team.act(sid, "start", team.nurse)
    response = _post(team, sid, "bolus", team.nurse, dose_mg="5", reason="x")
    assert response.status_code == 422
    assert "no bolus" in response.json()["detail"][0]["msg"]


# --- discharge ----------------------------------------------------------------------------------


def test_discharge_is_refused_before_the_observation_time_naming_the_earliest_time(
    team: Team,
) -> None:
    sid = _stopped_at(team, 40)
    stop_time = T0 + timedelta(minutes=40)
    earliest = stop_time + timedelta(minutes=MIN_OBSERVATION_MIN)
    with at(40 + MIN_OBSERVATION_MIN - 1):
        response = _post(team, sid, "discharge", team.nurse, **DISCHARGE)
        read = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()
    assert response.status_code == 422
    # The test clinic's zone is UTC: the earliest time as its wall clock shows it.
    assert f"discharge allowed from {earliest:%H:%M}" in response.json()["detail"][0]["msg"]
    assert datetime.fromisoformat(read["earliest_discharge_at"]) == earliest
    assert read["state"] == "observing"
    assert [m for m in _measurements(team) if m["context"] == "post"] == []  # nothing written


def test_discharge_lists_every_unmet_criterion_at_once(team: Team) -> None:
    sid = _stopped_at(team, 40)
    body = {
        **DISCHARGE,
        "aldrete": {**GOOD_ALDRETE, "activity": 1, "spo2": 1},  # 8 of 10
        "escort_confirmed": False,
        "no_driving_advice_given": False,
    }
    with at(40 + MIN_OBSERVATION_MIN):
        response = _post(team, sid, "discharge", team.nurse, **body)
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert "Aldrete score 8/10" in message
    assert "escort" in message
    assert "driving" in message
    assert "observation" not in message


def test_discharge_after_the_observation_time_stores_the_assessment_signed(team: Team) -> None:
    sid = _stopped_at(team, 40)
    with at(40 + MIN_OBSERVATION_MIN):
        done = team.act(sid, "discharge", team.nurse, **DISCHARGE)
    assert done["state"] == "discharged"
    assert done["allowed_moves"] == []
    record = done["events"][-1]
    assert record["kind"] == "discharge"
    assert record["data"]["aldrete_total"] == sum(GOOD_ALDRETE.values())
    assert record["data"]["escort_name"] == CHECK_IN["escort_name"]
    assert record["data"]["signed_by_user_id"] == record["by_user_id"]
    post = [m for m in _measurements(team) if m["context"] == "post"]
    assert {m["session_id"] for m in post} == {sid}
    assert sorted(m["instrument"] for m in post) == ["nrs", "phq9"]


def test_an_escort_must_be_named_somewhere(team: Team) -> None:
    with at(-20):
        sid = team.schedule()
        body = {k: v for k, v in CHECK_IN.items() if k != "escort_name"}
        team.act(sid, "check-in", team.nurse, **body)
        team.act(sid, "order", team.physician)
        team.act(sid, "verify", team.second_nurse)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(45):
        team.act(sid, "stop", team.nurse)
    with at(45 + MIN_OBSERVATION_MIN):
        missing = _post(team, sid, "discharge", team.nurse, **DISCHARGE)
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["body", "escort_name"]
        named = team.act(sid, "discharge", team.nurse, **DISCHARGE, escort_name="B. Partner")
    assert named["events"][-1]["data"]["escort_name"] == "B. Partner"


def test_discharge_is_refused_while_infusing(team: Team) -> None:
    sid = team.schedule()
    team.ready(sid)
    team.act(sid, "start", team.nurse)
    response = _post(team, sid, "discharge", team.nurse, **DISCHARGE)
    assert response.status_code == 409
    assert "infusing" in response.json()["detail"][0]["msg"]


# --- the vitals schedule ------------------------------------------------------------------------


def test_vitals_fall_due_one_protocol_interval_after_the_last_check(team: Team) -> None:
    protocol = PROTOCOLS["migraine-lauritsen-2016"]
    interval = timedelta(minutes=protocol.vitals_interval_min)
    with at(-10):
        sid = team.schedule()
        ready = team.act(sid, "check-in", team.nurse, **CHECK_IN)
        assert ready["vitals_due_at"] is None  # the pre-infusion check does not start the clock
        team.act(sid, "order", team.physician)
        team.act(sid, "verify", team.second_nurse)
    with at(0):
        started = team.act(sid, "start", team.nurse)
    assert datetime.fromisoformat(started["vitals_due_at"]) == T0 + interval
    with at(12):
        charted = team.act(sid, "vitals", team.nurse, **CALM_VITALS)
    assert datetime.fromisoformat(charted["vitals_due_at"]) == T0 + timedelta(minutes=12) + interval
