"""Counts and discrepancies through the API, on SQLite and PostgreSQL: a count by two people
against the ledger, the discrepancy each difference opens, its resolution (found, documentation
error, loss) and the DEA Form 106 data and work-list item of a significant loss."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from ketaclinic.accounts.core import Role
from tests.conftest import Person, log_in, token_for
from tests.infusions.test_api import at
from tests.inventory.helpers import API, Stock

REGISTRATION = {
    "registrant_name": "Demo Clinic",
    "dea_number": "BD1234563",
    "schedules": ["CIII", "CIV"],
    "address": "2 Example Street, Springfield",
    "expires_date": "2028-01-31",
}


def _count(stock: Stock, lines: list[dict[str, Any]], status: int = 201, **extra: Any) -> Any:
    body = {"kind": "shift", "timing": "close", "lines": lines, "witness": stock.witness, **extra}
    with at(0):
        return stock.post("/counts", body, stock.team.nurse, status=status)


def _line(stock: Stock, sealed: int, opened_ml: str = "0", **extra: Any) -> dict[str, Any]:
    return {
        "lot_id": stock.lot_id,
        "location_id": stock.safe["id"],
        "sealed_containers": sealed,
        "opened_ml": opened_ml,
        **extra,
    }


def _resolve(stock: Stock, discrepancy_id: int, body: dict[str, Any], status: int = 200) -> Any:
    with at(60):
        return stock.post(
            f"/discrepancies/{discrepancy_id}/resolve", body, stock.team.physician, status=status
        )


def test_a_count_that_matches_the_ledger_opens_no_discrepancy(stock: Stock) -> None:
    count = _count(stock, [_line(stock, sealed=2)])
    [line] = count["lines"]
    assert Decimal(line["expected_mg"]) == Decimal(line["counted_mg"]) == 1000
    assert line["discrepancy_id"] is None
    assert count["witness"] == stock.witness["username"]
    assert stock.client.get(API + "/discrepancies", headers=stock.team.nurse).json() == []


def test_a_short_count_opens_a_discrepancy_of_counted_minus_expected(stock: Stock) -> None:
    # one sealed vial (500 mg) and 6.5 mL estimated of an opened one (6.5 × 50 = 325 mg)
    count = _count(stock, [_line(stock, sealed=1, opened_ml="6.5", opened_estimated=True)])
    [line] = count["lines"]
    assert line["opened_estimated"] is True
    assert Decimal(line["counted_mg"]) == 825
    assert Decimal(line["difference_mg"]) == 825 - 1000
    found = stock.client.get(
        API + "/discrepancies", params={"open_only": "true"}, headers=stock.team.nurse
    ).json()
    assert [d["id"] for d in found] == [line["discrepancy_id"]]
    assert found[0]["resolution"] is None
    read = stock.client.get(f"{API}/counts/{count['id']}", headers=stock.team.nurse).json()
    assert read == count
    one = stock.client.get(f"{API}/discrepancies/{found[0]['id']}", headers=stock.team.nurse)
    assert one.json() == found[0]


def test_a_count_is_refused_when_it_leaves_out_a_lot_on_hand_at_a_counted_location(
    stock: Stock,
) -> None:
    stock.receive("K-002", "2027-09-30", containers=1)
    refused = _count(stock, [_line(stock, sealed=2)], status=422)
    assert "lot K-002 at Safe A is on hand" in refused["detail"][0]["msg"]
    assert stock.client.get(API + "/counts", headers=stock.team.nurse).json() == []


def test_a_count_witnessed_by_the_counter_is_refused(
    stock: Stock, make_person: Callable[..., Person]
) -> None:
    nurse = make_person(Role.NURSE)
    body = {
        "kind": "daily",
        "timing": "opening",
        "lines": [_line(stock, sealed=2)],
        "witness": {"username": nurse.username, "password": nurse.password},
    }
    refused = stock.client.post(API + "/counts", json=body, headers=token_for(stock.client, nurse))
    assert refused.status_code == 422
    assert "second person" in refused.json()["detail"][0]["msg"]


def test_a_documentation_error_adjusts_stock_to_the_count_with_a_witness(stock: Stock) -> None:
    count = _count(stock, [_line(stock, sealed=1, opened_ml="9")])  # 500 + 450 = 950 mg
    discrepancy_id = count["lines"][0]["discrepancy_id"]
    body: dict[str, Any] = {"resolution": "documentation_error", "reason": "draw charted twice"}
    unwitnessed = _resolve(stock, discrepancy_id, body, status=422)
    assert unwitnessed["detail"][0]["loc"] == ["body", "witness"]
    resolved = _resolve(stock, discrepancy_id, {**body, "witness": stock.witness})
    assert resolved["resolution"] == "documentation_error"
    assert stock.balance()[("K-001", "Safe A")] == 950
    newest = stock.client.get(API + "/ledger", headers=stock.team.nurse).json()[0]
    assert newest["id"] == resolved["ledger_entry_id"]
    assert (newest["kind"], Decimal(newest["quantity_mg"])) == ("adjust", Decimal(-50))
    assert newest["witness"] == stock.witness["username"]


def test_a_surplus_is_adjusted_upwards(stock: Stock) -> None:
    count = _count(stock, [_line(stock, sealed=3)])  # 1500 mg found, 1000 expected
    body = {"resolution": "documentation_error", "reason": "a receipt line was short by one vial"}
    _resolve(stock, count["lines"][0]["discrepancy_id"], {**body, "witness": stock.witness})
    assert stock.balance()[("K-001", "Safe A")] == 1500


def test_found_writes_no_ledger_entry_and_closes_the_discrepancy(stock: Stock) -> None:
    count = _count(stock, [_line(stock, sealed=1)])
    discrepancy_id = count["lines"][0]["discrepancy_id"]
    resolved = _resolve(stock, discrepancy_id, {"resolution": "found", "reason": "in the fridge"})
    assert resolved["ledger_entry_id"] is None
    assert stock.balance()[("K-001", "Safe A")] == 1000
    again = stock.client.post(
        f"{API}/discrepancies/{discrepancy_id}/resolve",
        json={"resolution": "found", "reason": "again"},
        headers=stock.team.physician,
    )
    assert again.status_code == 409


def test_a_nurse_cannot_resolve_a_discrepancy(stock: Stock) -> None:
    count = _count(stock, [_line(stock, sealed=1)])
    response = stock.client.post(
        f"{API}/discrepancies/{count['lines'][0]['discrepancy_id']}/resolve",
        json={"resolution": "found", "reason": "in the fridge"},
        headers=stock.team.nurse,
    )
    assert response.status_code == 403


def test_a_loss_is_refused_for_a_surplus(stock: Stock) -> None:
    count = _count(stock, [_line(stock, sealed=3)])
    refused = _resolve(
        stock,
        count["lines"][0]["discrepancy_id"],
        {"resolution": "loss", "reason": "?"},
        status=422,
    )
    assert refused["detail"][0]["loc"] == ["body", "resolution"]


def test_a_significant_loss_gives_the_form_106_data_and_a_work_list_item_until_notified(
    stock: Stock, make_person: Callable[..., Person]
) -> None:
    stock.post("/registrations", REGISTRATION, stock.team.physician)
    count = _count(stock, [_line(stock, sealed=0, opened_ml="5")])  # 250 of 1000 mg found
    discrepancy_id = count["lines"][0]["discrepancy_id"]
    body = {
        "resolution": "loss",
        "reason": "vial missing from the safe",
        "significant": True,
        "loss_type": "employee_pilferage",
    }
    resolved = _resolve(stock, discrepancy_id, body)
    assert resolved["significant"] is True
    assert stock.balance()[("K-001", "Safe A")] == 250
    form = stock.client.get(
        f"{API}/discrepancies/{discrepancy_id}/form-106", headers=stock.team.physician
    ).json()
    assert (form["registrant_name"], form["dea_number"]) == ("Demo Clinic", "BD1234563")
    assert form["address"] == REGISTRATION["address"]
    assert form["date_of_discovery"] == "2026-03-02"  # the count's day (T0)
    assert (form["substance"], form["ndc"], form["lot_number"]) == (
        "ketamine",
        stock.product["ndc"],
        "K-001",
    )
    # 750 mg missing at 50 mg/mL = 15 mL = 1 full 500 mg vial and a part
    quantity = form["quantity"]
    assert (Decimal(quantity["mg"]), Decimal(quantity["ml"]), quantity["containers"]) == (
        Decimal(750),
        Decimal(15),
        1,
    )
    assert form["type_of_loss"] == "employee pilferage"

    log_in(stock.client, make_person(Role.PHYSICIAN))
    page = stock.client.get("/worklist").text
    assert f"/inventory/discrepancies/{discrepancy_id}/form-106" in page
    stock.post(
        f"/discrepancies/{discrepancy_id}/dea-notification",
        {"note": "faxed the Field Division, ref 42"},
        stock.team.physician,
        status=200,
    )
    assert (
        f"/inventory/discrepancies/{discrepancy_id}/form-106"
        not in stock.client.get("/worklist").text
    )


def test_a_loss_not_deemed_significant_has_no_form_106(stock: Stock) -> None:
    count = _count(stock, [_line(stock, sealed=1, opened_ml="9.8")])  # 10 mg short
    discrepancy_id = count["lines"][0]["discrepancy_id"]
    _resolve(stock, discrepancy_id, {"resolution": "loss", "reason": "spilled on opening"})
    response = stock.client.get(
        f"{API}/discrepancies/{discrepancy_id}/form-106", headers=stock.team.physician
    )
    assert response.status_code == 409


def test_a_significant_flag_needs_a_loss_with_its_type(stock: Stock) -> None:
    count = _count(stock, [_line(stock, sealed=1)])
    discrepancy_id = count["lines"][0]["discrepancy_id"]
    for body, field in (
        ({"resolution": "found", "reason": "x", "significant": True}, "significant"),
        ({"resolution": "loss", "reason": "x", "significant": True}, "loss_type"),
    ):
        refused = _resolve(stock, discrepancy_id, body, status=422)
        assert refused["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.PHYSICIAN])
def test_the_registrant_side_may_resolve(
    stock: Stock, make_person: Callable[..., Person], role: Role
) -> None:
    count = _count(stock, [_line(stock, sealed=1)])
    headers = token_for(stock.client, make_person(role))
    response = stock.client.post(
        f"{API}/discrepancies/{count['lines'][0]['discrepancy_id']}/resolve",
        json={"resolution": "found", "reason": "recounted: two vials"},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def test_only_the_newest_count_of_a_lot_may_move_stock(stock: Stock) -> None:
    first = _count(stock, [_line(stock, sealed=1)])
    second = _count(stock, [_line(stock, sealed=1)])  # the same 500 mg still missing
    loss = {"resolution": "loss", "reason": "vial missing"}
    refused = _resolve(stock, first["lines"][0]["discrepancy_id"], loss, status=409)
    assert f"count {second['id']} counted this lot there later" in refused["detail"][0]["msg"]
    _resolve(
        stock, first["lines"][0]["discrepancy_id"], {"resolution": "found", "reason": "later count"}
    )
    _resolve(stock, second["lines"][0]["discrepancy_id"], loss)
    assert stock.balance()[("K-001", "Safe A")] == 500  # corrected once, not twice
