"""The progress report as a download from the patient page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.errors import NotFound
from ketaclinic.reports import content
from ketaclinic.reports.render import render
from ketaclinic.web.params import RecordId

router = APIRouter(prefix="/patients", include_in_schema=False)

Reporter = Annotated[Actor, Depends(require(Permission.REPORT_READ))]


@router.get("/{patient_id}/report.pdf")
def patient_report(
    patient_id: RecordId, actor: Reporter, session: SessionDep, settings: SettingsDep
) -> Response:
    """The PDF as an attachment; another clinic's patient is "not found", never "forbidden",
    so the answer does not reveal that the record exists."""
    with session.begin():
        report = content.gather(session, actor=actor, patient_id=patient_id, zone=settings.timezone)
        if report is None:
            raise NotFound(f"no patient {patient_id} in your clinic")
    data = render(report)
    filename = _safe_filename(f"progress-{report.identity.mrn}.pdf")
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _safe_filename(name: str) -> str:
    """An MRN is free text: keep the header well-formed whatever it holds."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
