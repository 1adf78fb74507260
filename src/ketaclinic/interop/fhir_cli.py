"""``ketaclinic fhir import FILE`` and ``ketaclinic fhir export``: referrals in, records out.

The command line acts as the clinic's FHIR exchange account (inactive, no password, like the
HL7 device account) and is audited as that account. Exit 2 with every problem on stderr when a
bundle is refused (nothing is written), 1 on failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.cli_support import err, load_settings, refuse
from ketaclinic.db import engine_scope, make_session_factory
from ketaclinic.errors import KetaclinicError
from ketaclinic.interop import fhir_exchange, fhir_import
from ketaclinic.interop.fhir_base import FhirContext, FhirInvalid, Resource, to_json
from ketaclinic.interop.fhir_referral import parse_body
from ketaclinic.patients.models import Patient

fhir_app = typer.Typer(help="FHIR R4: import referrals, export records.", no_args_is_help=True)
out = Console()

ClinicCode = Annotated[
    str | None,
    typer.Option("--clinic", help="The clinic's code (needed when there is more than one)."),
]


@contextmanager
def _clinic_session(code: str | None) -> Iterator[tuple[Session, Actor, str]]:
    """One transaction as the clinic's exchange account: committed when the block succeeds."""
    settings = load_settings()
    with (
        engine_scope(settings) as engine,
        make_session_factory(engine)() as session,
        session.begin(),
    ):
        try:
            clinic = fhir_exchange.resolve_clinic(session, code)
        except KetaclinicError as error:
            refuse(error.msg)
        actor = fhir_exchange.system_actor(session, clinic.id)
        yield session, actor, clinic.code


@fhir_app.command("import")
def fhir_import_command(
    file: Annotated[Path, typer.Argument(help="A transaction Bundle (JSON).")],
    clinic: ClinicCode = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the response Bundle.")] = False,
) -> None:
    """Register or update the patient of a referral's transaction Bundle, all or nothing: any
    problem (a code that is not billable, an unknown code system, no MRN...) refuses it whole,
    each problem printed with its place in the bundle."""
    try:
        raw = file.read_bytes()
    except OSError as error:
        refuse(f"cannot read {file}: {error.strerror or error}")
    settings = load_settings()
    try:
        bundle = parse_body(raw)
        with _clinic_session(clinic) as (session, actor, _code):
            referral = fhir_import.read(
                session, actor=actor, bundle=bundle, today=clock.today(settings.timezone)
            )
            patient, response = fhir_import.import_referral(
                session, actor=actor, referral=referral, today=clock.today(settings.timezone)
            )
            mrn = patient.mrn
    except FhirInvalid as error:
        for where, message in error.problems:
            err.print(f"{where or 'Bundle'}: {message}", markup=False, highlight=False)
        count = len(error.problems)
        refuse(f"the bundle was refused ({count} problem{'s' * (count != 1)}); nothing was written")
    except KetaclinicError as error:
        refuse(error.msg)
    if as_json:
        print(to_json(response))
        return
    created = response["entry"][referral.patient_entry]["response"]["status"].startswith("201")
    out.print(f"{'registered' if created else 'updated'} patient {mrn}", markup=False)


@fhir_app.command("export")
def fhir_export_command(
    patient: Annotated[
        str | None, typer.Option("--patient", help="The MRN of the patient to export.")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the Bundle here (default: stdout).")
    ] = None,
    all_to: Annotated[
        Path | None,
        typer.Option("--all", help="Export every patient: one NDJSON file per resource type."),
    ] = None,
    clinic: ClinicCode = None,
) -> None:
    """Write one patient's ``$everything`` Bundle as JSON, or (``--all DIR``) the whole clinic as
    FHIR Bulk Data NDJSON: ``Patient.ndjson``, ``Condition.ndjson``... one resource a line.
    Decimals are written with every digit they have."""
    if (patient is None) == (all_to is None):
        refuse("give either --patient MRN or --all DIR")
    if all_to is not None and out_file is not None:
        refuse("--out goes with --patient; --all writes its files into DIR")
    with _clinic_session(clinic) as (session, actor, code):
        context = FhirContext(session=session, actor=actor, clinic_code=code)
        if patient is not None:
            _export_one(context, patient, out_file)
        else:
            assert all_to is not None  # one of the two, checked above
            counts = _export_all(context, all_to)
    if all_to is not None:
        summary = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
        out.print(f"wrote {all_to}: {summary or 'no patients'}", markup=False)


def _everything(context: FhirContext, patient: Patient) -> Resource:
    from ketaclinic.interop.fhir_server import everything_bundle

    audit.record(
        context.session, actor=context.actor, action="patient.export", patient_id=patient.id
    )
    bundle: Resource = everything_bundle(context, patient)
    return bundle


def _export_one(context: FhirContext, mrn: str, out_file: Path | None) -> None:
    found = context.session.scalar(
        select(Patient).where(Patient.clinic_id == context.actor.clinic_id, Patient.mrn == mrn)
    )
    if found is None:
        refuse(f"no patient with MRN {mrn} in clinic {context.clinic_code}")
    text = to_json(_everything(context, found))
    if out_file is None:
        print(text)
        return
    try:
        out_file.write_text(text + "\n")
    except OSError as error:
        refuse(f"cannot write {out_file}: {error.strerror or error}")


def _export_all(context: FhirContext, directory: Path) -> dict[str, int]:
    """Every patient's resources, each resource once (a practitioner is in many records)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        refuse(f"cannot create {directory}: {error.strerror or error}")
    ids = context.session.scalars(
        select(Patient.id).where(Patient.clinic_id == context.actor.clinic_id).order_by(Patient.id)
    ).all()
    counts: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    with ExitStack() as files, Progress(console=err, transient=True) as bar:
        opened: dict[str, IO[str]] = {}
        task = bar.add_task("exporting patients", total=len(ids))
        for patient_id in ids:
            patient = context.session.get(Patient, patient_id)
            assert patient is not None  # listed in this transaction
            for resource in _resources(_everything(context, patient)):
                key = (str(resource["resourceType"]), str(resource.get("id")))
                if key in seen:
                    continue
                seen.add(key)
                kind = key[0]
                if kind not in opened:
                    opened[kind] = files.enter_context(
                        (directory / f"{kind}.ndjson").open("w", encoding="utf-8")
                    )
                opened[kind].write(to_json(resource) + "\n")
                counts[kind] = counts.get(kind, 0) + 1
            bar.advance(task)
    return counts


def _resources(bundle: Resource) -> Iterator[dict[str, Any]]:
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if isinstance(resource, dict):
            yield resource
