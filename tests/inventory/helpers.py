"""A clinic with ketamine on its shelf, for the inventory tests."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ketaclinic.accounts.core import Role
from tests.conftest import PASSWORD, Person
from tests.infusions.test_api import Team, at

__all__ = ["API", "PASSWORD", "SUPPLIER", "Stock"]

API = "/api/v1/inventory"
#: A synthetic ketamine product: 10 mL vials of 50 mg/mL, 500 mg each.
KETAMINE = {
    "substance": "ketamine",
    "schedule": "CIII",
    "form": "injectable solution, multi-dose vial",
    "concentration_mg_per_ml": "50",
    "container_ml": "10",
    "ndc": "0000-0000-01",
    "manufacturer": "Synthetic Pharma (demo)",
}
SUPPLIER = {
    "supplier_name": "Synthetic Wholesale (demo)",
    "supplier_address": "1 Example Way, Springfield",
    "supplier_dea_number": "RS1234563",
    "invoice_number": "INV-1",
    "received_date": "2026-03-01",
}


class Stock:
    """A clinic with ketamine on its shelf: a product, a safe, and a confirmed receipt."""

    def __init__(self, team: Team, make_person: Callable[..., Person]) -> None:
        self.team = team
        self.client = team.client
        self.witness_person = make_person(Role.NURSE)
        self.witness = {"username": self.witness_person.username, "password": PASSWORD}
        self.product = self.post("/products", KETAMINE, team.physician)
        self.safe = self.post("/locations", {"name": "Safe A"}, team.physician)
        self.cabinet = self.post("/locations", {"name": "Cabinet B"}, team.physician)
        self.receipt_id, self.lot_id = self.receive("K-001", "2027-06-30", containers=2)

    def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str], status: int = 201
    ) -> Any:
        response = self.client.post(API + path, json=body, headers=headers)
        assert response.status_code == status, response.text
        return response.json()

    def receive(self, lot: str, expiry: str, containers: int) -> tuple[int, int]:
        with at(-60 * 24):
            body = {
                **SUPPLIER,
                "location_id": self.safe["id"],
                "lots": [
                    {
                        "product_id": self.product["id"],
                        "lot_number": lot,
                        "expiry_date": expiry,
                        "containers": containers,
                    }
                ],
            }
            receipt = self.post("/receipts", body, self.team.nurse)
            confirmed = self.post(
                f"/receipts/{receipt['id']}/confirm", {}, self.team.second_nurse, status=200
            )
        assert confirmed["confirmed_by"]
        return receipt["id"], receipt["lines"][0]["lot_id"]

    def balance(self) -> dict[tuple[str, str], Decimal]:
        rows = self.client.get(API + "/balance", headers=self.team.nurse).json()
        return {(r["lot_number"], r["location"]): Decimal(r["on_hand_mg"]) for r in rows}

    def draw(self, sid: int, status: int = 201, **amount: Any) -> Any:
        body = {"lot_id": self.lot_id, "location_id": self.safe["id"], **amount}
        return self.post(f"/sessions/{sid}/draws", body, self.team.nurse, status=status)
