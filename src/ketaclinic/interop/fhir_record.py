"""The registration record as FHIR R4: Patient, Condition, AllergyIntolerance,
MedicationStatement and Practitioner (CODES.md §4.3).

Allergies and medications are kept as the words the patient or referrer gave, so they travel as
``code.text`` without a coding; a receiver must not read them as coded data."""

from __future__ import annotations

from sqlalchemy import select

from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import User
from ketaclinic.interop.fhir_base import (
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    ICD10CM,
    IDENTIFIER_TYPE,
    PRIMARY_DIAGNOSIS_EXTENSION,
    US_CORE,
    FhirContext,
    Resource,
    ResourceKind,
    concept,
    day,
    instant,
    mrn_system,
    reference,
)
from ketaclinic.patients.contact_models import PatientContact
from ketaclinic.patients.models import Diagnosis, Patient

PATIENT_PROFILE = US_CORE + "us-core-patient"
CONDITION_PROFILE = US_CORE + "us-core-condition-problems-health-concerns"
ALLERGY_PROFILE = US_CORE + "us-core-allergyintolerance"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
#: Everyone on the clinic's staff who can appear in a record (who signed, charted, cancelled,
#: and the monitors' device account); portal patients are not practitioners.
PRACTITIONER_ROLES = tuple(r.value for r in Role if r is not Role.PATIENT)


def patient_in_clinic(ctx: FhirContext, patient_id: int) -> Patient | None:
    patient = ctx.session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != ctx.actor.clinic_id:
        return None
    return patient


def number_in(resource_id: str, prefix: str = "") -> int | None:
    """The record number in an id such as ``12`` or ``allergy-12-0``; None if not ours."""
    if not resource_id.startswith(prefix):
        return None
    head = resource_id.removeprefix(prefix).split("-", 1)[0]
    return int(head) if head.isdigit() and len(head) <= 18 else None


# --- Patient ------------------------------------------------------------------------------


def patient_resource(ctx: FhirContext, patient: Patient) -> Resource:
    resource: Resource = {
        "resourceType": "Patient",
        "id": str(patient.id),
        "meta": {"profile": [PATIENT_PROFILE]},
        "identifier": [
            {
                "use": "usual",
                "type": concept(IDENTIFIER_TYPE, "MR", "Medical record number"),
                "system": mrn_system(ctx.clinic_code),
                "value": patient.mrn,
            }
        ],
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex,
        "birthDate": day(patient.birth_date),
    }
    telecom = _telecom(ctx.session.get(PatientContact, patient.id))
    if telecom:
        resource["telecom"] = telecom
    if patient.address_line1:
        lines = [patient.address_line1] + ([patient.address_line2] if patient.address_line2 else [])
        resource["address"] = [
            {
                "use": "home",
                "line": lines,
                "city": patient.address_city,
                "state": patient.address_state,
                "postalCode": patient.address_zip,
                "country": "US",
            }
        ]
    return resource


def _telecom(contact: PatientContact | None) -> list[Resource]:
    if contact is None:
        return []
    found: list[Resource] = []
    if contact.phone:
        found.append({"system": "phone", "value": contact.phone, "use": "mobile"})
    if contact.email:
        found.append({"system": "email", "value": contact.email})
    return found


def _patients(ctx: FhirContext, patient: Patient) -> list[Resource]:
    return [patient_resource(ctx, patient)]


def _patient_of_patient(ctx: FhirContext, resource_id: str) -> Patient | None:
    number = number_in(resource_id)
    return patient_in_clinic(ctx, number) if number is not None else None


# --- Condition ----------------------------------------------------------------------------


