"""Synthetic referral bundles for the FHIR import tests (no real patient)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ketaclinic.interop.fhir_base import ICD10CM, IDENTIFIER_TYPE, LOINC, RXNORM, SNOMED, UCUM

Resource = dict[str, Any]


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def referral(
    *,
    mrn: str = "REF-1001",
    codes: tuple[str, ...] = ("M79.7", "F33.1"),
    allergies: tuple[str, ...] = ("Penicillin",),
    medications: tuple[str, ...] = ("Sertraline 50 mg tablet",),
    weight_kg: float | None = 72.5,
    weighed_at: str = "2026-11-20T09:30:00Z",
    family: str = "Synthetic-Referral",
) -> Resource:
    """A transaction Bundle of one Patient and what a referring clinic sends with it."""
    patient_url = urn()
    subject = {"reference": patient_url}
    entries: list[Resource] = [
        _entry(
            patient_url,
            {
                "resourceType": "Patient",
                "identifier": [
                    {
                        "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR"}]},
                        "system": "urn:oid:2.16.840.1.113883.19.5",
                        "value": mrn,
                    }
                ],
                "name": [{"use": "official", "family": family, "given": ["Test", "Ann"]}],
                "gender": "female",
                "birthDate": "1979-03-14",
                "address": [
                    {
                        "use": "home",
                        "line": ["12 Example Street"],
                        "city": "Portland",
                        "state": "OR",
                        "postalCode": "97201",
                    }
                ],
            },
        )
    ]
    for code in codes:
        entries.append(
            _entry(
                urn(),
                {
                    "resourceType": "Condition",
                    "subject": subject,
                    "code": {"coding": [{"system": ICD10CM, "code": code}]},
                },
            )
        )
    for text in allergies:
        entries.append(
            _entry(
                urn(),
                {
                    "resourceType": "AllergyIntolerance",
                    "patient": subject,
                    "code": {"coding": [{"system": SNOMED, "code": "91936005"}], "text": text},
                },
            )
        )
    for text in medications:
        entries.append(
            _entry(
                urn(),
                {
                    "resourceType": "MedicationStatement",
                    "status": "active",
                    "subject": subject,
                    "medicationCodeableConcept": {
                        "coding": [{"system": RXNORM, "code": "312940", "display": text}]
                    },
                },
            )
        )
    if weight_kg is not None:
        entries.append(
            _entry(
                urn(),
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "subject": subject,
                    "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
                    "effectiveDateTime": weighed_at,
                    "valueQuantity": {
                        "value": weight_kg,
                        "unit": "kg",
                        "system": UCUM,
                        "code": "kg",
                    },
                },
            )
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _entry(full_url: str, resource: Resource) -> Resource:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def index_of(bundle: Resource, kind: str, nth: int = 0) -> int:
    """The entry index of the ``nth`` resource of ``kind``."""
    found = [i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == kind]
    return found[nth]


def changed(bundle: Resource, kind: str, nth: int = 0, **fields: Any) -> Resource:
    """A copy with fields of one resource replaced (``None`` removes a field)."""
    result = copy.deepcopy(bundle)
    resource = result["entry"][index_of(result, kind, nth)]["resource"]
    for name, value in fields.items():
        if value is None:
            resource.pop(name, None)
        else:
            resource[name] = value
    return result
