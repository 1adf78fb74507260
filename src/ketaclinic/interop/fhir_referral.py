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
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

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
    UCUM,
    FhirInvalid,
    Resource,
    mrn_system,
    validated,
)
from ketaclinic.patients.core import Sex, birth_date_problem
from ketaclinic.patients.icd10cm import UnknownCode, lookup
from ketaclinic.patients.schemas import AddressIn, Mrn, Name, WeightKg
from ketaclinic.web.fields import ClinicInstant
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

#: Marks the Condition that is the patient's primary diagnosis (``valueBoolean: true``); FHIR R4
#: has no element for it. Without one, the first Condition becomes primary for a patient who has
#: no primary diagnosis yet.
PRIMARY_DIAGNOSIS_EXTENSION = "urn:ketaclinic:fhir:extension:primary-diagnosis"

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
#: Body weight (LOINC 29463-7, CODES.md §1.4), in kilograms (UCUM ``kg``).
BODY_WEIGHT_LOINC = "29463-7"
WITHDRAWN = ("entered-in-error", "refuted")

_URN_UUID = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_CODING_PATH = re.compile(r"(\.coding\[\d+\]|\.valueCoding)$")
_FULL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

Problems = list[tuple[str, str]]
T = TypeVar("T")


class BundleUnreadable(FhirInvalid):
    """Not a transaction Bundle at all (invalid JSON, another resource, another type): 400."""


@dataclass(frozen=True)
class Entry:
    index: int
    full_url: str
    resource: Resource
    method: str
    url: str

    @property
    def kind(self) -> str:
        return str(self.resource.get("resourceType"))

    @property
    def at(self) -> str:
        return f"Bundle.entry[{self.index}].resource"


@dataclass(frozen=True)
class Item:
    """An allergy or a medication, as words (the record keeps them as words)."""

    entry: int
    text: str


@dataclass(frozen=True)
class ConditionIn:
    entry: int
    code: str
    is_primary: bool


@dataclass(frozen=True)
class WeightIn:
    entry: int
    weight_kg: Decimal
    measured_at: datetime


@dataclass(frozen=True)
class Demographics:
    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    sex: Sex
    address: AddressIn | None


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
    demographics = _demographics(patient, clinic_code, today, problems) if patient else None
    conditions = _conditions([e for e in checked if e.kind == "Condition"], problems)
    allergies = [_allergy(e, problems) for e in checked if e.kind == "AllergyIntolerance"]
    medications = [
        _medication(e, full_urls, problems) for e in checked if e.kind == "MedicationStatement"
    ]
    weights = [_weight(e, problems) for e in checked if e.kind == "Observation"]
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


# --- the Patient ------------------------------------------------------------------------------


def _demographics(
    entry: Entry, clinic_code: str, today: date, problems: Problems
) -> Demographics | None:
    resource, at = entry.resource, entry.at
    before = len(problems)
    mrn = _mrn(resource, at, clinic_code, problems)
    given, family = _names(resource, at, problems)
    birth_date = _birth_date(resource, at, today, problems)
    sex = _sex(resource, at, problems)
    address = _address(resource, at, problems)
    if len(problems) > before or not (mrn and given and family and birth_date and sex):
        return None
    return Demographics(mrn, given, family, birth_date, sex, address)


def _typed(adapter: TypeAdapter[T], value: object, where: str, problems: Problems) -> T | None:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        problems += [
            (where, str(item["msg"]).removeprefix("Value error, ")) for item in error.errors()
        ]
        return None


def _message(text: object) -> str:
    return str(text).removeprefix("Value error, ")


_MRN = TypeAdapter(Mrn)
_NAME = TypeAdapter(Name)
_WEIGHT = TypeAdapter(WeightKg)
_INSTANT = TypeAdapter(ClinicInstant)


def _mrn(resource: Resource, at: str, clinic_code: str, problems: Problems) -> str | None:
    """The clinic's own MRN (its system) first, else the first identifier typed MR."""
    ours = mrn_system(clinic_code)
    identifiers = list(enumerate(resource.get("identifier") or []))
    chosen = next(((i, x) for i, x in identifiers if x.get("system") == ours), None)
    chosen = chosen or next(((i, x) for i, x in identifiers if _typed_mr(x)), None)
    if chosen is None:
        problems.append(
            (
                f"{at}.identifier",
                f"no medical record number: give an identifier with type {IDENTIFIER_TYPE}|MR "
                f"or system {ours}",
            )
        )
        return None
    index, identifier = chosen
    return _typed(_MRN, identifier.get("value"), f"{at}.identifier[{index}].value", problems)


