"""Expiry and disposal through the API, on SQLite and PostgreSQL: expired lots await disposal;
a hand-over to a reverse distributor (its DEA number checked) or an on-site destruction with two
witnesses (the DEA Form 41 data) writes one DISPOSE entry per lot and location."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ketaclinic.accounts.core import Role
from tests.conftest import PASSWORD, Person, token_for
from tests.infusions.test_api import at
from tests.inventory.helpers import API, Stock

#: T0 of the tests is 2026-03-02: a lot that expired the day before awaits disposal.
EXPIRED = "2026-03-01"
DISTRIBUTOR = {"name": "Returns Demo Inc", "dea_number": "RR1234563", "address": "3 Way"}


def _expired_lot(stock: Stock) -> int:
    _, lot_id = stock.receive("OLD-1", EXPIRED, containers=1)
    return lot_id


def _witness(make_person: Callable[..., Person], role: Role = Role.NURSE) -> dict[str, str]:
    return {"username": make_person(role).username, "password": PASSWORD}


def _dispose(stock: Stock, body: dict[str, Any], status: int = 201) -> Any:
    with at(0):
        return stock.post("/disposals", body, stock.team.nurse, status=status)


def test_an_expired_lot_on_hand_awaits_disposal(stock: Stock) -> None:
    lot_id = _expired_lot(stock)
    with at(0):
        waiting = stock.client.get(API + "/awaiting-disposal", headers=stock.team.nurse).json()
    assert [(w["lot_id"], w["location"], Decimal(w["on_hand_mg"])) for w in waiting] == [
        (lot_id, "Safe A", Decimal(500))
    ]


def test_a_hand_over_to_a_reverse_distributor_disposes_of_the_whole_lot(stock: Stock) -> None:
    lot_id = _expired_lot(stock)
    body = {
        "method": "reverse_distributor",
        "lines": [{"lot_id": lot_id, "location_id": stock.safe["id"]}],
        "distributor": DISTRIBUTOR,
        "witnesses": [stock.witness],
    }
    record = _dispose(stock, body)
    assert record["distributor_dea_number"] == "RR1234563"
    [line] = record["lines"]
    assert (Decimal(line["quantity"]["mg"]), line["quantity"]["containers"]) == (Decimal(500), 1)
    assert ("OLD-1", "Safe A") not in stock.balance()
    entry = stock.client.get(API + "/ledger", headers=stock.team.nurse).json()[0]
    assert (entry["kind"], entry["id"]) == ("dispose", line["entry_id"])
    assert "RR1234563" in entry["manner"]
    with at(0):
        assert stock.client.get(API + "/awaiting-disposal", headers=stock.team.nurse).json() == []
    read = stock.client.get(f"{API}/disposals/{record['id']}", headers=stock.team.nurse).json()
    assert read == record
    no_form = stock.client.get(f"{API}/disposals/{record['id']}/form-41", headers=stock.team.nurse)
    assert no_form.status_code == 409


def test_a_reverse_distributor_whose_dea_number_fails_the_check_digit_is_refused(
    stock: Stock,
) -> None:
    lot_id = _expired_lot(stock)
    body = {
        "method": "reverse_distributor",
        "lines": [{"lot_id": lot_id, "location_id": stock.safe["id"]}],
        "distributor": {**DISTRIBUTOR, "dea_number": "RR1234564"},
        "witnesses": [stock.witness],
    }
    refused = _dispose(stock, body, status=422)
    assert refused["detail"][0]["loc"] == ["body", "distributor", "dea_number"]
    assert stock.balance()[("OLD-1", "Safe A")] == 500  # nothing written


def test_a_destruction_on_site_gives_the_form_41_data_with_two_witnesses(
    stock: Stock, make_person: Callable[..., Person]
) -> None:
    lot_id = _expired_lot(stock)
    second = _witness(make_person, Role.PHYSICIAN)
    body = {
        "method": "destroyed_on_site",
        "lines": [{"lot_id": lot_id, "location_id": stock.safe["id"]}],
        "destruction_method": "chemical digestion, non-retrievable",
        "witnesses": [stock.witness, second],
    }
    record = _dispose(stock, body)
    form = stock.client.get(f"{API}/disposals/{record['id']}/form-41", headers=stock.team.nurse)
    assert form.status_code == 200, form.text
    data = form.json()
    assert data["witnesses"] == [stock.witness["username"], second["username"]]
    assert data["date_of_destruction"] == "2026-03-02"
    assert data["method_of_destruction"] == "chemical digestion, non-retrievable"
    [item] = data["items"]
    assert (item["lot_number"], item["ndc"]) == ("OLD-1", stock.product["ndc"])
    assert ("OLD-1", "Safe A") not in stock.balance()


def test_a_destruction_refuses_one_witness_twice_the_actor_or_an_unlicensed_one(
    stock: Stock, make_person: Callable[..., Person]
) -> None:
    lot_id = _expired_lot(stock)
    base = {
        "method": "destroyed_on_site",
        "lines": [{"lot_id": lot_id, "location_id": stock.safe["id"]}],
        "destruction_method": "chemical digestion",
    }
    nurse = make_person(Role.NURSE)
    headers = token_for(stock.client, nurse)
    self_witness = {"username": nurse.username, "password": PASSWORD}
    cases = [
        ([stock.witness], "needs 2 witnesses", ["body", "witnesses"]),
        ([stock.witness, stock.witness], "two different people", ["body", "witnesses"]),
        ([stock.witness, self_witness], "not the one who disposes", ["body", "witnesses"]),
        (
            [stock.witness, _witness(make_person, Role.STAFF)],
            "licensed person",
            ["body", "witnesses", 1],
        ),
        (
            [stock.witness, {**stock.witness, "password": "wrong password"}],
            "username or password is wrong",
            ["body", "witnesses", 1],
        ),
    ]
    for witnesses, message, loc in cases:
        with at(0):
            response = stock.client.post(
                API + "/disposals", json={**base, "witnesses": witnesses}, headers=headers
            )
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"][0]["msg"]
        assert response.json()["detail"][0]["loc"] == loc
    assert stock.balance()[("OLD-1", "Safe A")] == 500


def test_a_partial_disposal_of_more_than_is_on_hand_is_refused(stock: Stock) -> None:
    body = {
        "method": "reverse_distributor",
        "lines": [{"lot_id": stock.lot_id, "location_id": stock.safe["id"], "containers": 3}],
        "distributor": DISTRIBUTOR,
        "witnesses": [stock.witness],
    }
    refused = _dispose(stock, body, status=422)
    assert "holds 1000 mg here" in refused["detail"][0]["msg"]
    body["lines"][0]["containers"] = 1
    _dispose(stock, body)
    assert stock.balance()[("K-001", "Safe A")] == 500
