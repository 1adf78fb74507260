"""The demo clinic's controlled substances: a registration, two plainly synthetic products
(ketamine CIII, midazolam CIV), two locked locations and a delivery confirmed by a second nurse.

Every number and name here is invented: the NDC labeler 99999 and the DEA numbers are not
assigned to anyone, and the products say "SYNTHETIC DEMO" in their names.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import User
from ketaclinic.inventory import service
from ketaclinic.inventory.core import Schedule
from ketaclinic.inventory.models import DrugProduct
from ketaclinic.inventory.schemas import (
    LocationIn,
    ProductIn,
    ReceiptIn,
    ReceiptLotIn,
    RegistrationIn,
)

#: "Demo Infusion Clinic" → second letter D; 9 0 0 0 0 1 → (9+0+0) + 2×(0+0+1) = 11 → 1.
DEMO_DEA_NUMBER = "FD9000011"
#: A synthetic wholesaler; 1 2 3 4 5 6 → 9 + 24 = 33 → 3.
SUPPLIER_DEA_NUMBER = "RS1234563"

KETAMINE = ProductIn(
    substance="ketamine",
    schedule=Schedule.CIII,
    form="ketamine HCl injection, multi-dose vial (SYNTHETIC DEMO)",
    concentration_mg_per_ml=Decimal(50),
    container_ml=Decimal(10),
    ndc="99999-0001-10",
    manufacturer="Synthetic Demo Pharma",
)
MIDAZOLAM = ProductIn(
    substance="midazolam",
    schedule=Schedule.CIV,
    form="midazolam injection, single-dose vial (SYNTHETIC DEMO)",
    concentration_mg_per_ml=Decimal(1),
    container_ml=Decimal(5),
    ndc="99999-0002-05",
    manufacturer="Synthetic Demo Pharma",
)


def _actor(session: Session, clinic_id: int, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, f"the demo needs {username}"
    return Actor(user.id, user.username, Role(user.role), clinic_id, client_address="cli")


def seed_inventory(session: Session, *, clinic_id: int, today: date) -> bool:
    """Stock the demo clinic once (a clinic that has products already is left alone)."""
    if session.scalar(select(DrugProduct.id).where(DrugProduct.clinic_id == clinic_id)):
        return False
    physician = _actor(session, clinic_id, "demo.physician")
    nurse = _actor(session, clinic_id, "demo.nurse")
    second = _actor(session, clinic_id, "demo.nurse2")
    service.register(
        session,
        actor=physician,
        data=RegistrationIn(
            registrant_name="Demo Infusion Clinic",
            dea_number=DEMO_DEA_NUMBER,
            schedules=[Schedule.CIII, Schedule.CIV],
            address="1 Synthetic Street, Demo City (SYNTHETIC)",
            expires_date=today + timedelta(days=400),
        ),
    )
    ketamine = service.add_product(session, actor=physician, data=KETAMINE)
    midazolam = service.add_product(session, actor=physician, data=MIDAZOLAM)
    safe = service.add_location(session, actor=physician, data=LocationIn(name="Safe A (med room)"))
    service.add_location(session, actor=physician, data=LocationIn(name="Cabinet B (infusion bay)"))
    lots = [
        ReceiptLotIn(
            product_id=ketamine.id,
            lot_number="DEMO-K-01",
            expiry_date=today + timedelta(days=540),
            containers=10,
        ),
        ReceiptLotIn(  # flagged on the overview: expires within 30 days
            product_id=ketamine.id,
            lot_number="DEMO-K-00",
            expiry_date=today + timedelta(days=20),
            containers=2,
        ),
        ReceiptLotIn(
            product_id=midazolam.id,
            lot_number="DEMO-M-01",
            expiry_date=today + timedelta(days=365),
            containers=10,
        ),
    ]
    receipt = service.enter_receipt(
        session,
        actor=nurse,
        data=ReceiptIn(
            supplier_name="Synthetic Wholesale (demo)",
            supplier_address="9 Example Way, Demo City (SYNTHETIC)",
            supplier_dea_number=SUPPLIER_DEA_NUMBER,
            invoice_number="DEMO-INV-0001",
            received_date=today - timedelta(days=7),
            location_id=safe.id,
            lots=lots,
        ),
    )
    service.confirm_receipt(session, actor=second, receipt=receipt)
    return True
