"""Patient JSON routes: parse, call the service in one transaction, respond."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.errors import NotFound
from ketaclinic.patients import service
from ketaclinic.patients.models import Patient
from ketaclinic.patients.schemas import (
    DiagnosisIn,
    DiagnosisOut,
    PatientCreate,
    PatientOut,
    PatientPage,
    PatientUpdate,
)
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import RecordId

router = APIRouter(prefix="/api/v1/patients", tags=["patients"], route_class=ExactJsonRoute)

Reader = Annotated[Actor, Depends(require(Permission.PATIENT_READ))]
Writer = Annotated[Actor, Depends(require(Permission.PATIENT_WRITE))]
Diagnoser = Annotated[Actor, Depends(require(Permission.DIAGNOSIS_WRITE))]


def _found(session: Session, actor: Actor, patient_id: int) -> Patient:
    patient = service.get(session, actor=actor, patient_id=patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id} in your clinic", loc=("path", "patient_id"))
    return patient


@router.get("", response_model=PatientPage)
def list_patients(
    actor: Reader,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> PatientPage:
    with session.begin():
        rows, total = service.list_patients(session, actor=actor, q=q, limit=limit, offset=offset)
        items = [service.to_summary(p) for p in rows]
    return PatientPage(items=items, total=total, limit=limit, offset=offset)


@router.post("", response_model=PatientOut, status_code=201)
def create_patient(
    data: PatientCreate, actor: Writer, session: SessionDep, settings: SettingsDep
) -> PatientOut:
    today = clock.today(settings.timezone)
    with session.begin():
        patient = service.create(session, actor=actor, data=data, today=today)
        return service.to_out(patient, today=today)


@router.get("/{patient_id}", response_model=PatientOut)
def read_patient(
    patient_id: RecordId, actor: Reader, session: SessionDep, settings: SettingsDep
) -> PatientOut:
    with session.begin():
        patient = _found(session, actor, patient_id)
        return service.to_out(patient, today=clock.today(settings.timezone))


@router.patch("/{patient_id}", response_model=PatientOut)
def update_patient(
    patient_id: RecordId,
    data: PatientUpdate,
    actor: Writer,
    session: SessionDep,
    settings: SettingsDep,
) -> PatientOut:
    today = clock.today(settings.timezone)
    with session.begin():
        patient = service.update(
            session, actor=actor, patient=_found(session, actor, patient_id), data=data, today=today
        )
        return service.to_out(patient, today=today)


@router.post("/{patient_id}/diagnoses", response_model=DiagnosisOut, status_code=201)
def add_diagnosis(
    patient_id: RecordId, data: DiagnosisIn, actor: Diagnoser, session: SessionDep
) -> DiagnosisOut:
    with session.begin():
        diagnosis = service.add_diagnosis(
            session, actor=actor, patient=_found(session, actor, patient_id), data=data
        )
        return DiagnosisOut.model_validate(diagnosis)
