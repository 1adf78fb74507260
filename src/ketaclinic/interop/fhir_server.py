"""The FHIR R4 server's work apart from HTTP: read, search, ``$everything`` and the
CapabilityStatement, over the resource builders of each type. Every resource leaves validated
against the R4B models, and every patient whose record is read is audited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketaclinic import __version__
from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit import service as audit
from ketaclinic.interop import fhir_care, fhir_observations, fhir_questionnaires, fhir_record
from ketaclinic.interop.fhir_base import (
    FHIR_VERSION,
    FhirContext,
    Resource,
    ResourceKind,
    instant,
    mrn_system,
    validated,
)
from ketaclinic.interop.fhir_search import (
    Search,
    SearchError,
    matches,
    params_of,
    parse_search,
    sort_key,
)
from ketaclinic.patients.models import Patient

#: The patient's compartment, in the order ``$everything`` lists it.
KINDS: dict[str, ResourceKind] = {
    kind.name: kind
    for kind in (
        fhir_record.PATIENT,
        fhir_record.CONDITION,
        fhir_record.ALLERGY_INTOLERANCE,
        fhir_record.MEDICATION_STATEMENT,
        fhir_observations.OBSERVATION,
        fhir_observations.QUESTIONNAIRE_RESPONSE,
        fhir_care.ENCOUNTER,
        fhir_care.PROCEDURE,
        fhir_care.MEDICATION_REQUEST,
        fhir_care.MEDICATION_ADMINISTRATION,
    )
}
#: Resource types outside any patient's compartment.
OTHER_TYPES = ("Practitioner", "Questionnaire")
#: Types a front-desk reader may see (the registration record, and the Questionnaires, which
#: hold no patient data); the rest is clinical.
REGISTRATION_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "AllergyIntolerance",
        "MedicationStatement",
        "Practitioner",
        "Questionnaire",
    }
)
_PRACTITIONER_REFERENCE = re.compile(r"^Practitioner/(\d{1,18})$")


class FhirNotFound(LookupError):
    """No such resource in the reader's clinic (another clinic's look the same)."""


def context(session: Session, actor: Actor) -> FhirContext:
    clinic = session.get(Clinic, actor.clinic_id)
    return FhirContext(session, actor, clinic.code if clinic else "unknown")


def supported_types() -> list[str]:
    return [*KINDS, *OTHER_TYPES]


def _audit_read(ctx: FhirContext, patient_ids: Iterable[int], what: str) -> None:
    for patient_id in sorted(set(patient_ids)):
        audit.record(
            ctx.session, actor=ctx.actor, action="fhir.read", patient_id=patient_id, detail=what
        )


# --- read ---------------------------------------------------------------------------------


def read(ctx: FhirContext, resource_type: str, resource_id: str) -> Resource:
    if resource_type == "Practitioner":
        user = fhir_record.practitioner(ctx, _number(resource_id))
        if user is None:
            raise FhirNotFound(f"no Practitioner/{resource_id} in your clinic")
        return validated(fhir_record.practitioner_resource(ctx, user))
    if resource_type == "Questionnaire":  # no patient data: nothing to audit
        found_questionnaire = fhir_questionnaires.find(resource_id)
        if found_questionnaire is None:
            raise FhirNotFound(f"no Questionnaire/{resource_id} on this server")
        return validated(found_questionnaire)
    kind = KINDS[resource_type]
    patient = kind.patient_of(ctx, resource_id)
    found = None
    if patient is not None:
        found = next((r for r in kind.for_patient(ctx, patient) if r["id"] == resource_id), None)
    if patient is None or found is None:
        raise FhirNotFound(f"no {resource_type}/{resource_id} in your clinic")
    _audit_read(ctx, [patient.id], f"{resource_type} read")
    return validated(found)


def _number(resource_id: str) -> int:
    return int(resource_id) if resource_id.isdigit() and len(resource_id) <= 18 else -1


# --- search -------------------------------------------------------------------------------


def search(
    ctx: FhirContext,
    resource_type: str,
    query: list[tuple[str, str]],
    zone: ZoneInfo,
    base_url: str,
) -> Resource:
    """A searchset Bundle of one page; raises SearchError for a parameter it cannot use."""
    in_compartment = resource_type in KINDS
    wanted = parse_search(resource_type, query, zone, in_compartment=in_compartment)
    if resource_type == "Patient":
        total, page = _search_patients(ctx, wanted, zone)
    elif resource_type == "Practitioner":
        users = fhir_record.practitioners(ctx)
        everyone = [fhir_record.practitioner_resource(ctx, u) for u in users]
        hits = [r for r in everyone if matches(wanted, r, zone)]
        total, page = len(hits), hits[wanted.offset : wanted.offset + wanted.count]
    elif resource_type == "Questionnaire":
        questionnaires = fhir_questionnaires.all_questionnaires()
        hits = [r for r in questionnaires if matches(wanted, r, zone)]
        total, page = len(hits), hits[wanted.offset : wanted.offset + wanted.count]
    else:
        total, page = _search_compartment(ctx, KINDS[resource_type], wanted, zone)
    return _searchset(resource_type, query, wanted, total, page, base_url)


def _search_patients(ctx: FhirContext, wanted: Search, zone: ZoneInfo) -> tuple[int, list[Any]]:
    query = select(Patient).where(Patient.clinic_id == ctx.actor.clinic_id)
    if "identifier" in wanted.other:
        system, _, value = wanted.other["identifier"].rpartition("|")
        if system and system != mrn_system(ctx.clinic_code):
            return 0, []
        query = query.where(Patient.mrn == value)
    if "family" in wanted.other:
        start = wanted.other["family"].lower()
        query = query.where(func.lower(Patient.family_name).startswith(start, autoescape=True))
    if wanted.ids is not None:
        numbers = [int(i) for i in wanted.ids if i.isdigit() and len(i) <= 18]
        query = query.where(Patient.id.in_(numbers))
    rows = list(ctx.session.scalars(query.order_by(Patient.family_name, Patient.id)))
    if wanted.dates:
        rows = [p for p in rows if matches(wanted, _birth_only(p), zone)]
    page = rows[wanted.offset : wanted.offset + wanted.count]
    _audit_read(ctx, [p.id for p in page], "Patient search")
    return len(rows), [fhir_record.patient_resource(ctx, p) for p in page]


def _birth_only(patient: Patient) -> Resource:
    """Enough of a Patient resource to match ``birthdate`` before building the page."""
    return {"resourceType": "Patient", "birthDate": patient.birth_date.isoformat()}


def _search_compartment(
    ctx: FhirContext, kind: ResourceKind, wanted: Search, zone: ZoneInfo
) -> tuple[int, list[Resource]]:
    assert wanted.patient_id is not None  # parse_search insists on it
    patient = fhir_record.patient_in_clinic(ctx, wanted.patient_id)
    if patient is None:
        return 0, []
    hits = [r for r in kind.for_patient(ctx, patient) if matches(wanted, r, zone)]
    hits.sort(key=lambda r: sort_key(r, zone))
    _audit_read(ctx, [patient.id], f"{kind.name} search")
    return len(hits), hits[wanted.offset : wanted.offset + wanted.count]


def _searchset(
    resource_type: str,
    query: list[tuple[str, str]],
    wanted: Search,
    total: int,
    page: list[Resource],
    base_url: str,
) -> Resource:
    kept = [(k, v) for k, v in query if k != "_offset"]

    def link(relation: str, offset: int) -> Resource:
        pairs = [*kept, ("_offset", str(offset))] if offset else kept
        text = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in pairs)
        url = f"{base_url}/{resource_type}" + (f"?{text}" if text else "")
        return {"relation": relation, "url": url}

    links = [link("self", wanted.offset)]
    if wanted.offset + wanted.count < total:
        links.append(link("next", wanted.offset + wanted.count))
    if wanted.offset > 0:
        links.append(link("previous", max(0, wanted.offset - wanted.count)))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [_entry(r, base_url) for r in page],
    }


def _quoted(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="|:/,")


def _entry(resource: Resource, base_url: str | None, mode: str = "match") -> Resource:
    entry: Resource = {"resource": validated(resource), "search": {"mode": mode}}
    if base_url:
        entry["fullUrl"] = f"{base_url}/{resource['resourceType']}/{resource['id']}"
    return entry


# --- $everything --------------------------------------------------------------------------


def everything_bundle(ctx: FhirContext, patient: Patient, base_url: str | None = None) -> Resource:
    """Patient/{id}/$everything: the patient's whole compartment and the clinicians it names."""
    resources = [r for kind in KINDS.values() for r in kind.for_patient(ctx, patient)]
    named = sorted({int(m[1]) for r in resources for m in _practitioner_references(r)})
    users = [fhir_record.practitioner(ctx, number) for number in named]
    clinicians = [fhir_record.practitioner_resource(ctx, u) for u in users if u is not None]
    _audit_read(ctx, [patient.id], "Patient $everything")
    entries = [_entry(r, base_url) for r in resources]
    entries += [_entry(r, base_url, mode="include") for r in clinicians]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(datetime.now(UTC)),
        "total": len(resources),
        "entry": entries,
    }


