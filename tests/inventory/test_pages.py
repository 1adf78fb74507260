"""The controlled-substance pages, on SQLite and PostgreSQL: a delivery received by one nurse
and confirmed by another, the overview summing the ledger, a witnessed transfer."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import PASSWORD, Person, csrf_from, log_in
from tests.infusions.test_api import at
from tests.inventory.helpers import SUPPLIER, Stock


def _browser(app: FastAPI, person: Person) -> TestClient:
    browser = TestClient(app)
    log_in(browser, person)
    return browser


def test_a_delivery_entered_on_the_page_enters_stock_once_a_second_nurse_confirms_it(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    first, second = make_person(Role.NURSE), make_person(Role.NURSE)
    entering = _browser(app, first)
    form = entering.get("/inventory/receipts/new")
    assert form.status_code == 200
    data = {
        **SUPPLIER,
        "invoice_number": "INV-PAGE",
        "location_id": str(stock.cabinet["id"]),
        "lots.0.product_id": str(stock.product["id"]),
        "lots.0.lot_number": "P-1",
        "lots.0.expiry_date": "2027-12-31",
        "lots.0.containers": "4",
        "csrf_token": csrf_from(form.text),
    }
    with at(0):
        entered = entering.post("/inventory/receipts/new", data=data)
    assert entered.status_code == 200, entered.text
    assert "a second nurse or physician confirms the count" in entered.text
    assert "I counted it: confirm" not in entered.text  # not offered to the one who entered it
    confirming = _browser(app, second)
    overview = confirming.get("/inventory")
    assert "Receipts waiting for a second person" in overview.text
    receipt_id = overview.text.split('action="/inventory/receipts/')[1].split("/")[0]
    with at(1):
        done = confirming.post(
            f"/inventory/receipts/{receipt_id}/confirm",
            data={"csrf_token": csrf_from(overview.text)},
        )
    assert done.status_code == 200
    assert f"Receipt {receipt_id} confirmed" in done.text
    assert stock.balance()[("P-1", "Cabinet B")] == 2000  # 4 × 10 mL × 50 mg/mL


def test_a_receipt_with_a_bad_supplier_dea_number_is_refused_on_the_page_and_nothing_is_written(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    browser = _browser(app, make_person(Role.NURSE))
    form = browser.get("/inventory/receipts/new")
    data = {
        **SUPPLIER,
        "supplier_dea_number": "RS1234564",
        "location_id": str(stock.safe["id"]),
        "lots.0.product_id": str(stock.product["id"]),
        "lots.0.lot_number": "P-2",
        "lots.0.expiry_date": "2027-12-31",
        "lots.0.containers": "1",
        "csrf_token": csrf_from(form.text),
    }
    refused = browser.post("/inventory/receipts/new", data=data)
    assert refused.status_code == 422
    assert "last digit should be 3" in refused.text
    assert 'value="P-2"' in refused.text  # what was typed is kept
    assert ("P-2", "Safe A") not in stock.balance()


def test_a_transfer_on_the_page_needs_the_witness_password(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    nurse = make_person(Role.NURSE)
    browser = _browser(app, nurse)
    form = browser.get("/inventory/transfers/new")
    data = {
        "lot_id": str(stock.lot_id),
        "from_location_id": str(stock.safe["id"]),
        "to_location_id": str(stock.cabinet["id"]),
        "containers": "1",
        "witness_username": stock.witness_person.username,
        "witness_password": "wrong password",
        "csrf_token": csrf_from(form.text),
    }
    refused = browser.post("/inventory/transfers/new", data=data)
    assert refused.status_code == 422
    assert "username or password is wrong" in refused.text
    done = browser.post("/inventory/transfers/new", data={**data, "witness_password": PASSWORD})
    assert done.status_code == 200, done.text
    assert "Transfer recorded and witnessed." in done.text
    assert stock.balance() == {("K-001", "Cabinet B"): 500, ("K-001", "Safe A"): 500}


def test_front_desk_staff_do_not_see_controlled_substances(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    browser = _browser(app, make_person(Role.STAFF))
    assert browser.get("/inventory").status_code == 403
    assert 'href="/inventory"' not in browser.get("/patients").text
