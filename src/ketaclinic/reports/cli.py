"""``ketaclinic report patient MRN --out FILE.pdf``: the progress report from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.cli_support import load_settings, refuse
from ketaclinic.db import engine_scope, make_session_factory, transaction
from ketaclinic.patients.models import Patient
from ketaclinic.reports import content
from ketaclinic.reports.render import render

report_app = typer.Typer(
    help="Reports for a referring physician or an insurer.", no_args_is_help=True
)


def _check_writable(path: Path) -> None:
    """Refuse before the record is read, so an unwritable path leaves no audited read behind."""
    if path.is_dir():
        refuse(f"{path} is a directory; give a file name such as report.pdf")
    parent = path.parent
    if not parent.is_dir():
        refuse(f"cannot write {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        refuse(f"cannot write {path}: permission denied")


def _find(session: Session, mrn: str, clinic_code: str | None) -> tuple[int, int]:
    """(clinic id, patient id) of the MRN; MRNs are unique per clinic, so across several clinics
    the caller must name one."""
    query = select(Patient.clinic_id, Patient.id, Clinic.code).join(
        Clinic, Clinic.id == Patient.clinic_id
    )
    query = query.where(Patient.mrn == mrn.strip())
    if clinic_code is not None:
        if session.scalar(select(Clinic.id).where(Clinic.code == clinic_code)) is None:
            refuse(f"no clinic {clinic_code!r}")
        query = query.where(Clinic.code == clinic_code)
    rows = session.execute(query.order_by(Clinic.code)).all()
    where = f" in clinic {clinic_code}" if clinic_code else ""
    if not rows:
        refuse(f"no patient with MRN {mrn!r}{where}")
    if len(rows) > 1:
        codes = ", ".join(r.code for r in rows)
        refuse(f"MRN {mrn!r} is in several clinics ({codes}); choose one with --clinic")
    return rows[0].clinic_id, rows[0].id


@report_app.command("patient")
def patient_report(
    mrn: Annotated[str, typer.Argument(help="The patient's medical record number.")],
    out: Annotated[Path, typer.Option("--out", help="The PDF file to write.")],
    clinic: Annotated[
        str | None, typer.Option(help="Clinic code; needed when the MRN is in several clinics.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a patient's progress report (diagnoses, courses, doses, outcomes, adverse events)
    as a PDF. The read is audited as ``report.patient``."""
    settings = load_settings()
    _check_writable(out)
    # The file is written inside the transaction: if writing fails, the audit event rolls back
    # with it, so the trail never shows a report that was not made.
    with (
        engine_scope(settings) as engine,
        transaction(make_session_factory(engine)) as session,
    ):
        clinic_id, patient_id = _find(session, mrn, clinic)
        actor = Actor(None, "cli", None, clinic_id, client_address="cli")
        report = content.gather(session, actor=actor, patient_id=patient_id, zone=settings.timezone)
        assert report is not None  # found in the actor's own clinic just above
        data = render(report)
        try:
            out.write_bytes(data)
        except OSError as error:
            refuse(f"cannot write {out}: {error.strerror or error}")
    if as_json:
        print(json.dumps({"mrn": report.identity.mrn, "path": str(out), "bytes": len(data)}))
    else:
        print(f"wrote the progress report of MRN {report.identity.mrn} to {out}")
