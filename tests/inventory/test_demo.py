"""The demo clinic's controlled substances: synthetic products, a registration that passes the
check digit, and a delivery confirmed by a second nurse, seeded once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts import service as accounts
from ketaclinic.db import transaction
from ketaclinic.demo import STAFF
from ketaclinic.demo.inventory import DEMO_DEA_NUMBER, seed_inventory
from ketaclinic.inventory import core, service

TODAY = date(2026, 12, 1)


def test_the_demo_stocks_synthetic_ketamine_and_midazolam_once(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as session:
        clinic = accounts.ensure_clinic(session, code="DEMO", name="Demo Infusion Clinic")
        for username, role, name in STAFF:
            accounts.create_user(
                session,
                clinic=clinic,
                username=username,
                password="a long demo password",
                role=role,
                display_name=name,
            )
        assert seed_inventory(session, clinic_id=clinic.id, today=TODAY) is True
        assert seed_inventory(session, clinic_id=clinic.id, today=TODAY) is False
        rows = service.balances(session, clinic_id=clinic.id)
        products = service.products(session, clinic_id=clinic.id)
        registration = service.registrations(session, clinic_id=clinic.id)[0]
    on_hand = {(r.product.substance, r.lot.lot_number): r.on_hand_mg for r in rows}
    assert on_hand == {
        ("ketamine", "DEMO-K-00"): Decimal(2 * 10 * 50),
        ("ketamine", "DEMO-K-01"): Decimal(10 * 10 * 50),
        ("midazolam", "DEMO-M-01"): Decimal(10 * 5 * 1),
    }
    flags = {r.lot.lot_number: core.expiry_flag(r.lot.expiry_date, TODAY) for r in rows}
    assert flags["DEMO-K-00"] is core.ExpiryFlag.EXPIRING
    assert {p.schedule for p in products} == {"CIII", "CIV"}
    assert all("SYNTHETIC DEMO" in p.form and p.ndc.startswith("99999") for p in products)
    assert registration.dea_number == core.check_dea_number(DEMO_DEA_NUMBER)
