"""FHIR import for referrals (issue #14 item 2): a transaction Bundle registers a patient, or
updates the one with that MRN in the actor's clinic, through the patients service, inside the
caller's one transaction. The whole bundle is read and checked first (``fhir_referral``); any
problem refuses it before anything is written.

What an update keeps: diagnoses, allergies and medications already on the record stay (an import
adds, never removes); names, birth date, sex and a sent address are replaced; a weight already
on file (same time, same value) is not added twice, so importing the same bundle again changes
nothing but the audit trail."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit import service as audit
from ketaclinic.errors import InvalidInput, KetaclinicError
from ketaclinic.interop.fhir_base import (
    FhirInvalid,
    Resource,
    validated,
)
from ketaclinic.interop.fhir_referral import REFERENCE_ONLY, Referral, read_referral
from ketaclinic.interop.fhir_referral_items import (
    ConditionIn,
    Item,
    WeightIn,
)
from ketaclinic.interop.fhir_vitals import weight_id
from ketaclinic.patients import service as patients
from ketaclinic.patients.models import Diagnosis, Patient
from ketaclinic.patients.schemas import DiagnosisIn, PatientCreate, PatientUpdate

CREATED = "201 Created"
UPDATED = "200 OK"


@dataclass
class Responses:
    """The transaction-response entry of each request entry, by entry index."""

    by_entry: dict[int, Resource] = field(default_factory=dict)

    def note(self, index: int, created: bool, location: str | None = None) -> None:
        response: Resource = {"status": CREATED if created else UPDATED}
        if location:
            response["location"] = location
        self.by_entry[index] = response


def clinic_code_of(session: Session, actor: Actor) -> str:
    code = session.scalar(select(Clinic.code).where(Clinic.id == actor.clinic_id))
    if code is None:
        raise InvalidInput("this account belongs to no clinic")
    return code


def read(session: Session, *, actor: Actor, bundle: object, today: date) -> Referral:
    """The referral in ``bundle`` read for the actor's clinic (its MRN system), or FhirInvalid."""
    return read_referral(bundle, clinic_code=clinic_code_of(session, actor), today=today)


def import_referral(
    session: Session, *, actor: Actor, referral: Referral, today: date
) -> tuple[Patient, Resource]:
    """Register or update the referral's patient; the patient and a transaction-response Bundle.
    Runs in the caller's transaction: a refusal part-way leaves nothing once it rolls back."""
    responses = Responses()
    patient = _existing(session, actor, referral.demographics.mrn)
    created = patient is None
    if patient is None:
        patient = _register(session, actor, referral, today, responses)
    else:
        _update(session, actor, patient, referral, today, responses)
    responses.note(referral.patient_entry, created, f"Patient/{patient.id}")
    _primary(patient, referral)
    _locate(patient, referral, responses)
    for entry in referral.entries:
        if entry.kind in REFERENCE_ONLY:
            responses.by_entry[entry.index] = {"status": UPDATED}
    audit.record(
        session,
        actor=actor,
        action="patient.import",
        patient_id=patient.id,
        detail=(
            f"{'registered' if created else 'updated'} from a FHIR bundle: "
            f"conditions={len(referral.conditions)} allergies={len(referral.allergies)} "
            f"medications={len(referral.medications)} weights={len(referral.weights)}"
        ),
    )
    return patient, _response_bundle(referral, responses)


def _existing(session: Session, actor: Actor, mrn: str) -> Patient | None:
    return session.scalars(
        select(Patient)
        .where(Patient.clinic_id == actor.clinic_id, Patient.mrn == mrn)
        .options(selectinload(Patient.diagnoses), selectinload(Patient.weights))
    ).first()


@contextmanager
def _located(where: str) -> Iterator[None]:
    """A refusal of the patients service, named at the bundle's place it came from."""
    try:
        yield
    except ValidationError as error:
        raise FhirInvalid([(where, _message(item["msg"])) for item in error.errors()]) from None
    except KetaclinicError as error:
        if error.status_code >= 500:
            raise
        raise FhirInvalid([(where, error.msg)]) from None


def _message(text: object) -> str:
    return str(text).removeprefix("Value error, ")


def _register(
    session: Session, actor: Actor, referral: Referral, today: date, responses: Responses
) -> Patient:
    if not referral.weights:
        raise FhirInvalid(
            [("Bundle.entry", "a new patient needs a body weight Observation (LOINC 29463-7, kg)")]
        )
    weights = sorted(referral.weights, key=lambda w: w.measured_at)
    first, later = weights[0], weights[1:]
    primary = _chosen_primary(referral.conditions, has_primary=False)
    demographics = referral.demographics
    where = f"Bundle.entry[{referral.patient_entry}].resource"
    with _located(where):
        data = PatientCreate.model_validate(
            {
                "mrn": demographics.mrn,
                "given_name": demographics.given_name,
                "family_name": demographics.family_name,
                "birth_date": demographics.birth_date,
                "sex": demographics.sex,
                "weight_kg": first.weight_kg,
                "weight_measured_at": first.measured_at,
                "address": demographics.address,
                "allergies": _merged([], referral.allergies),
                "medications": _merged([], referral.medications),
                "diagnoses": [
                    {"code": c.code, "is_primary": c is primary} for c in referral.conditions
                ],
            }
        )
        patient = patients.create(session, actor=actor, data=data, today=today)
    responses.note(first.entry, True)
    for weight in later:
        _add_weight(session, actor, patient, weight, today, responses)
    by_code = {d.code: d for d in patient.diagnoses}
    for condition in referral.conditions:
        responses.note(condition.entry, True, f"Condition/{by_code[condition.code].id}")
    for item in (*referral.allergies, *referral.medications):
        responses.note(item.entry, True)
    return patient


