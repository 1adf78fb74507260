"""What the care resources (MedicationRequest, MedicationAdministration, Encounter, Procedure) of
one infusion session are built from: the session row, its protocol version, the diagnoses it
treats, the dose the timeline says was given and the ketamine lots drawn for it.

Read inside the asking actor's clinic only. The dose comes from ``infusions.readings.delivered``
(the one derivation of the pump timeline, ``infusions.timeline``), never computed again here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ketaclinic.dosing.protocol import Protocol
from ketaclinic.indications import fit, indications_for_code, label
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.infusions.readings import delivered, stopped_early
from ketaclinic.infusions.recording import protocol_of
from ketaclinic.infusions.timeline import Delivered
from ketaclinic.interop.fhir_base import (
    IV_ROUTE_SNOMED,
    SNOMED,
    FhirContext,
    Resource,
    concept,
    quantity,
    reference,
)
from ketaclinic.inventory.core import Movement
from ketaclinic.inventory.models import DrugProduct, LedgerEntry, StockLot
from ketaclinic.patients.models import Diagnosis, Patient

KETAMINE = "ketamine"


def iv_route() -> Resource:
    """SNOMED CT 47625008 "Intravenous route" (CODES.md §4.3); a new dict each time."""
    return concept(SNOMED, IV_ROUTE_SNOMED, "Intravenous route")


#: Events that set what the pump runs at (the opening event of a rate segment).
PUMP_SETTINGS = ("start", "rate", "resume")


@dataclass(frozen=True)
class Lot:
    """A ketamine lot drawn for the session and not all returned (the vial the drug came from)."""

    lot_number: str
    expiry_date: str
    ndc: str
    manufacturer: str


@dataclass(frozen=True)
class Visit:
    """One infusion session and everything its care resources say."""

    row: InfusionSession
    patient: Patient
    protocol: Protocol
    treats: tuple[Diagnosis, ...]
    given: Delivered | None
    lots: tuple[Lot, ...]

    @property
    def sid(self) -> str:
        return str(self.row.id)

    @property
    def state(self) -> State:
        return State(self.row.state)

    @property
    def events(self) -> list[SessionEvent]:
        """The timeline in the order ``readings.delivered`` reads it."""
        return sorted(self.row.events, key=lambda e: (e.at, e.id or 0))

    def last(self, *kinds: str) -> SessionEvent | None:
        found = [e for e in self.events if e.kind in kinds]
        return found[-1] if found else None

    @property
    def started(self) -> bool:
        return self.given is not None

    @property
    def stopped_early(self) -> str | None:
        """'stopped early: 5.4 of 28.8 mg given (…)' as the timeline shows it, else None."""
        return stopped_early(self.row)

    @property
    def ended_early(self) -> bool:
        """The infusion ran and ended before the order was carried out (early stop, abort)."""
        return self.started and (self.state is State.ABORTED or self.stopped_early is not None)

    def at(self, seconds: Decimal) -> datetime:
        """The instant ``seconds`` after the infusion's start (exact: whole microseconds)."""
        assert self.given is not None
        return self.given.started_at + timedelta(microseconds=int(seconds.scaleb(6)))

    def opening_event(self, start_s: Decimal) -> SessionEvent | None:
        """The start, rate change or resume that set the pump for the segment at ``start_s``."""
        moment = self.at(start_s)
        found = [e for e in self.events if e.kind in PUMP_SETTINGS and e.at == moment]
        return found[-1] if found else None

    def end_reason(self) -> str | None:
        """Why the session ended before its end, in words (abort, cancellation, no-show)."""
        if self.state is State.NO_SHOW:
            return "the patient did not come (no-show)"
        ending = self.last("abort", "cancel")
        if ending is None:
            return None
        what = "aborted" if ending.kind == "abort" else "cancelled"
        return f"{what}: {ending.reason}" if ending.reason else what


def exact(value: Decimal, unit: str, code: str) -> Resource:
    """A UCUM quantity holding ``value`` itself with every digit (an integer when whole, trailing
    zeros dropped otherwise); never a float, which would round a dose silently."""
    return quantity(value if value == value.to_integral_value() else value.normalize(), unit, code)


def reasons(visit: Visit) -> Resource:
    """``reasonReference`` to the diagnoses the protocol treats, else ``reasonCode`` text naming
    the protocol's indications (a session always has a reason: its protocol's indication)."""
    if visit.treats:
        return {"reasonReference": [reference("Condition", d.id) for d in visit.treats]}
    named = "; ".join(label(i) for i in visit.protocol.indications)
    return {"reasonCode": [{"text": named}]}


