"""ADT^A04/A08 from a hospital: the patient's demographics updated through the patients service
(its checks, its audit)."""

from __future__ import annotations

from datetime import date

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.errors import KetaclinicError
from ketaclinic.interop.hl7_clinic import CannotPlace, problems
from ketaclinic.interop.hl7_core import Demographics
from ketaclinic.patients import service as patients
from ketaclinic.patients.core import Sex
from ketaclinic.patients.models import Patient
from ketaclinic.patients.schemas import PatientUpdate

#: HL7 table 0001 to the record's sex; A (ambiguous) and N (not applicable) have no equivalent,
#: so they leave the record's value as it is.
SEX_OF = {"F": Sex.FEMALE, "M": Sex.MALE, "O": Sex.OTHER, "U": Sex.UNKNOWN}


def update_patient(
    session: Session, message: Demographics, *, actor: Actor, clinic_id: int, today: date
) -> int:
    """ADT^A04/A08 for a patient the clinic has: names, birth date and sex updated; returns the
    patient's id. A new patient is not registered from ADT: the record needs a weight, which
    these messages do not carry."""
    patient = session.scalar(
        select(Patient).where(Patient.clinic_id == clinic_id, Patient.mrn == message.mrn)
    )
    if patient is None:
        raise CannotPlace(
            "no patient with this MRN (PID-3) in the clinic; registering from ADT is not "
            "supported (the record needs a weight): register the patient in the app"
        )
    changes: dict[str, object] = {
        "given_name": message.given_name,
        "family_name": message.family_name,
    }
    if message.birth_date is not None:
        changes["birth_date"] = message.birth_date
    if message.sex in SEX_OF:
        changes["sex"] = SEX_OF[message.sex]
    try:
        data = PatientUpdate.model_validate(changes)
        patients.update(session, actor=actor, patient=patient, data=data, today=today)
    except ValidationError as error:
        raise CannotPlace(problems(error), patient.id) from None
    except KetaclinicError as error:
        raise CannotPlace(error.msg, patient.id) from None
    return patient.id
