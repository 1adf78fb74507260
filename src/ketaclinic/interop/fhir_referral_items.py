"""What each resource of a referral says, in the clinic's words: the Patient's demographics and
MRN, the Conditions' billable ICD-10-CM codes, allergies and medications as words, and body
weights in kilograms. Each reader notes its problems (FHIRPath-like location, message) and
returns None for what it could not read. No database here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from ketaclinic.interop.fhir_base import (
    ICD10CM,
    IDENTIFIER_TYPE,
    LOINC,
    PRIMARY_DIAGNOSIS_EXTENSION,
    UCUM,
    Resource,
    mrn_system,
)
from ketaclinic.patients.core import Sex, birth_date_problem
from ketaclinic.patients.icd10cm import UnknownCode, lookup
from ketaclinic.patients.schemas import AddressIn, Mrn, Name, WeightKg
from ketaclinic.web.fields import ClinicInstant

#: Marks the Condition that is the patient's primary diagnosis (``valueBoolean: true``); FHIR R4
#: has no element for it. Without one, the first Condition becomes primary for a patient who has
#: no primary diagnosis yet.

#: Body weight (LOINC 29463-7, CODES.md §1.4), in kilograms (UCUM ``kg``).
BODY_WEIGHT_LOINC = "29463-7"
WITHDRAWN = ("entered-in-error", "refuted")

_FULL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

Problems = list[tuple[str, str]]
T = TypeVar("T")


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


# --- the Patient ------------------------------------------------------------------------------


def demographics(
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


def conditions(entries: list[Entry], problems: Problems) -> list[ConditionIn]:
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


def allergy(entry: Entry, problems: Problems) -> Item | None:
    if _withdrawn(entry.resource.get("verificationStatus")):
        problems.append(
            (f"{entry.at}.verificationStatus", "a withdrawn allergy cannot be imported")
        )
        return None
    return _item(entry, _words(entry.resource.get("code")), f"{entry.at}.code", problems)


def medication(entry: Entry, full_urls: Mapping[str, Entry], problems: Problems) -> Item | None:
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


def weight(entry: Entry, problems: Problems) -> WeightIn | None:
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
