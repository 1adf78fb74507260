"""FHIR search parameters: which ones each resource type takes, how their values parse, and how
a resource matches them (FHIR R4 §3.1.1 "Search": date prefixes and precision, token
``system|code``). Pure: resources are plain dicts here.

An unknown parameter is refused rather than ignored: a mistyped ``patient`` must not turn into a
search across the whole clinic."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Resource = dict[str, Any]

#: Where each type keeps the time ``date`` searches, the coding ``code`` searches and the
#: codings ``category`` searches (first element present wins for dates).
DATE_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Observation": ("effectiveDateTime", "effectivePeriod", "effectiveInstant"),
    "Condition": ("recordedDate",),
    "AllergyIntolerance": ("recordedDate",),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod", "dateAsserted"),
    "QuestionnaireResponse": ("authored",),
    "MedicationRequest": ("authoredOn",),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod"),
    "Encounter": ("period",),
    "Procedure": ("performedDateTime", "performedPeriod"),
}
CODE_ELEMENTS: dict[str, str] = {
    "Observation": "code",
    "Condition": "code",
    "AllergyIntolerance": "code",
    "MedicationStatement": "medicationCodeableConcept",
    "MedicationRequest": "medicationCodeableConcept",
    "MedicationAdministration": "medicationCodeableConcept",
    "Procedure": "code",
}
CATEGORY_ELEMENTS: dict[str, str] = {
    "Observation": "category",
    "Condition": "category",
    "MedicationRequest": "category",
    "Procedure": "category",
}
PAGING = ("_count", "_offset")
DEFAULT_COUNT = 50
MAX_COUNT = 500


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str  # FHIR SearchParamType: token, date, reference, string, uri
    documentation: str


def params_of(resource_type: str, *, in_compartment: bool) -> list[ParamSpec]:
    """Every search parameter ``resource_type`` takes, as the CapabilityStatement lists them."""
    found = [ParamSpec("_id", "token", "the resource id")]
    if resource_type == "Patient":
        found += [
            ParamSpec("identifier", "token", "the medical record number, system|value"),
            ParamSpec("family", "string", "family name, starts with (case-insensitive)"),
            ParamSpec("birthdate", "date", "date of birth"),
        ]
    elif in_compartment:
        found.append(ParamSpec("patient", "reference", "required: Patient/{id} or {id}"))
    if resource_type == "Questionnaire":
        found.append(ParamSpec("url", "uri", "the canonical url, exact match; comma means or"))
    if resource_type in DATE_ELEMENTS:
        where = " or ".join(DATE_ELEMENTS[resource_type])
        found.append(ParamSpec("date", "date", f"{where}; prefixes eq ne gt lt ge le"))
    if resource_type in CODE_ELEMENTS:
        found.append(ParamSpec("code", "token", f"{CODE_ELEMENTS[resource_type]}: system|code"))
    if resource_type in CATEGORY_ELEMENTS:
        found.append(ParamSpec("category", "token", "category: system|code"))
    return found


class SearchError(ValueError):
    """A search parameter that cannot be used; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


# --- dates --------------------------------------------------------------------------------

_DATE = re.compile(
    r"(?P<prefix>eq|ne|gt|lt|ge|le)?"
    r"(?P<value>\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?)$"
)
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Span:
    """A half-open time range [start, end)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class DateFilter:
    prefix: str
    span: Span


def span_of_text(text: str, zone: ZoneInfo) -> Span:
    """The range a FHIR date or dateTime covers at its precision; a value without a zone is
    read in the clinic's zone (FHIR leaves that to the server)."""
    if len(text) == 4:
        return _day_span(date(int(text), 1, 1), _add_years(date(int(text), 1, 1)), zone)
    if len(text) == 7:
        first = date(int(text[:4]), int(text[5:7]), 1)
        return _day_span(first, _add_month(first), zone)
    if len(text) == 10:
        first = date.fromisoformat(text)
        return _day_span(first, first + timedelta(days=1), zone)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    step = timedelta(seconds=1) if text.count(":") >= 2 else timedelta(minutes=1)
    return Span(moment.astimezone(UTC), moment.astimezone(UTC) + step)


def _day_span(first: date, after: date, zone: ZoneInfo) -> Span:
    """Local midnights as UTC instants (aware datetimes sharing a zone compare by wall time)."""
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    return Span(start, datetime.combine(after, time(), zone).astimezone(UTC))


def _add_years(first: date) -> date:
    return first.replace(year=first.year + 1)


def _add_month(first: date) -> date:
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )


def parse_date(value: str, zone: ZoneInfo, param: str = "date") -> DateFilter:
    found = _DATE.match(value)
    if found is None:
        raise SearchError(param, f"{value!r} is not a FHIR date (e.g. ge2026-01-31)")
    try:
        span = span_of_text(found["value"], zone)
    except ValueError:
        raise SearchError(param, f"{value!r} is not a real date") from None
    return DateFilter(found["prefix"] or "eq", span)


def span_of_resource(resource: Resource, zone: ZoneInfo) -> Span | None:
    """The time a resource is about, from the first date element of its type present."""
    for element in DATE_ELEMENTS.get(resource.get("resourceType", ""), ()):
        value = resource.get(element)
        if isinstance(value, str):
            return span_of_text(value, zone)
        if isinstance(value, dict) and "start" in value:
            start = span_of_text(value["start"], zone).start
            end = span_of_text(value["end"], zone).end if "end" in value else FAR_FUTURE
            return Span(start, end)
    return None


