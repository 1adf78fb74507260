"""Patient use-cases. Each runs inside the caller's transaction and audits itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import Conflict, InvalidInput
from ketaclinic.patients.core import Sex, age_in_years, birth_date_problem
from ketaclinic.patients.icd10cm import lookup
from ketaclinic.patients.models import Diagnosis, Patient, WeightMeasurement
from ketaclinic.patients.schemas import (
    AddressIn,
    AddressOut,
    DiagnosisIn,
    DiagnosisOut,
    PatientCreate,
    PatientOut,
    PatientSummary,
    PatientUpdate,
    WeightOut,
)

MAX_PAGE = 200


def list_patients(
    session: Session, *, actor: Actor, q: str = "", limit: int = 50, offset: int = 0
) -> tuple[Sequence[Patient], int]:
    """One page of the clinic's patients matching ``q`` (MRN or name), and the total count."""
    query = select(Patient).where(Patient.clinic_id == actor.clinic_id)
    terms = q.strip().lower().split()
    for term in terms:
        like = f"%{_escape_like(term)}%"
        query = query.where(
            or_(
                func.lower(Patient.mrn).like(like, escape="\\"),
                func.lower(Patient.given_name).like(like, escape="\\"),
                func.lower(Patient.family_name).like(like, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Patient.diagnoses))
        .order_by(Patient.family_name, Patient.given_name, Patient.id)
        .limit(limit)
        .offset(offset)
    ).all()
    audit.record(session, actor=actor, action="patient.search", detail=f"results={len(rows)}")
    return rows, total


def get(session: Session, *, actor: Actor, patient_id: int) -> Patient | None:
    """The patient if they belong to the actor's clinic (audited as a read), else None."""
    patient = _load(session, actor=actor, patient_id=patient_id)
    if patient is not None:
        audit.record(session, actor=actor, action="patient.read", patient_id=patient.id)
    return patient


def create(session: Session, *, actor: Actor, data: PatientCreate, today: date) -> Patient:
    _check_birth_date(data.birth_date, today)
    _check_mrn_free(session, clinic_id=_clinic(actor), mrn=data.mrn)
    _check_one_primary(data.diagnoses)
    now = clock.now()
    patient = Patient(
        clinic_id=_clinic(actor),
        mrn=data.mrn,
        given_name=data.given_name,
        family_name=data.family_name,
        birth_date=data.birth_date,
        sex=data.sex.value,
        height_cm=data.height_cm,
        allergies=data.allergies,
        medications=data.medications,
        created_at=now,
        updated_at=now,
    )
    _set_address(patient, data.address)
    patient.weights.append(
        WeightMeasurement(
            weight_kg=data.weight_kg,
            measured_at=_measured_at(data.weight_measured_at, loc_field="weight_measured_at"),
            recorded_by_user_id=actor.user_id,
        )
    )
    for item in data.diagnoses:
        patient.diagnoses.append(_new_diagnosis(item, actor))
    session.add(patient)
    session.flush()
    audit.record(session, actor=actor, action="patient.create", patient_id=patient.id)
    return patient


def update(
    session: Session, *, actor: Actor, patient: Patient, data: PatientUpdate, today: date
) -> Patient:
    """Apply the fields that were sent; a stale ``version`` is a conflict, not a lost write."""
    sent = data.model_fields_set
    if data.version is not None and data.version != patient.version:
        raise Conflict(
            "someone else changed this patient since you opened it; reload and try again",
            loc=("body", "version"),
        )
    if "birth_date" in sent and data.birth_date is not None:
        _check_birth_date(data.birth_date, today)
    if "mrn" in sent and data.mrn is not None and data.mrn != patient.mrn:
        _check_mrn_free(session, clinic_id=patient.clinic_id, mrn=data.mrn)
    for name in ("mrn", "given_name", "family_name", "birth_date", "allergies", "medications"):
        if name in sent and getattr(data, name) is not None:
            setattr(patient, name, getattr(data, name))
    if "sex" in sent and data.sex is not None:
        patient.sex = data.sex.value
    if "height_cm" in sent:
        patient.height_cm = data.height_cm
    if "address" in sent:
        _set_address(patient, data.address)
    if "weight_kg" in sent and data.weight_kg is not None:
        patient.weights.insert(
            0,
            WeightMeasurement(
                weight_kg=data.weight_kg,
                measured_at=_measured_at(data.weight_measured_at, loc_field="weight_measured_at"),
                recorded_by_user_id=actor.user_id,
            ),
        )
    patient.updated_at = clock.now()
    session.flush()
    audit.record(session, actor=actor, action="patient.update", patient_id=patient.id)
    return patient


