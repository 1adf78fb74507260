"""The clinic dashboard page and its CSV export.

A user belongs to one clinic, so the ``clinic`` filter can only name the actor's own clinic.
Counts carry no patient identity; the overdue list names patients, so each name shown is an
audited read, and admins (who do not read clinical records) see the count only.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, Role
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.audit import service as audit
from ketaclinic.config import Settings
from ketaclinic.dashboard import core, queries
from ketaclinic.dashboard.report import CSV_HEADER, Dashboard, csv_rows
from ketaclinic.errors import InvalidInput
from ketaclinic.web.csv_export import csv_response
from ketaclinic.web.fields import OptionalQueryDate
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Actor, Depends(require(Permission.DASHBOARD_READ))]
FromDate = Annotated[OptionalQueryDate, Query(alias="from", description="First day, YYYY-MM-DD")]
ToDate = Annotated[OptionalQueryDate, Query(description="Last day, YYYY-MM-DD")]
ClinicId = Annotated[str | None, Query(description="The clinic's id (only your own)")]
#: Each name on the page is an audited read; a short list keeps the page a worklist.
OVERDUE_SHOWN = 25


def _window(
    actor: Actor, settings: Settings, start: date | None, end: date | None, clinic: str | None
) -> core.Window:
    if actor.clinic_id is None:
        raise InvalidInput("this account belongs to no clinic", loc=("query", "clinic"))
    return core.parse_window(
        start, end, clinic, today=clock.today(settings.timezone), own_clinic_id=actor.clinic_id
    )


def _load(session: Session, window: core.Window, settings: Settings, shown: int) -> Dashboard:
    return queries.load(session, window, settings.timezone, clock.now(), overdue_shown=shown)


@router.get("/dashboard")
def dashboard_page(
    request: Request,
    actor: Viewer,
    session: SessionDep,
    settings: SettingsDep,
    start: FromDate = None,
    to: ToDate = None,
    clinic: ClinicId = None,
) -> Response:
    window = _window(actor, settings, start, to, clinic)
    names_allowed = actor.role is not Role.ADMIN
    with session.begin():
        board = _load(session, window, settings, OVERDUE_SHOWN if names_allowed else 0)
        for patient in board.overdue_shown:
            audit.record(
                session, actor=actor, action="dashboard.read", patient_id=patient.patient_id
            )
    context = {
        "board": board,
        "names_allowed": names_allowed,
        "charts": _charts(board),
        "query": {
            "from": window.first_day.isoformat(),
            "to": window.last_day.isoformat(),
            "clinic": window.clinic_id,
        },
    }
    return render(request, "dashboard/page.html", context)


@router.get("/dashboard.csv")
def dashboard_csv(
    actor: Viewer,
    session: SessionDep,
    settings: SettingsDep,
    start: FromDate = None,
    to: ToDate = None,
    clinic: ClinicId = None,
) -> Response:
    """The page's tables as CSV (counts only). Exporting is itself audited, once."""
    window = _window(actor, settings, start, to, clinic)
    with session.begin():
        board = _load(session, window, settings, 0)
        rows = csv_rows(board)
        detail = f"from={window.first_day} to={window.last_day} rows={len(rows)}"
        audit.record(session, actor=actor, action="dashboard.export", detail=detail)
    filename = f"dashboard-{window.first_day}-{window.last_day}.csv"
    return csv_response(CSV_HEADER, rows, filename=filename)


def _charts(board: Dashboard) -> dict[str, Any]:
    """Plain lists for Plotly; rates as numbers, blank ones left out."""
    weeks = [w.week_start.isoformat() for w in board.weeks]
    responders = [r for r in board.responders if r.pain_evaluable or r.depression_evaluable]
    labels = [f"{r.indication_name} · {r.protocol_name}" for r in responders]
    return {
        "weeks": {
            "x": weeks,
            "infused": [w.infused for w in board.weeks],
            "not_infused": [w.booked - w.infused for w in board.weeks],
        },
        "responders": {
            "labels": labels,
            "pain": [float(r.pain_percent) if r.pain_percent else None for r in responders],
            "depression": [
                float(r.depression_percent) if r.depression_percent else None for r in responders
            ],
        },
        "chairs": {
            "x": [c.chair for c in board.chairs],
            "hours": [round(c.occupied_minutes / 60, 1) for c in board.chairs],
        },
    }
