"""Recording and reading measurements; a suicide-risk answer goes on the physician's work list."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import Conflict, InvalidInput
from ketaclinic.instruments.core import rounded, score
from ketaclinic.outcomes.models import Measurement
from ketaclinic.outcomes.schemas import Context, MeasurementIn, MeasurementOut, ScoreOut
from ketaclinic.patients.models import Patient

URGENT_FLAGS = frozenset({"suicide_risk"})


def record(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    data: MeasurementIn,
    loc_prefix: tuple[str | int, ...] = ("body",),
) -> Measurement:
    """Score and store one questionnaire, with the answers it was scored from."""
    try:
        result = score(data.instrument, data.answers)
    except InvalidInput as error:  # the scorer names the item; the request names where it sits
        raise type(error)(error.msg, loc=(*loc_prefix, *error.loc)) from None
    measured_at = data.measured_at or clock.now()
    if measured_at > clock.now():
        raise InvalidInput(
            "a questionnaire cannot be completed in the future", loc=("body", "measured_at")
        )
    measurement = Measurement(
        patient_id=patient.id,
        instrument=result.instrument,
        context=data.context.value,
        answers=list(result.answers),
        scores={s.name: str(Fraction(s.value)) for s in result.scores},
        band=result.band,
        flags=list(result.flags),
        measured_at=measured_at,
        recorded_by_user_id=actor.user_id,
    )
    session.add(measurement)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="measurement.create",
        patient_id=patient.id,
        detail=f"measurement_id={measurement.id} instrument={result.instrument}"
        + (" flags=" + ",".join(result.flags) if result.flags else ""),
    )
    return measurement


def list_for(
    session: Session, *, actor: Actor, patient: Patient, instrument: str | None = None
) -> Sequence[Measurement]:
    query = select(Measurement).where(Measurement.patient_id == patient.id)
    if instrument:
        query = query.where(Measurement.instrument == instrument)
    rows = session.scalars(query.order_by(Measurement.measured_at, Measurement.id)).all()
    audit.record(session, actor=actor, action="measurement.list", patient_id=patient.id)
    return rows


def urgent(session: Session, *, clinic_id: int) -> Sequence[tuple[Measurement, Patient]]:
    """Unacknowledged urgent flags in the clinic, oldest first: they must not wait."""
    rows = session.execute(
        select(Measurement, Patient)
        .join(Patient, Patient.id == Measurement.patient_id)
        .where(Patient.clinic_id == clinic_id, Measurement.flag_acknowledged_at.is_(None))
        .order_by(Measurement.measured_at)
    ).all()
    return [(m, p) for m, p in rows if URGENT_FLAGS & set(m.flags)]


def acknowledge(session: Session, *, actor: Actor, measurement: Measurement) -> None:
    """The physician has seen the flag and acted (a structured risk assessment is theirs to do)."""
    if measurement.flag_acknowledged_at is not None:
        raise Conflict("this flag was already acknowledged")
    measurement.flag_acknowledged_by_user_id = actor.user_id
    measurement.flag_acknowledged_at = clock.now()
    audit.record(
        session,
        actor=actor,
        action="measurement.flag_acknowledge",
        patient_id=measurement.patient_id,
        detail=f"measurement_id={measurement.id}",
    )


def to_out(m: Measurement) -> MeasurementOut:
    return MeasurementOut(
        id=m.id,
        patient_id=m.patient_id,
        instrument=m.instrument,
        context=Context(m.context),
        session_id=m.session_id,
        answers=m.answers,
        scores=[
            ScoreOut(name=name, exact=exact, rounded=str(rounded(Fraction(exact))))
            for name, exact in m.scores.items()
        ],
        band=m.band,
        flags=m.flags,
        measured_at=m.measured_at,
        flag_acknowledged_at=m.flag_acknowledged_at,
    )