def add_diagnosis(
    session: Session, *, actor: Actor, patient: Patient, data: DiagnosisIn
) -> Diagnosis:
    """Add a diagnosis; a new primary one takes over from the old primary."""
    if any(d.code == data.code for d in patient.diagnoses):
        raise Conflict(f"{data.code} is already on this patient's record", loc=("body", "code"))
    if data.is_primary:
        for existing in patient.diagnoses:
            existing.is_primary = False
    diagnosis = _new_diagnosis(data, actor)
    patient.diagnoses.append(diagnosis)
    patient.updated_at = clock.now()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="patient.diagnosis.add",
        patient_id=patient.id,
        detail=f"code={diagnosis.code}",
    )
    return diagnosis


def to_out(patient: Patient, *, today: date) -> PatientOut:
    weight = patient.current_weight
    return PatientOut(
        **to_summary(patient).model_dump(),
        age_years=age_in_years(patient.birth_date, today),
        weight_kg=_kg(weight.weight_kg) if weight else None,
        weight_measured_at=weight.measured_at if weight else None,
        height_cm=patient.height_cm,
        allergies=list(patient.allergies),
        medications=list(patient.medications),
        address=address_of(patient),
        diagnoses=[DiagnosisOut.model_validate(d) for d in patient.diagnoses],
        weights=[
            WeightOut(weight_kg=_kg(w.weight_kg), measured_at=w.measured_at)
            for w in patient.weights
        ],
        version=patient.version,
    )


def _set_address(patient: Patient, address: AddressIn | None) -> None:
    """The whole postal address, or none of it."""
    patient.address_line1 = address.line1 if address else None
    patient.address_line2 = (address.line2 or None) if address else None
    patient.address_city = address.city if address else None
    patient.address_state = address.state if address else None
    patient.address_zip = address.zip if address else None


def address_of(patient: Patient) -> AddressOut | None:
    if not patient.address_line1:
        return None
    return AddressOut(
        line1=patient.address_line1,
        line2=patient.address_line2,
        city=patient.address_city or "",
        state=patient.address_state or "",
        zip=patient.address_zip or "",
    )


def _kg(value: Decimal) -> Decimal:
    """Two decimals, as stored (inputs with more are refused, so nothing is rounded here)."""
    return value.quantize(Decimal("0.01"))


def to_summary(patient: Patient) -> PatientSummary:
    primary = patient.primary_diagnosis
    return PatientSummary(
        id=patient.id,
        mrn=patient.mrn,
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date,
        sex=Sex(patient.sex),
        primary_diagnosis=DiagnosisOut.model_validate(primary) if primary else None,
    )


def _load(session: Session, *, actor: Actor, patient_id: int) -> Patient | None:
    return session.scalars(
        select(Patient)
        .where(Patient.id == patient_id, Patient.clinic_id == actor.clinic_id)
        .options(selectinload(Patient.diagnoses), selectinload(Patient.weights))
    ).first()


def _clinic(actor: Actor) -> int:
    if actor.clinic_id is None:
        raise InvalidInput("this account belongs to no clinic")
    return actor.clinic_id


def _check_birth_date(birth_date: date, today: date) -> None:
    problem = birth_date_problem(birth_date, today)
    if problem:
        raise InvalidInput(problem, loc=("body", "birth_date"))


def _check_mrn_free(session: Session, *, clinic_id: int, mrn: str) -> None:
    taken = session.scalar(
        select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.mrn == mrn)
    )
    if taken is not None:
        raise Conflict(f"MRN {mrn} is already used in this clinic", loc=("body", "mrn"))


def _check_one_primary(items: Sequence[DiagnosisIn]) -> None:
    if sum(item.is_primary for item in items) > 1:
        raise InvalidInput("only one diagnosis can be primary", loc=("body", "diagnoses"))
    codes = [item.code for item in items]
    if len(set(codes)) != len(codes):
        raise InvalidInput("a diagnosis is listed twice", loc=("body", "diagnoses"))


def _measured_at(value: datetime | None, *, loc_field: str) -> datetime:
    now = clock.now()
    if value is None:
        return now
    if value > now:
        raise InvalidInput("a weight cannot be measured in the future", loc=("body", loc_field))
    return value


def _new_diagnosis(item: DiagnosisIn, actor: Actor) -> Diagnosis:
    official = lookup(item.code)
    return Diagnosis(
        code=official.code,
        title=official.title,
        is_primary=item.is_primary,
        recorded_at=clock.now(),
        recorded_by_user_id=actor.user_id,
    )


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
