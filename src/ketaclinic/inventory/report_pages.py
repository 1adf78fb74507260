"""The inspector's reports as pages, CSV and PDF (``/inventory/reports/...``), for any range of the
clinic's local dates. Admins read them as physicians and nurses do; staff and patients never.
Every view or export is one audit event naming the report and its range (``reports``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.config import Settings
from ketaclinic.inventory import reports
from ketaclinic.inventory.models import LedgerEntry
from ketaclinic.inventory.report_files import csv_text, pdf_bytes
from ketaclinic.inventory.reports import Period, Report, Taken
from ketaclinic.web.fields import OptionalQueryDate
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Actor, Depends(require(Permission.INVENTORY_READ))]
FromDate = Annotated[OptionalQueryDate, Query(alias="from", description="First day, YYYY-MM-DD")]
ToDate = Annotated[OptionalQueryDate, Query(description="Last day, YYYY-MM-DD")]
Format = Annotated[Literal["html", "csv", "pdf"], Query(description="html, csv or pdf")]
TakenAt = Annotated[Taken, Query(description="opening or close of business")]
#: The range a report opens with when none is asked for: the last 30 days (clinic policy).
DEFAULT_DAYS = 30


def _clinic(actor: Actor) -> int:
    assert actor.clinic_id is not None
    return actor.clinic_id


def _period(
    settings: Settings, first: date | None, last: date | None, *, days: int = DEFAULT_DAYS
) -> Period:
    end = last or clock.today(settings.timezone)
    return reports.period(first or end - timedelta(days=days - 1), end, settings.timezone)


def _respond(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    build: Callable[[], Report],
    fmt: str,
    stem: str,
    values: dict[str, str],
) -> Response:
    """Build the report, audit the view or export once, and answer in the format asked for."""
    with session.begin():
        report = build()
        reports.audit_report(session, actor=actor, report=report, fmt=fmt)
    if fmt == "csv":
        return _attachment(csv_text(report), "text/csv", f"{stem}.csv")
    if fmt == "pdf":
        return _attachment(pdf_bytes(report, settings.timezone), "application/pdf", f"{stem}.pdf")
    links = {
        kind: f"{request.url.path}?{urlencode({**values, 'format': kind})}"
        for kind in ("csv", "pdf")
    }
    context = {"report": report, "cell": reports.cell_text, "links": links, "values": values}
    return render(request, "inventory/reports/report.html", context)


def _range(span: Period, **more: str) -> dict[str, str]:
    return {"from": span.first.isoformat(), "to": span.last.isoformat(), **more}


def _attachment(data: str | bytes, media_type: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(data, media_type=media_type, headers=headers)


@router.get("/inventory/reports")
def index(request: Request, actor: Reader, session: SessionDep, settings: SettingsDep) -> Response:
    today = clock.today(settings.timezone)
    with session.begin():
        lots = reports.lots_of(session, _clinic(actor))
    return render(
        request,
        "inventory/reports/index.html",
        {
            "lots": lots,
            "today": today.isoformat(),
            "month_ago": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        },
    )


@router.get("/inventory/reports/administrations")
def administrations(
    request: Request,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
    start: FromDate = None,
    to: ToDate = None,
    format: Format = "html",
) -> Response:
    """The dispensing/administration record of 21 CFR 1304.22(c): names patients, audited."""
    span = _period(settings, start, to)
    return _respond(
        request,
        session,
        actor,
        settings,
        lambda: reports.administrations(session, clinic_id=_clinic(actor), period=span),
        format,
        f"administrations-{span.first}-{span.last}",
        _range(span),
    )


@router.get("/inventory/reports/biennial")
def biennial(
    request: Request,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
    start: FromDate = None,
    to: ToDate = None,
    taken: TakenAt = Taken.CLOSE,
    format: Format = "html",
) -> Response:
    """The inventory of 1304.11 at opening or close of business on the last day."""
    span = _period(settings, start, to, days=1)
    return _respond(
        request,
        session,
        actor,
        settings,
        lambda: reports.biennial(session, clinic_id=_clinic(actor), period=span, taken=taken),
        format,
        f"inventory-{span.last}-{taken.value}",
        _range(span, taken=taken.value),
    )


@router.get("/inventory/reports/receipts")
def receipts(
    request: Request,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
    start: FromDate = None,
    to: ToDate = None,
    format: Format = "html",
) -> Response:
    span = _period(settings, start, to)
    return _respond(
        request,
        session,
        actor,
        settings,
        lambda: reports.receipts(session, clinic_id=_clinic(actor), period=span),
        format,
        f"receipts-{span.first}-{span.last}",
        _range(span),
    )


@router.get("/inventory/reports/reconciliation")
def reconciliation(
    request: Request,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
    start: FromDate = None,
    to: ToDate = None,
    format: Format = "html",
) -> Response:
    span = _period(settings, start, to)
    return _respond(
        request,
        session,
        actor,
        settings,
        lambda: reports.reconciliation(session, clinic_id=_clinic(actor), period=span),
        format,
        f"reconciliation-{span.first}-{span.last}",
        _range(span),
    )


@router.get("/inventory/reports/lots/{lot_id}")
def lot_history(
    request: Request,
    lot_id: RecordId,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
    start: FromDate = None,
    to: ToDate = None,
    format: Format = "html",
) -> Response:
    """A lot's whole history unless a range is asked for: from its first entry to today."""
    if start is None:
        with session.begin():
            first = session.scalar(
                select(func.min(LedgerEntry.at)).where(LedgerEntry.lot_id == lot_id)
            )
        start = first.astimezone(settings.timezone).date() if first else None
    end = to or clock.today(settings.timezone)
    span = reports.period(start or end, end, settings.timezone)
    return _respond(
        request,
        session,
        actor,
        settings,
        lambda: reports.lot_history(session, clinic_id=_clinic(actor), lot_id=lot_id, period=span),
        format,
        f"lot-{lot_id}-{span.first}-{span.last}",
        _range(span),
    )
