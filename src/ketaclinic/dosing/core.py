"""The dose calculator: a protocol, a patient and an order become a plan the pump can deliver. Pure.

The order (dose, duration, bolus) is judged against the protocol's limits *before* the pump rate is
rounded, and the rounding goes down only, so the delivered dose can never be above the order or
any limit. The numbers in the plan are what the pump delivers: the delivered rate and totals are
recomputed from the rounded pump rate.

Limits are upper limits. Above a hard limit the order is refused (``HardLimitExceeded``); above a
soft limit it needs a non-blank reason in ``override_reasons`` under the limit's name
(``SoftLimitNeedsOverride`` otherwise). The only value ever changed for the clinician is the
protocol's own rate cap, and the plan says so in a ``cap`` finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum
from types import MappingProxyType

from ketaclinic.dosing.body import DosingWeight, WeightBasis, dosing_weight
from ketaclinic.dosing.checks import DOSE_CONTEXT, MAX_DECIMAL_PLACES, require_positive
from ketaclinic.dosing.protocol import (
    BOLUS_LIMIT_NAME,
    DOSE_LIMIT_NAMES,
    RATE_LIMIT_NAME,
    TOTAL_LIMIT_NAME,
    DoseMode,
    Limit,
    Protocol,
)
from ketaclinic.errors import DoseOutOfRange
from ketaclinic.patients.core import Sex, decimal_places

#: A common resolution of volumetric infusion pumps; the caller passes the clinic's own.
DEFAULT_PUMP_RESOLUTION_ML_PER_H = Decimal("0.1")
CAP_NAME = "cap_mg_per_h"
_MIN_PER_H = 60
_NO_REASONS: Mapping[str, str] = MappingProxyType({})


class FindingKind(StrEnum):
    SOFT = "soft"  # above a soft limit, accepted with the stored reason
    HARD = "hard"  # above a hard limit: the order was refused
    CAP = "cap"  # the protocol's cap lowered the rate


@dataclass(frozen=True)
class LimitFinding:
    """One limit the order met: which, its value and unit, and the planned value that met it."""

    kind: FindingKind
    limit: str
    limit_value: Decimal
    unit: str
    planned_value: Decimal
    override_reason: str | None = None

    @property
    def message(self) -> str:
        planned, value, unit = _show(self.planned_value), _show(self.limit_value), self.unit
        if self.kind is FindingKind.CAP:
            return (
                f"the planned rate of {planned} {unit} was lowered to the protocol cap "
                f"{self.limit} of {value} {unit}"
            )
        text = (
            f"{self.limit} {planned} {unit} is above the {self.kind.value} limit of {value} {unit}"
        )
        return f"{text} (override: {self.override_reason})" if self.override_reason else text


class HardLimitExceeded(DoseOutOfRange):
    """Above a hard limit. No reason overrides it; no plan is returned."""

    def __init__(self, findings: Sequence[LimitFinding]) -> None:
        self.findings = tuple(findings)
        messages = "; ".join(finding.message for finding in self.findings)
        super().__init__(f"refused: {messages}", loc=(self.findings[0].limit,))


class SoftLimitNeedsOverride(DoseOutOfRange):
    """Above a soft limit without a stated reason.

    A subclass of ``DoseOutOfRange`` (not of bare ``InvalidInput``) because it *is* a dose outside
    a limit: whoever refuses out-of-range doses refuses this too, with the same 422; a form tells
    the two apart by type and offers a reason box only for this one. ``findings`` lists every soft
    limit that still needs a reason, so the clinician can give them all at once.
    """

    def __init__(self, findings: Sequence[LimitFinding]) -> None:
        self.findings = tuple(findings)
        names = ", ".join(finding.limit for finding in self.findings)
        messages = "; ".join(finding.message for finding in self.findings)
        super().__init__(
            f"a reason is needed to go above the soft limit ({names}): {messages}",
            loc=("override_reasons", self.findings[0].limit),
        )


@dataclass(frozen=True, kw_only=True)
class DosePlan:
    """What to give and how to set the pump. Rates in mg/h and mL/h, amounts in mg and mL.

    ``ordered_rate_mg_per_h`` follows from the dose; ``planned_rate_mg_per_h`` is that after the
    protocol cap; ``rate_mg_per_h`` is what the pump delivers at ``pump_rate_ml_per_h`` (rounded
    down to the pump's resolution). ``rounding_mg_per_h`` and ``rounding_mg`` are what that
    rounding took off. ``total_mg``/``total_ml`` include the bolus; ``bolus_over_min`` is
    ``None`` for a push (or no bolus). Quotients that do not terminate are cut at 28 digits, down.
    """

    protocol_key: str
    protocol_version: int
    weight_basis: WeightBasis
    weight_basis_kg: Decimal
    actual_weight_kg: Decimal
    dose: Decimal
    dose_unit: str
    duration_min: int
    ordered_rate_mg_per_h: Decimal
    planned_rate_mg_per_h: Decimal
    rate_mg_per_h: Decimal
    pump_rate_ml_per_h: Decimal
    pump_resolution_ml_per_h: Decimal
    rounding_mg_per_h: Decimal
    rounding_mg: Decimal
    infusion_mg: Decimal
    infusion_ml: Decimal
    bolus_mg_per_kg: Decimal
    bolus_mg: Decimal
    bolus_ml: Decimal
    bolus_over_min: int | None
    total_mg: Decimal
    total_ml: Decimal
    concentration_mg_per_ml: Decimal
    bag_volume_ml: Decimal
    bags_needed: int
    observation_min: int
    findings: tuple[LimitFinding, ...]


@dataclass(frozen=True, kw_only=True)
class _Order:
    """The order as the clinician wrote it (after the cap), before any pump rounding."""

    ordered_rate_mg_per_h: Decimal
    planned_rate_mg_per_h: Decimal
    infusion_mg: Decimal
    bolus_mg_per_kg: Decimal
    bolus_mg: Decimal
    cap: LimitFinding | None

    @property
    def total_mg(self) -> Decimal:
        return self.infusion_mg + self.bolus_mg


def _per_kg_per_h(dose: Decimal, weight_kg: Decimal, duration_min: int) -> tuple[Decimal, Decimal]:
    rate_mg_per_h = dose * weight_kg
    return rate_mg_per_h, rate_mg_per_h * duration_min / _MIN_PER_H


def _per_kg_over_min(
    dose: Decimal, weight_kg: Decimal, duration_min: int
) -> tuple[Decimal, Decimal]:
    infusion_mg = dose * weight_kg
    return infusion_mg * _MIN_PER_H / duration_min, infusion_mg


def _per_h(dose: Decimal, weight_kg: Decimal, duration_min: int) -> tuple[Decimal, Decimal]:
    return dose, dose * duration_min / _MIN_PER_H


#: Ordered rate (mg/h) and infusion amount (mg) for each dose mode.
_ORDERED: dict[DoseMode, Callable[[Decimal, Decimal, int], tuple[Decimal, Decimal]]] = {
    DoseMode.MG_PER_KG_PER_H: _per_kg_per_h,
    DoseMode.MG_PER_KG_OVER_MIN: _per_kg_over_min,
    DoseMode.MG_PER_H: _per_h,
}


def calculate(
    protocol: Protocol,
    *,
    weight_kg: Decimal,
    height_cm: Decimal | None = None,
    sex: Sex | str | None = None,
    weight_basis: WeightBasis | str = "actual",
    dose: Decimal | None = None,
    duration_min: int | None = None,
    bolus_mg_per_kg: Decimal | None = None,
    override_reasons: Mapping[str, str] = _NO_REASONS,
    pump_resolution_ml_per_h: Decimal = DEFAULT_PUMP_RESOLUTION_ML_PER_H,
) -> DosePlan:
    """Plan one session. ``dose`` and ``duration_min`` default to the protocol's; a bolus is
    given only when ``bolus_mg_per_kg`` is ordered. Raises ``InvalidInput`` for a bad input,
    ``HardLimitExceeded``/``SoftLimitNeedsOverride`` (both ``DoseOutOfRange``) for a limit."""
    with localcontext(DOSE_CONTEXT):
        weight = dosing_weight(weight_basis, weight_kg=weight_kg, height_cm=height_cm, sex=sex)
        if dose is not None:
            dose = require_positive("dose", dose, protocol.dose_unit)
        ordered_dose = protocol.default_dose if dose is None else dose
        duration = protocol.checked_duration_min(duration_min)
        bolus = protocol.checked_bolus_mg_per_kg(bolus_mg_per_kg)
        reasons = protocol.checked_override_reasons(override_reasons)
        resolution = require_positive("pump_resolution_ml_per_h", pump_resolution_ml_per_h, "mL/h")
        order = _order(protocol, ordered_dose, weight.kg, duration, bolus)
        findings = _judge(protocol, ordered_dose, order, reasons)
        given = _deliver(protocol, order, duration, resolution)
        return _plan(protocol, weight, ordered_dose, duration, order, findings, given, resolution)


def _order(
    protocol: Protocol, dose: Decimal, weight_kg: Decimal, duration_min: int, bolus: Decimal
) -> _Order:
    ordered_rate, infusion_mg = _ORDERED[protocol.dose_mode](dose, weight_kg, duration_min)
    planned_rate, cap = ordered_rate, None
    if protocol.cap_mg_per_h is not None and ordered_rate > protocol.cap_mg_per_h:
        planned_rate = protocol.cap_mg_per_h
        infusion_mg = planned_rate * duration_min / _MIN_PER_H
        cap = LimitFinding(
            kind=FindingKind.CAP,
            limit=CAP_NAME,
            limit_value=protocol.cap_mg_per_h,
            unit="mg/h",
            planned_value=ordered_rate,
        )
    return _Order(
        ordered_rate_mg_per_h=ordered_rate,
        planned_rate_mg_per_h=planned_rate,
        infusion_mg=infusion_mg,
        bolus_mg_per_kg=bolus,
        bolus_mg=bolus * weight_kg,
        cap=cap,
    )


def _checks(
    protocol: Protocol, dose: Decimal, order: _Order
) -> list[tuple[str, str, Limit, Decimal]]:
    """(limit name, unit, limit, planned value) for every limit this order is judged against."""
    checks = [
        (RATE_LIMIT_NAME, "mg/h", protocol.rate_limit_mg_per_h, order.planned_rate_mg_per_h),
        (TOTAL_LIMIT_NAME, "mg", protocol.total_limit_mg, order.total_mg),
    ]
    if protocol.dose_limit is not None:
        name = DOSE_LIMIT_NAMES[protocol.dose_mode]
        checks.insert(0, (name, protocol.dose_unit, protocol.dose_limit, dose))
    if protocol.bolus is not None and order.bolus_mg_per_kg > 0:
        limit = protocol.bolus.limit_mg_per_kg
        checks.append((BOLUS_LIMIT_NAME, "mg/kg", limit, order.bolus_mg_per_kg))
    return checks


def _judge(
    protocol: Protocol, dose: Decimal, order: _Order, reasons: Mapping[str, str]
) -> tuple[LimitFinding, ...]:
    """The cap and soft findings of an acceptable order; raises for anything not acceptable."""
    checks = _checks(protocol, dose, order)
    hard = [
        LimitFinding(FindingKind.HARD, name, limit.hard_max, unit, value)
        for name, unit, limit, value in checks
        if value > limit.hard_max
    ]
    if hard:
        raise HardLimitExceeded(hard)
    soft = [
        LimitFinding(FindingKind.SOFT, name, limit.soft_max, unit, value, reasons.get(name))
        for name, unit, limit, value in checks
        if value > limit.soft_max
    ]
    missing = [finding for finding in soft if finding.override_reason is None]
    if missing:
        raise SoftLimitNeedsOverride(missing)
    return (order.cap, *soft) if order.cap is not None else tuple(soft)


@dataclass(frozen=True, kw_only=True)
class _Delivery:
    """What the pump gives at its rounded rate, and the bolus volume."""

    pump_ml_per_h: Decimal
    rate_mg_per_h: Decimal
    infusion_mg: Decimal
    infusion_ml: Decimal
    bolus_ml: Decimal
    total_ml: Decimal


def _deliver(
    protocol: Protocol, order: _Order, duration_min: int, resolution_ml_per_h: Decimal
) -> _Delivery:
    concentration = protocol.concentration_mg_per_ml
    pump_ml_per_h = _pump_rate_ml_per_h(
        order.planned_rate_mg_per_h, concentration, resolution_ml_per_h
    )
    rate_mg_per_h = pump_ml_per_h * concentration
    infusion_ml = pump_ml_per_h * duration_min / _MIN_PER_H
    bolus_ml = order.bolus_mg / concentration
    return _Delivery(
        pump_ml_per_h=pump_ml_per_h,
        rate_mg_per_h=rate_mg_per_h,
        infusion_mg=rate_mg_per_h * duration_min / _MIN_PER_H,
        infusion_ml=infusion_ml,
        bolus_ml=bolus_ml,
        total_ml=infusion_ml + bolus_ml,
    )


def _plan(
    protocol: Protocol,
    weight: DosingWeight,
    dose: Decimal,
    duration_min: int,
    order: _Order,
    findings: tuple[LimitFinding, ...],
    given: _Delivery,
    resolution_ml_per_h: Decimal,
) -> DosePlan:
    return DosePlan(
        protocol_key=protocol.key,
        protocol_version=protocol.version,
        weight_basis=weight.basis,
        weight_basis_kg=weight.kg,
        actual_weight_kg=weight.actual_kg,
        dose=dose,
        dose_unit=protocol.dose_unit,
        duration_min=duration_min,
        ordered_rate_mg_per_h=order.ordered_rate_mg_per_h,
        planned_rate_mg_per_h=order.planned_rate_mg_per_h,
        rate_mg_per_h=given.rate_mg_per_h,
        pump_rate_ml_per_h=given.pump_ml_per_h,
        pump_resolution_ml_per_h=resolution_ml_per_h,
        rounding_mg_per_h=order.planned_rate_mg_per_h - given.rate_mg_per_h,
        rounding_mg=order.infusion_mg - given.infusion_mg,
        infusion_mg=given.infusion_mg,
        infusion_ml=given.infusion_ml,
        bolus_mg_per_kg=order.bolus_mg_per_kg,
        bolus_mg=order.bolus_mg,
        bolus_ml=given.bolus_ml,
        bolus_over_min=protocol.bolus.over_min if protocol.bolus and order.bolus_mg else None,
        total_mg=given.infusion_mg + order.bolus_mg,
        total_ml=given.total_ml,
        concentration_mg_per_ml=protocol.concentration_mg_per_ml,
        bag_volume_ml=protocol.bag_volume_ml,
        bags_needed=_bags(given.total_ml, protocol.bag_volume_ml),
        observation_min=protocol.observation_min,
        findings=findings,
    )


def _pump_rate_ml_per_h(
    rate_mg_per_h: Decimal, concentration_mg_per_ml: Decimal, resolution_ml_per_h: Decimal
) -> Decimal:
    """Rounded *down* to the pump's resolution: rounding up could put the delivered rate above
    the order or a limit the order was checked against; down can only give a little less."""
    steps = rate_mg_per_h / (concentration_mg_per_ml * resolution_ml_per_h)
    steps = steps.to_integral_value(rounding=ROUND_FLOOR)
    if steps == 0:
        raise DoseOutOfRange(
            f"{_show(rate_mg_per_h)} mg/h at {concentration_mg_per_ml} mg/mL is below the pump's "
            f"resolution of {resolution_ml_per_h} mL/h: it would round to 0 mL/h",
            loc=("dose",),
        )
    return (steps * resolution_ml_per_h).quantize(resolution_ml_per_h)  # shown as the pump shows it


def _bags(total_ml: Decimal, bag_volume_ml: Decimal) -> int:
    """Whole bags, rounded up, decided without a cut-off quotient."""
    full = int(total_ml // bag_volume_ml)
    return full if full * bag_volume_ml >= total_ml else full + 1


def _show(value: Decimal) -> str:
    """A value for a message: a quotient cut at 28 digits is shown to 6 places, rounded up so a
    value just above a limit still reads as above it."""
    with localcontext(DOSE_CONTEXT):
        if decimal_places(value.normalize()) > MAX_DECIMAL_PLACES:
            value = value.quantize(Decimal(1).scaleb(-MAX_DECIMAL_PLACES), rounding=ROUND_CEILING)
        return f"{value.normalize():f}"
