"""The chain of one vial in a real browser, on SQLite and PostgreSQL (issue 12): a nurse enters a
delivery on the receive page and a second nurse confirms the count; before the start the nurse
draws from that lot on the session page, runs and stops the pump there, and records the rest as
waste with the second nurse's signature; then the administration record of 21 CFR 1304.22(c) is
opened as a page, with the patient's postal address, and its CSV and PDF links answer with
the same administration.

The product, the locked location, the patient, the booking and the order are set up over the API
(they have no page of their own, or are tested elsewhere). The server runs in this process, so
``clock.frozen_at`` moves its clock too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import User
from tests.conftest import Person
from tests.e2e.test_chairside_session import _fill, _log_in, _state
from tests.infusions.test_api import Team, at
from tests.inventory.helpers import API, KETAMINE

pytestmark = pytest.mark.browser
LOT = "E2E-LOT-7"
ADDRESS_LINE = "12 Synthetic Lane, Demo City, OR 00000"  # 1304.22(c): the patient's address
MANNER = "into the pharmaceutical waste bin, rendered unrecoverable"


def _setup(client: TestClient, make_person: Callable[..., Person]) -> dict[str, Any]:
    """A physician records the product and the safe; a nurse books the session; the order is
    signed and verified (check-in, order and blind check over the API)."""
    team = Team(client, make_person)
    address = {"line1": "12 Synthetic Lane", "city": "Demo City", "state": "OR", "zip": "00000"}
    recorded = client.patch(
        f"/api/v1/patients/{team.patient_id}", json={"address": address}, headers=team.nurse
    )
    assert recorded.status_code == 200, recorded.text
    product = client.post(API + "/products", json=KETAMINE, headers=team.physician)
    safe = client.post(API + "/locations", json={"name": "Safe A"}, headers=team.physician)
    assert product.status_code == safe.status_code == 201, (product.text, safe.text)
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    return {"team": team, "sid": sid}


def test_a_lot_is_received_drawn_for_an_infusion_wasted_with_a_witness_and_reported(
    live_server_any: str,
    browser_page: Any,
    client: TestClient,
    make_person: Callable[..., Person],
    factory: Any,
) -> None:
    server, page = live_server_any, browser_page
    nurse, second = make_person(Role.NURSE), make_person(Role.NURSE)
    setup = _setup(client, make_person)
    sid = setup["sid"]

    # Receiving: entered by one nurse, confirmed by a second.
    with at(-25):
        _log_in(page, server, nurse)
        page.click("nav >> text=Controlled substances")
        page.click("a:has-text('Receive a delivery')")
        page.fill("#f-supplier_name", "Synthetic Wholesale (demo)")
        page.fill("#f-supplier_address", "1 Example Way, Springfield")
        page.fill("#f-supplier_dea_number", "RS1234563")
        page.fill("#f-invoice_number", "INV-E2E-1")
        page.fill("input[name='lots.0.lot_number']", LOT)
        page.fill("input[name='lots.0.expiry_date']", "2027-06-30")
        page.fill("input[name='lots.0.containers']", "2")
        page.click("button:has-text('Enter the receipt')")
        page.wait_for_selector("text=a second nurse or physician confirms the count")
        pending = page.inner_text("#pending-receipts")
        assert LOT in pending and "another nurse or physician confirms it" in pending
        assert "Nothing on hand." in page.inner_text("#on-hand")

        _log_in(page, server, second)
        page.goto(f"{server}/inventory")
        page.click("#pending-receipts button:has-text('I counted it: confirm')")
        page.wait_for_selector("text=its lots are in stock")
        on_hand = page.inner_text("#on-hand")
        assert LOT in on_hand and "1000" in on_hand  # 2 vials × 10 mL × 50 mg/mL
        assert page.locator("#pending-receipts").count() == 0

    # The infusion: a draw before the start, the pump run and stopped on the session page.
    url = f"{server}/sessions/{sid}"
    with at(-20):
        _log_in(page, server, nurse)
        page.goto(url)
        card = page.locator("#drug-chain")
        assert "Nothing drawn for this session yet." in card.inner_text()
        source = page.locator("#f-draw-source option", has_text=LOT).get_attribute("value")
        page.select_option("#f-draw-source", source)
        _fill(page, "draw", {"volume_ml": "1"})
        page.click("button:has-text('Record the draw')")
        page.wait_for_selector("text=Drawn 50 mg (1 mL) for this session.")
        assert f"50 mg from lot {LOT}" in page.inner_text("#drug-chain")
    with at(0):
        page.click("button:has-text('Start infusion')")
        page.wait_for_selector("text=Infusion started.")
    with at(60):
        page.select_option("#f-stop-reason_category", "patient_request")
        page.click("#stop button:has-text('Stop infusion')")
        page.click("button:has-text('Confirm stop')")
        page.wait_for_selector("text=Infusion stopped; observation has begun.")
        assert _state(page) == "observing"
        given = Decimal(page.inner_text("#delivered-mg").removesuffix(" mg"))

    # The waste, signed by the second nurse on the same device.
    with at(65):
        page.goto(url)
        card_text = page.inner_text("#drug-chain")
        assert "Waste not recorded." in card_text
        assert f"To waste: {(50 - given).normalize():f} mg" in card_text
        _fill(page, "waste", {"manner": MANNER, "witness_username": second.username,
                              "witness_password": second.password})  # fmt: skip
        page.click("button:has-text('Record the waste with the witness')")
        page.wait_for_selector("text=the session's chain is closed")
        assert "the chain is closed" in page.inner_text("#drug-chain")

    # The administration record: a page, and its CSV and PDF links.
    with at(90):
        page.goto(f"{server}/inventory")
        page.click("a:has-text('Reports for an inspector')")
        page.click("#report-administrations button:has-text('Show')")  # the last 30 days
        page.wait_for_selector("h1:has-text('1304.22(c)')")
        rows = page.locator(".report-table tbody tr")
        assert rows.count() == 1
        row = rows.first.inner_text()
        patient = _patient_name(client, setup["team"])
        names = _display_names(factory, second)
        for expected in (patient, ADDRESS_LINE, LOT, f"{given.normalize():f}", f"{(50 - given).normalize():f}",
                         names, MANNER, str(sid)):  # fmt: skip
            assert expected in row, (expected, row)

        csv_link = page.get_attribute("a:has-text('CSV')", "href")
        pdf_link = page.get_attribute("a:has-text('PDF to print')", "href")
        csv_answer = page.request.get(server + csv_link)
        assert csv_answer.status == 200
        assert csv_answer.headers["content-type"].startswith("text/csv")
        records = [r for r in csv.reader(io.StringIO(csv_answer.text())) if LOT in r]
        assert len(records) == 1
        assert str(sid) in records[0] and MANNER in records[0] and ADDRESS_LINE in records[0]
        pdf_answer = page.request.get(server + pdf_link)
        assert pdf_answer.status == 200
        assert pdf_answer.headers["content-type"] == "application/pdf"
        assert pdf_answer.body().startswith(b"%PDF-")


def _patient_name(client: TestClient, team: Team) -> str:
    patient = client.get(f"/api/v1/patients/{team.patient_id}", headers=team.nurse).json()
    return f"{patient['family_name']}, {patient['given_name']}"


def _display_names(factory: Any, witness: Person) -> str:
    """How the record names the witness: display name and username."""
    with factory() as session:
        user = session.query(User).filter_by(username=witness.username).one()
        return f"{user.display_name} ({user.username})"
