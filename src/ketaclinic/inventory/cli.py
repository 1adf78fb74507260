"""``ketaclinic inventory balance``: what is on hand, from the ledger, at the command line;
``ketaclinic inventory discrepancies`` and ``awaiting-disposal``: what waits for a person's
decision; ``ketaclinic inventory report KIND --from --to --out FILE``: an inspector's report as
PDF or CSV."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit import service as audit
from ketaclinic.cli_support import load_settings, refuse
from ketaclinic.db import engine_scope, make_session_factory, transaction
from ketaclinic.errors import InvalidInput
from ketaclinic.inventory import core, counts, disposal, reports, service
from ketaclinic.inventory.report_files import csv_text, pdf_bytes

inventory_app = typer.Typer(help="Controlled substances: stock and records.", no_args_is_help=True)
out = Console()


@inventory_app.command("balance")
def balance(
    clinic: Annotated[
        str | None, typer.Option(help="Clinic code; needed when the database holds several.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON.")] = False,
) -> None:
    """On hand per product, lot and location, summed from the append-only ledger (audited as
    ``inventory.balance``)."""
    settings = load_settings()
    today = clock.today(settings.timezone)
    with (
        engine_scope(settings) as engine,
        transaction(make_session_factory(engine)) as session,
    ):
        clinic_id = _clinic_id(session, clinic)
        rows = service.balances(session, clinic_id=clinic_id)
        audit.record(
            session,
            actor=Actor(None, "cli", None, clinic_id, client_address="cli"),
            action="inventory.balance",
            detail=f"rows={len(rows)}",
        )
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "substance": r.product.substance,
                        "ndc": r.product.ndc,
                        "lot_number": r.lot.lot_number,
                        "expiry_date": r.lot.expiry_date.isoformat(),
                        "expiry": core.expiry_flag(r.lot.expiry_date, today).value,
                        "location": r.location.name,
                        "on_hand_mg": str(r.on_hand_mg.normalize()),
                        "on_hand_ml": str(r.on_hand_ml.normalize()),
                        "full_containers": r.full_containers,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table("substance", "NDC", "lot", "expiry", "location", "mg", "mL", "full containers")
    for r in rows:
        flag = core.expiry_flag(r.lot.expiry_date, today)
        expiry = r.lot.expiry_date.isoformat() + (
            "" if flag is core.ExpiryFlag.OK else f" ({flag.value})"
        )
        table.add_row(
            r.product.substance,
            core.format_ndc(r.product.ndc),
            r.lot.lot_number,
            expiry,
            r.location.name,
            f"{r.on_hand_mg.normalize():f}",
            f"{r.on_hand_ml.normalize():f}",
            str(r.full_containers),
        )
    out.print(table if rows else "nothing on hand")


ClinicCode = Annotated[
    str | None, typer.Option(help="Clinic code; needed when the database holds several.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print exact JSON.")]


def _cli_actor(clinic_id: int) -> Actor:
    return Actor(None, "cli", None, clinic_id, client_address="cli")


@inventory_app.command("discrepancies")
def open_discrepancies(clinic: ClinicCode = None, as_json: AsJson = False) -> None:
    """Every open discrepancy (a count that differed from the ledger), oldest first: a physician,
    or the admin for the registrant, decides what it was (audited as
    ``inventory.discrepancies.read``)."""
    settings = load_settings()
    with (
        engine_scope(settings) as engine,
        transaction(make_session_factory(engine)) as session,
    ):
        clinic_id = _clinic_id(session, clinic)
        found = counts.discrepancies(session, clinic_id=clinic_id, open_only=True, limit=None)
        views = [counts.view(session, d) for d in reversed(found)]
        audit.record(
            session,
            actor=_cli_actor(clinic_id),
            action="inventory.discrepancies.read",
            detail=f"open={len(views)}",
        )
        rows = [
            {
                "discrepancy_id": v.discrepancy.id,
                "count_id": v.count.id,
                "taken_at": v.count.taken_at.astimezone(settings.timezone).isoformat(),
                "substance": v.at.product.substance,
                "lot_number": v.at.lot.lot_number,
                "location": v.at.location.name,
                "expected_mg": f"{v.at.line.expected_mg.normalize():f}",
                "counted_mg": f"{v.at.line.counted_mg.normalize():f}",
                "difference_mg": f"{v.discrepancy.difference_mg.normalize():f}",
            }
            for v in views
        ]
    _print_rows(rows, as_json, empty="no open discrepancy")


@inventory_app.command("awaiting-disposal")
def awaiting_disposal(clinic: ClinicCode = None, as_json: AsJson = False) -> None:
    """Expired lots still on hand: they cannot be drawn and wait for a reverse distributor or a
    witnessed destruction (audited as ``inventory.awaiting_disposal.read``)."""
    settings = load_settings()
    today = clock.today(settings.timezone)
    with (
        engine_scope(settings) as engine,
        transaction(make_session_factory(engine)) as session,
    ):
        clinic_id = _clinic_id(session, clinic)
        found = disposal.awaiting_disposal(session, clinic_id=clinic_id, today=today)
        audit.record(
            session,
            actor=_cli_actor(clinic_id),
            action="inventory.awaiting_disposal.read",
            detail=f"rows={len(found)}",
        )
    rows = [
        {
            "substance": r.product.substance,
            "ndc": core.format_ndc(r.product.ndc),
            "lot_number": r.lot.lot_number,
            "expiry_date": r.lot.expiry_date.isoformat(),
            "location": r.location.name,
            "on_hand_mg": f"{r.on_hand_mg.normalize():f}",
            "on_hand_ml": f"{r.on_hand_ml.normalize():f}",
        }
        for r in found
    ]
    _print_rows(rows, as_json, empty="nothing awaits disposal")


def _print_rows(rows: Sequence[Mapping[str, object]], as_json: bool, *, empty: str) -> None:
    """Exact JSON, or a table with one column per key."""
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        out.print(empty)
        return
    table = Table(*(key.replace("_", " ") for key in rows[0]))
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    out.print(table)


def _check_writable(path: Path) -> None:
    """Refuse before anything is read, so an unwritable path leaves no audited read behind."""
    if path.is_dir():
        refuse(f"{path} is a directory; give a file name such as report.pdf")
    if not path.parent.is_dir():
        refuse(f"cannot write {path}: the directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        refuse(f"cannot write {path}: permission denied")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        refuse(f"{option}: {text!r} is not a date such as 2026-03-31")


@inventory_app.command("report")
def report(
    kind: Annotated[
        str, typer.Argument(help="administrations, biennial, receipts or reconciliation")
    ],
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (clinic's dates).")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (clinic's dates).")],
    out_file: Annotated[Path, typer.Option("--out", help="The file to write: .pdf or .csv.")],
    clinic: Annotated[
        str | None, typer.Option(help="Clinic code; needed when the database holds several.")
    ] = None,
    taken: Annotated[
        str, typer.Option(help="biennial: inventory at 'opening' or 'close' of business.")
    ] = "close",
) -> None:
    """Write an inspector's report for a range of dates as PDF or CSV (by the file's suffix).
    The biennial inventory is taken on the last day. Audited as ``inventory.report.KIND``."""
    settings = load_settings()
    if kind not in CLI_REPORTS:
        refuse(f"no report {kind!r}; choose one of {', '.join(CLI_REPORTS)}")
    suffix = out_file.suffix.lower()
    if suffix not in (".pdf", ".csv"):
        refuse(f"{out_file}: the file name must end in .pdf or .csv")
    if taken not in {t.value for t in reports.Taken}:
        refuse(f"--taken: {taken!r} is neither 'opening' nor 'close'")
    _check_writable(out_file)
    try:
        span = reports.period(_day(first, "--from"), _day(last, "--to"), settings.timezone)
    except InvalidInput as error:
        refuse(error.msg.replace("from:", "--from:").replace("to (", "--to ("))
    # Written inside the transaction: if writing fails, the audit event rolls back with it.
    with (
        engine_scope(settings) as engine,
        transaction(make_session_factory(engine)) as session,
    ):
        clinic_id = _clinic_id(session, clinic)
        built = _build(session, kind, clinic_id, span, reports.Taken(taken))
        actor = Actor(None, "cli", None, clinic_id, client_address="cli")
        reports.audit_report(session, actor=actor, report=built, fmt=suffix[1:])
        try:
            if suffix == ".pdf":
                out_file.write_bytes(pdf_bytes(built, settings.timezone))
            else:
                out_file.write_text(csv_text(built), encoding="utf-8", newline="")
        except OSError as error:
            refuse(f"cannot write {out_file}: {error.strerror or error}")
    print(f"wrote {built.title}, {span.label}, {built.row_count} rows, to {out_file}")


CLI_REPORTS = ("administrations", "biennial", "receipts", "reconciliation")


def _build(
    session: Session, kind: str, clinic_id: int, span: reports.Period, taken: reports.Taken
) -> reports.Report:
    if kind == "administrations":
        return reports.administrations(session, clinic_id=clinic_id, period=span)
    if kind == "biennial":
        return reports.biennial(session, clinic_id=clinic_id, period=span, taken=taken)
    if kind == "receipts":
        return reports.receipts(session, clinic_id=clinic_id, period=span)
    return reports.reconciliation(session, clinic_id=clinic_id, period=span)


def _clinic_id(session: Session, clinic: str | None) -> int:
    codes = session.execute(select(Clinic.id, Clinic.code).order_by(Clinic.code)).all()
    chosen = [c for c in codes if clinic is None or c.code == clinic]
    if not chosen:
        refuse(f"no clinic {clinic!r}" if clinic else "no clinic in this database")
    if len(chosen) > 1:
        refuse(f"several clinics ({', '.join(c.code for c in chosen)}); choose one with --clinic")
    clinic_id: int = chosen[0].id
    return clinic_id
