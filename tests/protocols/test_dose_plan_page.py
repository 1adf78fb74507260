"""The dose plan page: figures, findings with reasons, and the predicted curve."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal

from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.dosing.library import PROTOCOLS
from tests.conftest import Person, log_in, patient_body, token_for

KEY = "crps-schwartzman-2009"


def _setup(client: TestClient, make_person: Callable[..., Person]) -> tuple[int, int]:
    nurse = make_person(Role.NURSE)
    headers = token_for(client, nurse)
    patient = client.post(
        "/api/v1/patients", json=patient_body(weight_kg="60"), headers=headers
    ).json()
    protocols = client.get("/api/v1/protocols", headers=headers).json()
    log_in(client, nurse)
    return patient["id"], next(p["id"] for p in protocols if p["key"] == KEY)


def test_the_plan_shows_the_pump_rate_and_the_predicted_curve(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    patient_id, protocol_id = _setup(client, make_person)
    page = client.get(f"/patients/{patient_id}/dose-plan", params={"protocol_id": protocol_id})
    assert page.status_code == 200, page.text
    rate = Decimal("0.35") * 60 / PROTOCOLS[KEY].concentration_mg_per_ml  # 21 mg/h at 1 mg/mL
    assert f"{rate:.1f} mL/h" in page.text
    chart = json.loads(re.search(r'id="pk-chart-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    assert max(chart["plasma"]) > 0
    assert chart["times_min"][-1] == 240 + PROTOCOLS[KEY].observation_min


def test_a_soft_limit_asks_for_a_reason_and_then_keeps_it(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    patient_id, protocol_id = _setup(client, make_person)
    limit = PROTOCOLS[KEY].dose_limit
    assert limit is not None
    params = {"protocol_id": str(protocol_id), "dose": str(limit.hard_max)}
    asked = client.get(f"/patients/{patient_id}/dose-plan", params=params)
    assert asked.status_code == 422
    assert 'name="override_dose_mg_per_kg_per_h"' in asked.text
    params["override_dose_mg_per_kg_per_h"] = "Physician titration after 3 tolerated sessions"
    planned = client.get(f"/patients/{patient_id}/dose-plan", params=params)
    assert planned.status_code == 200
    assert "override: Physician titration after 3 tolerated sessions" in planned.text


def test_a_hard_limit_is_refused_on_the_page(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    patient_id, protocol_id = _setup(client, make_person)
    page = client.get(
        f"/patients/{patient_id}/dose-plan", params={"protocol_id": protocol_id, "dose": "5"}
    )
    assert page.status_code == 422
    assert "hard limit" in page.text
    assert "pk-chart-data" not in page.text
