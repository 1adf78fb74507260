"""The concentrations page: who may see it, what it draws, and how it refuses bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import Patient
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import simulate
from tests.conftest import Person, log_in

SCHEDULE_QUERY = {
    "compute": "1", "model": "clements", "weight_kg": "80", "age_years": "50", "mode": "schedule",
    "until_min": "120", "row0_kind": "bolus", "row0_start_min": "0", "row0_amount": "20",
    "row1_kind": "infusion", "row1_start_min": "0", "row1_end_min": "60", "row1_amount": "40",
}  # fmt: skip


@pytest.fixture
def nurse(client: TestClient, make_person: Callable[..., Person]) -> TestClient:
    log_in(client, make_person(Role.NURSE))
    return client


def chart_of(html: str) -> dict[str, list[float]]:
    found = re.search(r'<script type="application/json" id="pk-chart-data">(.*?)</script>', html)
    assert found, "the page has no chart data"
    data: dict[str, list[float]] = json.loads(found.group(1))
    return data


def test_a_nurse_sees_the_form_with_an_example_schedule(nurse: TestClient) -> None:
    page = nurse.get("/pk")
    assert page.status_code == 200
    assert "Predicted ketamine concentrations" in page.text
    assert 'value="52.5"' in page.text
    assert "plotly.min.js" not in page.text


def test_a_schedule_is_drawn_with_the_librarys_numbers_and_cited_bands(nurse: TestClient) -> None:
    page = nurse.get("/pk", params=SCHEDULE_QUERY)
    assert page.status_code == 200, page.text
    assert '<script src="/static/vendor/plotly.min.js"></script>' in page.text
    chart = chart_of(page.text)
    schedule = Schedule((Bolus(0, 20), Infusion(0, 60, 40)))
    expected = simulate("clements", Patient(80, 50), schedule, UniformGrid.until(120, 0.1))
    assert chart["times_min"] == expected.times_min.tolist()
    assert chart["plasma"] == expected.plasma_ng_per_ml.tolist()
    assert chart["effect"] == expected.effect_site_ng_per_ml.tolist()
    for source in ("Zanos", "Krystal 1994", "Bowdle", "Herd DW"):
        assert source in page.text
    assert "70–160 ng/mL" in page.text and "100–250 ng/mL" in page.text
    assert "40 mg/h" in page.text


def test_a_target_gives_the_verdict_and_the_rate_changes(nurse: TestClient) -> None:
    query = SCHEDULE_QUERY | {"mode": "manual", "site": "effect", "ng_per_ml": "120",
                              "duration_min": "120", "max_rate_changes": "2", "min_hold_min": "20"}  # fmt: skip
    page = nurse.get("/pk", params=query)
    assert page.status_code == 200, page.text
    assert "reached at" in page.text
    assert page.text.count("mg/h</td>") <= 3


def test_an_unreachable_target_says_so(nurse: TestClient) -> None:
    query = SCHEDULE_QUERY | {"mode": "pump", "site": "plasma", "ng_per_ml": "400",
                              "duration_min": "30", "max_mg_per_h": "5", "max_bolus_mg": "0"}  # fmt: skip
    page = nurse.get("/pk", params=query)
    assert page.status_code == 200
    assert "not reached: the plasma peak is" in page.text and "ng/mL short" in page.text
    assert "the limits cut some of the rates" in page.text


def test_a_pump_plan_lists_its_first_rate_changes_and_says_how_many_more(nurse: TestClient) -> None:
    query = SCHEDULE_QUERY | {"mode": "pump", "site": "effect", "ng_per_ml": "150",
                              "duration_min": "120"}  # fmt: skip
    page = nurse.get("/pk", params=query)
    assert page.status_code == 200
    assert re.search(r"Showing the first 200 of \d+ rate changes", page.text)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"weight_kg": "12"}, "weight_kg", "between 30 and 300 kg"),
        ({"weight_kg": "heavy"}, "weight_kg", "is not a number"),
        ({"row0_amount": "-5"}, "row0_amount", "must not be negative"),
        ({"row1_end_min": "-1"}, "row1_end_min", "between 0 and"),
        ({"model": "marsh"}, "model", "unknown model"),
        ({"mode": "pump", "ng_per_ml": ""}, "ng_per_ml", "required"),
    ],
)
def test_bad_input_is_refused_next_to_its_field(nurse: TestClient, change, field, message) -> None:
    page = nurse.get("/pk", params=SCHEDULE_QUERY | change)
    assert page.status_code == 422
    assert f'id="e-{field}"' in page.text
    assert message in page.text
    assert "pk-chart-data" not in page.text


@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_roles_without_pk_use_are_refused(
    client: TestClient, make_person: Callable[..., Person], role: Role
) -> None:
    log_in(client, make_person(role))
    assert client.get("/pk", params=SCHEDULE_QUERY).status_code == 403


def test_a_physician_may_use_it(client: TestClient, make_person: Callable[..., Person]) -> None:
    log_in(client, make_person(Role.PHYSICIAN))
    assert client.get("/pk", params=SCHEDULE_QUERY).status_code == 200


def test_an_anonymous_visitor_is_sent_to_log_in(client: TestClient) -> None:
    response = client.get("/pk", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/pk")


def test_the_chart_is_exact_not_rounded(nurse: TestClient) -> None:
    values = chart_of(nurse.get("/pk", params=SCHEDULE_QUERY).text)["plasma"]
    assert np.all(np.isfinite(values)) and len(values) == 1201
