"""Dose calculation against a stored protocol version, for the API, the CLI and the page."""

from __future__ import annotations

from ketaclinic.dosing.core import DosePlan, calculate
from ketaclinic.errors import DoseOutOfRange, InvalidInput, NotFound
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.schemas import DoseCalculationIn, DosePlanOut, FindingOut
from ketaclinic.protocols.service import definition


def plan(row: ProtocolVersion | None, data: DoseCalculationIn) -> DosePlanOut:
    """The full plan, or a refusal whose ``loc`` starts with ``body`` and names the limit."""
    if row is None:
        raise NotFound(f"no protocol {data.protocol_id}", loc=("body", "protocol_id"))
    try:
        result = calculate(
            definition(row),
            weight_kg=data.weight_kg,
            height_cm=data.height_cm,
            sex=data.sex,
            weight_basis=data.weight_basis,
            dose=data.dose,
            duration_min=data.duration_min,
            bolus_mg_per_kg=data.bolus_mg_per_kg,
            override_reasons=data.override_reasons,
            pump_resolution_ml_per_h=data.pump_resolution_ml_per_h,
        )
    except InvalidInput as error:
        if isinstance(error, DoseOutOfRange):
            error.loc = ("body", *error.loc)
            raise
        raise type(error)(error.msg, loc=("body", *error.loc)) from None
    return to_out(row.id, result)


def to_out(protocol_id: int, p: DosePlan) -> DosePlanOut:
    return DosePlanOut(
        protocol_id=protocol_id,
        protocol_key=p.protocol_key,
        protocol_version=p.protocol_version,
        weight_basis=p.weight_basis.value,
        weight_basis_kg=p.weight_basis_kg,
        actual_weight_kg=p.actual_weight_kg,
        dose=p.dose,
        dose_unit=p.dose_unit,
        duration_min=p.duration_min,
        ordered_rate_mg_per_h=p.ordered_rate_mg_per_h,
        planned_rate_mg_per_h=p.planned_rate_mg_per_h,
        rate_mg_per_h=p.rate_mg_per_h,
        pump_rate_ml_per_h=p.pump_rate_ml_per_h,
        pump_resolution_ml_per_h=p.pump_resolution_ml_per_h,
        rounding_mg_per_h=p.rounding_mg_per_h,
        rounding_mg=p.rounding_mg,
        infusion_mg=p.infusion_mg,
        infusion_ml=p.infusion_ml,
        bolus_mg=p.bolus_mg,
        bolus_ml=p.bolus_ml,
        total_mg=p.total_mg,
        total_ml=p.total_ml,
        concentration_mg_per_ml=p.concentration_mg_per_ml,
        bag_volume_ml=p.bag_volume_ml,
        bags_needed=p.bags_needed,
        observation_min=p.observation_min,
        findings=[
            FindingOut(
                kind=f.kind.value,
                limit=f.limit,
                limit_value=f.limit_value,
                unit=f.unit,
                planned_value=f.planned_value,
                override_reason=f.override_reason,
                message=f.message,
            )
            for f in p.findings
        ],
    )
