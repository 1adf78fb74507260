"""Protocol library and dose-calculation JSON routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, require
from ketaclinic.audit import service as audit
from ketaclinic.errors import NotFound
from ketaclinic.protocols import dose, service
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.schemas import (
    DoseCalculationIn,
    DosePlanOut,
    ProtocolOut,
    ProtocolSummary,
)
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import RecordId

router = APIRouter(prefix="/api/v1", tags=["protocols"], route_class=ExactJsonRoute)

Reader = Annotated[Actor, Depends(require(Permission.PROTOCOL_READ))]
Planner = Annotated[Actor, Depends(require(Permission.DOSE_PLAN))]


def summary(row: ProtocolVersion) -> ProtocolSummary:
    return ProtocolSummary(
        id=row.id,
        key=row.key,
        name=row.name,
        version=row.version,
        indications=list(row.definition["indications"]),
    )


@router.get("/protocols", response_model=list[ProtocolSummary])
def list_protocols(actor: Reader, session: SessionDep) -> list[ProtocolSummary]:
    """The newest version of each of the clinic's protocols."""
    assert actor.clinic_id is not None
    return [summary(r) for r in service.list_current(session, clinic_id=actor.clinic_id)]


@router.get("/protocols/{protocol_id}", response_model=ProtocolOut)
def read_protocol(protocol_id: RecordId, actor: Reader, session: SessionDep) -> ProtocolOut:
    """Any version, old ones included: a session keeps the version it used."""
    assert actor.clinic_id is not None
    row = service.get(session, clinic_id=actor.clinic_id, protocol_id=protocol_id)
    if row is None:
        raise NotFound(f"no protocol {protocol_id} in your clinic", loc=("path", "protocol_id"))
    return ProtocolOut(
        **summary(row).model_dump(), created_at=row.created_at, definition=row.definition
    )


@router.post("/dose-calculations", response_model=DosePlanOut)
def calculate_dose(data: DoseCalculationIn, actor: Planner, session: SessionDep) -> DosePlanOut:
    """Dose, pump rate and volumes for a plan, or a refusal naming the limit. Nothing is stored."""
    assert actor.clinic_id is not None
    with session.begin():
        row = service.get(session, clinic_id=actor.clinic_id, protocol_id=data.protocol_id)
        result = dose.plan(row, data)
        audit.record(
            session, actor=actor, action="dose.calculate", detail=f"protocol_id={row and row.id}"
        )
    return result
