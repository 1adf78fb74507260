"""``ketaclinic reminders run``: send the appointment reminders that are due.

Exit 0 after a pass (``--once``) or when stopped; 2 on bad settings. Any number of these may run
against one database: each reminder is sent once.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated

import typer
from rich.console import Console

from ketaclinic.cli_support import load_settings, refuse
from ketaclinic.db import engine_scope, make_session_factory
from ketaclinic.scheduling import reminders_worker as worker

reminders_app = typer.Typer(help="Appointment reminders.", no_args_is_help=True)
out = Console()


@reminders_app.command("run")
def reminders_run(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each pass as JSON.")] = False,
) -> None:
    """Queue, claim and send due reminders every `KETACLINIC_REMINDER_INTERVAL_S` seconds."""
    settings = load_settings()
    if not worker.channels_of(settings):
        refuse(
            "no reminder channel is set up: set KETACLINIC_SMTP_HOST (e-mail) or "
            "KETACLINIC_SMS_WEBHOOK_URL (text messages)"
        )
    worker_id = worker.new_worker_id()
    stop = threading.Event()
    with engine_scope(settings) as engine:
        factory = make_session_factory(engine)
        while True:
            result = worker.run_once(factory, settings, worker=worker_id)
            if as_json:
                print(json.dumps(vars(result)))
            else:
                out.print(
                    f"queued {result.queued}, sent {result.sent}, skipped {result.skipped}, "
                    f"retrying {result.retrying}, failed {result.failed}"
                )
            if once:
                return
            try:
                stop.wait(settings.reminder_interval_s)
            except KeyboardInterrupt:
                return
