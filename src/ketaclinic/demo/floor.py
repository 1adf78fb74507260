"""Today's floor for the demo clinic: sessions in every state, so the chair board has a day.

Everything goes through the same use-cases as the clinic's own work (so it is audited and
checked); times in the past are reached with ``clock.frozen_at``. Seeded once per local day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import User
from ketaclinic.infusions import service as sessions
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.schemas import (
    CheckInIn,
    MoodIn,
    OrderIn,
    ScheduleIn,
    SideEffectIn,
    SideEffectsIn,
    VitalsIn,
)
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.suggestion import suggest
from ketaclinic.screening.core import BpThreshold

#: The demo staff who work the floor: ``demo.nurse2`` is the second nurse who verifies orders.
FLOOR_STAFF = ("demo.physician", "demo.nurse", "demo.nurse2")
CALM = {
    "systolic_mmhg": 126,
    "diastolic_mmhg": 80,
    "heart_rate_per_min": 74,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
}


@dataclass(frozen=True)
class Team:
    physician: Actor
    nurse: Actor
    second_nurse: Actor


@dataclass(frozen=True)
class Plan:
    """One chair: minutes from now when the session was scheduled, and how far it has gone by
    now (``steps`` is given the current time)."""

    chair: str | None  # None: the first free chair, as the front desk books a later visit
    scheduled_min: int
    steps: Callable[[Session, Team, InfusionSession, datetime], None]


def seed_today(session: Session, *, clinic_id: int, zone: ZoneInfo) -> int:
    """Sessions for today on the demo chairs, unless today already has some. Returns how many."""
    now = clock.now()
    team = _team(session, clinic_id)
    if team is None:
        return 0
    today = clock.today(zone)
    if sessions.board(session, actor=team.nurse, day=today, zone=zone):
        return 0
    current = protocols.list_current(session, clinic_id=clinic_id)
    patients = _patients(session, clinic_id)
    day_start = datetime.combine(today, datetime.min.time(), tzinfo=zone)
    for plan, patient in zip(PLANS, patients, strict=False):
        at = max(now + timedelta(minutes=plan.scheduled_min), day_start)
        with clock.frozen_at(min(at, now)):
            row = sessions.schedule(
                session,
                zone=zone,
                actor=team.nurse,
                data=ScheduleIn(
                    patient_id=patient.id,
                    protocol_id=_fitting_protocol(session, patient, current),
                    scheduled_at=at,
                    chair=plan.chair,
                ),
            )
        plan.steps(session, team, row, now)
    return len(PLANS)


def _fitting_protocol(
    session: Session, patient: Patient, current: Sequence[ProtocolVersion]
) -> int:
    """The protocol the schedule form would offer this patient (it fits their diagnosis)."""
    found = suggest(session, patient, current)
    if found is None:
        raise LookupError(f"no protocol of the library fits patient {patient.id}'s diagnoses")
    return found.protocol_id


def _team(session: Session, clinic_id: int) -> Team | None:
    users = {
        u.username: u
        for u in session.scalars(
            select(User).where(User.clinic_id == clinic_id, User.username.in_(FLOOR_STAFF))
        )
    }
    if set(users) != set(FLOOR_STAFF):
        return None

    def actor(name: str) -> Actor:
        user = users[name]
        return Actor(user.id, user.username, Role(user.role), clinic_id, client_address="demo")

    return Team(actor(FLOOR_STAFF[0]), actor(FLOOR_STAFF[1]), actor(FLOOR_STAFF[2]))


def _patients(session: Session, clinic_id: int) -> Sequence[Patient]:
    """Demo patients 2–7 (patient 1 is the portal's own)."""
    rows = session.scalars(
        select(Patient).where(Patient.clinic_id == clinic_id).order_by(Patient.id).offset(1)
    )
    return list(rows)[: len(PLANS)]


# --- what each chair has done today ---------------------------------------------------------------


def _check_in(session: Session, team: Team, row: InfusionSession, **vitals: int) -> None:
    sessions.check_in(
        session,
        actor=team.nurse,
        row=row,
        data=CheckInIn(
            **{**CALM, **vitals},
            pain_nrs=7,
            mood=MoodIn(instrument="phq9", answers=[1, 1, 0, 1, 0, 0, 1, 0, 0]),
            pregnancy_status="not_pregnant",
            contraindications_changed=False,
            escort_name="Demo Escort",
        ),
        threshold=BpThreshold(140, 90),
    )


def _ready(session: Session, team: Team, row: InfusionSession, now: datetime) -> None:
    """Checked in, ordered and verified 10 min ago: ready to start."""
    _ready_at(session, team, row, now - timedelta(minutes=10))


def _ready_at(session: Session, team: Team, row: InfusionSession, at: datetime) -> None:
    with clock.frozen_at(at):
        _check_in(session, team, row)
        sessions.sign_order(session, actor=team.physician, row=row, data=OrderIn())
        sessions.verify(
            session,
            actor=team.second_nurse,
            row=row,
            reading=sessions.reading_as_ordered(row),
        )


def _infusing(session: Session, team: Team, row: InfusionSession, now: datetime) -> None:
    """Started 25 min ago; the vitals 20 min ago raised an alert, and the next are overdue."""
    _ready_at(session, team, row, now - timedelta(minutes=40))
    with clock.frozen_at(now - timedelta(minutes=25)):
        sessions.start(session, actor=team.nurse, row=row)
    with clock.frozen_at(now - timedelta(minutes=20)):
        high = VitalsIn(**{**CALM, "systolic_mmhg": 184, "diastolic_mmhg": 96})
        sessions.record_vitals(session, actor=team.nurse, row=row, data=high)
        effects = [SideEffectIn(effect="dissociation", grade="mild")]
        sessions.record_side_effects(
            session, actor=team.nurse, row=row, data=SideEffectsIn(assessments=effects)
        )


def _observing(session: Session, team: Team, row: InfusionSession, now: datetime) -> None:
    """Infused for 45 min with one rate change, stopped 35 min ago: observing."""
    _ready_at(session, team, row, now - timedelta(minutes=90))
    with clock.frozen_at(now - timedelta(minutes=80)):
        sessions.start(session, actor=team.nurse, row=row)
    with clock.frozen_at(now - timedelta(minutes=65)):
        sessions.record_vitals(session, actor=team.nurse, row=row, data=VitalsIn(**CALM))
        assert row.order_rate_mg_per_h is not None
        assert row.order_pump_rate_ml_per_h is not None
        lower = (row.order_pump_rate_ml_per_h * Decimal("0.8")).quantize(
            Decimal("0.1"), rounding=ROUND_FLOOR
        )  # in the pump's 0.1 mL/h steps
        sessions.change_rate(
            session, actor=team.nurse, row=row, rate_ml_per_h=lower, reason="mild dizziness"
        )
    with clock.frozen_at(now - timedelta(minutes=35)):
        sessions.stop(  # 45 of the 240 min ordered: stopped early, with its reason
            session, actor=team.nurse, row=row, category="side_effects", note="mild dizziness"
        )
    with clock.frozen_at(now - timedelta(minutes=20)):
        sessions.record_vitals(session, actor=team.nurse, row=row, data=VitalsIn(**CALM))


def _checked_in_high_bp(session: Session, team: Team, row: InfusionSession, now: datetime) -> None:
    """Checked in 5 min ago with a blood pressure above the threshold: waiting for the physician."""
    with clock.frozen_at(now - timedelta(minutes=5)):
        _check_in(session, team, row, systolic_mmhg=152, diastolic_mmhg=94)


def _nothing(session: Session, team: Team, row: InfusionSession, now: datetime) -> None:
    """Scheduled later today."""


PLANS: tuple[Plan, ...] = (
    Plan("Chair 1", -90, _observing),
    Plan("Chair 2", -40, _infusing),
    Plan("Chair 3", -10, _ready),
    Plan("Chair 4", -5, _checked_in_high_bp),
    Plan(None, 120, _nothing),
    Plan(None, 150, _nothing),
)
