"""The safety banner on every chairside page: who this is and what the dose rests on.

Name, MRN and age identify the patient (two identifiers, as for any high-alert drug); the weight
is the one the dose was computed from, labelled where it came from; allergies are highlighted,
with "no known allergies" only when someone recorded that, never inferred from an empty list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any

from ketaclinic.patients.core import age_in_years
from ketaclinic.patients.models import Patient

#: What staff type for "no known allergies" (NKA, NKDA); any other entry is an allergy.
NO_KNOWN_ALLERGIES = frozenset(
    {"nka", "nkda", "none", "no known allergies", "no known drug allergies"}
)
_BASIS_WORDS = {
    "actual": "actual weight",
    "ideal": "ideal body weight (Devine)",
    "adjusted": "adjusted body weight",
}


@dataclass(frozen=True)
class SafetyBanner:
    name: str
    mrn: str
    age_years: int
    weight_kg: Decimal | None
    weight_source: str
    allergies: tuple[str, ...]
    allergy_status: str  # "allergies", "none known" or "not recorded"
    diagnosis_code: str | None
    diagnosis_title: str | None


def _weight(
    patient: Patient, plan: Mapping[str, Any] | None, zone: tzinfo
) -> tuple[Decimal | None, str]:
    """The order's dosing weight when there is an order, else the latest weight on record."""
    if plan and plan.get("weight_basis_kg") is not None:
        basis = str(plan.get("weight_basis", "actual"))
        return Decimal(str(plan["weight_basis_kg"])), (
            f"{_BASIS_WORDS.get(basis, basis)} used by the signed order"
        )
    current = patient.current_weight
    if current is None:
        return None, "no weight on record"
    day = current.measured_at.astimezone(zone).date().isoformat()
    return current.weight_kg, f"latest recorded weight, {day}"


def _allergies(patient: Patient) -> tuple[tuple[str, ...], str]:
    entries = tuple(a.strip() for a in patient.allergies or () if a.strip())
    if not entries:
        return (), "not recorded"
    real = tuple(a for a in entries if a.lower().rstrip(".") not in NO_KNOWN_ALLERGIES)
    return (real, "allergies") if real else ((), "none known")


def safety_banner(
    patient: Patient, *, today: date, zone: tzinfo, plan: Mapping[str, Any] | None = None
) -> SafetyBanner:
    """The banner for ``patient``; ``plan`` is a signed order's stored plan, if there is one."""
    weight, source = _weight(patient, plan, zone)
    allergies, status = _allergies(patient)
    primary = patient.primary_diagnosis
    return SafetyBanner(
        name=f"{patient.given_name} {patient.family_name}",
        mrn=patient.mrn,
        age_years=age_in_years(patient.birth_date, today),
        weight_kg=weight,
        weight_source=source,
        allergies=allergies,
        allergy_status=status,
        diagnosis_code=primary.code if primary else None,
        diagnosis_title=primary.title if primary else None,
    )
