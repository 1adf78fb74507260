"""Which protocol a form offers first for a patient: the one that fits the indication of the
patient's latest signed screening, else one that fits their diagnoses (primary first).

A suggestion only: the form preselects it and says why; the physician or nurse chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.indications import best_protocol, indications_for_code, label
from ketaclinic.patients.models import Patient
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.screening.models import Screening


@dataclass(frozen=True)
class Suggestion:
    protocol_id: int
    indication_id: str
    from_screening: bool

    @property
    def reason(self) -> str:
        source = "screened indication" if self.from_screening else "diagnosis"
        return (
            f"Preselected for the patient's {source}: {label(self.indication_id)}. "
            "Check it; you decide."
        )


def screened_indication(session: Session, patient: Patient) -> str | None:
    """The indication chosen on the latest signed screening, else the first it matched."""
    latest = session.scalars(
        select(Screening)
        .where(Screening.patient_id == patient.id)
        .order_by(Screening.signed_at.desc(), Screening.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    if latest.indication_id:
        return latest.indication_id
    matched = latest.matched_indications
    first = matched[0].get("indication_id") if matched else None
    return str(first) if first else None


def diagnosed_indications(patient: Patient) -> list[str]:
    """The indications of the patient's diagnoses, the primary diagnosis's first."""
    ordered = sorted(patient.diagnoses, key=lambda d: (not d.is_primary, d.id or 0))
    return [i.id for d in ordered for i in indications_for_code(d.code)]


def suggest(
    session: Session, patient: Patient, offered: Sequence[ProtocolVersion]
) -> Suggestion | None:
    """The offered protocol version that fits the patient best, or ``None`` when none fits."""
    screened = screened_indication(session, patient)
    wanted = ([screened] if screened else []) + diagnosed_indications(patient)
    choices = [(row, tuple(row.definition.get("indications", ()))) for row in offered]
    found = best_protocol(wanted, choices)
    if found is None:
        return None
    row, indication_id = found
    return Suggestion(row.id, indication_id, from_screening=indication_id == screened)
