"""The protocol library and dose calculation over the API and the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ketaclinic.accounts.core import Role
from ketaclinic.cli import app as cli
from ketaclinic.config import Settings
from ketaclinic.dosing.library import PROTOCOLS
from ketaclinic.labels import label
from tests.conftest import Person, cli_env, token_for


@pytest.fixture
def nurse_auth(client: TestClient, make_person: Callable[..., Person]) -> dict[str, str]:
    return token_for(client, make_person(Role.NURSE))


def _protocol_id(client: TestClient, auth: dict[str, str], key: str) -> int:
    rows = client.get("/api/v1/protocols", headers=auth).json()
    return next(r["id"] for r in rows if r["key"] == key)


def test_a_new_clinic_starts_with_the_cited_library(
    client: TestClient, nurse_auth: dict[str, str]
) -> None:
    rows = client.get("/api/v1/protocols", headers=nurse_auth).json()
    assert sorted(r["key"] for r in rows) == sorted(PROTOCOLS)
    assert all(r["version"] == 1 for r in rows)
    one = client.get(f"/api/v1/protocols/{rows[0]['id']}", headers=nurse_auth).json()
    assert one["definition"]["source"]


def test_the_crps_cap_is_applied_visibly(client: TestClient, nurse_auth: dict[str, str]) -> None:
    crps = _protocol_id(client, nurse_auth, "crps-schwartzman-2009")
    body = {"protocol_id": crps, "weight_kg": "100"}
    plan = client.post("/api/v1/dose-calculations", json=body, headers=nurse_auth).json()
    cap = Decimal(PROTOCOLS["crps-schwartzman-2009"].cap_mg_per_h or 0)
    assert Decimal(plan["ordered_rate_mg_per_h"]) == Decimal("0.35") * 100
    assert Decimal(plan["rate_mg_per_h"]) == cap
    assert [f["kind"] for f in plan["findings"]] == ["cap"]
    assert Decimal(plan["total_mg"]) == cap * plan["duration_min"] / 60


def test_a_hard_limit_is_refused_naming_the_limit(
    client: TestClient, nurse_auth: dict[str, str]
) -> None:
    crps = _protocol_id(client, nurse_auth, "crps-schwartzman-2009")
    hard = PROTOCOLS["crps-schwartzman-2009"].dose_limit
    assert hard is not None
    body = {"protocol_id": crps, "weight_kg": "70", "dose": str(hard.hard_max + Decimal("0.01"))}
    response = client.post("/api/v1/dose-calculations", json=body, headers=nurse_auth)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "dose_mg_per_kg_per_h"]
    assert "hard limit" in detail["msg"]


def test_a_soft_limit_needs_a_reason_which_is_kept(
    client: TestClient, nurse_auth: dict[str, str]
) -> None:
    crps = _protocol_id(client, nurse_auth, "crps-schwartzman-2009")
    limit = PROTOCOLS["crps-schwartzman-2009"].dose_limit
    assert limit is not None and limit.soft_max < limit.hard_max
    above_soft = str(limit.hard_max)
    body = {"protocol_id": crps, "weight_kg": "60", "dose": above_soft}
    refused = client.post("/api/v1/dose-calculations", json=body, headers=nurse_auth)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == [
        "body",
        "override_reasons",
        "dose_mg_per_kg_per_h",
    ]
    body["override_reasons"] = {"dose_mg_per_kg_per_h": "Titrated up per physician, tolerated 0.4"}
    accepted = client.post("/api/v1/dose-calculations", json=body, headers=nurse_auth).json()
    soft = [f for f in accepted["findings"] if f["kind"] == "soft"]
    assert soft[0]["override_reason"] == "Titrated up per physician, tolerated 0.4"


def test_staff_may_not_plan_doses(client: TestClient, make_person: Callable[..., Person]) -> None:
    staff = token_for(client, make_person(Role.STAFF))
    response = client.post(
        "/api/v1/dose-calculations", json={"protocol_id": 1, "weight_kg": "70"}, headers=staff
    )
    assert response.status_code == 403


def test_another_clinics_protocol_is_not_found(
    client: TestClient, nurse_auth: dict[str, str], make_person: Callable[..., Person]
) -> None:
    crps = _protocol_id(client, nurse_auth, "crps-schwartzman-2009")
    other = token_for(client, make_person(Role.NURSE, clinic="SOUTH"))
    assert client.get(f"/api/v1/protocols/{crps}", headers=other).status_code == 404
    body = {"protocol_id": crps, "weight_kg": "70"}
    assert client.post("/api/v1/dose-calculations", json=body, headers=other).status_code == 404


def test_the_cli_prints_every_figure_and_exits_2_on_a_hard_limit(
    settings: Settings, client: TestClient, nurse_auth: dict[str, str]
) -> None:
    env = cli_env(settings)
    runner = CliRunner()
    listed = runner.invoke(cli, ["protocols", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    crps = next(r for r in json.loads(listed.output) if r["key"] == "crps-schwartzman-2009")
    assert set(crps) >= {"id", "name", "version", "indications"}
    assert crps["indications"] == ["crps"]  # JSON keeps the ids scripts rely on
    text = runner.invoke(cli, ["protocols", "list"], env=env)
    assert text.exit_code == 0, text.output
    line = next(n for n in text.output.splitlines() if f"{crps['name']}" in n)
    assert line.endswith(f"({label('crps')})")  # people read the clinic's words
    ok = runner.invoke(
        cli, ["dose", "calc", "--protocol", str(crps["id"]), "--weight-kg", "70", "--json"], env=env
    )
    assert ok.exit_code == 0, ok.output
    plan = json.loads(ok.output)
    for figure in (
        "rate_mg_per_h",
        "pump_rate_ml_per_h",
        "total_mg",
        "total_ml",
        "duration_min",
        "weight_basis_kg",
        "findings",
    ):
        assert figure in plan
    assert Decimal(plan["rate_mg_per_h"]) * plan["duration_min"] / 60 == Decimal(
        plan["infusion_mg"]
    )
    refused = runner.invoke(
        cli,
        ["dose", "calc", "--protocol", str(crps["id"]), "--weight-kg", "70", "--dose", "9"],
        env=env,
    )
    assert refused.exit_code == 2
    assert "hard limit" in refused.output
    no_reason = runner.invoke(
        cli,
        ["dose", "calc", "--protocol", str(crps["id"]), "--weight-kg", "70", "--override", "x"],
        env=env,
    )
    assert no_reason.exit_code == 2
    assert "LIMIT=REASON" in no_reason.output
    bad = runner.invoke(
        cli, ["dose", "calc", "--protocol", str(crps["id"]), "--weight-kg", "heavy"], env=env
    )
    assert bad.exit_code == 2