def condition_resource(diagnosis: Diagnosis) -> Resource:
    """A diagnosis on the problem list; the primary one comes first (the model orders it so)
    and says so in an extension, which the referral import reads back."""
    resource: Resource = {
        "resourceType": "Condition",
        "id": str(diagnosis.id),
        "meta": {"profile": [CONDITION_PROFILE]},
        "clinicalStatus": concept(CONDITION_CLINICAL, "active", "Active"),
        "verificationStatus": concept(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
        "category": [concept(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
        "code": concept(ICD10CM, diagnosis.code, diagnosis.title, text=diagnosis.title),
        "subject": reference("Patient", diagnosis.patient_id),
        "recordedDate": instant(diagnosis.recorded_at),
    }
    if diagnosis.is_primary:
        resource["extension"] = [{"url": PRIMARY_DIAGNOSIS_EXTENSION, "valueBoolean": True}]
    return resource


def _conditions(ctx: FhirContext, patient: Patient) -> list[Resource]:
    return [condition_resource(d) for d in patient.diagnoses]


def _patient_of_condition(ctx: FhirContext, resource_id: str) -> Patient | None:
    number = number_in(resource_id)
    diagnosis = ctx.session.get(Diagnosis, number) if number is not None else None
    return patient_in_clinic(ctx, diagnosis.patient_id) if diagnosis is not None else None


# --- AllergyIntolerance and MedicationStatement (words, not codes) ------------------------


def _allergies(ctx: FhirContext, patient: Patient) -> list[Resource]:
    return [
        {
            "resourceType": "AllergyIntolerance",
            "id": f"allergy-{patient.id}-{index}",
            "meta": {"profile": [ALLERGY_PROFILE]},
            "clinicalStatus": concept(ALLERGY_CLINICAL, "active", "Active"),
            "verificationStatus": concept(ALLERGY_VERIFICATION, "unconfirmed", "Unconfirmed"),
            "code": {"text": text},
            "patient": reference("Patient", patient.id),
            "recordedDate": instant(patient.updated_at),
        }
        for index, text in enumerate(patient.allergies)
    ]


def _medications(ctx: FhirContext, patient: Patient) -> list[Resource]:
    """What the patient takes, as reported at registration (no US Core profile exists for
    MedicationStatement in US Core 6)."""
    return [
        {
            "resourceType": "MedicationStatement",
            "id": f"medication-{patient.id}-{index}",
            "status": "active",
            "medicationCodeableConcept": {"text": text},
            "subject": reference("Patient", patient.id),
            "dateAsserted": instant(patient.updated_at),
        }
        for index, text in enumerate(patient.medications)
    ]


def _patient_of_allergy(ctx: FhirContext, resource_id: str) -> Patient | None:
    number = number_in(resource_id, "allergy-")
    return patient_in_clinic(ctx, number) if number is not None else None


def _patient_of_medication(ctx: FhirContext, resource_id: str) -> Patient | None:
    number = number_in(resource_id, "medication-")
    return patient_in_clinic(ctx, number) if number is not None else None


# --- Practitioner (outside the patient compartment) ---------------------------------------


def practitioner_resource(ctx: FhirContext, user: User) -> Resource:
    """A clinician by their account. No NPI is recorded, so the US Core Practitioner profile
    (which asks for one) is not claimed."""
    return {
        "resourceType": "Practitioner",
        "id": str(user.id),
        "identifier": [
            {"system": f"urn:ketaclinic:{ctx.clinic_code.lower()}:user", "value": user.username}
        ],
        "active": user.is_active,
        "name": [{"text": user.display_name}],
    }


def practitioner(ctx: FhirContext, user_id: int) -> User | None:
    user = ctx.session.get(User, user_id)
    if user is None or user.clinic_id != ctx.actor.clinic_id or user.role not in PRACTITIONER_ROLES:
        return None
    return user


def practitioners(ctx: FhirContext) -> list[User]:
    query = (
        select(User)
        .where(User.clinic_id == ctx.actor.clinic_id, User.role.in_(PRACTITIONER_ROLES))
        .order_by(User.id)
    )
    return list(ctx.session.scalars(query))


PATIENT = ResourceKind("Patient", _patients, _patient_of_patient, (PATIENT_PROFILE,))
CONDITION = ResourceKind("Condition", _conditions, _patient_of_condition, (CONDITION_PROFILE,))
ALLERGY_INTOLERANCE = ResourceKind(
    "AllergyIntolerance", _allergies, _patient_of_allergy, (ALLERGY_PROFILE,)
)
MEDICATION_STATEMENT = ResourceKind("MedicationStatement", _medications, _patient_of_medication)
