"""Contact details and reminder consent: read and replace, audited, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import Conflict, InvalidInput
from ketaclinic.patients.contact_core import (
    Channel,
    ContactProblem,
    consent_problem,
    normalise_email,
    normalise_phone,
)
from ketaclinic.patients.contact_models import PatientContact
from ketaclinic.patients.contact_schemas import ContactIn, ContactOut
from ketaclinic.patients.models import Patient


def get(session: Session, *, actor: Actor, patient: Patient) -> PatientContact | None:
    """The patient's contact row (None if never entered), audited as a read."""
    audit.record(session, actor=actor, action="patient.contact.read", patient_id=patient.id)
    return session.get(PatientContact, patient.id)


def replace(
    session: Session, *, actor: Actor, patient: Patient, data: ContactIn, region: str
) -> PatientContact:
    """Check and normalise everything first, then write: a bad field changes nothing."""
    phone = _checked(lambda raw: normalise_phone(raw, region=region), data.phone, "phone")
    email = _checked(normalise_email, data.email, "email")
    channels = {
        c for c, on in ((Channel.EMAIL, data.consent_email), (Channel.SMS, data.consent_sms)) if on
    }
    problem = consent_problem(channels, phone=phone, email=email)
    if problem:
        field = "consent_email" if "e-mail" in problem else "consent_sms"
        raise InvalidInput(problem, loc=("body", field))
    contact = session.get(PatientContact, patient.id)
    now = clock.now()
    if contact is None:
        contact = PatientContact(patient_id=patient.id, consent_email=False, consent_sms=False)
        session.add(contact)
    elif data.version is not None and data.version != contact.version:
        raise Conflict(
            "someone else changed these contact details since you opened them; reload",
            loc=("body", "version"),
        )
    if (contact.consent_email, contact.consent_sms) != (data.consent_email, data.consent_sms):
        contact.consent_changed_at = now
        contact.consent_recorded_by_user_id = actor.user_id
    contact.phone, contact.email = phone, email
    contact.consent_email, contact.consent_sms = data.consent_email, data.consent_sms
    contact.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="patient.contact.update",
        patient_id=patient.id,
        detail=f"consent_email={data.consent_email} consent_sms={data.consent_sms}",
    )
    return contact


def to_out(patient: Patient, contact: PatientContact | None) -> ContactOut:
    if contact is None:
        return ContactOut(
            patient_id=patient.id,
            phone=None,
            email=None,
            consent_email=False,
            consent_sms=False,
            consent_changed_at=None,
            consent_recorded_by_user_id=None,
            version=None,
        )
    return ContactOut(
        patient_id=patient.id,
        phone=contact.phone,
        email=contact.email,
        consent_email=contact.consent_email,
        consent_sms=contact.consent_sms,
        consent_changed_at=contact.consent_changed_at,
        consent_recorded_by_user_id=contact.consent_recorded_by_user_id,
        version=contact.version,
    )


def _checked(normalise: Callable[[str], str], raw: str | None, field: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return normalise(raw)
    except ContactProblem as error:
        raise InvalidInput(str(error), loc=("body", field)) from None
