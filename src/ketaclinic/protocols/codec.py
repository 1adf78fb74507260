"""A Protocol to JSON and back, exactly: every Decimal travels as a string. Pure."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from ketaclinic.dosing.protocol import Bolus, DoseMode, Limit, Protocol
from ketaclinic.errors import InvalidInput


def to_json(protocol: Protocol) -> dict[str, Any]:
    plain: dict[str, Any] = _plain(asdict(protocol))
    return plain


def from_json(data: dict[str, Any]) -> Protocol:
    """Rebuild (and so re-validate) a protocol; a bad field raises InvalidInput naming it."""
    try:
        values = dict(data)
        values["indications"] = tuple(values["indications"])
        values["dose_mode"] = DoseMode(values["dose_mode"])
        for name in ("default_dose", "concentration_mg_per_ml", "bag_volume_ml"):
            values[name] = Decimal(values[name])
        for name in ("titration_step", "cap_mg_per_h"):
            values[name] = None if values.get(name) is None else Decimal(values[name])
        for name in ("dose_limit", "rate_limit_mg_per_h", "total_limit_mg"):
            values[name] = None if values.get(name) is None else _limit(values[name])
        bolus = values.get("bolus")
        values["bolus"] = None if bolus is None else _bolus(bolus)
        return Protocol(**values)
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise InvalidInput(f"the protocol definition is malformed: {error}") from None


def _limit(data: dict[str, Any]) -> Limit:
    return Limit(soft_max=Decimal(data["soft_max"]), hard_max=Decimal(data["hard_max"]))


def _bolus(data: dict[str, Any]) -> Bolus:
    return Bolus(
        dose_mg_per_kg=Decimal(data["dose_mg_per_kg"]),
        limit_mg_per_kg=_limit(data["limit_mg_per_kg"]),
        over_min=data.get("over_min"),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value.value if isinstance(value, DoseMode) else value
