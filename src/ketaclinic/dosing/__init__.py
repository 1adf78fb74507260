"""Protocols and safe dose calculation, in ``Decimal``. Pure: no database, web or clock."""

from ketaclinic.dosing.body import (
    DosingWeight,
    WeightBasis,
    adjusted_body_weight_kg,
    bmi_kg_per_m2,
    dosing_weight,
    ideal_body_weight_kg,
)
from ketaclinic.dosing.core import (
    DosePlan,
    FindingKind,
    HardLimitExceeded,
    LimitFinding,
    SoftLimitNeedsOverride,
    calculate,
)
from ketaclinic.dosing.library import PROTOCOLS
from ketaclinic.dosing.protocol import Bolus, DoseMode, Limit, Protocol

__all__ = [
    "PROTOCOLS",
    "Bolus",
    "DoseMode",
    "DosePlan",
    "DosingWeight",
    "FindingKind",
    "HardLimitExceeded",
    "Limit",
    "LimitFinding",
    "Protocol",
    "SoftLimitNeedsOverride",
    "WeightBasis",
    "adjusted_body_weight_kg",
    "bmi_kg_per_m2",
    "calculate",
    "dosing_weight",
    "ideal_body_weight_kg",
]
