"""Screening use-cases: assess, sign, list. One transaction each (the caller's), audited."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import InvalidInput
from ketaclinic.indications import BY_ID
from ketaclinic.outcomes import service as outcomes
from ketaclinic.outcomes.schemas import Context, MeasurementIn
from ketaclinic.patients.models import Patient
from ketaclinic.screening.core import (
    Assessment,
    BloodPressure,
    BpThreshold,
    assess,
    require_complete,
)
from ketaclinic.screening.models import Screening
from ketaclinic.screening.schemas import FindingOut, MatchOut, ScreeningIn, ScreeningOut


def preview(patient: Patient, data: ScreeningIn, threshold: BpThreshold) -> Assessment:
    """The assessment the physician is about to sign (nothing is written)."""
    if data.indication_id is not None and data.indication_id not in BY_ID:
        raise InvalidInput(
            f"unknown indication {data.indication_id!r}", loc=("body", "indication_id")
        )
    return assess(
        diagnosis_codes=[d.code for d in patient.diagnoses],
        present=data.contraindications_present,
        baseline_bp=BloodPressure(data.systolic_mmhg, data.diastolic_mmhg),
        bp_threshold=threshold,
        overrides=data.overrides,
    )


def sign(
    session: Session, *, actor: Actor, patient: Patient, data: ScreeningIn, threshold: BpThreshold
) -> Screening:
    """Record a screening signed by the acting physician; refused while an override is missing."""
    assessment = preview(patient, data, threshold)
    require_complete(assessment)
    assert actor.user_id is not None
    screening = Screening(
        patient_id=patient.id,
        indication_id=data.indication_id,
        treatments_failed=[t.strip() for t in data.treatments_failed if t.strip()],
        systolic_mmhg=data.systolic_mmhg,
        diastolic_mmhg=data.diastolic_mmhg,
        heart_rate_per_min=data.heart_rate_per_min,
        spo2_percent=data.spo2_percent,
        resp_rate_per_min=data.resp_rate_per_min,
        contraindications_present=sorted(set(data.contraindications_present)),
        findings=[f.model_dump() for f in findings_out(assessment)],
        matched_indications=[m.model_dump() for m in matches_out(assessment)],
        outcome=assessment.outcome.value,
        notes=data.notes,
        signed_by_user_id=actor.user_id,
        signed_at=clock.now(),
    )
    session.add(screening)
    session.flush()
    screening.baseline_measurement_ids = [
        outcomes.record(
            session,
            actor=actor,
            patient=patient,
            data=MeasurementIn(
                instrument=q.instrument, answers=q.answers, context=Context.BASELINE
            ),
            loc_prefix=("body", "baseline_questionnaires", index),
        ).id
        for index, q in enumerate(data.baseline_questionnaires)
    ]
    audit.record(
        session,
        actor=actor,
        action="screening.sign",
        patient_id=patient.id,
        detail=f"screening_id={screening.id} outcome={screening.outcome}",
    )
    return screening


def list_for(session: Session, *, actor: Actor, patient: Patient) -> Sequence[Screening]:
    rows = session.scalars(
        select(Screening)
        .where(Screening.patient_id == patient.id)
        .order_by(Screening.signed_at.desc(), Screening.id.desc())
    ).all()
    audit.record(session, actor=actor, action="screening.list", patient_id=patient.id)
    return rows


def findings_out(assessment: Assessment) -> list[FindingOut]:
    return [
        FindingOut(
            id=f.contraindication.id,
            label=f.contraindication.label,
            severity=f.contraindication.severity.value,
            source=f.contraindication.source,
            override_reason=f.override_reason,
        )
        for f in assessment.findings
    ]


def matches_out(assessment: Assessment) -> list[MatchOut]:
    return [
        MatchOut(
            code=code,
            indication_id=i.id,
            name=i.name,
            evidence=i.evidence.value,
            grade=i.grade,
            benefit=i.benefit,
            source=i.source,
        )
        for code, i in assessment.matched
    ]


def to_out(screening: Screening) -> ScreeningOut:
    return ScreeningOut(
        id=screening.id,
        patient_id=screening.patient_id,
        outcome=screening.outcome,
        indication_id=screening.indication_id,
        matched_indications=[MatchOut.model_validate(m) for m in screening.matched_indications],
        findings=[FindingOut.model_validate(f) for f in screening.findings],
        treatments_failed=screening.treatments_failed,
        systolic_mmhg=screening.systolic_mmhg,
        diastolic_mmhg=screening.diastolic_mmhg,
        heart_rate_per_min=screening.heart_rate_per_min,
        spo2_percent=screening.spo2_percent,
        resp_rate_per_min=screening.resp_rate_per_min,
        notes=screening.notes,
        signed_by_user_id=screening.signed_by_user_id,
        signed_at=screening.signed_at,
        baseline_measurement_ids=screening.baseline_measurement_ids,
    )
