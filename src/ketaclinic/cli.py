"""The ``ketaclinic`` command.

Exit 0 on success, 2 on bad input (the reason on stderr), 1 on failure.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from ketaclinic.cli_support import load_settings, refuse
from ketaclinic.errors import KetaclinicError

app = typer.Typer(
    help="Run a ketamine infusion clinic.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")

out = Console()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="App processes. On PostgreSQL, more processes serve more requests at once "
            "(about one per core); on SQLite keep 1: it has one writer at a time.",
            min=1,
            max=64,
        ),
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request line.")] = True,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    settings = load_settings()
    # Made here, once, before any worker starts: workers creating the key files side by side
    # would each write their own.
    _ = settings.signing_key, settings.audit_signing_key
    out.print(
        f"ketaclinic on http://{host}:{port} (database: {settings.database_url.split('@')[-1]}, "
        f"{workers} process{'es' if workers > 1 else ''})"
    )
    uvicorn.run(
        "ketaclinic.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the database schema (Alembic)."""
    from ketaclinic.db import engine_scope
    from ketaclinic.schema import current_revision, upgrade

    with engine_scope(load_settings()) as engine:
        upgrade(engine, revision)
        out.print(f"database at revision {current_revision(engine)}")


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin, physician, nurse, staff or patient")],
    clinic: Annotated[str, typer.Option(help="Clinic code; created if new.")],
    display_name: Annotated[str | None, typer.Option(help="Name shown in the app.")] = None,
    patient_mrn: Annotated[str | None, typer.Option(help="For role patient: their MRN.")] = None,
) -> None:
    """Create a user. The password is read from standard input (one line)."""
    from ketaclinic.accounts import commands

    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user_id = commands.create_user(
            load_settings(),
            username=username,
            role=role,
            clinic_code=clinic,
            display_name=display_name,
            password=password,
            patient_mrn=patient_mrn,
        )
    except KetaclinicError as error:
        refuse(error.msg)
    out.print(f"created user {username} (id {user_id}, role {role}, clinic {clinic})")


@app.command()
def demo(
    new_passwords: Annotated[
        bool, typer.Option(help="Give the demo accounts new passwords if already seeded.")
    ] = False,
) -> None:
    """Seed a synthetic demo clinic (no real patients) and print its logins once."""
    from ketaclinic.demo import seed

    result = seed(load_settings(), new_passwords=new_passwords)
    if result.created:
        out.print(
            f"seeded demo clinic {result.clinic_code}: {result.patient_count} synthetic patients"
        )
    else:
        out.print(f"demo clinic {result.clinic_code} already seeded")
    if result.passwords:
        out.print("demo logins (shown once, not stored anywhere):")
        for username, role, password in result.passwords:
            out.print(f"  {role:<10} {username:<18} {password}", markup=False, highlight=False)
    else:
        out.print("run `ketaclinic demo --new-passwords` to get fresh demo logins")


def _mount_score() -> None:
    from ketaclinic.audit.cli import audit_app
    from ketaclinic.instruments.cli import app as score_app
    from ketaclinic.inventory.cli import inventory_app
    from ketaclinic.protocols.cli import dose_app, protocols_app
    from ketaclinic.reports.cli import report_app

    app.add_typer(score_app)
    app.add_typer(protocols_app, name="protocols")
    app.add_typer(dose_app, name="dose")
    app.add_typer(report_app, name="report")
    app.add_typer(audit_app, name="audit")
    app.add_typer(inventory_app, name="inventory")
    _mount_reminders()


def _mount_reminders() -> None:
    from ketaclinic.scheduling.reminders_cli import reminders_app

    app.add_typer(reminders_app, name="reminders")
    _mount_hl7()


def _mount_hl7() -> None:
    from ketaclinic.interop.cli import hl7_app
    from ketaclinic.interop.fhir_cli import fhir_app

    app.add_typer(hl7_app, name="hl7")
    app.add_typer(fhir_app, name="fhir")


_mount_score()


def _mount_optional() -> None:
    try:
        from ketaclinic.pk.cli import app as pk_app
    except ImportError:
        return
    app.add_typer(pk_app, name="pk", help="Pharmacokinetics: predicted ketamine concentrations.")


_mount_optional()


def main() -> None:
    app()
