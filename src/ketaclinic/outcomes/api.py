"""Measurement JSON routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, require
from ketaclinic.errors import NotFound
from ketaclinic.outcomes import service
from ketaclinic.outcomes.schemas import MeasurementIn, MeasurementOut
from ketaclinic.patients import service as patients
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import RecordId

router = APIRouter(prefix="/api/v1/patients", tags=["outcomes"], route_class=ExactJsonRoute)

ClinicalReader = Annotated[Actor, Depends(require(Permission.CLINICAL_READ))]
Recorder = Annotated[Actor, Depends(require(Permission.MEASUREMENT_RECORD))]


@router.post("/{patient_id}/measurements", response_model=MeasurementOut, status_code=201)
def record_measurement(
    patient_id: RecordId, data: MeasurementIn, actor: Recorder, session: SessionDep
) -> MeasurementOut:
    """Score and store a questionnaire. A wrong count or an out-of-range answer names the item."""
    with session.begin():
        patient = patients.get(session, actor=actor, patient_id=patient_id)
        if patient is None:
            raise NotFound(f"no patient {patient_id} in your clinic", loc=("path", "patient_id"))
        return service.to_out(service.record(session, actor=actor, patient=patient, data=data))


@router.get("/{patient_id}/measurements", response_model=list[MeasurementOut])
def list_measurements(
    patient_id: RecordId,
    actor: ClinicalReader,
    session: SessionDep,
    instrument: Annotated[str | None, Query(max_length=16)] = None,
) -> list[MeasurementOut]:
    with session.begin():
        patient = patients.get(session, actor=actor, patient_id=patient_id)
        if patient is None:
            raise NotFound(f"no patient {patient_id} in your clinic", loc=("path", "patient_id"))
        rows = service.list_for(session, actor=actor, patient=patient, instrument=instrument)
        return [service.to_out(m) for m in rows]
