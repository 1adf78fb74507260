"""The nurse's assessments at the two ends of a session: the check-in (with what it finds and
the physician's clearance) and the discharge. One transaction each (the caller's), each audited.

Both store the patient's pain and mood as questionnaires tied to the session, in the same
transaction as the move, so a refused move leaves no questionnaire behind.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from decimal import Decimal

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.infusions import discharge as discharge_rule
from ketaclinic.infusions.core import GuardContext, Move, State, allowed_moves
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.readings import infusion_end, open_blocks
from ketaclinic.infusions.recording import event, move, patient_of, protocol_of, touch, user_of
from ketaclinic.infusions.schemas import CheckInIn, DischargeIn, MoodIn
from ketaclinic.monitoring.core import PLAUSIBILITY_BANDS as BANDS
from ketaclinic.monitoring.core import check_plausible
from ketaclinic.outcomes import service as outcomes
from ketaclinic.outcomes.models import Measurement
from ketaclinic.outcomes.schemas import Context, MeasurementIn
from ketaclinic.patients import service as patients
from ketaclinic.patients.core import age_in_years
from ketaclinic.patients.models import Patient
from ketaclinic.patients.schemas import PatientUpdate
from ketaclinic.screening.core import BloodPressure, BpThreshold

#: Clinic policy: ask the pregnancy status of every patient not recorded as male aged 12–55.
#: Pregnancy is a relative contraindication (Cohen 2018, REFERENCE §1c [R5]).
PREGNANCY_AGE_RANGE = (12, 55)


# --- check-in and the physician's clearance ------------------------------------------------------


def check_in(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    data: CheckInIn,
    threshold: BpThreshold,
) -> InfusionSession:
    """Check in: pre-infusion vitals, today's weight, pain and mood before, pregnancy status,
    escort, and whether anything in the screening changed. A high blood pressure, a possible
    pregnancy or a new contraindication is recorded as a block on the start that only a
    physician's clearance lifts; the software flags, the physician decides."""
    check_plausible(data.model_dump(include=set(BANDS)), confirmed=data.confirm_implausible)
    patient = patient_of(session, actor, row)
    blocks = _check_in_blocks(patient, data, threshold)
    if data.weight_kg is not None:
        _record_weight(session, actor, patient, data.weight_kg)
    vitals = data.model_dump(
        include={
            "systolic_mmhg",
            "diastolic_mmhg",
            "heart_rate_per_min",
            "spo2_percent",
            "resp_rate_per_min",
        }
    )
    event(row, actor, "vitals", data={**vitals, "context": "pre"})
    measured = _questionnaires(session, actor, patient, row, Context.PRE, data.pain_nrs, data.mood)
    return move(
        session,
        actor,
        row,
        Move.CHECK_IN,
        GuardContext(),
        data={
            "blocks": blocks,
            "pregnancy_status": data.pregnancy_status,
            "contraindications_changed": data.contraindications_changed,
            "contraindication_note": data.contraindication_note,
            "escort_name": data.escort_name,
            "weight_kg": None if data.weight_kg is None else str(data.weight_kg),
            "measurement_ids": [m.id for m in measured],
        },
    )


def _check_in_blocks(patient: Patient, data: CheckInIn, threshold: BpThreshold) -> list[str]:
    blocks = []
    if threshold.exceeded_by(BloodPressure(data.systolic_mmhg, data.diastolic_mmhg)):
        blocks.append("blood_pressure")
    low, high = PREGNANCY_AGE_RANGE
    age = age_in_years(patient.birth_date, clock.now().date())
    if (
        patient.sex != "male"
        and low <= age <= high
        and data.pregnancy_status in (None, "not_applicable")
    ):
        raise InvalidInput(
            f"pregnancy status is needed: the patient is {age} and not recorded as male",
            loc=("body", "pregnancy_status"),
        )
    if data.pregnancy_status in ("pregnant", "unknown"):
        blocks.append("pregnancy")
    if data.contraindications_changed:
        if not data.contraindication_note:
            raise InvalidInput(
                "say what changed since the screening", loc=("body", "contraindication_note")
            )
        blocks.append("new_contraindication")
    return blocks


