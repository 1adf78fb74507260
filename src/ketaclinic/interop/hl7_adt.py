"""ADT^A04/A08 from a hospital: a patient the clinic has is updated through the patients service
(its checks, its audit); an A04 for an MRN the clinic does not have registers the patient, checked
like the API's patient create. A registration carries no weight (PID has none): the weight is
recorded before the first order, which refuses to be signed without one."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.errors import KetaclinicError
from ketaclinic.interop.hl7_clinic import CannotAccept, CannotPlace, problems
from ketaclinic.interop.hl7_core import (
    ERR_DATA_TYPE,
    ERR_REQUIRED_FIELD_MISSING,
    Demographics,
    PostalAddress,
)
from ketaclinic.patients import service as patients
from ketaclinic.patients.core import Sex, birth_date_problem
from ketaclinic.patients.models import Patient
from ketaclinic.patients.schemas import AddressIn, Mrn, Name, PatientUpdate

#: HL7 table 0001 to the record's sex; A (ambiguous) and N (not applicable) have no equivalent,
#: so they leave the record's value as it is (and cannot register a patient).
SEX_OF = {"F": Sex.FEMALE, "M": Sex.MALE, "O": Sex.OTHER, "U": Sex.UNKNOWN}

#: Where each checked field came from, so the sender's reason names the PID field to fix.
_PID_FIELD = {
    "mrn": "PID-3",
    "family_name": "PID-5.1",
    "given_name": "PID-5.2",
    "birth_date": "PID-7",
    "sex": "PID-8",
    "address": "PID-11",
    "line1": "PID-11.1",
    "line2": "PID-11.2",
    "city": "PID-11.3",
    "state": "PID-11.4",
    "zip": "PID-11.5",
}


class Registration(BaseModel):
    """What an ADT^A04 registers: the API's patient-create fields that PID carries, with the
    same types (so the same checks)."""

    model_config = ConfigDict(extra="forbid")

    mrn: Mrn
    given_name: Name
    family_name: Name
    birth_date: date
    sex: Sex
    address: AddressIn | None = None


def apply_adt(
    session: Session, message: Demographics, *, actor: Actor, clinic_id: int, today: date
) -> int:
    """Update the patient the MRN names, or register them on an A04; returns the patient id."""
    patient = session.scalar(
        select(Patient).where(Patient.clinic_id == clinic_id, Patient.mrn == message.mrn)
    )
    if patient is not None:
        return update_patient(session, message, actor=actor, patient=patient, today=today)
    if message.event != "A04":
        raise CannotPlace(
            f"no patient with this MRN (PID-3) in the clinic; {message.event} updates a patient "
            "the clinic has (an A04 registers one)"
        )
    return register_patient(session, message, actor=actor, clinic_id=clinic_id, today=today)


def update_patient(
    session: Session, message: Demographics, *, actor: Actor, patient: Patient, today: date
) -> int:
    """Names, birth date, sex and (when sent) the address, through the patients service."""
    changes: dict[str, object] = {
        "given_name": message.given_name,
        "family_name": message.family_name,
    }
    if message.birth_date is not None:
        changes["birth_date"] = message.birth_date
    if message.sex in SEX_OF:
        changes["sex"] = SEX_OF[message.sex]
    if message.address is not None:
        changes["address"] = _address(message.address)
    try:
        data = PatientUpdate.model_validate(changes)
        patients.update(session, actor=actor, patient=patient, data=data, today=today)
    except ValidationError as error:
        raise CannotPlace(problems(error), patient.id) from None
    except KetaclinicError as error:
        raise CannotPlace(error.msg, patient.id) from None
    return patient.id


def register_patient(
    session: Session, message: Demographics, *, actor: Actor, clinic_id: int, today: date
) -> int:
    """A new patient from PID, checked like the API's create; refused AR with the PID field to
    fix, nothing written, when a check fails."""
    data = _registration(message)
    problem = birth_date_problem(data.birth_date, today)
    if problem:
        raise CannotAccept(f"PID-7: {problem}", ERR_DATA_TYPE)
    now = clock.now()
    patient = Patient(
        clinic_id=clinic_id,
        mrn=data.mrn,
        given_name=data.given_name,
        family_name=data.family_name,
        birth_date=data.birth_date,
        sex=data.sex.value,
        height_cm=None,
        allergies=[],
        medications=[],
        created_at=now,
        updated_at=now,
    )
    if data.address is not None:
        patient.address_line1 = data.address.line1
        patient.address_line2 = data.address.line2 or None
        patient.address_city = data.address.city
        patient.address_state = data.address.state
        patient.address_zip = data.address.zip
    session.add(patient)
    session.flush()
    audit.record(session, actor=actor, action="patient.create", patient_id=patient.id)
    return patient.id


def _registration(message: Demographics) -> Registration:
    if message.birth_date is None:
        raise CannotAccept("PID-7 birth date is needed to register", ERR_REQUIRED_FIELD_MISSING)
    if message.sex not in SEX_OF:
        shown = "missing" if message.sex is None else f"{message.sex!r}"
        raise CannotAccept(
            f"PID-8 sex is {shown}; registering needs F, M, O or U", ERR_REQUIRED_FIELD_MISSING
        )
    fields: dict[str, Any] = {
        "mrn": message.mrn,
        "given_name": message.given_name,
        "family_name": message.family_name,
        "birth_date": message.birth_date,
        "sex": SEX_OF[message.sex],
        "address": _address(message.address) if message.address is not None else None,
    }
    try:
        return Registration.model_validate(fields)
    except ValidationError as error:
        raise CannotAccept(_pid_problems(error), ERR_DATA_TYPE) from None


def _address(address: PostalAddress) -> dict[str, str | None]:
    return {
        "line1": address.line1,
        "line2": address.line2 or None,
        "city": address.city,
        "state": address.state,
        "zip": address.zip,
    }


def _pid_problems(error: ValidationError) -> str:
    """Each problem named by its PID field (``PID-11.5 ZIP``), as the sender would fix it."""
    return "; ".join(
        f"{_PID_FIELD.get(str(e['loc'][-1]), '.'.join(str(p) for p in e['loc']))}: {e['msg']}"
        for e in error.errors()
    )