def _typed_mr(identifier: Mapping[str, Any]) -> bool:
    codings = (identifier.get("type") or {}).get("coding") or []
    return any(c.get("system") == IDENTIFIER_TYPE and c.get("code") == "MR" for c in codings)


def _names(resource: Resource, at: str, problems: Problems) -> tuple[str | None, str | None]:
    names = list(enumerate(resource.get("name") or []))
    if not names:
        problems.append((f"{at}.name", "the patient's name is needed"))
        return None, None
    index, name = next(((i, n) for i, n in names if n.get("use") == "official"), names[0])
    where = f"{at}.name[{index}]"
    given_parts = [part for part in name.get("given") or [] if part.strip()]
    given = _typed(_NAME, " ".join(given_parts), f"{where}.given", problems)
    family = _typed(_NAME, name.get("family") or "", f"{where}.family", problems)
    return given, family


def _birth_date(resource: Resource, at: str, today: date, problems: Problems) -> date | None:
    text = resource.get("birthDate")
    if not isinstance(text, str) or not _FULL_DATE.match(text):
        problems.append((f"{at}.birthDate", "a full birth date (YYYY-MM-DD) is needed"))
        return None
    try:
        born = date.fromisoformat(text)
    except ValueError:
        problems.append((f"{at}.birthDate", f"{text} is not a day of the calendar"))
        return None
    problem = birth_date_problem(born, today)
    if problem:
        problems.append((f"{at}.birthDate", problem))
        return None
    return born


def _sex(resource: Resource, at: str, problems: Problems) -> Sex | None:
    gender = resource.get("gender")
    if gender not in {sex.value for sex in Sex}:
        values = ", ".join(sex.value for sex in Sex)
        problems.append((f"{at}.gender", f"is needed, one of {values}"))
        return None
    return Sex(gender)


#: Where each field of the clinic's address comes from in a FHIR Address.
_ADDRESS_PLACES = {
    "line1": "line[0]",
    "line2": "line[1]",
    "city": "city",
    "state": "state",
    "zip": "postalCode",
}


def _address(resource: Resource, at: str, problems: Problems) -> AddressIn | None:
    """The home address (or the first one); none is fine, an incomplete one is not."""
    addresses = [
        (i, a) for i, a in enumerate(resource.get("address") or []) if a.get("use") != "old"
    ]
    if not addresses:
        return None
    index, found = next(((i, a) for i, a in addresses if a.get("use") == "home"), addresses[0])
    lines = found.get("line") or []
    value = {
        "line1": lines[0] if lines else "",
        "line2": lines[1] if len(lines) > 1 else None,
        "city": found.get("city") or "",
        "state": found.get("state") or "",
        "zip": found.get("postalCode") or "",
    }
    try:
        return AddressIn.model_validate(value)
    except ValidationError as error:
        for item in error.errors():
            place = _ADDRESS_PLACES.get(str(item["loc"][0]), "") if item["loc"] else ""
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append((f"{at}.address[{index}].{place}".rstrip("."), message))
        return None


# --- Conditions, allergies, medications, weights ----------------------------------------------


def _conditions(entries: list[Entry], problems: Problems) -> list[ConditionIn]:
    found: list[ConditionIn] = []
    for entry in entries:
        condition = _condition(entry, problems)
        if condition is None:
            continue
        if any(earlier.code == condition.code for earlier in found):
            problems.append((f"{entry.at}.code", f"{condition.code} is listed twice"))
        found.append(condition)
    primaries = [c for c in found if c.is_primary]
    for extra in primaries[1:]:
        problems.append(
            (f"Bundle.entry[{extra.entry}].resource.extension", "only one Condition is primary")
        )
    return found


