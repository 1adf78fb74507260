"""A synthetic demo clinic: staff accounts, one portal patient, and plainly fictional patients.

No real person is described here; every family name starts with "Synthetic-".
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts import service as accounts
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import User
from ketaclinic.audit import service as audit
from ketaclinic.config import Settings
from ketaclinic.db import engine_scope, make_session_factory, transaction
from ketaclinic.demo import floor, history, series
from ketaclinic.demo.inventory import seed_inventory
from ketaclinic.patients import service as patients
from ketaclinic.patients.core import Sex
from ketaclinic.patients.schemas import AddressIn, DiagnosisIn, PatientCreate
from ketaclinic.protocols import service as protocols
from ketaclinic.scheduling import service as scheduling
from ketaclinic.scheduling.core import MINUTES_PER_DAY, DailyHours

CLINIC_CODE = "DEMO"
CLINIC_NAME = "Demo Infusion Clinic"
PATIENT_COUNT = 44
DEMO_CHAIRS = 6
STAFF = (
    ("demo.admin", Role.ADMIN, "Avery Admin (demo)"),
    ("demo.physician", Role.PHYSICIAN, "Dr Parker Physician (demo)"),
    ("demo.nurse", Role.NURSE, "Noa Nurse (demo)"),
    ("demo.nurse2", Role.NURSE, "Nico Second-Nurse (demo)"),
    ("demo.staff", Role.STAFF, "Sam Frontdesk (demo)"),
)
PORTAL_USER = "demo.patient"

# Every condition the clinic treats, with ICD-10-CM codes checked in CODES.md §3.
CONDITIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fibromyalgia", ("M79.7",)),
    ("migraine", ("G43.709", "G43.919")),
    ("CRPS", ("G90.511", "G90.522", "G90.50")),
    ("pain after injury", ("G89.21",)),
    ("arthritis", ("M19.91", "M06.9")),
    ("neck pain", ("M54.2",)),
    ("back pain", ("M54.50", "M54.59")),
    ("cancer pain", ("G89.3",)),
    ("post-operative pain", ("G89.28", "G89.22")),
    ("nerve pain", ("M79.2", "B02.29", "E11.42")),
    ("depression", ("F33.1", "F32.2")),
)
GIVEN = (
    "Ada",
    "Basil",
    "Cora",
    "Dale",
    "Edda",
    "Finn",
    "Gail",
    "Hugo",
    "Iris",
    "Jude",
    "Kit",
    "Lena",
    "Milo",
    "Nora",
    "Otto",
    "Pia",
    "Quin",
    "Rosa",
    "Saul",
    "Tess",
    "Uma",
    "Vic",
)
TREES = (
    "Alder",
    "Birch",
    "Cedar",
    "Elm",
    "Fir",
    "Hazel",
    "Larch",
    "Maple",
    "Oak",
    "Pine",
    "Rowan",
    "Spruce",
    "Willow",
    "Yew",
)
MEDICATIONS = (
    "duloxetine 60 mg daily",
    "pregabalin 150 mg twice daily",
    "sertraline 100 mg daily",
    "amitriptyline 25 mg at night",
    "gabapentin 300 mg three times daily",
)


@dataclass
class SeedResult:
    clinic_code: str
    created: bool
    patient_count: int
    passwords: list[tuple[str, str, str]] = field(default_factory=list)


def seed(settings: Settings, *, new_passwords: bool = False) -> SeedResult:
    """Create the demo clinic once; later calls only hand out new passwords when asked."""
    with engine_scope(settings) as engine, transaction(make_session_factory(engine)) as session:
        clinic = accounts.get_clinic(session, code=CLINIC_CODE)
        if clinic is not None:
            protocols.seed_library(session, clinic_id=clinic.id)
            passwords = _reset_passwords(session) if new_passwords else []
            floor.seed_today(session, clinic_id=clinic.id, zone=settings.timezone)
            seed_inventory(session, clinic_id=clinic.id, today=clock.today(settings.timezone))
            return SeedResult(CLINIC_CODE, created=False, patient_count=0, passwords=passwords)
        clinic = accounts.ensure_clinic(session, code=CLINIC_CODE, name=CLINIC_NAME)
        actor = Actor(None, "demo-seed", None, clinic.id, client_address="cli")
        today = clock.today(settings.timezone)
        set_up_book(session, actor=actor, today=today)
        ids = [
            patients.create(session, actor=actor, data=d, today=today).id
            for d in synthetic_patients(today)
        ]
        passwords = []
        for username, role, name in STAFF:
            password = _new_password()
            accounts.create_user(
                session,
                clinic=clinic,
                username=username,
                password=password,
                role=role,
                display_name=name,
                actor=actor,
            )
            passwords.append((username, role.value, password))
        password = _new_password()
        accounts.create_user(
            session,
            clinic=clinic,
            username=PORTAL_USER,
            password=password,
            role=Role.PATIENT,
            display_name="Ada Synthetic-Alder",
            patient_id=ids[0],
            actor=actor,
        )
        passwords.append((PORTAL_USER, Role.PATIENT.value, password))
        history.seed_history(session, clinic_id=clinic.id, zone=settings.timezone)
        floor.seed_today(session, clinic_id=clinic.id, zone=settings.timezone)
        desk = history.front_desk(session, clinic_id=clinic.id)
        if desk is not None:
            series.book_open_series(session, actor=desk, zone=settings.timezone)
        seed_inventory(session, clinic_id=clinic.id, today=today)
        return SeedResult(CLINIC_CODE, created=True, patient_count=len(ids), passwords=passwords)


def set_up_book(session: Session, *, actor: Actor, today: date) -> None:
    """The demo's appointment book: six chairs in two rooms, open around the clock (so that its
    floor has a day whenever it is tried) with a training day closed two months ahead."""
    assert actor.clinic_id is not None
    for number in range(1, DEMO_CHAIRS + 1):
        chair = scheduling.ensure_chair(session, clinic_id=actor.clinic_id, name=f"Chair {number}")
        chair.room = "Room A" if number <= DEMO_CHAIRS // 2 else "Room B"
        chair.display_order = number
    scheduling.set_hours(
        session,
        clinic_id=actor.clinic_id,
        week=[DailyHours(day, 0, MINUTES_PER_DAY) for day in range(7)],
    )
    training = today + timedelta(days=60)
    scheduling.add_closure(
        session, actor=actor, first=training, last=training, reason="staff training day (demo)"
    )


def synthetic_patients(
    today: date, count: int = PATIENT_COUNT, seed: int = 7
) -> list[PatientCreate]:
    """Fictional adults, cycling through every condition so each is covered at least once."""
    rng = random.Random(seed)  # noqa: S311  (synthetic data, not security)
    out = []
    for i in range(count):
        condition, codes = CONDITIONS[i % len(CONDITIONS)]
        diagnoses = [DiagnosisIn(code=codes[i // len(CONDITIONS) % len(codes)], is_primary=True)]
        if condition != "depression" and rng.random() < 0.25:
            diagnoses.append(DiagnosisIn(code="F33.1"))
        age_days = rng.randint(20 * 365, 78 * 365)
        out.append(
            PatientCreate(
                mrn=f"DEMO-{i + 1:04d}",
                given_name=GIVEN[i % len(GIVEN)] if i else "Ada",
                family_name=f"Synthetic-{TREES[i % len(TREES)]}" if i else "Synthetic-Alder",
                birth_date=today - timedelta(days=age_days),
                sex=rng.choice([Sex.FEMALE, Sex.FEMALE, Sex.MALE, Sex.OTHER]),
                weight_kg=Decimal(rng.randint(520, 1150)) / 10,
                height_cm=Decimal(rng.randint(152, 195)),
                allergies=rng.choice([[], [], ["penicillin"], ["latex"]]),
                medications=rng.sample(MEDICATIONS, rng.randint(0, 2)),
                address=synthetic_address(i),
                diagnoses=diagnoses,
            )
        )
    return out


def synthetic_address(i: int) -> AddressIn:
    """A plainly made-up postal address: ZIP code 00000 is assigned to no place (USPS)."""
    return AddressIn(
        line1=f"{10 + 3 * i} Synthetic Lane (demo)",
        line2=f"Apt {i % 9 + 1}" if i % 3 == 0 else None,
        city="Demo City",
        state="OR",
        zip="00000",
    )


def _reset_passwords(session: Session) -> list[tuple[str, str, str]]:
    names = [u for u, _, _ in STAFF] + [PORTAL_USER]
    result = []
    for user in session.scalars(select(User).where(User.username.in_(names)).order_by(User.id)):
        password = _new_password()
        accounts.set_password(session, user=user, password=password)
        audit.record(
            session,
            actor=Actor(None, "demo-seed", None, user.clinic_id, client_address="cli"),
            action="user.password_reset",
            detail=f"user_id={user.id}",
        )
        result.append((user.username, user.role, password))
    return result


def _new_password() -> str:
    return secrets.token_urlsafe(12)
