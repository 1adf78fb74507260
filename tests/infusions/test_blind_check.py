"""The independent, blind double check (issue 11, item 1), on the API and the session page, on
SQLite and PostgreSQL.

The test patient weighs 72.5 kg; the migraine protocol orders 0.1 mg/kg/h for 240 min at 1 mg/mL:
7.25 mg/h, set down to 7.2 mL/h (= 7.2 mg/h); the volume to be infused is 7.2 × 4 h = 28.8 mL.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import Person
from tests.infusions.test_api import CHECK_IN, Team, at, team
from tests.infusions.test_pages import Browser, _version

__all__ = ["team"]

#: What a correctly set pump shows for the order above (by hand: see the module docstring).
PUMP_AS_ORDERED = {
    "drug": "Ketamine",
    "concentration_mg_per_ml": "1",
    "rate_ml_per_h": "7.2",
    "volume_to_be_infused_ml": "28.8",
}


def _ordered(team: Team) -> int:
    with at(-30):
        sid = team.schedule()
        team.act(sid, "check-in", team.nurse, **CHECK_IN)
        team.act(sid, "order", team.physician)
    return sid


def _verify(team: Team, sid: int, headers: dict[str, str], **read: Any) -> Any:
    with at(-20):
        return team.client.post(f"/api/v1/sessions/{sid}/verify", json=read, headers=headers)


def _session(team: Team, sid: int) -> dict[str, Any]:
    result: dict[str, Any] = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()
    return result


def test_the_reading_helper_agrees_with_the_hand_computed_pump(team: Team) -> None:
    sid = _ordered(team)
    reading = team.reading(sid)
    assert Decimal(reading["rate_ml_per_h"]) == Decimal("7.2")
    assert Decimal(reading["volume_to_be_infused_ml"]) == Decimal("28.8")


def test_a_blind_check_that_matches_the_order_verifies_it_and_keeps_what_was_read(
    team: Team,
) -> None:
    sid = _ordered(team)
    # 2 and 2.0, 28.80 and 28.8 are the same numbers: compared exactly, not as text.
    read = {**PUMP_AS_ORDERED, "concentration_mg_per_ml": "1.0", "volume_to_be_infused_ml": "28.80"}
    response = _verify(team, sid, team.second_nurse, **read)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["order"]["verified_by_user_id"] is not None
    event = body["events"][-1]
    assert event["kind"] == "verify"
    assert event["data"]["read"] == {
        "drug": "Ketamine",
        "concentration_mg_per_ml": "1.0",
        "rate_ml_per_h": "7.2",
        "volume_to_be_infused_ml": "28.80",
    }


@pytest.mark.parametrize(
    ("field", "read", "ordered", "unit"),
    [
        ("rate_ml_per_h", "72", "7.2", "mL/h"),
        ("concentration_mg_per_ml", "10", "1", "mg/mL"),
        ("volume_to_be_infused_ml", "28.9", "28.8", "mL"),
    ],
)
def test_it_refuses_a_blind_check_whose_value_differs_from_the_order(
    team: Team, field: str, read: str, ordered: str, unit: str
) -> None:
    sid = _ordered(team)
    before = _session(team, sid)
    response = _verify(team, sid, team.second_nurse, **{**PUMP_AS_ORDERED, field: read})
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", field]
    assert f"the pump reads {read} {unit}, the order is {ordered} {unit}" in detail["msg"]
    after = _session(team, sid)
    assert after["order"]["verified_by_user_id"] is None
    assert after["events"] == before["events"] and after["version"] == before["version"]


def test_it_refuses_a_blind_check_whose_rate_differs_from_the_order(team: Team) -> None:
    sid = _ordered(team)
    response = _verify(team, sid, team.second_nurse, **{**PUMP_AS_ORDERED, "rate_ml_per_h": "7.25"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "rate_ml_per_h"]
    assert "7.25 mL/h, the order is 7.2 mL/h" in response.json()["detail"][0]["msg"]


def test_every_mismatch_is_named_at_once_with_its_field(team: Team) -> None:
    sid = _ordered(team)
    wrong = {
        "drug": "midazolam",
        "concentration_mg_per_ml": "2",
        "rate_ml_per_h": "3.6",
        "volume_to_be_infused_ml": "14.4",
    }
    response = _verify(team, sid, team.second_nurse, **wrong)
    assert response.status_code == 422
    locs = [d["loc"] for d in response.json()["detail"]]
    assert locs == [["body", name] for name in wrong]
    assert "'midazolam', the order is ketamine" in response.json()["detail"][0]["msg"]


def test_a_blind_check_needs_every_value_read(team: Team) -> None:
    sid = _ordered(team)
    partial = {k: v for k, v in PUMP_AS_ORDERED.items() if k != "volume_to_be_infused_ml"}
    response = _verify(team, sid, team.second_nurse, **partial)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "volume_to_be_infused_ml"]


def test_it_refuses_a_start_by_the_verifying_nurse(team: Team) -> None:
    sid = _ordered(team)
    assert _verify(team, sid, team.second_nurse, **PUMP_AS_ORDERED).status_code == 200
    with at(0):
        refused = team.client.post(
            f"/api/v1/sessions/{sid}/start", json={}, headers=team.second_nurse
        )
    assert refused.status_code == 422
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["independent_check"]
    assert "start needs a nurse other than the one who did the second check" in detail["msg"]
    assert _session(team, sid)["state"] == "checked_in"
    with at(0):
        assert team.act(sid, "start", team.nurse)["state"] == "infusing"


def test_the_signing_physician_still_may_not_verify(team: Team) -> None:
    sid = _ordered(team)
    response = _verify(team, sid, team.physician, **PUMP_AS_ORDERED)
    assert response.status_code == 403


def test_a_new_order_after_the_check_clears_it_and_the_next_check_is_against_the_new_one(
    team: Team,
) -> None:
    sid = _ordered(team)
    assert _verify(team, sid, team.second_nurse, **PUMP_AS_ORDERED).status_code == 200
    with at(-15):
        # 0.2 mg/kg/h × 72.5 kg = 14.5 mg/h → 14.5 mL/h; 14.5 × 4 h = 58 mL.
        resigned = team.act(sid, "order", team.physician, dose="0.2")
    assert resigned["order"]["verified_by_user_id"] is None
    stale = _verify(team, sid, team.second_nurse, **PUMP_AS_ORDERED)
    assert stale.status_code == 422
    assert "the order is 14.5 mL/h" in stale.text
    fresh = {**PUMP_AS_ORDERED, "rate_ml_per_h": "14.5", "volume_to_be_infused_ml": "58"}
    assert _verify(team, sid, team.second_nurse, **fresh).status_code == 200


# --- the page ------------------------------------------------------------------------------------


@pytest.fixture
def nurses(
    app: FastAPI, client: TestClient, make_person: Callable[..., Person]
) -> tuple[Team, Browser]:
    """The API team and the second nurse's browser (the same person as ``team.second_nurse``
    is not needed: any nurse who did not sign verifies)."""
    return Team(client, make_person), Browser(app, make_person(Role.NURSE))


def test_the_verify_form_does_not_show_the_orders_values(nurses: tuple[Team, Browser]) -> None:
    team, verifier = nurses
    sid = _ordered(team)
    with at(-20):
        html = verifier.page(sid)
    form = html[html.index('id="verify"') : html.index("</form>", html.index('id="verify"'))]
    for name in PUMP_AS_ORDERED:
        assert f'name="{name}" value=""' in form
    assert "7.2" not in form and "28.8" not in form
    assert "hidden until your blind check" in html
    # Neither the order's facts nor its timeline line give the rate away before the check.
    assert "7.2 mL/h" not in html and "7.2 mg/h" not in html


def test_a_mismatch_on_the_page_names_the_field_and_writes_nothing(
    nurses: tuple[Team, Browser],
) -> None:
    team, verifier = nurses
    sid = _ordered(team)
    with at(-20):
        response = verifier.post(sid, "verify", **{**PUMP_AS_ORDERED, "rate_ml_per_h": "72"})
    assert response.status_code == 422
    assert 'id="e-verify-rate_ml_per_h"' in response.text
    assert "the pump reads 72 mL/h, the order is 7.2 mL/h" in response.text
    assert _session(team, sid)["order"]["verified_by_user_id"] is None


def test_a_matching_check_on_the_page_verifies_and_that_nurse_is_not_offered_the_start(
    nurses: tuple[Team, Browser],
) -> None:
    team, verifier = nurses
    sid = _ordered(team)
    with at(-20):
        response = verifier.post(sid, "verify", **PUMP_AS_ORDERED)
        assert response.status_code == 303
        html = verifier.page(sid)
    assert _session(team, sid)["order"]["verified_by_user_id"] is not None
    assert f'action="/sessions/{sid}/start"' not in html
    assert "another nurse starts the infusion" in html
    assert "blind check: Ketamine 1 mg/mL, 7.2 mL/h, to infuse 28.8 mL" in html  # the timeline
    with at(0):
        refused = verifier.post(sid, "start", html=html)
    assert refused.status_code == 422
    assert "may not start the infusion" in refused.text
    assert _session(team, sid)["state"] == "checked_in"
    assert _version(html)  # the refused form was a current one: the refusal is the rule's
