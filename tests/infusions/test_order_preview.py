"""Issue 11 item 6 on SQLite and PostgreSQL: the physician sees the computed order before
signing it, signs only what was shown, and a dose plan saved on the patient's dose-plan page
carries into the session's order form."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.db import transaction
from tests.conftest import Person, csrf_from
from tests.infusions.test_api import CHECK_IN, MIGRAINE, Team, at
from tests.infusions.test_pages import Browser, Ward, sign_form


@pytest.fixture
def ward(app: FastAPI, client: TestClient, make_person: Callable[..., Person]) -> Ward:
    return Ward(app, Team(client, make_person), make_person)


def _checked_in(ward: Ward) -> int:
    sid = ward.team.schedule()
    ward.team.act(sid, "check-in", ward.team.nurse, **CHECK_IN)
    return sid


def _migraine_id(ward: Ward) -> int:
    rows = ward.team.client.get("/api/v1/protocols", headers=ward.team.nurse).json()
    found: int = next(r["id"] for r in rows if r["key"] == MIGRAINE)
    return found


def test_a_preview_shows_the_computed_order_and_writes_nothing(ward: Ward) -> None:
    sid = _checked_in(ward)
    before = ward.state(sid)
    preview = ward.physician.post(sid, "order", weight_kg="", dose="", duration_min="")
    assert preview.status_code == 200
    shown = re.sub(r"\s+", " ", preview.text)
    # Migraine protocol defaults: 0.1 mg/kg/h × 72.5 kg = 7.25 mg/h; at 1 mg/mL the pump is set
    # down to 7.2 mL/h = 7.2 mg/h; for the default 240 min that is 7.2 × 4 = 28.8 mg = 28.8 mL.
    assert "<strong>7.2 mL/h</strong> = 7.2 mg/h at 1 mg/mL" in shown
    assert "<strong>28.8 mg = 28.8 mL</strong>" in shown
    assert "0.1 mg/kg/h on 72.5 kg (actual weight) for 240 min" in shown
    assert "0.05 mg/h below the ordered 7.25 mg/h" in shown
    assert "Sign this order" in shown
    after = ward.state(sid)
    assert after["order"] is None
    assert after["version"] == before["version"] and after["events"] == before["events"]


def test_the_preview_names_a_soft_limit_and_its_reason_before_signing(ward: Ward) -> None:
    sid = _checked_in(ward)
    # 0.45 mg/kg/h is above the protocol's soft limit of 0.4 mg/kg/h (dosing/library.py).
    asked = ward.physician.post(sid, "order", dose="0.45")
    assert asked.status_code == 422
    assert 'name="override_dose_mg_per_kg_per_h"' in asked.text
    preview = ward.physician.post(
        sid, "order", dose="0.45", override_dose_mg_per_kg_per_h="responder at 0.4 last time"
    )
    assert preview.status_code == 200
    findings = re.search(r'<ul class="plain" id="order-findings">(.*?)</ul>', preview.text, re.S)
    assert findings and "soft limit" in findings.group(1)
    assert "reason: responder at 0.4 last time" in findings.group(1)
    signed = ward.physician.client.post(
        f"/sessions/{sid}/order", data=sign_form(preview.text), follow_redirects=False
    )
    assert signed.status_code == 303
    order = ward.state(sid)["order"]
    assert order["plan"]["dose"] == "0.45"
    assert [f["override_reason"] for f in order["plan"]["findings"] if f["kind"] == "soft"] == [
        "responder at 0.4 last time"
    ]


def test_signing_refuses_an_order_that_computes_differently_from_the_preview(
    ward: Ward,
) -> None:
    sid = _checked_in(ward)
    preview = ward.physician.post(sid, "order")
    new_weight = ward.team.client.patch(
        f"/api/v1/patients/{ward.team.patient_id}",
        json={"weight_kg": "80"},
        headers=ward.team.nurse,
    )
    assert new_weight.status_code == 200
    refused = ward.physician.client.post(
        f"/sessions/{sid}/order", data=sign_form(preview.text), follow_redirects=False
    )
    assert refused.status_code == 409
    # 80 kg × 0.1 = 8 mg/h → 8 mL/h at 1 mg/mL, where the preview showed 7.2.
    assert "Not signed: the order computes differently from the preview" in refused.text
    assert "pump rate (mL/h): 7.2 → 8.0" in refused.text
    assert ward.state(sid)["order"] is None
    assert "<strong>8 mL/h</strong>" in refused.text  # the new preview, to check and sign


def test_a_dose_plan_saved_on_the_patient_prefills_the_order_form(
    app: FastAPI,
    ward: Ward,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    prescriber = make_person(Role.PHYSICIAN)
    doctor = Browser(app, prescriber)
    pid = ward.team.patient_id
    inputs = {"protocol_id": str(_migraine_id(ward)), "dose": "0.2", "duration_min": "180"}
    with at(-60):
        page = doctor.client.get(f"/patients/{pid}/dose-plan", params=inputs)
        assert page.status_code == 200 and 'id="save-plan"' in page.text
        saved = doctor.client.post(
            f"/patients/{pid}/dose-plan",
            data={**inputs, "weight_basis": "actual", "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
    assert saved.status_code == 303
    sid = _checked_in(ward)
    with at(-30):
        html = doctor.page(sid)
    # T0 is 2 March 2026 (09:00 UTC, the test clinic's zone); display names default to usernames.
    assert f"Inputs from the dose plan of 2 March 2026 by {prescriber.username}." in html
    assert re.search(r'id="f-order-dose" name="dose" value="0.2"', html)
    assert re.search(r'id="f-order-duration_min" name="duration_min" value="180"', html)
    assert re.search(r'id="f-order-weight_kg" name="weight_kg" value="72.5"', html)
    with transaction(factory) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.patient_id == pid)
        ).all()
    assert "dose_plan.save" in actions and "dose_plan.read" in actions


def test_a_weight_taken_since_the_saved_plan_is_not_replaced_by_the_plans_weight(
    ward: Ward,
) -> None:
    # On the real clock: the patient's first weight was recorded when the fixture registered them.
    pid = ward.team.patient_id
    inputs = {"protocol_id": str(_migraine_id(ward)), "dose": "0.2"}
    page = ward.physician.client.get(f"/patients/{pid}/dose-plan", params=inputs)
    saved = ward.physician.client.post(
        f"/patients/{pid}/dose-plan",
        data={**inputs, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    heavier = ward.team.client.patch(
        f"/api/v1/patients/{pid}", json={"weight_kg": "80"}, headers=ward.team.nurse
    )
    assert heavier.status_code == 200
    html = ward.physician.page(_checked_in(ward))
    assert re.search(r'id="f-order-weight_kg" name="weight_kg" value=""', html)
    assert re.search(r'id="f-order-dose" name="dose" value="0.2"', html)
    assert "weight left to the latest recorded (80 kg), newer than the 72.5 kg of the plan" in html


def test_a_nurse_may_calculate_but_not_save_a_dose_plan(ward: Ward) -> None:
    pid = ward.team.patient_id
    inputs = {"protocol_id": str(_migraine_id(ward))}
    page = ward.nurse.client.get(f"/patients/{pid}/dose-plan", params=inputs)
    assert page.status_code == 200 and 'id="save-plan"' not in page.text
    refused = ward.nurse.client.post(
        f"/patients/{pid}/dose-plan",
        data={**inputs, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 403


def test_a_dose_plan_that_does_not_compute_is_not_saved(ward: Ward) -> None:
    pid = ward.team.patient_id
    inputs = {"protocol_id": str(_migraine_id(ward)), "dose": "5"}  # above the hard 1.0 mg/kg/h
    page = ward.physician.client.get(f"/patients/{pid}/dose-plan")
    refused = ward.physician.client.post(
        f"/patients/{pid}/dose-plan",
        data={**inputs, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert 'id="refusal"' in refused.text
    assert "Saved dose plan" not in refused.text
