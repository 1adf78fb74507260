"""The audit trail page for admins, filterable by patient and user, and its CSV export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, require, require_csrf
from ketaclinic.audit import sealing, service
from ketaclinic.audit.models import AuditEvent
from ketaclinic.patients.models import Patient
from ketaclinic.web.csv_export import csv_response
from ketaclinic.web.params import MAX_ID
from ketaclinic.web.templating import render

router = APIRouter(prefix="/audit", dependencies=[Depends(require_csrf)], include_in_schema=False)

Auditor = Annotated[Actor, Depends(require(Permission.AUDIT_READ))]
EXPORT_LIMIT = 100_000
EXPORT_HEADER = (
    "id",
    "occurred_at",
    "action",
    "username",
    "role",
    "patient_id",
    "client_address",
    "detail",
    "mac",
)


def _trail(
    actor: Actor, session: Session, patient: str, user: str, limit: int
) -> service.TrailFilter:
    """A filter from the page's fields; a patient is named by MRN or record id."""
    assert actor.clinic_id is not None
    patient_id: int | None = None
    if patient.strip():
        found = session.scalar(
            select(Patient.id).where(
                Patient.clinic_id == actor.clinic_id, Patient.mrn == patient.strip()
            )
        )
        patient_id = found if found is not None else _record_id(patient.strip())
    return service.TrailFilter(
        clinic_id=actor.clinic_id, patient_id=patient_id, username=user.strip() or None, limit=limit
    )


def _record_id(text: str) -> int:
    """A typed record id, or -1 (matches nothing) for text that is not one: never an overflow."""
    return (
        int(text)
        if text.isdigit() and len(text) <= len(str(MAX_ID)) and int(text) <= MAX_ID
        else -1
    )


def _mrns(session: Session, events: list[AuditEvent]) -> dict[int, str]:
    ids = {e.patient_id for e in events if e.patient_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(Patient.id, Patient.mrn).where(Patient.id.in_(ids)))
    return {pid: mrn for pid, mrn in rows}  # noqa: C416  (rows are Row objects, not pairs)


@router.get("")
def trail_page(
    request: Request, actor: Auditor, session: SessionDep, patient: str = "", user: str = ""
) -> Response:
    with session.begin():
        events = list(service.list_events(session, _trail(actor, session, patient, user, 200)))
        mrns = _mrns(session, events)
        newest = sealing.newest_seal(session)
    context = {
        "events": events,
        "mrns": mrns,
        "patient": patient,
        "user": user,
        "newest_seal": newest,
    }
    return render(request, "audit/trail.html", context)


@router.get("/export.csv")
def export_csv(actor: Auditor, session: SessionDep, patient: str = "", user: str = "") -> Response:
    """The filtered trail as CSV. Exporting is itself audited."""
    with session.begin():
        events = list(
            service.list_events(session, _trail(actor, session, patient, user, EXPORT_LIMIT))
        )
        service.record(session, actor=actor, action="audit.export", detail=f"rows={len(events)}")
    rows = (
        (
            e.id,
            e.occurred_at.isoformat(),
            e.action,
            e.username,
            e.role,
            e.patient_id,
            e.client_address,
            e.detail,
            e.mac,
        )
        for e in events
    )
    return csv_response(EXPORT_HEADER, rows, filename="audit-trail.csv")
