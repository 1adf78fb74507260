"""What the R4B models let through for the care resources (CODES.md §0.2, §4.1: they check
structure, not bindings or profiles): required status and intent codes, the RxNorm medication,
the intravenous route, UCUM units and exact doses. Pure: a resource in, messages out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from ketaclinic.interop.fhir_base import (
    ACT_CODE,
    IV_ROUTE_SNOMED,
    KETAMINE_RXNORM,
    RXNORM,
    SNOMED,
    UCUM,
    US_CORE,
    Resource,
)

#: Required bindings (FHIR R4 value sets medicationrequest-status, medicationrequest-intent,
#: medication-admin-status, encounter-status, event-status).
REQUEST_STATUSES = frozenset(
    {
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    }
)
REQUEST_INTENTS = frozenset(
    {
        "proposal",
        "plan",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    }
)
ADMINISTRATION_STATUSES = frozenset(
    {"in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"}
)
ENCOUNTER_STATUSES = frozenset(
    {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
EVENT_STATUSES = frozenset(
    {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    }
)

#: The UCUM codes these resources use, with the one a quantity at each place must have.
#: mg/kg/h is valid UCUM as written: '/' is left-associative, (mg/kg)/h (UCUM §2.2).
UCUM_CODES = frozenset({"mg", "mg/kg", "mg/kg/h", "mg/h", "mL/h", "mL", "min", "h"})
DOSE_CODES = frozenset({"mg", "mg/kg"})
RATE_CODES = frozenset({"mg/h", "mg/kg/h", "mL/h"})

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

#: The US Core profile each resource claims (US Core has none for MedicationAdministration).
PROFILES = {
    "MedicationRequest": US_CORE + "us-core-medicationrequest",
    "Encounter": US_CORE + "us-core-encounter",
    "Procedure": US_CORE + "us-core-procedure",
}


def problems(resource: Resource) -> list[str]:
    """Every binding or profile rule of ours the resource breaks, as 'Path: what is wrong'."""
    kind = resource.get("resourceType")
    check = _CHECKS.get(str(kind))
    if check is None:
        return [f"resourceType: {kind!r} is not a care resource"]
    found = [] if _ID.fullmatch(str(resource.get("id", ""))) else [f"{kind}.id: not a FHIR id"]
    profile = PROFILES.get(str(kind))
    if profile and profile not in (resource.get("meta") or {}).get("profile", []):
        found.append(f"{kind}.meta.profile: does not claim {profile}")
    return found + list(check(resource))


def _status(resource: Resource, allowed: frozenset[str]) -> Iterator[str]:
    status = resource.get("status")
    if status not in allowed:
        yield f"{resource['resourceType']}.status: {status!r} is not one of {sorted(allowed)}"


def _codes(concept: Any) -> list[tuple[str, str]]:
    if not isinstance(concept, dict):
        return []
    return [(c.get("system", ""), c.get("code", "")) for c in concept.get("coding", [])]


def _route(where: str, dosage: Any) -> Iterator[str]:
    route = dosage.get("route") if isinstance(dosage, dict) else None
    if (SNOMED, IV_ROUTE_SNOMED) not in _codes(route):
        yield f"{where}.route: not SNOMED CT {IV_ROUTE_SNOMED} (intravenous)"


def _quantity(where: str, value: Any, codes: frozenset[str]) -> Iterator[str]:
    """A UCUM quantity with one of ``codes``, and an exact, non-negative number: an int or a
    Decimal (a float would have rounded a recorded dose)."""
    if value is None:
        return
    if value.get("system") != UCUM:
        yield f"{where}.system: not UCUM ({UCUM})"
    if value.get("code") not in codes & UCUM_CODES:
        yield f"{where}.code: {value.get('code')!r} is not one of {sorted(codes)}"
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | Decimal):
        yield f"{where}.value: {number!r} is not an exact number (int or Decimal)"
    elif number < 0 or (isinstance(number, Decimal) and not number.is_finite()):
        yield f"{where}.value: {number} is not a finite amount ≥ 0"


def _ketamine(where: str, concept: Any) -> Iterator[str]:
    if (RXNORM, KETAMINE_RXNORM) not in _codes(concept):
        yield f"{where}: not RxNorm {KETAMINE_RXNORM} (ketamine) in {RXNORM}"


def _medication_request(resource: Resource) -> Iterator[str]:
    yield from _status(resource, REQUEST_STATUSES)
    if resource.get("intent") not in REQUEST_INTENTS:
        yield f"MedicationRequest.intent: {resource.get('intent')!r} is not a request intent"
    yield from _ketamine(
        "MedicationRequest.medicationCodeableConcept", resource.get("medicationCodeableConcept")
    )
    instructions = resource.get("dosageInstruction") or []
    if not instructions:
        yield "MedicationRequest.dosageInstruction: missing"
    for i, dosage in enumerate(instructions):
        where = f"MedicationRequest.dosageInstruction[{i}]"
        yield from _route(where, dosage)
        for j, item in enumerate(dosage.get("doseAndRate", [])):
            yield from _quantity(
                f"{where}.doseAndRate[{j}].doseQuantity", item.get("doseQuantity"), DOSE_CODES
            )
            yield from _quantity(
                f"{where}.doseAndRate[{j}].rateQuantity", item.get("rateQuantity"), RATE_CODES
            )
    for name in ("authoredOn", "requester", "subject"):
        if not resource.get(name):
            yield f"MedicationRequest.{name}: missing (US Core)"


def _medication_administration(resource: Resource) -> Iterator[str]:
    yield from _status(resource, ADMINISTRATION_STATUSES)
    where = "MedicationAdministration.medication"
    reference = (resource.get("medicationReference") or {}).get("reference", "")
    if reference:
        contained = {c.get("id"): c for c in resource.get("contained", [])}
        medication = (
            contained.get(reference.removeprefix("#")) if reference.startswith("#") else None
        )
        if medication is None:
            yield f"{where}Reference: {reference!r} is not a contained Medication"
        else:
            yield from _ketamine(f"{where}Reference.code", medication.get("code"))
    else:
        yield from _ketamine(f"{where}CodeableConcept", resource.get("medicationCodeableConcept"))
    dosage = resource.get("dosage")
    if dosage is None:
        yield "MedicationAdministration.dosage: missing"
        return
    yield from _route("MedicationAdministration.dosage", dosage)
    yield from _quantity(
        "MedicationAdministration.dosage.dose", dosage.get("dose"), frozenset({"mg"})
    )
    yield from _quantity(
        "MedicationAdministration.dosage.rateQuantity", dosage.get("rateQuantity"), RATE_CODES
    )
    if resource.get("status") == "completed" and "dose" not in dosage:
        yield "MedicationAdministration.dosage.dose: a completed administration needs its dose"
    if "context" not in resource:
        yield "MedicationAdministration.context: missing (the Encounter)"


def _encounter(resource: Resource) -> Iterator[str]:
    yield from _status(resource, ENCOUNTER_STATUSES)
    klass = resource.get("class") or {}
    if (klass.get("system"), klass.get("code")) != (ACT_CODE, "AMB"):
        yield "Encounter.class: not v3-ActCode AMB"
    if not resource.get("type"):
        yield "Encounter.type: missing (US Core)"
    if resource.get("status") in ("in-progress", "finished") and "period" not in resource:
        yield "Encounter.period: missing for a visit that took place"


def _procedure(resource: Resource) -> Iterator[str]:
    yield from _status(resource, EVENT_STATUSES)
    if not any(system == SNOMED for system, _ in _codes(resource.get("code"))):
        yield "Procedure.code: no SNOMED CT code"
    # us-core-7: performed[x] SHALL be present if the status is completed or in-progress.
    if resource.get("status") in ("completed", "in-progress") and not any(
        key.startswith("performed") for key in resource
    ):
        yield "Procedure.performed[x]: missing for a completed or in-progress procedure"


_CHECKS: dict[str, Callable[[Resource], Iterator[str]]] = {
    "MedicationRequest": _medication_request,
    "MedicationAdministration": _medication_administration,
    "Encounter": _encounter,
    "Procedure": _procedure,
}
