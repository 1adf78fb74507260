"""Account actions for the command line, each one transaction."""

from __future__ import annotations

from sqlalchemy import select

from ketaclinic.accounts import service
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.config import Settings
from ketaclinic.db import engine_scope, make_session_factory, transaction
from ketaclinic.errors import InvalidInput
from ketaclinic.patients.models import Patient


def create_user(
    settings: Settings,
    *,
    username: str,
    role: str,
    clinic_code: str,
    password: str,
    display_name: str | None = None,
    patient_mrn: str | None = None,
) -> int:
    if role not in {r.value for r in Role}:
        raise InvalidInput(
            f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}"
        )
    if not clinic_code.strip() or len(clinic_code) > 32:
        raise InvalidInput("a clinic code is 1–32 characters")
    with engine_scope(settings) as engine, transaction(make_session_factory(engine)) as session:
        clinic = service.ensure_clinic(session, code=clinic_code.strip())
        patient_id = None
        if patient_mrn:
            patient_id = session.scalar(
                select(Patient.id).where(Patient.clinic_id == clinic.id, Patient.mrn == patient_mrn)
            )
            if patient_id is None:
                raise InvalidInput(f"no patient with MRN {patient_mrn} in clinic {clinic_code}")
        user = service.create_user(
            session,
            clinic=clinic,
            username=username,
            password=password,
            role=Role(role),
            display_name=display_name,
            patient_id=patient_id,
            actor=Actor(None, "cli", None, clinic.id, client_address="cli"),
        )
        return user.id