def _condition(entry: Entry, problems: Problems) -> ConditionIn | None:
    resource, at = entry.resource, entry.at
    if _withdrawn(resource.get("verificationStatus")):
        problems.append((f"{at}.verificationStatus", "a withdrawn diagnosis cannot be imported"))
        return None
    codings = list(enumerate((resource.get("code") or {}).get("coding") or []))
    icd = [(j, c) for j, c in codings if c.get("system") == ICD10CM]
    if len(icd) != 1:
        how = "needs an" if not icd else "has more than one"
        problems.append((f"{at}.code", f"{how} ICD-10-CM coding (system {ICD10CM})"))
        return None
    index, coding = icd[0]
    try:
        code = lookup(str(coding.get("code") or "")).code
    except UnknownCode as error:
        problems.append((f"{at}.code.coding[{index}].code", str(error)))
        return None
    primary = any(
        ext.get("url") == PRIMARY_DIAGNOSIS_EXTENSION and ext.get("valueBoolean") is True
        for ext in resource.get("extension") or []
    )
    return ConditionIn(entry.index, code, primary)


def _withdrawn(status: object) -> bool:
    codings = (status or {}).get("coding") or [] if isinstance(status, Mapping) else []
    return any(c.get("code") in WITHDRAWN for c in codings)


def _words(concept: object) -> str | None:
    """What a CodeableConcept says in words: its text, else its first coding's display."""
    if not isinstance(concept, Mapping):
        return None
    if (concept.get("text") or "").strip():
        return str(concept["text"]).strip()
    shown = [c.get("display") for c in concept.get("coding") or [] if c.get("display")]
    return str(shown[0]).strip() if shown else None


ITEM_MAX = 200  # characters, as patients.schemas.ItemList allows


def _item(entry: Entry, text: str | None, where: str, problems: Problems) -> Item | None:
    if not text:
        problems.append((where, "needs a text or a coding display: the record keeps words"))
        return None
    if len(text) > ITEM_MAX:
        problems.append((where, f"is longer than {ITEM_MAX} characters"))
        return None
    return Item(entry.index, text)


def _allergy(entry: Entry, problems: Problems) -> Item | None:
    if _withdrawn(entry.resource.get("verificationStatus")):
        problems.append(
            (f"{entry.at}.verificationStatus", "a withdrawn allergy cannot be imported")
        )
        return None
    return _item(entry, _words(entry.resource.get("code")), f"{entry.at}.code", problems)


def _medication(entry: Entry, full_urls: Mapping[str, Entry], problems: Problems) -> Item | None:
    resource, at = entry.resource, entry.at
    if resource.get("status") == "entered-in-error":
        problems.append((f"{at}.status", "a withdrawn statement cannot be imported"))
        return None
    if "medicationCodeableConcept" in resource:
        text = _words(resource["medicationCodeableConcept"])
        return _item(entry, text, f"{at}.medicationCodeableConcept", problems)
    target = (resource.get("medicationReference") or {}).get("reference")
    medication = full_urls.get(str(target))
    if medication is None or medication.kind != "Medication":
        problems.append((f"{at}.medicationReference", "must refer to a Medication entry"))
        return None
    return _item(entry, _words(medication.resource.get("code")), f"{medication.at}.code", problems)


def _weight(entry: Entry, problems: Problems) -> WeightIn | None:
    resource, at = entry.resource, entry.at
    codings = (resource.get("code") or {}).get("coding") or []
    if not any(c.get("system") == LOINC and c.get("code") == BODY_WEIGHT_LOINC for c in codings):
        problems.append(
            (f"{at}.code", f"only body weight Observations (LOINC {BODY_WEIGHT_LOINC}) are taken")
        )
        return None
    if resource.get("status") not in ("final", "amended", "corrected"):
        problems.append((f"{at}.status", "only a final (or amended, corrected) weight is taken"))
        return None
    value = resource.get("valueQuantity") or {}
    if value.get("system") != UCUM or value.get("code") != "kg":
        problems.append(
            (f"{at}.valueQuantity", f"give the weight in kilograms (system {UCUM}, code kg)")
        )
        return None
    weight = _typed(_WEIGHT, value.get("value"), f"{at}.valueQuantity.value", problems)
    measured = _typed(_INSTANT, resource.get("effectiveDateTime"), f"{at}.effectiveDateTime",
                      problems)  # fmt: skip
    if weight is None or measured is None:
        return None
    return WeightIn(entry.index, weight, measured)
