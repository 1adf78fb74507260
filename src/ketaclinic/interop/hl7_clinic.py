"""What every HL7 use-case shares: the clinic the listener charts for, its device account, the
session states vitals are placed in, and the "cannot place" refusal that becomes an AE.

Split out of ``service.py`` (issue #14) so that placing vitals, ADT and the inbox each stay small.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.accounts import service as accounts
from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic
from ketaclinic.errors import KetaclinicError
from ketaclinic.infusions.core import State

#: The states in which a monitor's vitals are placed on a session (issue #14: "current infusing
#: or observing session"; paused is still at the chair with the line in).
ACTIVE_STATES = (State.INFUSING.value, State.PAUSED.value, State.OBSERVING.value)

#: Error code for "application internal error" (HL7 table 0357) used when a message is usable
#: but cannot be placed; the reason in MSA-3/ERR-8 says why.
ERR_CANNOT_PLACE = "207"

#: Not an argon2 hash, so verify_password answers False for every password.


class ClinicNotConfigured(KetaclinicError):
    """The listener cannot tell whose patients it charts."""


class CannotPlace(Exception):
    """A usable message whose content cannot be placed: answered AE and kept in the inbox."""

    def __init__(self, reason: str, patient_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.patient_id = patient_id


class CannotAccept(CannotPlace):
    """Data the clinic refuses outright (a registration that fails the patient checks): answered
    AR, kept in the inbox, nothing written. ``error_code`` is from HL7 table 0357."""

    def __init__(self, reason: str, error_code: str) -> None:
        super().__init__(reason)
        self.error_code = error_code


def resolve_clinic(session: Session, code: str | None) -> int:
    """The clinic the listener charts for: the configured code, or the only clinic there is."""
    if code is not None:
        found = session.scalar(select(Clinic.id).where(Clinic.code == code))
        if found is None:
            raise ClinicNotConfigured(f"no clinic with code {code!r} (KETACLINIC_HL7_CLINIC)")
        return found
    ids = session.scalars(select(Clinic.id).limit(2)).all()
    if len(ids) != 1:
        raise ClinicNotConfigured(
            "set KETACLINIC_HL7_CLINIC to the code of the clinic whose patients the listener "
            f"charts (found {'no' if not ids else 'more than one'} clinic)"
        )
    return ids[0]


def device_username(clinic_id: int) -> str:
    return f"hl7-device-{clinic_id}"


def device_actor(session: Session, clinic_id: int) -> Actor:
    """The clinic's device account, which charts what monitors send."""
    return accounts.system_actor(
        session,
        clinic_id=clinic_id,
        username=device_username(clinic_id),
        display_name="Bedside monitor (HL7)",
        client_address="hl7",
    )


def ensure_device_account(session: Session, clinic_id: int) -> Actor:
    """Create the device account up front (the listener does, in its own transaction), so two
    messages at once never both try; returns it, for the listener to pass with each message."""
    with session.begin():
        return device_actor(session, clinic_id)


def problems(error: ValidationError) -> str:
    """A pydantic error as one line of ``field: message`` pairs, for MSA-3 and the inbox."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
