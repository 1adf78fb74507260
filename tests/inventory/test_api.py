"""The controlled-substance chain through the API, on SQLite and PostgreSQL: registration,
products, two-person receipts, witnessed transfers, draws for a session, the administered dose
derived from the timeline and the witnessed waste."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ketaclinic.accounts.core import Role
from tests.conftest import PASSWORD, Person, token_for
from tests.infusions.test_api import at
from tests.inventory.helpers import API, SUPPLIER, Stock


def _detail(response: Any) -> str:
    return " ".join(d["msg"] for d in response.json()["detail"])


def test_it_refuses_a_registration_whose_dea_number_fails_the_check_digit(stock: Stock) -> None:
    body = {
        "registrant_name": "Demo Clinic",
        "dea_number": "BD1234564",
        "schedules": ["CIII", "CIV"],
        "address": "2 Example Street",
        "expires_date": "2028-01-31",
    }
    response = stock.client.post(API + "/registrations", json=body, headers=stock.team.physician)
    assert response.status_code == 422
    assert "last digit should be 3" in _detail(response)
    body["dea_number"] = "BD1234563"
    saved = stock.post("/registrations", body, stock.team.physician)
    assert saved["dea_number"] == "BD1234563"
    assert saved["schedules"] == ["CIII", "CIV"]
    renewed = stock.post(
        "/registrations", {**body, "expires_date": "2031-01-31"}, stock.team.physician
    )
    assert renewed["dea_number"] == "BD1234563"  # a renewal keeps its number
    again = stock.client.post(API + "/registrations", json=body, headers=stock.team.physician)
    assert again.status_code == 409
    listed = stock.client.get(API + "/registrations", headers=stock.team.nurse).json()
    assert [r["expires_date"] for r in listed] == ["2031-01-31", "2028-01-31"]


def test_it_keeps_the_ndc_as_eleven_digits(stock: Stock) -> None:
    assert stock.product["ndc"] == "00000000001"
    assert stock.product["ndc_display"] == "00000-0000-01"
    assert Decimal(stock.product["container_mg"]) == 500


def test_a_receipt_adds_nothing_until_a_second_person_confirms_it(stock: Stock) -> None:
    body = {
        **SUPPLIER,
        "invoice_number": "INV-2",
        "location_id": stock.safe["id"],
        "lots": [
            {
                "product_id": stock.product["id"],
                "lot_number": "k-002",
                "expiry_date": "2027-01-31",
                "containers": 3,
            }
        ],
    }
    receipt = stock.post("/receipts", body, stock.team.nurse)
    assert ("K-002", "Safe A") not in stock.balance()
    same = stock.client.post(
        f"{API}/receipts/{receipt['id']}/confirm", json={}, headers=stock.team.nurse
    )
    assert same.status_code == 422
    assert "second person" in _detail(same)
    stock.post(f"/receipts/{receipt['id']}/confirm", {}, stock.team.second_nurse, status=200)
    assert stock.balance()[("K-002", "Safe A")] == Decimal(1500)


def test_a_reversed_receipt_takes_its_stock_back_with_a_reason_and_a_witness(
    stock: Stock,
) -> None:
    body = {"reason": "entered twice", "witness": stock.witness}
    reversed_ = stock.post(
        f"/receipts/{stock.receipt_id}/reverse", body, stock.team.nurse, status=200
    )
    assert reversed_["reversed"] is True
    assert ("K-001", "Safe A") not in stock.balance()
    kinds = [e["kind"] for e in stock.client.get(f"{API}/ledger", headers=stock.team.nurse).json()]
    assert kinds == ["receipt_reversal", "receive"]  # newest first; nothing edited or removed
    again = stock.client.post(
        f"{API}/receipts/{stock.receipt_id}/reverse", json=body, headers=stock.team.nurse
    )
    assert again.status_code == 409


def test_a_transfer_moves_stock_between_locations_with_a_witness(stock: Stock) -> None:
    body = {
        "lot_id": stock.lot_id,
        "from_location_id": stock.safe["id"],
        "to_location_id": stock.cabinet["id"],
        "containers": 1,
        "witness": stock.witness,
    }
    stock.post("/transfers", body, stock.team.nurse)
    assert stock.balance() == {("K-001", "Cabinet B"): 500, ("K-001", "Safe A"): 500}
    wrong = {**body, "witness": {**stock.witness, "password": "not the password"}}
    response = stock.client.post(API + "/transfers", json=wrong, headers=stock.team.nurse)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "witness"]


def test_it_refuses_a_draw_of_more_than_is_on_hand_naming_what_is_there(stock: Stock) -> None:
    with at(-30):
        sid = stock.team.schedule()
        refused = stock.draw(sid, status=422, containers=3)
    assert "holds 1000 mg here; 1500 mg cannot be drawn" in refused["detail"][0]["msg"]


def test_it_refuses_a_draw_from_an_expired_lot(stock: Stock) -> None:
    _, stock.lot_id = stock.receive("OLD-1", "2026-02-28", containers=1)  # T0 is 2026-03-02
    with at(-30):
        sid = stock.team.schedule()
        refused = stock.draw(sid, status=422, containers=1)
    assert "expired on 2026-02-28" in refused["detail"][0]["msg"]


def test_the_administered_dose_is_the_timelines_and_the_rest_is_wasted_with_a_witness(
    stock: Stock,
) -> None:
    team = stock.team
    with at(-30):
        sid = team.schedule()
        stock.draw(sid, volume_ml="1")  # 50 mg into the bag
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(30):
        team.act(sid, "rate", team.nurse, rate_mg_per_h="20")
    with at(90):
        stopped = team.act(sid, "stop", team.nurse)
    given = Decimal(stopped["delivered"]["total_mg"])
    assert given == Decimal("7.2") * 30 / 60 + 20 * 60 / Decimal(60)  # 3.6 + 20 mg

    with at(95):
        assert stock.client.get(API + "/unrecorded-waste", headers=team.nurse).json() == [sid]
        before = stock.client.get(f"{API}/sessions/{sid}/chain", headers=team.nurse).json()
        assert before["waste_recorded"] is False
        assert Decimal(before["unaccounted_mg"]) == 50
        own = {"username": "x", "password": "y"}
        refused = stock.client.post(
            f"{API}/sessions/{sid}/waste",
            json={"manner": "sharps bin, rendered unrecoverable", "witness": own},
            headers=team.nurse,
        )
        assert refused.status_code == 422
        chain = stock.post(
            f"/sessions/{sid}/waste",
            {"manner": "sharps bin, rendered unrecoverable", "witness": stock.witness},
            team.nurse,
        )
        assert stock.client.get(API + "/unrecorded-waste", headers=team.nurse).json() == []
    assert Decimal(chain["drawn_mg"]) == 50
    assert Decimal(chain["administered_mg"]) == given
    assert Decimal(chain["wasted_mg"]) == 50 - given
    assert Decimal(chain["unaccounted_mg"]) == 0
    assert chain["lots"] == ["K-001"]
    assert stock.balance()[("K-001", "Safe A")] == 1000 - 50


def test_the_witness_of_a_waste_is_never_the_nurse_who_records_it(
    stock: Stock, make_person: Callable[..., Person]
) -> None:
    team = stock.team
    nurse = make_person(Role.NURSE)
    headers = token_for(stock.client, nurse)
    with at(-30):
        sid = team.schedule()
        stock.draw(sid, containers=1)
        team.act(sid, "abort", team.nurse, reason="patient unwell")
        body = {
            "manner": "sharps bin",
            "witness": {"username": nurse.username, "password": PASSWORD},
        }
        refused = stock.client.post(f"{API}/sessions/{sid}/waste", json=body, headers=headers)
    assert refused.status_code == 422
    assert "second person" in _detail(refused)
    assert refused.json()["detail"][0]["loc"] == ["body", "witness"]


def test_staff_and_patients_never_touch_controlled_substances(
    stock: Stock, make_person: Callable[..., Person]
) -> None:
    staff = token_for(stock.client, make_person(Role.STAFF))
    admin = token_for(stock.client, make_person(Role.ADMIN))
    assert stock.client.get(API + "/balance", headers=staff).status_code == 403
    assert stock.client.get(API + "/balance", headers=admin).status_code == 200
    with at(-30):
        sid = stock.team.schedule()
    body = {"lot_id": stock.lot_id, "location_id": stock.safe["id"], "containers": 1}
    assert (
        stock.client.post(f"{API}/sessions/{sid}/draws", json=body, headers=admin).status_code
        == 403
    )


def test_another_clinics_lot_is_not_found(stock: Stock, make_person: Callable[..., Person]) -> None:
    other = token_for(stock.client, make_person(Role.NURSE, clinic="SOUTH"))
    assert stock.client.get(API + "/balance", headers=other).json() == []
    assert stock.client.get(f"{API}/receipts/1", headers=other).status_code == 404