def _update(
    session: Session,
    actor: Actor,
    patient: Patient,
    referral: Referral,
    today: date,
    responses: Responses,
) -> None:
    demographics = referral.demographics
    fields: dict[str, Any] = {
        "given_name": demographics.given_name,
        "family_name": demographics.family_name,
        "birth_date": demographics.birth_date,
        "sex": demographics.sex,
        "allergies": _merged(patient.allergies, referral.allergies),
        "medications": _merged(patient.medications, referral.medications),
    }
    if demographics.address is not None:
        fields["address"] = demographics.address
    for item in referral.allergies:
        responses.note(item.entry, not _listed(patient.allergies, item.text))
    for item in referral.medications:
        responses.note(item.entry, not _listed(patient.medications, item.text))
    with _located(f"Bundle.entry[{referral.patient_entry}].resource"):
        data = PatientUpdate.model_validate(fields)
        patients.update(session, actor=actor, patient=patient, data=data, today=today)
    for weight in sorted(referral.weights, key=lambda w: w.measured_at):
        _add_weight(session, actor, patient, weight, today, responses)
    _add_diagnoses(session, actor, patient, referral.conditions, responses)


def _add_weight(
    session: Session,
    actor: Actor,
    patient: Patient,
    weight: WeightIn,
    today: date,
    responses: Responses,
) -> None:
    # FHIR instants carry whole seconds (fhir_base.instant): a weight exported and imported
    # back is the same weight.
    on_file = any(
        _to_second(w.measured_at) == _to_second(weight.measured_at)
        and w.weight_kg == weight.weight_kg
        for w in patient.weights
    )
    responses.note(weight.entry, not on_file)
    if on_file:
        return
    with _located(f"Bundle.entry[{weight.entry}].resource"):
        data = PatientUpdate(weight_kg=weight.weight_kg, weight_measured_at=weight.measured_at)
        patients.update(session, actor=actor, patient=patient, data=data, today=today)


def _to_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _add_diagnoses(
    session: Session,
    actor: Actor,
    patient: Patient,
    conditions: Sequence[ConditionIn],
    responses: Responses,
) -> None:
    by_code = {d.code: d for d in patient.diagnoses}
    for condition in conditions:
        known = by_code.get(condition.code)
        if known is None:
            with _located(f"Bundle.entry[{condition.entry}].resource.code"):
                known = patients.add_diagnosis(
                    session,
                    actor=actor,
                    patient=patient,
                    data=DiagnosisIn(code=condition.code, is_primary=False),
                )
        responses.note(condition.entry, condition.code not in by_code, f"Condition/{known.id}")


def _chosen_primary(conditions: Sequence[ConditionIn], *, has_primary: bool) -> ConditionIn | None:
    """The Condition marked primary; else the first, for a patient with no primary diagnosis."""
    marked = next((c for c in conditions if c.is_primary), None)
    if marked is not None or has_primary:
        return marked
    return conditions[0] if conditions else None


def _primary(patient: Patient, referral: Referral) -> None:
    """Make the chosen Condition's diagnosis the primary one (the service's add_diagnosis
    has no way to promote a diagnosis already on the record)."""
    has_primary = any(d.is_primary for d in patient.diagnoses)
    chosen = _chosen_primary(referral.conditions, has_primary=has_primary)
    if chosen is None:
        return
    diagnoses: list[Diagnosis] = patient.diagnoses
    for diagnosis in diagnoses:
        diagnosis.is_primary = diagnosis.code == chosen.code


def _locate(patient: Patient, referral: Referral, responses: Responses) -> None:
    """Where each allergy, medication and weight now is, by the ids the FHIR server reads them
    with (``fhir_record``: ``allergy-{patient}-{index}``; ``fhir_vitals``: ``weight-{id}``)."""
    places = (
        ("AllergyIntolerance", "allergy", referral.allergies, patient.allergies),
        ("MedicationStatement", "medication", referral.medications, patient.medications),
    )
    for kind, prefix, items, listed in places:
        folded = [text.casefold() for text in listed]
        for item in items:
            index = folded.index(item.text.casefold())
            responses.by_entry[item.entry]["location"] = f"{kind}/{prefix}-{patient.id}-{index}"
    for weight in referral.weights:
        stored = next(
            w
            for w in patient.weights
            if _to_second(w.measured_at) == _to_second(weight.measured_at)
            and w.weight_kg == weight.weight_kg
        )
        responses.by_entry[weight.entry]["location"] = f"Observation/{weight_id(stored.id)}"


def _listed(existing: Sequence[str], text: str) -> bool:
    return text.casefold() in {item.casefold() for item in existing}


def _merged(existing: Sequence[str], items: Sequence[Item]) -> list[str]:
    """What the record lists, then each new item once (compared without case)."""
    merged = list(existing)
    for item in items:
        if not _listed(merged, item.text):
            merged.append(item.text)
    return merged


def _response_bundle(referral: Referral, responses: Responses) -> Resource:
    return validated(
        {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {"response": responses.by_entry.get(entry.index, {"status": UPDATED})}
                for entry in referral.entries
            ],
        }
    )