def practitioner(user_id: int) -> dict[str, str]:
    """Practitioner ids are user_account ids (the lead's Practitioner builder)."""
    return reference("Practitioner", user_id)


def treated(protocol: Protocol, diagnoses: Iterable[Diagnosis]) -> tuple[Diagnosis, ...]:
    """The diagnoses whose code falls under an indication the protocol names (or the wider one
    it names: a chronic-pain protocol treats fibromyalgia), primary first."""
    return tuple(
        d
        for d in diagnoses
        if any(fit(protocol.indications, i.id) is not None for i in indications_for_code(d.code))
    )


# --- loading --------------------------------------------------------------------------------------


def visits_of(ctx: FhirContext, patient: Patient) -> list[Visit]:
    """Every session of the patient in the actor's clinic, oldest booking first."""
    rows = ctx.session.scalars(
        select(InfusionSession)
        .where(
            InfusionSession.patient_id == patient.id,
            InfusionSession.clinic_id == ctx.actor.clinic_id,
        )
        .order_by(InfusionSession.scheduled_at, InfusionSession.id)
        .options(selectinload(InfusionSession.events))
    ).all()
    lots = _lots(ctx, [r.id for r in rows])
    return [_visit(ctx, row, patient, lots.get(row.id, ())) for row in rows]


def _visit(ctx: FhirContext, row: InfusionSession, patient: Patient, lots: Sequence[Lot]) -> Visit:
    protocol = protocol_of(ctx.session, row)
    return Visit(
        row=row,
        patient=patient,
        protocol=protocol,
        treats=treated(protocol, patient.diagnoses),
        given=delivered(row),
        lots=tuple(lots),
    )


def _lots(ctx: FhirContext, session_ids: list[int]) -> dict[int, tuple[Lot, ...]]:
    """Per session, the ketamine lots drawn for it less those all returned, in drawn order."""
    if not session_ids:
        return {}
    rows = ctx.session.execute(
        select(
            LedgerEntry.session_id, LedgerEntry.kind, LedgerEntry.quantity_mg, StockLot, DrugProduct
        )
        .join(StockLot, StockLot.id == LedgerEntry.lot_id)
        .join(DrugProduct, DrugProduct.id == LedgerEntry.product_id)
        .where(
            LedgerEntry.session_id.in_(session_ids),
            LedgerEntry.clinic_id == ctx.actor.clinic_id,
            LedgerEntry.kind.in_([Movement.DRAW.value, Movement.RETURN.value]),
            DrugProduct.substance == KETAMINE,
        )
        .order_by(LedgerEntry.id)
    ).all()
    left: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    found: dict[tuple[int, int], Lot] = {}
    for session_id, kind, mg, lot, product in rows:
        assert session_id is not None
        key = (session_id, lot.id)
        left[key] += mg if kind == Movement.DRAW.value else -mg
        found.setdefault(
            key, Lot(lot.lot_number, lot.expiry_date.isoformat(), product.ndc, product.manufacturer)
        )
    result: dict[int, list[Lot]] = defaultdict(list)
    for (session_id, lot_id), drawn in found.items():
        if left[(session_id, lot_id)] > 0:
            result[session_id].append(drawn)
    return {sid: tuple(lots) for sid, lots in result.items()}


# --- reading one resource's patient ---------------------------------------------------------------

_SESSION_ID = "[1-9][0-9]{0,17}"


def session_id_of(resource_id: str, suffix: str | None = None) -> int | None:
    """The session id in ``resource_id`` (``12``, or ``12-<suffix>`` when ``suffix`` is a
    pattern), or None for an id this module never writes."""
    tail = "" if suffix is None else f"-(?:{suffix})"
    found = re.fullmatch(f"({_SESSION_ID}){tail}", resource_id)
    return int(found.group(1)) if found else None


def patient_of_session(ctx: FhirContext, session_id: int | None) -> Patient | None:
    """The session's patient, when the session is in the actor's clinic."""
    if session_id is None:
        return None
    row = ctx.session.get(InfusionSession, session_id)
    if row is None or row.clinic_id != ctx.actor.clinic_id:
        return None
    patient = ctx.session.get(Patient, row.patient_id)
    if patient is None or patient.clinic_id != ctx.actor.clinic_id:
        return None
    return patient
