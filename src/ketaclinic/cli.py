"""The ``ketaclinic`` command.

Exit 0 on success, 2 on bad input (the reason on stderr), 1 on failure.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from ketaclinic.cli_support import err, load_settings, refuse
from ketaclinic.errors import KetaclinicError

app = typer.Typer(
    help="Run a ketamine infusion clinic.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")

out = Console()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    from ketaclinic.app import create_app

    settings = load_settings()
    out.print(
        f"ketaclinic on http://{host}:{port} (database: {settings.database_url.split('@')[-1]})"
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


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


@audit_app.command("verify")
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the hash chain; exit 1 and name the first bad event when it is broken."""
    from ketaclinic.audit import service
    from ketaclinic.db import engine_scope, make_session_factory

    with engine_scope(load_settings()) as engine, make_session_factory(engine)() as session:
        problem = service.verify(session)
    if as_json:
        print(
            json.dumps(
                {
                    "intact": problem is None,
                    "first_bad_seq": problem.seq if problem else None,
                    "reason": problem.reason if problem else None,
                }
            )
        )
    if problem is not None:
        if not as_json:
            err.print(f"audit trail BROKEN at event {problem.seq}: {problem.reason}", markup=False)
        raise typer.Exit(1)
    if not as_json:
        out.print("audit trail intact")


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
    from ketaclinic.instruments.cli import app as score_app
    from ketaclinic.protocols.cli import dose_app, protocols_app
    from ketaclinic.reports.cli import report_app

    app.add_typer(score_app)
    app.add_typer(protocols_app, name="protocols")
    app.add_typer(dose_app, name="dose")
    app.add_typer(report_app, name="report")


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
