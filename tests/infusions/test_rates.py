"""Rate changes (issue 11, item 2): 0 refused, entered in mL/h or mg/h and converted exactly,
judged against the protocol's mg/h limits and against the total limit by the planned end; the
page shows the pump's rate in both units beside the order's. On SQLite and PostgreSQL; the
property test is pure.

The test patient weighs 72.5 kg (hand computations in each test).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.accounts.core import Role
from ketaclinic.dosing.protocol import Limit
from ketaclinic.errors import DoseOutOfRange, InvalidInput
from ketaclinic.infusions import pump, timeline
from tests.conftest import Person
from tests.infusions.test_api import CHECK_IN, Team, at, team
from tests.infusions.test_pages import Browser

__all__ = ["team"]

CHRONIC = "chronic-pain-low-dose"  # 2 mg/mL: a mL/h and its mg/h differ
DEPRESSION = "depression-murrough-2013"  # total limit soft 60 mg, hard 100 mg


def _started(team: Team, key: str, **order: Any) -> int:
    with at(-30):
        sid = team.schedule(key)
        team.act(sid, "check-in", team.nurse, **CHECK_IN)
        team.act(sid, "order", team.physician, **order)
        team.act(sid, "verify", team.second_nurse)
    with at(0):
        team.act(sid, "start", team.nurse)
    return sid


def _rate(team: Team, sid: int, minutes: int, **body: Any) -> Any:
    with at(minutes):
        return team.client.post(f"/api/v1/sessions/{sid}/rate", json=body, headers=team.nurse)


def _events(team: Team, sid: int) -> list[dict[str, Any]]:
    session = team.client.get(f"/api/v1/sessions/{sid}", headers=team.nurse).json()
    events: list[dict[str, Any]] = session["events"]
    return events


@pytest.mark.parametrize("unit", ["rate_ml_per_h", "rate_mg_per_h"])
def test_it_refuses_a_rate_of_zero_and_says_to_use_pause(team: Team, unit: str) -> None:
    sid = _started(team, "migraine-lauritsen-2016")
    response = _rate(team, sid, 10, **{unit: "0"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", unit]
    assert "use Pause" in detail["msg"]
    assert [e["kind"] for e in _events(team, sid)][-1] == "start"


def test_a_rate_in_ml_per_h_is_recorded_with_its_mg_per_h_exactly(team: Team) -> None:
    sid = _started(team, CHRONIC)
    # 10.3 mL/h × 2 mg/mL = 20.6 mg/h.
    response = _rate(team, sid, 10, rate_ml_per_h="10.3")
    assert response.status_code == 200, response.text
    body = response.json()
    event = body["events"][-1]
    assert Decimal(event["rate_mg_per_h"]) == Decimal("20.6")
    assert event["data"] == {"pump_rate_ml_per_h": "10.3", "entered_as": "ml_per_h"}
    assert Decimal(body["pump_now"]["rate_ml_per_h"]) == Decimal("10.3")
    assert Decimal(body["pump_now"]["rate_mg_per_h"]) == Decimal("20.6")


def test_a_rate_in_mg_per_h_is_set_in_whole_pump_steps_or_refused_naming_the_nearest(
    team: Team,
) -> None:
    sid = _started(team, CHRONIC)
    # 12.5 mg/h ÷ 2 mg/mL = 6.25 mL/h, between the pump's 0.1 mL/h steps 6.2 and 6.3.
    refused = _rate(team, sid, 10, rate_mg_per_h="12.5")
    assert refused.status_code == 422
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "rate_mg_per_h"]
    assert "is 6.25 mL/h" in detail["msg"]
    assert "6.2 mL/h (12.4 mg/h) or 6.3 mL/h (12.6 mg/h)" in detail["msg"]
    accepted = _rate(team, sid, 11, rate_mg_per_h="12.4")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["events"][-1]["data"]["pump_rate_ml_per_h"] == "6.2"


def test_a_ml_per_h_between_the_pumps_steps_is_refused_not_rounded(team: Team) -> None:
    sid = _started(team, CHRONIC)
    response = _rate(team, sid, 10, rate_ml_per_h="10.35")
    assert response.status_code == 422
    assert "10.3 mL/h (20.6 mg/h) or 10.4 mL/h (20.8 mg/h)" in response.json()["detail"][0]["msg"]
    assert [e["kind"] for e in _events(team, sid)][-1] == "start"


@pytest.mark.parametrize("body", [{}, {"rate_ml_per_h": "10", "rate_mg_per_h": "20"}])
def test_a_rate_is_given_in_exactly_one_unit(team: Team, body: dict[str, str]) -> None:
    sid = _started(team, CHRONIC)
    response = _rate(team, sid, 10, **body)
    assert response.status_code == 422
    assert "exactly one unit" in response.json()["detail"][0]["msg"]


def test_it_refuses_a_rate_above_the_hard_limit_and_needs_a_reason_above_the_soft(
    team: Team,
) -> None:
    # Migraine: rate soft 40, hard 60 mg/h (1 mg/mL).
    sid = _started(team, "migraine-lauritsen-2016")
    hard = _rate(team, sid, 10, rate_ml_per_h="60.1")
    assert hard.status_code == 422
    assert hard.json()["detail"][0]["loc"] == ["body", "rate_ml_per_h"]  # the unit sent
    assert "60.1 mg/h is above the hard limit of 60 mg/h" in hard.json()["detail"][0]["msg"]
    soft = _rate(team, sid, 10, rate_ml_per_h="41")
    assert soft.status_code == 422
    assert soft.json()["detail"][0]["loc"] == ["body", "reason"]
    assert [e["kind"] for e in _events(team, sid)][-1] == "start"
    assert _rate(team, sid, 10, rate_ml_per_h="41", reason="pain 8/10").status_code == 200


def _depression(team: Team) -> int:
    # 0.5 mg/kg × 72.5 kg = 36.25 mg over 60 min = 36.25 mg/h, set down to 36.2 mL/h (1 mg/mL).
    return _started(team, DEPRESSION, duration_min=60)


def test_it_refuses_a_rate_that_would_take_the_total_past_its_hard_limit_by_the_planned_end(
    team: Team,
) -> None:
    sid = _depression(team)
    # At 10 min: 36.2 × 10/60 = 6.0333… mg given; 120 mg/h for the remaining 50 min is 100 mg:
    # 106.03… mg by the planned end, above the hard total of 100 mg (120 mg/h is below the hard
    # rate limit of 150 mg/h).
    refused = _rate(team, sid, 10, rate_ml_per_h="120", reason="no response")
    assert refused.status_code == 422
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "total_mg"]
    assert "above the hard limit of 100 mg" in detail["msg"]
    assert "remaining 50 min" in detail["msg"]
    # 100 mg/h: 6.03 + 83.33 = 89.37 mg, above the soft total of 60 mg (and the soft rate 90).
    soft = _rate(team, sid, 10, rate_ml_per_h="100")
    assert soft.status_code == 422
    assert soft.json()["detail"][0]["loc"] == ["body", "reason"]
    assert "total_mg" in soft.json()["detail"][0]["msg"]
    assert _rate(team, sid, 10, rate_ml_per_h="100", reason="no response").status_code == 200


def test_paused_time_moves_the_planned_end_so_the_remaining_time_is_running_time(
    team: Team,
) -> None:
    sid = _depression(team)
    with at(10):
        team.act(sid, "pause", team.nurse, reason="nausea")
    with at(30):
        team.act(sid, "resume", team.nurse, reason="settled")
    # 10 min run (6.0333… mg), 20 min paused: 50 min of the 60 still to run, not 30. So 120 mg/h
    # is 106.03… mg by the planned end (refused); counted to the clock's 30 min it would be 66.
    refused = _rate(team, sid, 30, rate_ml_per_h="120", reason="no response")
    assert refused.status_code == 422
    assert "remaining 50 min" in refused.json()["detail"][0]["msg"]


def test_the_page_takes_the_rate_in_either_unit_and_shows_the_pump_beside_the_order(
    app: FastAPI, client: TestClient, make_person: Callable[..., Person]
) -> None:
    team = Team(client, make_person)
    nurse = Browser(app, make_person(Role.NURSE))
    sid = _started(team, CHRONIC)
    with at(10):
        html = nurse.page(sid)
        # 21.75 mg/h ÷ 2 mg/mL = 10.875, set down to 10.8 mL/h = 21.6 mg/h.
        assert re.search(r'id="pump-now".*?10\.8 mL/h.*?21\.6 mg/h', html, re.S)
        assert 'name="rate_ml_per_h"' in html and 'name="rate_mg_per_h"' in html
        refused = nurse.post(sid, "rate", rate_ml_per_h="0", rate_mg_per_h="")
        assert refused.status_code == 422
        assert "use Pause" in refused.text
        done = nurse.post(sid, "rate", rate_ml_per_h="", rate_mg_per_h="20.4", reason="")
        assert done.status_code == 303, done.text
        html = nurse.page(sid)
    tile = html[html.index('id="pump-now"') : html.index('id="pump-now"') + 600]
    # 20.4 mg/h ÷ 2 mg/mL = 10.2 mL/h, beside the order's 10.8 mL/h = 21.6 mg/h.
    assert "10.2 mL/h" in tile and "20.4 mg/h" in tile
    assert "ordered 10.8 mL/h = 21.6 mg/h" in tile
    assert "Rate changed" in html and "10.2 mL/h = 20.4 mg/h" in html


# --- the property: no accepted decision takes the planned total past the hard limit ------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RESOLUTION = Decimal("0.1")


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    concentration = draw(st.sampled_from([Decimal(1), Decimal(2), Decimal("0.5")]))
    planned_min = draw(st.integers(min_value=20, max_value=300))
    rate_hard = Decimal(draw(st.integers(min_value=5, max_value=200)))
    total_hard = Decimal(draw(st.integers(min_value=5, max_value=400)))
    # The order was judged at signing: its rate and its total within the hard limits.
    top_mg_per_h = min(Fraction(rate_hard), Fraction(total_hard) * 60 / planned_min)
    top_steps = int(top_mg_per_h / Fraction(concentration) / Fraction(RESOLUTION))
    start_steps = draw(st.integers(min_value=1, max_value=top_steps))  # ≥ 0.5 mL/h: ≥ 5 steps
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(min_value=1, max_value=60 * 60),  # seconds since the last decision
                st.sampled_from(["rate", "rate", "bolus", "pause", "resume"]),
                st.integers(min_value=1, max_value=3000),  # pump steps of a new rate
                st.integers(min_value=1, max_value=400),  # a bolus, in 0.1 mg
            ),
            max_size=25,
        )
    )
    return {
        "concentration": concentration,
        "planned_min": planned_min,
        "rate_limit": Limit(soft_max=rate_hard, hard_max=rate_hard),
        "total_limit": Limit(soft_max=total_hard, hard_max=total_hard),
        "start_steps": start_steps,
        "steps": steps,
    }


def _judge_bolus(so_far: pump.SoFar, rate: Decimal, dose: Decimal, limit: Limit) -> bool:
    """The charting rule for a bolus against the total: accepted when the projection with the
    push is within the hard limit."""
    return so_far.projected_with_bolus_mg(rate, dose) <= Fraction(limit.hard_max)


@given(scenarios())
def test_no_sequence_of_accepted_rate_changes_and_boluses_passes_the_total_hard_limit(
    scenario: dict[str, Any],
) -> None:
    concentration = scenario["concentration"]
    planned_s = scenario["planned_min"] * 60
    start_rate = scenario["start_steps"] * RESOLUTION * concentration
    events: list[timeline.Event] = [timeline.Start(T0, start_rate)]
    now, rate, paused = T0, start_rate, False

    def running_s(at: datetime) -> Decimal:
        return timeline.derive(events, concentration, as_of=at).infusing_s

    for gap_s, kind, rate_steps, bolus_tenths in scenario["steps"]:
        later = now + timedelta(seconds=gap_s)
        if not paused and running_s(later) >= planned_s:
            break  # decisions are made within the planned time
        now = later
        so_far = pump.so_far(timeline.derive(events, concentration, as_of=now), planned_s // 60)
        if kind == "pause" and not paused:
            events.append(timeline.Pause(now))
            paused = True
        elif kind == "resume" and paused:
            events.append(timeline.Resume(now))
            paused = False
        elif kind == "rate" and not paused:
            try:
                new = pump.setting(
                    ml_per_h=rate_steps * RESOLUTION,
                    mg_per_h=None,
                    concentration_mg_per_ml=concentration,
                    resolution_ml_per_h=RESOLUTION,
                )
                pump.judge_rate(
                    new.mg_per_h,
                    so_far,
                    rate_limit=scenario["rate_limit"],
                    total_limit=scenario["total_limit"],
                    reason="clinical decision",
                )
            except (DoseOutOfRange, InvalidInput):
                continue
            events.append(timeline.RateChange(now, new.mg_per_h))
            rate = new.mg_per_h
        elif kind == "bolus":
            dose = Decimal(bolus_tenths) / 10
            if _judge_bolus(so_far, rate, dose, scenario["total_limit"]):
                events.append(timeline.BolusGiven(now, dose))
    if paused:
        events.append(timeline.Resume(now))
    # Run on to the planned end: the planned running time in all, at the last accepted rate.
    left_s = planned_s - running_s(now)
    assert left_s == int(left_s)  # every gap is whole seconds
    end = now + timedelta(seconds=int(left_s))
    given_total = timeline.derive([*events, timeline.Stop(end)], concentration)
    assert given_total.infusing_s == planned_s
    hard = scenario["total_limit"].hard_max
    assert given_total.total_mg <= hard
    assert pump.so_far(given_total, planned_s // 60).given_mg <= Fraction(hard)  # exactly