def record_clearance(
    session: Session, *, actor: Actor, row: InfusionSession, reason: str
) -> InfusionSession:
    """A physician's written decision to proceed despite what the check-in found."""
    if actor.role is not Role.PHYSICIAN:
        raise Forbidden("only a physician decides to proceed despite a check-in finding")
    blocks = open_blocks(row)
    if not blocks:
        raise Conflict("no check-in finding is open on this session", loc=("state",))
    if not reason.strip():
        raise InvalidInput("a clearance needs the physician's reason", loc=("body", "reason"))
    event(row, actor, "clearance", reason=reason, data={"cleared": blocks})
    touch(session, actor, row, "session.clearance")
    return row


# --- discharge -----------------------------------------------------------------------------------


def discharge(
    session: Session,
    *,
    actor: Actor,
    row: InfusionSession,
    data: DischargeIn,
    zone: tzinfo = UTC,
) -> InfusionSession:
    """Discharge, signed by the sender: refused with every unmet criterion at once, the earliest
    discharge time among them. The post-session pain and mood are stored in the same
    transaction, so a refused discharge leaves nothing behind."""
    end = infusion_end(row)
    if State(row.state) is not State.OBSERVING or end is None:
        allowed = ", ".join(allowed_moves(row.state)) or "none (final state)"
        raise Conflict(f"cannot discharge from {row.state}; allowed: {allowed}", loc=("move",))
    escort = data.escort_name or check_in_value(row, "escort_name")
    if data.escort_confirmed and not escort:
        raise InvalidInput("name the escort taking the patient home", loc=("body", "escort_name"))
    aldrete = data.aldrete.model_dump()
    problems = discharge_rule.discharge_problems(
        now=clock.now(),
        infusion_end=end,
        observation_min=protocol_of(session, row).observation_min,
        aldrete_items=aldrete,
        post_pain_nrs=data.pain_nrs,
        post_mood_done=True,  # the mood questionnaire is a required field of the request
        escort_confirmed=data.escort_confirmed,
        no_driving_advice_given=data.no_driving_advice_given,
        zone=zone,
    )
    patient = patient_of(session, actor, row)
    measured = _questionnaires(session, actor, patient, row, Context.POST, data.pain_nrs, data.mood)
    context = GuardContext(discharge_problems=problems)
    return move(
        session,
        actor,
        row,
        Move.DISCHARGE,
        context,
        data={
            "aldrete": aldrete,
            "aldrete_total": discharge_rule.aldrete_total(aldrete),
            "escort_name": escort,
            "no_driving_advice_given": data.no_driving_advice_given,
            "measurement_ids": [m.id for m in measured],
            "signed_by_user_id": user_of(actor),
        },
    )


# --- helpers -------------------------------------------------------------------------------------


def _record_weight(session: Session, actor: Actor, patient: Patient, weight_kg: Decimal) -> None:
    """Today's weight joins the history only when it differs from the last one."""
    current = patient.current_weight
    if current is None or current.weight_kg != weight_kg:
        patients.update(
            session,
            actor=actor,
            patient=patient,
            data=PatientUpdate(weight_kg=weight_kg),
            today=clock.now().date(),
        )


def _questionnaires(
    session: Session,
    actor: Actor,
    patient: Patient,
    row: InfusionSession,
    context: Context,
    pain_nrs: int,
    mood: MoodIn,
) -> list[Measurement]:
    """Pain (NRS) and mood before or after the session, scored exactly and tied to it."""
    recorded = [
        outcomes.record(
            session,
            actor=actor,
            patient=patient,
            data=MeasurementIn(instrument="nrs", answers=[pain_nrs], context=context),
            loc_prefix=("body", "pain_nrs"),
        ),
        outcomes.record(
            session,
            actor=actor,
            patient=patient,
            data=MeasurementIn(instrument=mood.instrument, answers=mood.answers, context=context),
            loc_prefix=("body", "mood", "answers"),
        ),
    ]
    for measurement in recorded:
        measurement.session_id = row.id
    return recorded


def check_in_value(row: InfusionSession, name: str) -> str | None:
    values = [e.data.get(name) for e in row.events if e.kind == "check_in"]
    value = values[-1] if values else None
    return value if isinstance(value, str) else None
