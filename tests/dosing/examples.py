"""A fixed-rate test protocol and an exact oracle for the tests.

The oracle restates the dosing rules from the issue in exact rational arithmetic (``Fraction``),
independently of the code under test, so property tests can compare against it.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from ketaclinic.dosing.protocol import (
    DOSE_LIMIT_NAMES,
    DoseMode,
    Limit,
    Protocol,
)

#: A fixed mg/h protocol (no library protocol uses that mode), with round limits for edge tests.
FIXED_RATE = Protocol(
    key="test-fixed-rate",
    name="Test: fixed rate",
    version=1,
    indications=("crps",),
    dose_mode=DoseMode.MG_PER_H,
    default_dose=Decimal(20),
    dose_limit=None,
    rate_limit_mg_per_h=Limit(soft_max=Decimal(20), hard_max=Decimal(30)),
    total_limit_mg=Limit(soft_max=Decimal(60), hard_max=Decimal(90)),
    default_duration_min=120,
    concentration_mg_per_ml=Decimal(2),
    bag_volume_ml=Decimal(50),
    series_sessions=1,
    series_spacing_days=0,
    maintenance_rule="none (test)",
    source="test protocol, clinic policy",
)


def exact_order(
    protocol: Protocol,
    *,
    weight_kg: Decimal,
    dose: Decimal,
    duration_min: int,
    bolus_mg_per_kg: Decimal | None,
) -> dict[str, Fraction]:
    """Planned value of every limit for this order, exactly, after the protocol cap."""
    weight, ordered = Fraction(weight_kg), Fraction(dose)
    if protocol.dose_mode is DoseMode.MG_PER_KG_PER_H:
        rate = ordered * weight
    elif protocol.dose_mode is DoseMode.MG_PER_KG_OVER_MIN:
        rate = ordered * weight * 60 / duration_min
    else:
        rate = ordered
    if protocol.cap_mg_per_h is not None:
        rate = min(rate, Fraction(protocol.cap_mg_per_h))
    bolus = Fraction(bolus_mg_per_kg or 0)
    values = {"rate_mg_per_h": rate, "total_mg": rate * duration_min / 60 + bolus * weight}
    if protocol.dose_mode in DOSE_LIMIT_NAMES:
        values[DOSE_LIMIT_NAMES[protocol.dose_mode]] = ordered
    if bolus_mg_per_kg is not None:
        values["bolus_mg_per_kg"] = bolus
    return values


def limits(protocol: Protocol) -> dict[str, Limit]:
    found = {"rate_mg_per_h": protocol.rate_limit_mg_per_h, "total_mg": protocol.total_limit_mg}
    if protocol.dose_limit is not None:
        found[DOSE_LIMIT_NAMES[protocol.dose_mode]] = protocol.dose_limit
    if protocol.bolus is not None:
        found["bolus_mg_per_kg"] = protocol.bolus.limit_mg_per_kg
    return found
