"""Issue 11 item 6: the safety banner on every chairside page, on SQLite and PostgreSQL: who the
patient is, the weight the dose rests on (and where it came from), allergies highlighted, and
the primary diagnosis, the same everywhere."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.patients.icd10cm import lookup
from tests.conftest import Person
from tests.infusions.test_api import Team, at
from tests.infusions.test_pages import Ward


@pytest.fixture
def ward(app: FastAPI, client: TestClient, make_person: Callable[..., Person]) -> Ward:
    return Ward(app, Team(client, make_person), make_person)


def _banner(html: str) -> str:
    found = re.search(r'<section class="safety-banner".*?</section>', html, re.S)
    assert found, "no safety banner"
    return re.sub(r"\s+", " ", found.group(0))


def _set_allergies(ward: Ward, allergies: list[str]) -> None:
    team = ward.team
    response = team.client.patch(
        f"/api/v1/patients/{team.patient_id}",
        json={"allergies": allergies},
        headers=team.nurse,
    )
    assert response.status_code == 200, response.text


def test_the_session_page_banner_names_the_patient_the_weight_and_the_diagnosis(
    ward: Ward,
) -> None:
    sid = ward.team.schedule()
    with at(0):  # 2 March 2026; born 17 May 1980 (patient_body): 45 completed years
        banner = _banner(ward.nurse.page(sid))
    assert "Test Synthetic-Case" in banner and "MRN MRN-1" in banner and "45 years" in banner
    assert "<strong>72.5 kg</strong>" in banner
    assert "(latest recorded weight, " in banner
    assert f"M79.7</span> {lookup('M79.7').title}" in banner
    assert "Allergies not recorded" in banner and "sb-warn" in banner


def test_after_the_order_the_banner_shows_the_weight_the_order_used(ward: Ward) -> None:
    sid = ward.team.schedule()
    ward.team.ready(sid)
    banner = _banner(ward.nurse.page(sid))
    assert "<strong>72.5 kg</strong>" in banner
    assert "(actual weight used by the signed order)" in banner


def test_recorded_allergies_are_highlighted_and_no_known_allergies_is_said_plainly(
    ward: Ward,
) -> None:
    sid = ward.team.schedule()
    _set_allergies(ward, ["penicillin", "latex"])
    banner = _banner(ward.nurse.page(sid))
    assert re.search(r'class="sb-allergies sb-warn".*Allergies: penicillin, latex', banner)
    _set_allergies(ward, ["NKDA"])
    banner = _banner(ward.nurse.page(sid))
    assert "No known allergies" in banner and "sb-warn" not in banner


def test_the_schedule_and_dose_plan_pages_carry_the_same_banner(ward: Ward) -> None:
    pid = ward.team.patient_id
    with at(0):
        session_banner = _banner(ward.nurse.page(ward.team.schedule()))
        schedule = ward.nurse.client.get(f"/patients/{pid}/sessions/new")
        plan = ward.nurse.client.get(f"/patients/{pid}/dose-plan")
    assert schedule.status_code == plan.status_code == 200
    assert _banner(schedule.text) == session_banner
    assert _banner(plan.text) == session_banner
