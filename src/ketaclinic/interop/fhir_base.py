"""What every FHIR R4 resource the clinic produces shares: code systems, references, times, and
validation against the R4B models of ``fhir.resources`` (CODES.md §4.1: R4B JSON equals R4 JSON
for these resources; the models check structure, not bindings or profiles)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.patients.models import Patient

Resource = dict[str, Any]

FHIR_PATH = "/fhir/r4"
FHIR_VERSION = "4.0.1"

# Code systems (CODES.md §1–§4).
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NDC = "http://hl7.org/fhir/sid/ndc"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

#: Ketamine, the ingredient (RxNorm IN 6130, CODES.md §2 [S]) and the intravenous route
#: (SNOMED CT 47625008 "Intravenous route", CODES.md §4.3).
KETAMINE_RXNORM = "6130"
IV_ROUTE_SNOMED = "47625008"

#: Marks the patient's primary diagnosis on a Condition (ours; FHIR R4 has no element for it).
PRIMARY_DIAGNOSIS_EXTENSION = "urn:ketaclinic:fhir:extension:primary-diagnosis"

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
CORE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"


def mrn_system(clinic_code: str) -> str:
    """The identifier system of one clinic's medical record numbers."""
    return f"urn:ketaclinic:{clinic_code.lower()}:mrn"


@dataclass(frozen=True)
class FhirContext:
    """Who asks and where: every builder reads inside the actor's clinic only."""

    session: Session
    actor: Actor
    clinic_code: str


class FhirInvalid(Exception):
    """A resource the R4B models refuse; ``problems`` are (FHIRPath-like location, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {msg}" for where, msg in problems))
        self.problems = problems


def problems_of(error: ValidationError, prefix: str) -> list[tuple[str, str]]:
    """Pydantic's errors as FHIRPath-like locations (``Patient.identifier[0].system``)."""
    found = []
    for item in error.errors():
        where = prefix
        for part in item["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        found.append((where, str(item["msg"]).removeprefix("Value error, ")))
    return found


def validated(resource: Resource) -> Resource:
    """The resource unchanged if the R4B model of its type accepts it; else FhirInvalid."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        raise FhirInvalid([("resourceType", "is missing")])
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):  # fhir.resources raises ValueError for an unknown name
        raise FhirInvalid([(kind, "is not a FHIR R4 resource type")]) from None
    try:
        model.model_validate(resource)
    except ValidationError as error:
        raise FhirInvalid(problems_of(error, kind)) from None
    return resource


def reference(resource_type: str, resource_id: int | str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(
    system: str, code: str, display: str | None = None, text: str | None = None
) -> Resource:
    found: Resource = {"coding": [coding(system, code, display)]}
    if text:
        found["text"] = text
    return found


def instant(moment: datetime) -> str:
    """A FHIR dateTime/instant in UTC with seconds (``2026-12-01T14:03:00Z``)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime cannot be written as a FHIR instant")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def day(value: date) -> str:
    return value.isoformat()


def quantity(value: Decimal | int | float, unit: str, code: str | None = None) -> Resource:
    """A UCUM quantity; ``unit`` is for people, ``code`` the case-sensitive UCUM code."""
    number: Decimal | int | float = value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        number = int(value)
    return {"value": number, "unit": unit, "system": UCUM, "code": code or unit}


def to_json(value: Any) -> str:
    """JSON in which a Decimal is a number with every digit it has. ``json.dumps`` refuses
    Decimals, and FastAPI's encoder and the models' own dump turn them into floats, which would
    round a dose without saying so."""
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{to_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number JSON can hold")
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class ResourceKind:
    """One resource type in a patient's compartment: how to build all of a patient's resources,
    and which patient a resource id belongs to (so ``read`` builds one patient's, not all)."""

    name: str
    for_patient: Callable[[FhirContext, Patient], list[Resource]]
    patient_of: Callable[[FhirContext, str], Patient | None]
    profiles: tuple[str, ...] = field(default=())


def operation_outcome(problems: list[tuple[str, str]], code: str = "invalid") -> Resource:
    """An OperationOutcome with one error issue per (location, message) problem; ``code`` is
    from the IssueType value set (``invalid``, ``not-found``, ``forbidden``, ``not-supported``,
    ``processing``...)."""
    issues = []
    for where, message in problems:
        issue: Resource = {"severity": "error", "code": code, "diagnostics": message}
        if where:
            issue["expression"] = [where]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}
