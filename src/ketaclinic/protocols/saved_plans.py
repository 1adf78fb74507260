"""Dose plans kept on the patient: saved from the dose-plan page, read by the session's order
form as its starting inputs. Each save and each read is an audit event of the patient record."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.audit import service as audit
from ketaclinic.errors import Forbidden
from ketaclinic.patients.models import Patient
from ketaclinic.protocols.models import ProtocolVersion, SavedDosePlan
from ketaclinic.protocols.schemas import DoseCalculationIn, DosePlanOut


def save(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    data: DoseCalculationIn,
    plan: DosePlanOut,
) -> SavedDosePlan:
    """Keep ``plan`` (computed from ``data`` for ``patient``) as the patient's dose plan. The
    protocol's defaults are stored as the values they gave, so the order form shows numbers,
    not blanks that a later protocol edit could change."""
    if actor.role is not Role.PHYSICIAN or actor.user_id is None:
        raise Forbidden("only a physician saves a dose plan on the patient")
    row = SavedDosePlan(
        patient_id=patient.id,
        protocol_version_id=plan.protocol_id,
        weight_kg=plan.actual_weight_kg,
        weight_basis=plan.weight_basis,
        dose=plan.dose,
        duration_min=plan.duration_min,
        bolus_mg_per_kg=data.bolus_mg_per_kg,
        plan=plan.model_dump(mode="json"),
        saved_at=clock.now(),
        saved_by_user_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="dose_plan.save",
        patient_id=patient.id,
        detail=f"saved_dose_plan_id={row.id} protocol_id={plan.protocol_id}",
    )
    return row


def latest_for(
    session: Session, *, actor: Actor, patient_id: int, protocol_key: str | None = None
) -> SavedDosePlan | None:
    """The patient's newest saved plan, of any version of ``protocol_key`` when given."""
    query = (
        select(SavedDosePlan)
        .join(ProtocolVersion, ProtocolVersion.id == SavedDosePlan.protocol_version_id)
        .where(SavedDosePlan.patient_id == patient_id)
        .order_by(SavedDosePlan.saved_at.desc(), SavedDosePlan.id.desc())
        .limit(1)
    )
    if protocol_key is not None:
        query = query.where(ProtocolVersion.key == protocol_key)
    row = session.scalars(query).first()
    if row is not None:
        audit.record(
            session,
            actor=actor,
            action="dose_plan.read",
            patient_id=patient_id,
            detail=f"saved_dose_plan_id={row.id}",
        )
    return row
