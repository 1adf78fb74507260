"""Booster suggestions on the physician's work list, on SQLite and PostgreSQL: a course run through
the API to maintenance, scores recorded over the following weeks, and the work list showing the
suggestion with its evidence for the patients who meet the rule, and nothing for one who does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.db import transaction
from ketaclinic.dosing.library import PROTOCOLS
from ketaclinic.outcomes.boosters import rule_for
from ketaclinic.outcomes.core import BoosterRule
from tests.conftest import Person, log_in, patient_body, token_for
from tests.infusions.blind import reading_for
from tests.infusions.test_api import CHECK_IN, T0

PROTOCOL = "chronic-pain-low-dose"  # a series of one session: maintenance right after it
DISCHARGE = {
    "aldrete": {"activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2, "spo2": 2},
    "pain_nrs": 3,
    "mood": {"instrument": "phq9", "answers": [1, 0, 0, 0, 0, 0, 0, 0, 0]},
    "escort_confirmed": True,
    "no_driving_advice_given": True,
}
BASELINE_NRS = 8
RULE = rule_for(PROTOCOLS[PROTOCOL])


def phq9_answers(total: int) -> list[int]:
    """Nine answers summing to ``total``, item 9 kept at 0 (no suicide-risk flag)."""
    answers = [0] * 9
    for i in range(total):
        answers[i % 8] += 1
    return answers


class Clinic:
    def __init__(self, client: TestClient, make_person: Callable[..., Person]) -> None:
        self.client = client
        self.physician_person = make_person(Role.PHYSICIAN)
        self.physician = token_for(client, self.physician_person)
        self.nurse = token_for(client, make_person(Role.NURSE))
        self.second_nurse = token_for(client, make_person(Role.NURSE))
        rows = client.get("/api/v1/protocols", headers=self.nurse).json()
        self.protocol_id: int = next(r["id"] for r in rows if r["key"] == PROTOCOL)
        self.course_ids: dict[int, int] = {}

    def post(self, url: str, headers: dict[str, str], when: datetime, **body: Any) -> Any:
        with clock.frozen_at(when):
            response = self.client.post(url, json=body, headers=headers)
        assert response.status_code in {200, 201}, response.text
        return response.json()

    def measure(
        self, patient_id: int, instrument: str, answers: list[int], context: str, when: datetime
    ) -> None:
        url = f"/api/v1/patients/{patient_id}/measurements"
        body = {
            "instrument": instrument,
            "answers": answers,
            "context": context,
            "measured_at": when.isoformat(),
        }
        self.post(url, self.nurse, when, **body)

    def patient_in_maintenance(self, mrn: str) -> int:
        """A patient with a baseline NRS, a course and its one session run to discharge at T0."""
        patient_id: int = self.post(
            "/api/v1/patients", self.nurse, T0 - timedelta(days=8), **patient_body(mrn=mrn)
        )["id"]
        self.measure(patient_id, "nrs", [BASELINE_NRS], "baseline", T0 - timedelta(days=7))
        course = self.post(
            "/api/v1/courses",
            self.physician,
            T0 - timedelta(days=1),
            patient_id=patient_id,
            protocol_id=self.protocol_id,
        )
        self.course_ids[patient_id] = course["id"]
        sid = self.post(
            "/api/v1/sessions",
            self.nurse,
            T0 - timedelta(hours=1),
            patient_id=patient_id,
            protocol_id=self.protocol_id,
            course_id=course["id"],
            scheduled_at=T0.isoformat(),
        )["id"]
        act = f"/api/v1/sessions/{sid}"
        self.post(f"{act}/check-in", self.nurse, T0 - timedelta(minutes=30), **CHECK_IN)
        self.post(f"{act}/order", self.physician, T0 - timedelta(minutes=20))
        ordered = self.client.get(act, headers=self.second_nurse).json()
        self.post(
            f"{act}/verify", self.second_nurse, T0 - timedelta(minutes=10), **reading_for(ordered)
        )
        self.post(f"{act}/start", self.nurse, T0)
        stopped = self.post(
            f"{act}/stop", self.nurse, T0 + timedelta(minutes=60), reason_category="side_effects"
        )
        discharge_at = datetime.fromisoformat(stopped["earliest_discharge_at"])
        self.post(f"{act}/discharge", self.nurse, discharge_at, **DISCHARGE)
        return patient_id


@pytest.fixture
def clinic(client: TestClient, make_person: Callable[..., Person]) -> Clinic:
    return Clinic(client, make_person)


def _section(html: str, patient_id: int) -> str | None:
    match = re.search(
        rf'<section class="card booster" data-patient-id="{patient_id}">(.*?)</section>',
        html,
        re.S,
    )
    return match.group(1) if match else None


def _percent(value: Fraction) -> str:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def test_every_seeded_protocol_has_the_default_clinic_policy_rule() -> None:
    assert all(rule_for(p) == BoosterRule() for p in PROTOCOLS.values())
    quiet = replace(PROTOCOLS[PROTOCOL], booster_pain_return_percent=None, booster_phq9_rise=12)
    assert rule_for(quiet) == BoosterRule(pain_return_fraction=None, phq9_rise_from_best=12)


def test_the_work_list_suggests_a_booster_with_its_evidence_only_when_the_rule_is_met(
    clinic: Clinic, factory: sessionmaker[Session]
) -> None:
    assert PROTOCOLS[PROTOCOL].series_sessions == 1
    pain_back, mood_down, well = (clinic.patient_in_maintenance(m) for m in ("A-1", "B-2", "C-3"))
    follow_up = T0 + timedelta(days=20)
    best_at = T0 + timedelta(days=6)
    post_phq9 = sum(DISCHARGE["mood"]["answers"])  # type: ignore[arg-type]
    assert RULE.pain_return_fraction is not None and RULE.phq9_rise_from_best is not None
    rise = RULE.phq9_rise_from_best

    # A: pain back to 7 of a baseline of 8 (87.5 %, at least 70 %).
    clinic.measure(pain_back, "nrs", [7], "follow_up", follow_up)
    # B: pain stays low, PHQ-9 rises by the rule's rise from its best since the session.
    low_pain = 4
    assert Fraction(low_pain, BASELINE_NRS) < RULE.pain_return_fraction
    clinic.measure(mood_down, "nrs", [low_pain], "follow_up", follow_up)
    clinic.measure(mood_down, "phq9", phq9_answers(0), "portal", best_at)
    clinic.measure(mood_down, "phq9", phq9_answers(rise), "portal", follow_up)
    # C: pain just under the fraction, PHQ-9 one point short of the rise.
    clinic.measure(well, "nrs", [5], "follow_up", follow_up)
    assert Fraction(5, BASELINE_NRS) < RULE.pain_return_fraction
    clinic.measure(well, "phq9", phq9_answers(post_phq9 + rise - 1), "portal", follow_up)

    log_in(clinic.client, clinic.physician_person)
    with clock.frozen_at(follow_up + timedelta(days=1)):
        html = clinic.client.get("/worklist").text
    assert "Booster suggested" in html

    a = _section(html, pain_back)
    assert a is not None
    share = _percent(Fraction(7, BASELINE_NRS) * 100)
    day_text = follow_up.date().isoformat()
    limit = _percent(RULE.pain_return_fraction * 100)
    assert (
        f"Pain 7/10 on {day_text} is {share} of the baseline {BASELINE_NRS}/10 (rule: ≥ {limit})."
        in a
    )
    assert f'href="/patients/{pain_back}/courses"' in a
    assert "physician decides" in a
    assert re.search(
        rf"<td>Pain \(NRS\)</td><td class=\"mono\">7</td><td>{follow_up:%Y-%m-%d %H:%M}</td>", a
    )

    b = _section(html, mood_down)
    assert b is not None
    assert "PHQ-9" in b and "Pain 4/10" not in b
    assert (
        f"PHQ-9 {rise} on {day_text} is {rise} points above its best since the last session, "
        f"0 on {best_at.date().isoformat()}" in b
    )
    assert re.search(
        rf"<td>PHQ-9</td><td class=\"mono\">0</td><td>{best_at:%Y-%m-%d %H:%M}</td>", b
    )
    assert re.search(
        rf"<td>PHQ-9</td><td class=\"mono\">{rise}</td><td>{follow_up:%Y-%m-%d %H:%M}</td>", b
    )

    assert _section(html, well) is None

    with transaction(factory) as session:
        audited = session.scalars(
            select(AuditEvent.patient_id).where(AuditEvent.action == "booster.read")
        ).all()
    assert sorted(audited) == sorted([pain_back, mood_down])


def test_nothing_is_suggested_while_the_next_session_is_booked_or_before_any_score_returns(
    clinic: Clinic,
) -> None:
    patient_id = clinic.patient_in_maintenance("D-4")
    log_in(clinic.client, clinic.physician_person)
    later = T0 + timedelta(days=10)
    with clock.frozen_at(later):
        assert _section(clinic.client.get("/worklist").text, patient_id) is None
    clinic.measure(patient_id, "nrs", [BASELINE_NRS], "follow_up", later)
    with clock.frozen_at(later + timedelta(hours=1)):
        assert _section(clinic.client.get("/worklist").text, patient_id) is not None
    clinic.post(
        "/api/v1/sessions",
        clinic.nurse,
        later + timedelta(hours=2),
        patient_id=patient_id,
        protocol_id=clinic.protocol_id,
        course_id=clinic.course_ids[patient_id],
        scheduled_at=(later + timedelta(days=2)).isoformat(),
        chair="Chair 2",
    )
    with clock.frozen_at(later + timedelta(hours=3)):
        assert _section(clinic.client.get("/worklist").text, patient_id) is None