def _practitioner_references(value: Any) -> Iterable[re.Match[str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found = _PRACTITIONER_REFERENCE.match(item)
                if found:
                    yield found
            else:
                yield from _practitioner_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _practitioner_references(item)


# --- CapabilityStatement ------------------------------------------------------------------


def capability_statement(base_url: str) -> Resource:
    """Exactly what this server does: the types, their interactions and search parameters
    (generated from the same tables the search uses, so it cannot promise more), and the
    referral transaction of ``fhir_import_api``."""
    resources = []
    for name in supported_types():
        entry: Resource = {
            "type": name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": p.name, "type": p.kind, "documentation": p.documentation}
                for p in params_of(name, in_compartment=name in KINDS)
            ],
        }
        if name in KINDS and KINDS[name].profiles:
            entry["supportedProfile"] = list(KINDS[name].profiles)
        if name == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }
            ]
        resources.append(entry)
    rest: Resource = {
        "mode": "server",
        "documentation": "Same accounts and permissions as the JSON API (Bearer token); every "
        "read of a patient's record is audited. Searches other than Patient, Practitioner and "
        "Questionnaire take one patient at a time. _count (at most 500) and _offset page the "
        "results.",
        "security": {
            "service": [{"text": "Bearer token from POST /api/v1/auth/token"}],
            "description": "Log in with a clinic account; roles decide what may be read.",
        },
        "resource": resources,
    }
    rest["interaction"] = [
        {
            "code": "transaction",
            "documentation": "POST /fhir/r4, a referral: one Patient with Conditions, "
            "AllergyIntolerances, MedicationStatements and body weights, registered or updated "
            "in one transaction.",
        }
    ]
    return validated(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": instant(datetime.now(UTC)),
            "kind": "instance",
            "software": {"name": "ketaclinic", "version": __version__},
            "implementation": {"description": "ketaclinic FHIR R4 server", "url": base_url},
            "fhirVersion": FHIR_VERSION,
            "format": ["json"],
            "rest": [rest],
        }
    )


__all__ = [
    "KINDS",
    "FhirNotFound",
    "SearchError",
    "capability_statement",
    "context",
    "everything_bundle",
    "read",
    "search",
    "supported_types",
]
