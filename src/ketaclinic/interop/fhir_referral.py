"""Reading a referral: a FHIR transaction Bundle of one Patient with Conditions,
AllergyIntolerances, MedicationStatements and body weights, checked whole before anything is
written (issue #14 item 2). Every problem is collected with a FHIRPath-like location
(``Bundle.entry[2].resource.code.coding[0].code``) so a referrer fixes them all at once.

No database here: ``read_referral`` turns a bundle into a ``Referral`` in the clinic's words or
raises ``FhirInvalid`` (422) / ``BundleUnreadable`` (400)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from ketaclinic.interop import fhir_referral_items as items
from ketaclinic.interop.fhir_base import (
    ACT_CODE,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    DATA_ABSENT_REASON,
    ICD10CM,
    IDENTIFIER_TYPE,
    LOINC,
    NDC,
    OBSERVATION_CATEGORY,
    RXNORM,
    SNOMED,
    FhirInvalid,
    validated,
)
from ketaclinic.interop.fhir_referral_items import (
    ConditionIn,
    Demographics,
    Entry,
    Item,
    Problems,
    WeightIn,
)
from ketaclinic.web.inputs import json_problems, read_json

#: Every code system a referral's codings may use, and what for. A coding with any other system
#: refuses the bundle: the clinic cannot tell what an unknown code means.
ACCEPTED_SYSTEMS: dict[str, str] = {
    ICD10CM: "ICD-10-CM diagnoses (Condition.code)",
    SNOMED: "SNOMED CT (conditions, allergies, medications)",
    RXNORM: "RxNorm medications and allergens",
    NDC: "NDC medication packages",
    "http://fdasis.nlm.nih.gov": "UNII substances (allergens)",
    LOINC: "LOINC (body weight 29463-7)",
    IDENTIFIER_TYPE: "identifier types (MR = medical record number)",
    CONDITION_CATEGORY: "Condition.category",
    "http://hl7.org/fhir/us/core/CodeSystem/condition-category": "US Core Condition.category",
    CONDITION_CLINICAL: "Condition.clinicalStatus",
    CONDITION_VERIFICATION: "Condition.verificationStatus",
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical": (
        "AllergyIntolerance.clinicalStatus"
    ),
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification": (
        "AllergyIntolerance.verificationStatus"
    ),
    "http://terminology.hl7.org/CodeSystem/medication-statement-category": (
        "MedicationStatement.category"
    ),
    OBSERVATION_CATEGORY: "Observation.category",
    DATA_ABSENT_REASON: "data-absent-reason",
    ACT_CODE: "v3 ActCode",
    "urn:oid:2.16.840.1.113883.6.238": "CDC race and ethnicity (US Core extensions)",
    "urn:ietf:bcp:47": "languages",
    "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus": "Patient.maritalStatus",
}


#: Resource types whose content is written to the record.
WRITTEN = ("Patient", "Condition", "AllergyIntolerance", "MedicationStatement", "Observation")
#: Resource types a referral may carry for its references to resolve; nothing of them is kept.
REFERENCE_ONLY = ("Medication", "Practitioner", "Organization")
#: Who each written resource is about, and through which element.
SUBJECT_ELEMENT = {
    "Condition": "subject",
    "AllergyIntolerance": "patient",
    "MedicationStatement": "subject",
    "Observation": "subject",
}

_URN_UUID = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_CODING_PATH = re.compile(r"(\.coding\[\d+\]|\.valueCoding)$")


class BundleUnreadable(FhirInvalid):
    """Not a transaction Bundle at all (invalid JSON, another resource, another type): 400."""


@dataclass(frozen=True)
class Referral:
    entries: tuple[Entry, ...]
    patient_entry: int
    demographics: Demographics
    conditions: tuple[ConditionIn, ...]
    allergies: tuple[Item, ...]
    medications: tuple[Item, ...]
    weights: tuple[WeightIn, ...]


def parse_body(raw: bytes | str) -> Any:
    """The JSON body with exact decimals; unreadable JSON is a 400, text no record can hold
    (NUL, lone surrogates, NaN) a 422 naming where it is."""
    try:
        body = read_json(raw)
    except (ValueError, RecursionError) as error:
        raise BundleUnreadable([("", f"the body is not JSON: {error}")]) from None
    problems = [(_fhir_path(loc), msg) for loc, msg in json_problems(body, ())]
    if problems:
        raise FhirInvalid(problems)
    return body


def read_referral(bundle: object, *, clinic_code: str, today: date) -> Referral:
    """The referral a transaction Bundle carries, or every problem it has."""
    entries = _transaction_entries(bundle)
    problems: Problems = []
    problems += _shell_problems(bundle)
    checked = [entry for entry in entries if _entry_ok(entry, problems)]
    problems += _patient_count_problems(entries)
    full_urls = {entry.full_url: entry for entry in entries}
    patients = [entry for entry in checked if entry.kind == "Patient"]
    patient = patients[0] if patients else None
    for entry in checked:
        problems += _coding_problems(entry)
        problems += _reference_problems(entry, full_urls, patient)
    demographics = items.demographics(patient, clinic_code, today, problems) if patient else None
    conditions = items.conditions([e for e in checked if e.kind == "Condition"], problems)
    allergies = [items.allergy(e, problems) for e in checked if e.kind == "AllergyIntolerance"]
    medications = [
        items.medication(e, full_urls, problems) for e in checked if e.kind == "MedicationStatement"
    ]
    weights = [items.weight(e, problems) for e in checked if e.kind == "Observation"]
    if problems or patient is None or demographics is None:
        raise FhirInvalid(problems or [("Bundle.entry", "the bundle has no valid Patient")])
    return Referral(
        entries=tuple(entries),
        patient_entry=patient.index,
        demographics=demographics,
        conditions=tuple(conditions),
        allergies=tuple(_present(allergies)),
        medications=tuple(_present(medications)),
        weights=tuple(_present(weights)),
    )


T = TypeVar("T")


def _present(values: list[T | None]) -> list[T]:
    return [value for value in values if value is not None]


# --- the bundle and its entries ---------------------------------------------------------------


def _transaction_entries(bundle: object) -> list[Entry]:
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise BundleUnreadable([("", "the body is not a FHIR Bundle")])
    if bundle.get("type") != "transaction":
        raise BundleUnreadable(
            [("Bundle.type", f"is {bundle.get('type')!r}; a referral is a 'transaction' Bundle")]
        )
    raw = bundle.get("entry")
    if not isinstance(raw, list) or not raw:
        raise FhirInvalid([("Bundle.entry", "the bundle has no entries")])
    entries = []
    for index, item in enumerate(raw):
        item = item if isinstance(item, Mapping) else {}
        resource = item.get("resource")
        request = item.get("request")
        request = request if isinstance(request, Mapping) else {}
        entries.append(
            Entry(
                index=index,
                full_url=str(item.get("fullUrl") or ""),
                resource=dict(resource) if isinstance(resource, Mapping) else {},
                method=str(request.get("method") or ""),
                url=str(request.get("url") or ""),
            )
        )
    return entries


def _shell_problems(bundle: Any) -> Problems:
    """The Bundle itself against the R4B model, its resources left to ``_entry_ok``."""
    entries = bundle.get("entry")
    shell = dict(bundle)
    shell["entry"] = [
        {k: v for k, v in item.items() if k != "resource"} if isinstance(item, Mapping) else item
        for item in entries
    ]
    try:
        validated(shell)
    except FhirInvalid as error:
        return error.problems
    return []


def _entry_ok(entry: Entry, problems: Problems) -> bool:
    """Whether the entry's resource is valid and of a type a referral takes (problems noted)."""
    found: Problems = []
    where = f"Bundle.entry[{entry.index}]"
    if not _URN_UUID.match(entry.full_url):
        found.append((f"{where}.fullUrl", "give each entry a urn:uuid: fullUrl"))
    if entry.method not in ("POST", "PUT"):
        found.append((f"{where}.request.method", "a referral creates or updates: POST or PUT"))
    if not entry.resource:
        found.append((f"{where}.resource", "is missing"))
        problems += found
        return False
    kind = entry.kind
    if kind in WRITTEN + REFERENCE_ONLY:
        try:
            validated(entry.resource)
        except FhirInvalid as error:
            found += [(_relocated(loc, entry), msg) for loc, msg in error.problems]
    else:
        # Only known types reach the models (an unknown name makes fhir.resources raise).
        accepted = ", ".join(WRITTEN + REFERENCE_ONLY)
        found.append((f"{entry.at}.resourceType", f"{kind[:100]} is not taken here ({accepted})"))
    found += _request_url_problems(entry, where)
    problems += found
    return not found