def date_matches(wanted: DateFilter, target: Span) -> bool:
    """FHIR R4 §3.1.1.4.1: eq means the search range contains the target; gt/lt/ge/le mean
    the range above or below the search value overlaps the target."""
    low, high = wanted.span.start, wanted.span.end
    if wanted.prefix == "eq":
        return low <= target.start and target.end <= high
    if wanted.prefix == "ne":
        return not (low <= target.start and target.end <= high)
    if wanted.prefix == "gt":
        return target.end > high
    if wanted.prefix == "ge":
        return target.end > low
    if wanted.prefix == "lt":
        return target.start < low
    return target.start < high  # le


# --- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """``system|code``, ``|code`` (no system), ``system|`` or a bare ``code``."""

    system: str | None
    code: str | None
    any_system: bool


def parse_tokens(value: str, param: str) -> list[Token]:
    """Comma-separated alternatives (OR)."""
    tokens = []
    for part in value.split(","):
        if not part:
            raise SearchError(param, "an empty value")
        if "|" in part:
            system, code = part.split("|", 1)
            tokens.append(Token(system or None, code or None, any_system=False))
        else:
            tokens.append(Token(None, part, any_system=True))
    return tokens


def token_matches(tokens: list[Token], codings: Iterable[Mapping[str, Any]]) -> bool:
    codings = list(codings)
    return any(_one_token(token, coding) for token in tokens for coding in codings)


def _one_token(token: Token, coding: Mapping[str, Any]) -> bool:
    if token.code is not None and coding.get("code") != token.code:
        return False
    if token.any_system:
        return True
    return coding.get("system") == token.system


def codings_at(resource: Resource, element: str | None) -> list[Mapping[str, Any]]:
    """The codings of a CodeableConcept element, or of each one in a list of them."""
    if element is None:
        return []
    value = resource.get(element)
    concepts = value if isinstance(value, list) else [value] if value else []
    return [c for concept in concepts for c in concept.get("coding", [])]


# --- a whole search -----------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """A parsed search: filters, the patient it is restricted to, the page wanted."""

    ids: list[str] | None
    patient_id: int | None
    dates: list[DateFilter]
    codes: list[Token] | None
    categories: list[Token] | None
    count: int
    offset: int
    other: dict[str, str]


def parse_search(
    resource_type: str,
    query: list[tuple[str, str]],
    zone: ZoneInfo,
    *,
    in_compartment: bool,
) -> Search:
    allowed = {p.name for p in params_of(resource_type, in_compartment=in_compartment)}
    ids: list[str] | None = None
    patient_id = None
    dates: list[DateFilter] = []
    codes = categories = None
    count, offset = DEFAULT_COUNT, 0
    other: dict[str, str] = {}
    for name, value in query:
        if name not in allowed and name not in PAGING:
            raise SearchError(name, f"{resource_type} takes only {', '.join(sorted(allowed))}")
        if name == "_id":
            ids = value.split(",")
        elif name == "patient":
            patient_id = _patient_number(value)
        elif name in ("date", "birthdate"):
            dates.append(parse_date(value, zone, name))
        elif name == "code":
            codes = parse_tokens(value, name)
        elif name == "category":
            categories = parse_tokens(value, name)
        elif name == "_count":
            count = _whole(value, name, 1, MAX_COUNT)
        elif name == "_offset":
            offset = _whole(value, name, 0, 10**9)
        else:
            other[name] = value
    if in_compartment and resource_type != "Patient" and patient_id is None:
        raise SearchError(
            "patient",
            f"search {resource_type} one patient at a time (patient=Patient/ID); "
            "`ketaclinic fhir export --all DIR` exports the whole clinic",
        )
    return Search(ids, patient_id, dates, codes, categories, count, offset, other)


def _patient_number(value: str) -> int:
    number = value.removeprefix("Patient/")
    if not number.isdigit() or len(number) > 18:
        raise SearchError("patient", f"{value!r} is not Patient/ID")
    return int(number)


def _whole(value: str, param: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise SearchError(param, f"must be a whole number from {low} to {high}")
    return int(value)


def matches(search: Search, resource: Resource, zone: ZoneInfo) -> bool:
    kind = resource["resourceType"]
    if search.ids is not None and resource.get("id") not in search.ids:
        return False
    if "url" in search.other and resource.get("url") not in search.other["url"].split(","):
        return False
    if search.codes is not None and not token_matches(
        search.codes, codings_at(resource, CODE_ELEMENTS.get(kind))
    ):
        return False
    if search.categories is not None and not token_matches(
        search.categories, codings_at(resource, CATEGORY_ELEMENTS.get(kind))
    ):
        return False
    return all(_date_ok(d, resource, zone) for d in search.dates)


def _date_ok(wanted: DateFilter, resource: Resource, zone: ZoneInfo) -> bool:
    if resource["resourceType"] == "Patient":
        target: Span | None = span_of_text(resource["birthDate"], zone)
    else:
        target = span_of_resource(resource, zone)
    return target is not None and date_matches(wanted, target)


def sort_key(resource: Resource, zone: ZoneInfo) -> tuple[datetime, str]:
    span = span_of_resource(resource, zone)
    return (span.start if span else FAR_FUTURE, resource.get("id", ""))
