"""``ketaclinic protocols list`` and ``ketaclinic dose calc``."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import select

from ketaclinic import labels
from ketaclinic.accounts.models import Clinic
from ketaclinic.config import Settings
from ketaclinic.db import engine_scope, make_session_factory
from ketaclinic.errors import KetaclinicError
from ketaclinic.protocols import dose, service
from ketaclinic.protocols.api import summary
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.schemas import DoseCalculationIn

protocols_app = typer.Typer(help="The protocol library.", no_args_is_help=True)
dose_app = typer.Typer(help="Dose calculation.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


def _refuse(message: str) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(2)


@protocols_app.command("list")
def list_protocols(
    clinic: Annotated[
        str | None, typer.Option(help="Clinic code; every clinic when omitted.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The newest version of each protocol: id, name, version, indications."""
    with engine_scope(Settings()) as engine, make_session_factory(engine)() as session:
        query = select(Clinic).order_by(Clinic.code)
        clinics = session.scalars(query.where(Clinic.code == clinic) if clinic else query).all()
        if clinic and not clinics:
            _refuse(f"no clinic {clinic!r}")
        rows: list[dict[str, Any]] = []
        for c in clinics:
            for row in service.list_current(session, clinic_id=c.id):
                rows.append({**summary(row).model_dump(), "clinic": c.code})
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        indications = labels.labelled(r["indications"])  # the clinic's words; --json keeps ids
        print(f"{r['id']:>4}  {r['clinic']:<8} v{r['version']:<3} {r['name']}  ({indications})")


def _decimal(name: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        _refuse(f"{name} must be a number, got {text!r}")
        raise


@dose_app.command("calc")
def calc(
    protocol: Annotated[int, typer.Option(help="Protocol id (see `ketaclinic protocols list`).")],
    weight_kg: Annotated[str, typer.Option(help="Actual body weight, kg.")],
    height_cm: Annotated[str | None, typer.Option(help="Height, cm.")] = None,
    sex: Annotated[str | None, typer.Option(help="female or male (for ideal body weight).")] = None,
    weight_basis: Annotated[str, typer.Option(help="actual, ideal or adjusted.")] = "actual",
    dose_value: Annotated[
        str | None, typer.Option("--dose", help="In the protocol's unit.")
    ] = None,
    duration_min: Annotated[int | None, typer.Option(help="Infusion minutes.")] = None,
    bolus_mg_per_kg: Annotated[str | None, typer.Option(help="Loading dose, mg/kg.")] = None,
    override: Annotated[
        list[str] | None, typer.Option(help="LIMIT=REASON to go above a soft limit (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Plan a dose: rate, pump mL/h, totals and every limit finding. A hard limit exits 2."""
    malformed = [item for item in override or [] if "=" not in item]
    if malformed:
        _refuse(f"--override must be LIMIT=REASON, got {malformed[0]!r}")
    reasons = dict(item.split("=", 1) for item in override or [])
    try:
        data = DoseCalculationIn(
            protocol_id=protocol,
            weight_kg=_decimal("weight_kg", weight_kg),
            height_cm=_decimal("height_cm", height_cm),
            sex=sex,
            weight_basis=weight_basis,
            dose=_decimal("dose", dose_value),
            duration_min=duration_min,
            bolus_mg_per_kg=_decimal("bolus_mg_per_kg", bolus_mg_per_kg),
            override_reasons=reasons,
        )
    except ValidationError as error:
        first = error.errors()[0]
        _refuse(f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
        raise
    try:
        with engine_scope(Settings()) as engine, make_session_factory(engine)() as session:
            result = dose.plan(session.get(ProtocolVersion, protocol), data)
    except KetaclinicError as error:
        _refuse(error.msg)
        raise
    if as_json:
        print(result.model_dump_json())
        return
    print(
        f"{result.rate_mg_per_h} mg/h = pump {result.pump_rate_ml_per_h} mL/h "
        f"for {result.duration_min} min; total {result.total_mg} mg in {result.total_ml} mL "
        f"({result.bags_needed} bag(s))"
    )
    for finding in result.findings:
        print(f"  {finding.kind}: {finding.message}")
