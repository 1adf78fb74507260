"""``ketaclinic inventory balance``: what is on hand, from the ledger, at the command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit import service as audit
from ketaclinic.cli_support import load_settings, refuse
from ketaclinic.db import engine_scope, make_session_factory, transaction
from ketaclinic.inventory import core, service

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
        codes = session.execute(select(Clinic.id, Clinic.code).order_by(Clinic.code)).all()
        chosen = [c for c in codes if clinic is None or c.code == clinic]
        if not chosen:
            refuse(f"no clinic {clinic!r}" if clinic else "no clinic in this database")
        if len(chosen) > 1:
            refuse(
                f"several clinics ({', '.join(c.code for c in chosen)}); choose one with --clinic"
            )
        clinic_id = chosen[0].id
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
