"""Screening JSON routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.config import Settings
from ketaclinic.errors import NotFound
from ketaclinic.indications import INDICATIONS
from ketaclinic.patients import service as patients
from ketaclinic.screening import service
from ketaclinic.screening.contraindications import CONTRAINDICATIONS
from ketaclinic.screening.core import BpThreshold
from ketaclinic.screening.schemas import ScreeningIn, ScreeningOut
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import RecordId

router = APIRouter(prefix="/api/v1", tags=["screening"], route_class=ExactJsonRoute)

Reader = Annotated[Actor, Depends(require(Permission.PATIENT_READ))]
Signer = Annotated[Actor, Depends(require(Permission.SCREENING_SIGN))]
ClinicalReader = Annotated[Actor, Depends(require(Permission.CLINICAL_READ))]


class IndicationOut(BaseModel):
    id: str
    name: str
    icd10cm_prefixes: list[str]
    evidence: str
    grade: str | None
    benefit: str
    source: str


class ContraindicationOut(BaseModel):
    id: str
    label: str
    severity: str
    source: str


def threshold(settings: Settings) -> BpThreshold:
    return BpThreshold(
        settings.screening_systolic_limit_mmhg, settings.screening_diastolic_limit_mmhg
    )


@router.get("/indications", response_model=list[IndicationOut])
def list_indications(actor: Reader) -> list[IndicationOut]:
    return [
        IndicationOut(
            id=i.id,
            name=i.name,
            icd10cm_prefixes=list(i.code_prefixes),
            evidence=i.evidence.value,
            grade=i.grade,
            benefit=i.benefit,
            source=i.source,
        )
        for i in INDICATIONS
    ]


@router.get("/contraindications", response_model=list[ContraindicationOut])
def list_contraindications(actor: Reader) -> list[ContraindicationOut]:
    return [
        ContraindicationOut(id=c.id, label=c.label, severity=c.severity.value, source=c.source)
        for c in CONTRAINDICATIONS
    ]


@router.post("/patients/{patient_id}/screenings", response_model=ScreeningOut, status_code=201)
def sign_screening(
    patient_id: RecordId,
    data: ScreeningIn,
    actor: Signer,
    session: SessionDep,
    settings: SettingsDep,
) -> ScreeningOut:
    """Sign a screening. A relative contraindication without a written reason answers 422."""
    with session.begin():
        patient = patients.get(session, actor=actor, patient_id=patient_id)
        if patient is None:
            raise NotFound(f"no patient {patient_id} in your clinic", loc=("path", "patient_id"))
        screening = service.sign(
            session, actor=actor, patient=patient, data=data, threshold=threshold(settings)
        )
        return service.to_out(screening)


@router.get("/patients/{patient_id}/screenings", response_model=list[ScreeningOut])
def list_screenings(
    patient_id: RecordId, actor: ClinicalReader, session: SessionDep
) -> list[ScreeningOut]:
    """Every signed screening with its answers and findings (clinicians only)."""
    with session.begin():
        patient = patients.get(session, actor=actor, patient_id=patient_id)
        if patient is None:
            raise NotFound(f"no patient {patient_id} in your clinic", loc=("path", "patient_id"))
        return [service.to_out(s) for s in service.list_for(session, actor=actor, patient=patient)]
