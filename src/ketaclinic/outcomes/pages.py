"""The physician's work list: urgent questionnaire flags that must not wait, and maintenance
booster suggestions with the scores behind them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require_csrf, require_role
from ketaclinic.audit import service as audit
from ketaclinic.errors import NotFound
from ketaclinic.inventory.chain import sessions_with_unrecorded_waste
from ketaclinic.inventory.counts import unreported_losses
from ketaclinic.outcomes import service
from ketaclinic.outcomes.boosters import booster_work_list
from ketaclinic.outcomes.core import score_text
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(
    prefix="/worklist", dependencies=[Depends(require_csrf)], include_in_schema=False
)

Physician = Annotated[Actor, Depends(require_role(Role.PHYSICIAN))]


_INSTRUMENT_NAMES = {"nrs": "Pain (NRS)", "phq9": "PHQ-9"}


@router.get("")
def worklist(
    request: Request, actor: Physician, session: SessionDep, settings: SettingsDep
) -> Response:
    assert actor.clinic_id is not None
    with session.begin():
        items = service.urgent(session, clinic_id=actor.clinic_id)
        found = booster_work_list(
            session, clinic_id=actor.clinic_id, now=clock.now(), zone=settings.timezone
        )
        boosters = [
            {
                "patient": item.patient,
                "course": item.course,
                "reasons": item.suggestion.reasons,
                "evidence": [
                    {
                        "instrument": _INSTRUMENT_NAMES.get(instrument, instrument),
                        "at": point.at,
                        "score": score_text(point.value),
                        "context": point.context.replace("_", " "),
                    }
                    for instrument, point in item.evidence
                ],
            }
            for item in found
        ]
        # Each patient shown is a read of their record, audited in this transaction.
        for patient_id in dict.fromkeys(item.patient.id for item in found):
            courses = ",".join(str(i.course.id) for i in found if i.patient.id == patient_id)
            audit.record(
                session,
                actor=actor,
                action="booster.read",
                patient_id=patient_id,
                detail=f"courses={courses}",
            )
        # Significant controlled-substance losses whose DEA notification is not recorded yet.
        losses = [loss.id for loss in unreported_losses(session, clinic_id=actor.clinic_id)]
        # Sessions whose infusion ended with drug drawn and no witnessed waste yet.
        unwasted = sessions_with_unrecorded_waste(session, clinic_id=actor.clinic_id)
    return render(
        request,
        "outcomes/worklist.html",
        {"items": items, "boosters": boosters, "dea_losses": losses, "unwasted": unwasted},
    )


@router.post("/{measurement_id}/acknowledge")
def acknowledge(
    request: Request, measurement_id: RecordId, actor: Physician, session: SessionDep
) -> Response:
    with session.begin():
        found = session.execute(
            select(Measurement)
            .join(Patient, Patient.id == Measurement.patient_id)
            .where(Measurement.id == measurement_id, Patient.clinic_id == actor.clinic_id)
        ).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no measurement {measurement_id} in your clinic")
        service.acknowledge(session, actor=actor, measurement=found)
    flash(request, "Flag acknowledged.", "success")
    return RedirectResponse("/worklist", status_code=303)