def _request_url_problems(entry: Entry, where: str) -> Problems:
    """``POST Condition``, ``PUT Patient?identifier=...``: the url names the entry's type."""
    named = re.split(r"[/?]", entry.url, maxsplit=1)[0]
    if named != entry.kind:
        return [(f"{where}.request.url", f"must name the resource type ({entry.kind})")]
    return []


def _relocated(location: str, entry: Entry) -> str:
    """``Condition.code.coding[0]`` → ``Bundle.entry[2].resource.code.coding[0]``."""
    head, dot, rest = location.partition(".")
    if head == entry.kind:
        return f"{entry.at}{dot}{rest}"
    return f"{entry.at}.{location}" if location else entry.at


def _patient_count_problems(entries: list[Entry]) -> Problems:
    patients = [entry for entry in entries if entry.kind == "Patient"]
    if not patients:
        return [("Bundle.entry", "a referral carries exactly one Patient; there is none")]
    return [
        (f"{entry.at}", "a referral carries exactly one Patient; this is another")
        for entry in patients[1:]
    ]


def _fhir_path(loc: tuple[str | int, ...]) -> str:
    where = "Bundle"
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where


def _walk(value: object, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every object inside ``value`` with its FHIRPath-like location (a stack, not recursion)."""
    pending: list[tuple[str, object]] = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, Mapping):
            yield path, item
            pending.extend((f"{path}.{key}", child) for key, child in item.items())
        elif isinstance(item, list):
            pending.extend((f"{path}[{i}]", child) for i, child in enumerate(item))


def _coding_problems(entry: Entry) -> Problems:
    found = []
    for path, item in _walk(entry.resource, entry.at):
        if not _CODING_PATH.search(path):
            continue
        system = item.get("system")
        if not system:
            found.append((f"{path}.system", "a coding needs its system"))
        elif system not in ACCEPTED_SYSTEMS:
            found.append(
                (
                    f"{path}.system",
                    f"{system} is not a code system the clinic reads; accepted: "
                    + ", ".join(sorted(ACCEPTED_SYSTEMS)),
                )
            )
    return found


def _reference_problems(
    entry: Entry, full_urls: Mapping[str, Entry], patient: Entry | None
) -> Problems:
    found = []
    contained = {
        f"#{item.get('id')}" for item in entry.resource.get("contained") or [] if item.get("id")
    }
    for path, item in _walk(entry.resource, entry.at):
        target = item.get("reference")
        if not isinstance(target, str):
            continue
        if target not in full_urls and target not in contained:
            found.append(
                (
                    f"{path}.reference",
                    f"{target} is not an entry of this bundle (refer to its urn:uuid: fullUrl)",
                )
            )
    element = SUBJECT_ELEMENT.get(entry.kind)
    if element and patient is not None:
        subject = entry.resource.get(element) or {}
        if subject.get("reference") != patient.full_url:
            found.append(
                (
                    f"{entry.at}.{element}",
                    f"must refer to the bundle's Patient ({patient.full_url})",
                )
            )
    return found
