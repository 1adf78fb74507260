"""The order on the session page: the physician sees the computed order before signing it.

"Preview" computes the order from the typed inputs and writes nothing; the preview carries the
same inputs and the computed values into "Sign this order". Signing computes the order again and
refuses when anything that was shown has changed since (a new weight on record, a protocol
default), so what is signed is what was seen. The inputs start from the dose plan saved on the
patient (``protocols.saved_plans``), when there is one for this protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.config import Settings
from ketaclinic.infusions import service
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.page_views import user_names
from ketaclinic.infusions.schemas import OrderIn
from ketaclinic.labels import label
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import saved_plans
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.schemas import DosePlanOut

#: What the preview showed, sent back with "Sign this order": form field → plan attribute.
SHOWN: Mapping[str, str] = {
    f"preview_{attr}": attr
    for attr in (
        "pump_rate_ml_per_h",
        "rate_mg_per_h",
        "total_mg",
        "total_ml",
        "duration_min",
        "weight_basis_kg",
    )
}
#: The typed inputs a preview carries into the signature.
INPUTS = ("weight_kg", "dose", "duration_min", "weight_basis")


class Previewed(Exception):
    """Raised inside the action's transaction so that nothing is written: the page shows
    ``plan``; ``changed`` lists what differs from the preview the physician signed from."""

    def __init__(self, plan: DosePlanOut, changed: tuple[str, ...] = ()) -> None:
        super().__init__("previewed")
        self.plan = plan
        self.changed = changed


def is_signature(form: Mapping[str, Any]) -> bool:
    """Only the preview's own form carries what was shown; any other post is a preview."""
    return all(isinstance(form.get(name), str) and form.get(name) for name in SHOWN)


def shown_values(plan: DosePlanOut) -> dict[str, str]:
    """The hidden fields of "Sign this order": the computed values, exactly as stored."""
    return {name: str(getattr(plan, attr)) for name, attr in SHOWN.items()}


def changes(plan: DosePlanOut, form: Mapping[str, Any]) -> tuple[str, ...]:
    """Each shown value that computes differently now, as "pump rate (mL/h): 7.2 → 7.3"."""
    found = []
    for name, attr in SHOWN.items():
        now = Decimal(str(getattr(plan, attr)))
        try:
            seen: Decimal | None = Decimal(str(form.get(name, "")))
        except InvalidOperation:
            seen = None
        if seen is None or seen != now:
            found.append(f"{label(attr)}: {form.get(name, '?')} → {now}")
    return tuple(found)


Run = Callable[[Session, Actor, InfusionSession, Any, Settings], object]


def runner(form: Mapping[str, Any]) -> Run:
    """The order form's action: a preview (raises ``Previewed``), or the signature of what the
    preview showed (refused as a new preview when anything changed)."""

    def run(s: Session, a: Actor, r: InfusionSession, d: OrderIn, _: Settings) -> object:
        plan = service.plan_order(s, actor=a, row=r, data=d)
        if not is_signature(form):
            audit.record(
                s,
                actor=a,
                action="dose.calculate",
                patient_id=r.patient_id,
                detail=f"session_id={r.id} order preview",
            )
            raise Previewed(plan)
        changed = changes(plan, form)
        if changed:
            raise Previewed(plan, changed)
        return service.sign_order(s, actor=a, row=r, data=d)

    return run


@dataclass(frozen=True)
class Prefill:
    """The order form's starting inputs and where they came from."""

    values: dict[str, str]
    source: str


def prefill(session: Session, actor: Actor, row: InfusionSession, zone: tzinfo) -> Prefill | None:
    """The inputs of the patient's newest saved dose plan of this session's protocol (any of its
    versions), with "from the dose plan of 2 March 2026 by Dr Example"."""
    protocol = session.get(ProtocolVersion, row.protocol_version_id)
    assert protocol is not None  # foreign key
    saved = saved_plans.latest_for(
        session, actor=actor, patient_id=row.patient_id, protocol_key=protocol.key
    )
    if saved is None:
        return None
    values = {
        "weight_kg": format(saved.weight_kg.normalize(), "f"),
        "dose": format(saved.dose.normalize(), "f"),
        "duration_min": str(saved.duration_min),
        "weight_basis": saved.weight_basis,
    }
    by = user_names(session, [saved.saved_by_user_id]).get(saved.saved_by_user_id, "?")
    day = saved.saved_at.astimezone(zone)
    source = f"from the dose plan of {day.day} {day:%B %Y} by {by}"
    patient = session.get(Patient, row.patient_id)
    latest = patient.current_weight if patient is not None else None
    if (
        latest is not None
        and latest.measured_at > saved.saved_at
        and latest.weight_kg != saved.weight_kg
    ):
        # A weight taken since the plan (today's, at check-in) wins: the box is left empty,
        # which means "the last recorded", and the note says why.
        values.pop("weight_kg")
        source += (
            f"; weight left to the latest recorded ({format(latest.weight_kg.normalize(), 'f')}"
            f" kg), newer than the {format(saved.weight_kg.normalize(), 'f')} kg of the plan"
        )
    return Prefill(values, source)
