"""``ketaclinic audit …``: seal, checkpoint and verify the audit trail; read the system's events.

Exit 0 when the trail is intact, 1 when it was tampered with (naming what), 2 on bad input.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from ketaclinic.audit import sealing, service
from ketaclinic.audit.core import Checkpoint, Verdict, checkpoint_from_json, checkpoint_to_json
from ketaclinic.cli_support import err, load_settings, refuse
from ketaclinic.db import engine_scope, make_session_factory, read_only_session, transaction
from ketaclinic.errors import KetaclinicError

audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
out = Console()
#: Show a progress bar when a verification reads more events than this (about a second's work).
PROGRESS_FROM_EVENTS = 50_000


@audit_app.command("seal")
def audit_seal(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Close every finished event into seals now (the app also does it every few seconds)."""
    with engine_scope(load_settings()) as engine:
        made = sealing.seal_pending(make_session_factory(engine), max_seals=1_000_000)
        with make_session_factory(engine)() as session:
            newest = sealing.newest_seal(session)
    last_seq = newest.fields.seq if newest else 0
    if as_json:
        print(json.dumps({"seals_made": made, "newest_seal": last_seq}))
    else:
        out.print(f"{made} new seals; the newest is seal {last_seq}")


@audit_app.command("checkpoint")
def audit_checkpoint(
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the checkpoint (new file).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Seal, then write a signed checkpoint naming the newest seal, to keep outside the database.

    `ketaclinic audit verify --checkpoint FILE` later proves nothing up to it was removed or
    rewritten.
    """
    if out_file.exists():
        refuse(f"{out_file} exists; a checkpoint never overwrites another, choose a new name")
    if not out_file.parent.is_dir():
        refuse(f"cannot write {out_file}: the directory {out_file.parent} does not exist")
    with engine_scope(load_settings()) as engine:
        factory = make_session_factory(engine)
        sealing.seal_pending(factory, max_seals=1_000_000)
        try:
            with transaction(factory) as session:
                made = sealing.checkpoint(session)
        except KetaclinicError as error:
            refuse(error.msg)
    out_file.write_text(checkpoint_to_json(made))
    if as_json:
        print(json.dumps({"seal": made.seal_seq, "last_event_id": made.last_event_id}))
    else:
        out.print(
            f"checkpoint of seal {made.seal_seq} (events up to {made.last_event_id}) "
            f"written to {out_file}; keep it outside the database and its backups"
        )


def _read_checkpoint(path: Path | None) -> Checkpoint | None:
    if path is None:
        return None
    try:
        return checkpoint_from_json(path.read_text())
    except OSError as error:
        refuse(f"cannot read the checkpoint {path}: {error.strerror}")
    except ValueError as error:
        refuse(f"{path}: {error}")


def _ticks(total: int) -> Generator[None, None, None]:
    """Advances a progress bar on stderr once per event, when there are enough to wait for."""
    if total < PROGRESS_FROM_EVENTS:
        while True:
            yield
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("verifying the audit trail", total=total)
        while True:
            progress.advance(task)
            yield


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A checkpoint file made by `audit checkpoint`."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check every event's and seal's MAC, the chain of seals, and the checkpoint if given.

    Exit 0 when intact; 1 when tampered with, naming each problem found.
    """
    against = _read_checkpoint(checkpoint)
    with engine_scope(load_settings()) as engine, read_only_session(engine) as session:
        total = sealing.count_events(session)
        ticks = _ticks(total)
        verdict = sealing.verify(session, against=against, progress=ticks)
        ticks.close()
    _report(verdict, as_json)
    if not verdict.intact:
        raise typer.Exit(1)


def _report(verdict: Verdict, as_json: bool) -> None:
    if as_json:
        findings = [{"where": f.where, "reason": f.reason} for f in verdict.findings]
        summary = {
            "intact": verdict.intact,
            "events": verdict.events_checked,
            "seals": verdict.seals_checked,
            "unsealed_events": verdict.unsealed_events,
            "findings": findings,
        }
        print(json.dumps(summary))
        return
    if verdict.intact:
        out.print(
            f"audit trail intact: {verdict.events_checked} events, {verdict.seals_checked} "
            f"seals ({verdict.unsealed_events} events not sealed yet)"
        )
        return
    err.print(f"audit trail TAMPERED WITH ({len(verdict.findings)} problems):", markup=False)
    for finding in verdict.findings:
        err.print(f"  {finding.where}: {finding.reason}", markup=False, highlight=False)


@audit_app.command("system")
def audit_system(
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=100_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Events that belong to no clinic (failed logins for unknown usernames), for the operator:
    no clinic's admin sees them."""
    with engine_scope(load_settings()) as engine, read_only_session(engine) as session:
        events = service.list_events(session, service.TrailFilter(clinic_id=None, limit=limit))
        rows = [
            {
                "id": e.id,
                "occurred_at": e.occurred_at.isoformat(),
                "action": e.action,
                "username": e.username,
                "client_address": e.client_address,
                "detail": e.detail,
            }
            for e in events
        ]
    if as_json:
        print(json.dumps(rows))
        return
    for row in rows:
        out.print(
            f"{row['id']:>8} {row['occurred_at']} {row['action']} {row['username'] or ''} "
            f"{row['client_address'] or ''} {row['detail'] or ''}",
            markup=False,
            highlight=False,
        )
