"""The records an inspector asks for, derived from the append-only ledger for any range of the
clinic's local dates (CODES.md §2.1):

- the dispensing/administration record of 21 CFR 1304.22(c) (patient, date, quantity, who gave it,
  and the witnessed wastage, which is recorded there and not as inventory);
- the initial or biennial inventory of 1304.11 (registrant, DEA number, date, opening or close of
  business, sealed containers and measured volumes of opened ones), as of the chosen moment;
- a lot's whole history, the receipts with their suppliers' DEA numbers, and the reconciliation
  of each session (drawn = administered + wasted + returned) with every mismatch listed.

Each report is a :class:`Report` of plain tables, so the page, the CSV and the PDF show the same
cells. Quantities are the ledger's exact values (10**-9 units), never rounded here. Reading a
report is audited once per view or export, by the caller (:func:`audit_report`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal_column, select, type_coerce
from sqlalchemy.orm import Session, selectinload

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.accounts.models import Clinic, User
from ketaclinic.audit import service as audit
from ketaclinic.db import ExactQuantity
from ketaclinic.errors import InvalidInput, NotFound
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.inventory import chain, core, service
from ketaclinic.inventory.core import Movement
from ketaclinic.inventory.models import (
    DrugProduct,
    LedgerEntry,
    ReceiptLine,
    StockLot,
    StockReceipt,
    StorageLocation,
)
from ketaclinic.patients.core import postal_address_lines
from ketaclinic.patients.models import Patient

Cell = str | Decimal | int | None
#: What the ledger's administration rows say where the patient record has no postal address.
NO_ADDRESS = "not on record"
#: Session events by which a nurse gives ketamine (the start, each rate, a resume, a bolus).
KETAMINE_EVENTS = ("start", "rate", "resume", "bolus")


class Kind(StrEnum):
    """The reports, by the name their page, file and audit event carry."""

    ADMINISTRATIONS = "administrations"
    BIENNIAL = "biennial"
    RECEIPTS = "receipts"
    RECONCILIATION = "reconciliation"
    LOT = "lot"


class Taken(StrEnum):
    """When an inventory is taken (1304.11(a): the record says which)."""

    OPENING = "opening"
    CLOSE = "close"


@dataclass(frozen=True)
class Period:
    """Whole local days ``first`` … ``last`` of the clinic, as UTC instants [start, end)."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, self.zone).astimezone(UTC)

    @property
    def scope(self) -> tuple[tuple[str, str], ...]:
        return (("from", self.first.isoformat()), ("to", self.last.isoformat()))

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()} ({self.zone.key})"


def period(first: date, last: date, zone: ZoneInfo) -> Period:
    """The range asked for, refused when it runs backwards."""
    if first > last:
        raise InvalidInput(
            f"from: {first.isoformat()} is after to ({last.isoformat()})", loc=("query", "from")
        )
    return Period(first, last, zone)


@dataclass(frozen=True)
class Table:
    title: str
    headings: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    empty: str
    #: Relative column widths for the PDF.
    widths: tuple[float, ...]


@dataclass(frozen=True)
class Report:
    kind: Kind
    title: str
    clinic: str
    facts: list[tuple[str, str]]
    tables: list[Table]
    notes: list[str] = field(default_factory=list)
    #: What was asked for, for the audit event: ids and dates, never patient data.
    scope: tuple[tuple[str, str], ...] = ()
    generated_at: datetime = field(default_factory=clock.now)

    @property
    def row_count(self) -> int:
        return sum(len(t.rows) for t in self.tables)


def exact(value: Decimal) -> str:
    """A ledger quantity as written, without an exponent or trailing zeros (never rounded)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return exact(value)
    return str(value)


def audit_report(session: Session, *, actor: Actor, report: Report, fmt: str) -> None:
    """One audit event per view or export, naming what was shown and never whom."""
    scope = " ".join(f"{k}={v}" for k, v in report.scope)
    detail = f"report={report.kind.value} format={fmt} {scope} rows={report.row_count}"
    audit.record(
        session, actor=actor, action=f"inventory.report.{report.kind.value}", detail=detail
    )


# --- Shared look-ups ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """The clinic's products, lots, locations and people, read once per report."""

    clinic: Clinic
    products: dict[int, DrugProduct]
    lots: dict[int, StockLot]
    locations: dict[int, StorageLocation]
    people: dict[int, User]

    def person(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        user = self.people.get(user_id)
        return f"{user.display_name} ({user.username})" if user else f"user {user_id}"

    def people_text(self, user_ids: Sequence[int]) -> str:
        return "; ".join(self.person(u) for u in user_ids)

    def product_text(self, product: DrugProduct) -> str:
        return (
            f"{product.substance} {exact(product.concentration_mg_per_ml)} mg/mL, "
            f"{exact(product.container_ml)} mL {product.form}"
        )


def catalogue(session: Session, clinic_id: int) -> Catalogue:
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    return Catalogue(
        clinic=clinic,
        products={p.id: p for p in service.products(session, clinic_id=clinic_id)},
        lots={
            lot.id: lot
            for lot in session.scalars(select(StockLot).where(StockLot.clinic_id == clinic_id))
        },
        locations={p.id: p for p in service.locations(session, clinic_id=clinic_id)},
        people={u.id: u for u in session.scalars(select(User).where(User.clinic_id == clinic_id))},
    )


def _registration_facts(session: Session, clinic_id: int) -> list[tuple[str, str]]:
    registrations = service.registrations(session, clinic_id=clinic_id)
    if not registrations:
        return [("Registrant", "no DEA registration recorded"), ("DEA number", "none")]
    reg = registrations[0]
    return [
        ("Registrant", reg.registrant_name),
        ("DEA number", reg.dea_number),
        ("Registered address", reg.address),
        ("Schedules", reg.schedules),
        ("Registration expires", reg.expires_date.isoformat()),
    ]


def _local(moment: datetime, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(zone).strftime(fmt)


def _in_period(query: Any, p: Period) -> Any:
    return query.where(LedgerEntry.at >= p.start, LedgerEntry.at < p.end)


# --- (a) The dispensing/administration record (1304.22(c)) --------------------------------------


def administrations(session: Session, *, clinic_id: int, period: Period) -> Report:
    """Every administration in the period with its patient, who gave it, and the wastage of the
    same lot for the same session with its witness. Dated by the start of the infusion."""
    cat = catalogue(session, clinic_id)
    # Plain rows, not ORM objects: a year's record is thousands of rows.
    given_query = _in_period(
        select(*_ENTRY_COLUMNS).where(
            LedgerEntry.clinic_id == clinic_id, LedgerEntry.kind == Movement.ADMINISTER.value
        ),
        period,
    )
    given = session.execute(given_query.order_by(LedgerEntry.at, LedgerEntry.id)).all()
    session_ids = _in_period(
        select(LedgerEntry.session_id).where(
            LedgerEntry.clinic_id == clinic_id, LedgerEntry.kind == Movement.ADMINISTER.value
        ),
        period,
    )
    wastes = {
        (w.session_id, w.lot_id): w
        for w in session.execute(
            select(*_ENTRY_COLUMNS).where(
                LedgerEntry.kind == Movement.WASTE.value, LedgerEntry.session_id.in_(session_ids)
            )
        )
    }
    patient_ids = _in_period(
        select(LedgerEntry.patient_id).where(
            LedgerEntry.clinic_id == clinic_id, LedgerEntry.kind == Movement.ADMINISTER.value
        ),
        period,
    )
    patients = {
        p.id: p
        for p in session.execute(
            select(
                Patient.id,
                Patient.family_name,
                Patient.given_name,
                Patient.mrn,
                Patient.address_line1,
                Patient.address_line2,
                Patient.address_city,
                Patient.address_state,
                Patient.address_zip,
            ).where(Patient.id.in_(patient_ids))
        )
    }
    givers, started = _givers(session, session_ids)
    rows: list[tuple[Cell, ...]] = []
    for entry in given:
        product = cat.products[entry.product_id]
        waste = wastes.get((entry.session_id, entry.lot_id))
        patient = patients.get(entry.patient_id) if entry.patient_id else None
        when = started.get(entry.session_id or 0, entry.at)
        substance_givers = givers.get((entry.session_id or 0, _giver_key(product.substance)), [])
        rows.append(
            (
                _local(when, period.zone, "%Y-%m-%d"),
                f"{patient.family_name}, {patient.given_name}" if patient else "",
                patient.mrn if patient else "",
                _address(patient),
                cat.product_text(product),
                core.format_ndc(product.ndc),
                cat.lots[entry.lot_id].lot_number,
                entry.quantity_mg,
                entry.volume_ml,
                cat.people_text(substance_givers) or cat.person(entry.by_user_id),
                waste.quantity_mg if waste else Decimal(0),
                waste.volume_ml if waste else Decimal(0),
                cat.person(waste.witness_user_id) if waste else "",
                cat.person(waste.by_user_id) if waste else "",
                (waste.manner or "") if waste else "",
                entry.session_id,
            )
        )
    headings = (
        "Date",
        "Patient",
        "MRN",
        "Patient address",
        "Substance",
        "NDC",
        "Lot",
        "Given mg",
        "Given mL",
        "Administered by",
        "Wasted mg",
        "Wasted mL",
        "Waste witness",
        "Waste recorded by",
        "Manner of waste",
        "Session",
    )
    table = Table(
        "Administrations and wastage",
        headings,
        rows,
        "No administration recorded in this period.",
        (2, 3, 2, 2, 4, 2.4, 1.6, 1.6, 1.6, 3, 1.6, 1.6, 3, 3, 3, 1.2),
    )
    return Report(
        Kind.ADMINISTRATIONS,
        "Dispensing and administration record (21 CFR 1304.22(c))",
        cat.clinic.name,
        [*_registration_facts(session, clinic_id), ("Period", period.label)],
        [table],
        [
            "Given quantities are derived from each session's recorded timeline (ketamine) or "
            "charted doses (adjuncts), never typed; wasted = drawn - given - returned, witnessed "
            "by a second licensed person.",
            "Dated by the start of the infusion; an administration is listed in the period in "
            "which its waste was recorded.",
            "The patient's address is the one on file when the record is made. Where it says "
            f"{NO_ADDRESS!r}, 1304.22(c) asks for one: record it on the patient's page "
            "before handing this record over.",
        ],
        scope=period.scope,
    )


def _address(patient: Any) -> str:
    """The patient's postal address on one line, or what the record says when none is on file."""
    if patient is None:
        return NO_ADDRESS
    return (
        postal_address_lines(
            patient.address_line1,
            patient.address_line2,
            patient.address_city,
            patient.address_state,
            patient.address_zip,
        )
        or NO_ADDRESS
    )


_ENTRY_COLUMNS = (
    LedgerEntry.at,
    LedgerEntry.by_user_id,
    LedgerEntry.witness_user_id,
    LedgerEntry.product_id,
    LedgerEntry.lot_id,
    LedgerEntry.session_id,
    LedgerEntry.patient_id,
    LedgerEntry.quantity_mg,
    LedgerEntry.volume_ml,
    LedgerEntry.manner,
)


def _giver_key(substance: str) -> str:
    return "ketamine" if substance == "ketamine" else f"adjunct:{substance}"


def _givers(
    session: Session, session_ids: Any
) -> tuple[dict[tuple[int, str], list[int]], dict[int, datetime]]:
    """Who gave each substance in each session (from its events, in order) and when each
    infusion started: one query for the whole report."""
    columns = (SessionEvent.session_id, SessionEvent.kind, SessionEvent.by_user_id, SessionEvent.at)
    order = (SessionEvent.at, SessionEvent.id)
    ketamine = session.execute(
        select(*columns)
        .where(SessionEvent.session_id.in_(session_ids), SessionEvent.kind.in_(KETAMINE_EVENTS))
        .order_by(*order)
    ).all()
    adjuncts = session.execute(
        select(*columns, SessionEvent.data)
        .where(SessionEvent.session_id.in_(session_ids), SessionEvent.kind == "adjunct")
        .order_by(*order)
    ).all()
    givers: dict[tuple[int, str], list[int]] = defaultdict(list)
    started: dict[int, datetime] = {}
    for sid, kind, user_id, at in ketamine:
        if user_id not in givers[(sid, "ketamine")]:
            givers[(sid, "ketamine")].append(user_id)
        if kind == "start":
            started.setdefault(sid, at)
    for sid, _, user_id, _, data in adjuncts:
        key = (sid, f"adjunct:{(data or {}).get('drug')}")
        if user_id not in givers[key]:
            givers[key].append(user_id)
    return givers, started


# --- (b) The initial or biennial inventory (1304.11) -------------------------------------------


#: Each entry's signed effect on the drug its session holds (``core.SESSION_SIGN``), written with
#: SQL negation: a multiplication by a bound sign would pass the sign through the exact type.
_SESSION_SIGNED = case(
    *(
        (
            LedgerEntry.kind == movement.value,
            LedgerEntry.quantity_mg if sign > 0 else -LedgerEntry.quantity_mg,
        )
        for movement, sign in core.SESSION_SIGN.items()
    ),
    else_=literal_column("0"),
)


def stock_at(session: Session, clinic_id: int, moment: datetime) -> dict[tuple[int, int], Decimal]:
    """On hand per (lot, location) just before ``moment``: the ledger's SUM up to it."""
    total = type_coerce(func.sum(LedgerEntry.stock_delta_mg), ExactQuantity())
    query = (
        select(LedgerEntry.lot_id, LedgerEntry.location_id, total)
        .where(
            LedgerEntry.clinic_id == clinic_id,
            LedgerEntry.location_id.is_not(None),
            LedgerEntry.at < moment,
        )
        .group_by(LedgerEntry.lot_id, LedgerEntry.location_id)
    )
    return {(lot, place): amount for lot, place, amount in session.execute(query) if place}


def in_sessions_at(session: Session, clinic_id: int, moment: datetime) -> dict[int, Decimal]:
    """Per lot, drug drawn for sessions and not yet given, wasted or returned before ``moment``."""
    total = type_coerce(func.sum(_SESSION_SIGNED), ExactQuantity())
    query = (
        select(LedgerEntry.lot_id, total)
        .where(
            LedgerEntry.clinic_id == clinic_id,
            LedgerEntry.session_id.is_not(None),
            LedgerEntry.at < moment,
        )
        .group_by(LedgerEntry.lot_id)
    )
    return {lot: Decimal(amount or 0) for lot, amount in session.execute(query)}


def movements_between(
    session: Session, clinic_id: int, start: datetime, end: datetime
) -> dict[tuple[int, str], Decimal]:
    """Per (lot, kind), the quantity moved in [start, end)."""
    total = type_coerce(func.sum(LedgerEntry.quantity_mg), ExactQuantity())
    query = (
        select(LedgerEntry.lot_id, LedgerEntry.kind, total)
        .where(LedgerEntry.clinic_id == clinic_id, LedgerEntry.at >= start, LedgerEntry.at < end)
        .group_by(LedgerEntry.lot_id, LedgerEntry.kind)
    )
    return {(lot, kind): amount for lot, kind, amount in session.execute(query)}


def sealed_and_opened(product: DrugProduct, on_hand_mg: Decimal) -> tuple[int, Decimal]:
    """Sealed containers and the measured volume of the opened one, from an amount on hand,
    on the clinic's practice of finishing an opened container before breaking a new seal. The
    total is exact; the split is what a physical count confirms."""
    container_mg = product.concentration_mg_per_ml * product.container_ml
    sealed = int(on_hand_mg // container_mg)
    return sealed, (on_hand_mg - sealed * container_mg) / product.concentration_mg_per_ml


#: Movements that bring drug into the registrant's hands or take it out of them, with their
#: sign: transfers, draws and returns only move it within the clinic.
_IN_AND_OUT: tuple[tuple[Movement, int], ...] = (
    (Movement.RECEIVE, 1),
    (Movement.RECEIPT_REVERSAL, -1),
    (Movement.ADMINISTER, -1),
    (Movement.WASTE, -1),
    (Movement.DISPOSE, -1),
    (Movement.LOSS, -1),
    (Movement.ADJUST, 1),  # an adjustment carries its own sign
)


def biennial(session: Session, *, clinic_id: int, period: Period, taken: Taken) -> Report:
    """The inventory at opening or close of business on the period's last day, and how the
    period's movements lead to it from the stock at opening of business on its first day."""
    cat = catalogue(session, clinic_id)
    moment = (
        period.end
        if taken is Taken.CLOSE
        else datetime.combine(period.last, time.min, period.zone).astimezone(UTC)
    )
    start = min(period.start, moment)
    stock = stock_at(session, clinic_id, moment)
    counted = _inventory_rows(cat, stock)
    drawn_now = in_sessions_at(session, clinic_id, moment)
    open_rows: list[tuple[Cell, ...]] = [
        (cat.product_text(cat.products[cat.lots[lot].product_id]), cat.lots[lot].lot_number, mg,
         mg / cat.products[cat.lots[lot].product_id].concentration_mg_per_ml)
        for lot, mg in sorted(drawn_now.items())
        if mg != 0
    ]  # fmt: skip
    summary = _summary_rows(
        cat,
        opening=_totals(
            stock_at(session, clinic_id, start), in_sessions_at(session, clinic_id, start)
        ),
        moved=movements_between(session, clinic_id, start, moment),
        closing=_totals(stock, drawn_now),
    )  # fmt: skip
    taken_text = f"{'opening' if taken is Taken.OPENING else 'close'} of business"
    return Report(
        Kind.BIENNIAL,
        "Controlled-substance inventory (21 CFR 1304.11)",
        cat.clinic.name,
        [
            *_registration_facts(session, clinic_id),
            ("Inventory date", period.last.isoformat()),
            (
                "Taken",
                f"{taken.value} ({taken_text}, {_local(moment, period.zone)} {period.zone.key})",
            ),
            ("Period", period.label),
        ],
        [
            Table(
                "Inventory: exact counts per product, lot and location",
                (
                    "Substance",
                    "Schedule",
                    "NDC",
                    "Lot",
                    "Expiry",
                    "Location",
                    "Sealed containers",
                    "Opened container mL",
                    "Total mL",
                    "Total mg",
                ),
                counted,
                "No controlled substance on hand.",
                (5, 1.4, 2.4, 1.6, 2, 2.4, 1.8, 1.8, 1.6, 1.6),
            ),
            Table(
                "Drawn for sessions and not yet given, wasted or returned at that moment",
                ("Substance", "Lot", "mg", "mL"),
                open_rows,
                "None: every session's drug is accounted for.",
                (6, 2, 2, 2),
            ),
            Table(
                "From the stock at opening of business on the first day to this inventory",
                (
                    "Substance",
                    "Lot",
                    "Opening mg",
                    "Received mg",
                    "Receipts reversed mg",
                    "Administered mg",
                    "Wasted mg",
                    "Disposed mg",
                    "Lost mg",
                    "Adjusted mg",
                    "Closing mg (movements)",
                    "Closing mg (on hand + drawn)",
                    "Agrees",
                ),
                summary,
                "No stock and no movement in this period.",
                (4, 1.6, 1.6, 1.6, 1.6, 1.6, 1.6, 1.6, 1.4, 1.6, 1.8, 1.8, 1.2),
            ),
        ],
        [
            "Counts are derived from the append-only ledger as of the moment above; a physical "
            "count by two people confirms them. Sealed containers assume an opened container is "
            "finished before a new seal is broken; the total is exact either way.",
            "Federal rule: an inventory every two years at least; your state's rules may be "
            "stricter (some ask for a yearly count).",
        ],
        scope=(*period.scope, ("taken", taken.value)),
    )


def _inventory_rows(
    cat: Catalogue, stock: dict[tuple[int, int], Decimal]
) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Any, ...]] = []
    stocked: set[int] = set()
    for (lot_id, place_id), mg in stock.items():
        if mg == 0:
            continue
        lot = cat.lots[lot_id]
        product = cat.products[lot.product_id]
        stocked.add(product.id)
        sealed, opened_ml = sealed_and_opened(product, mg)
        rows.append(
            (cat.product_text(product), product.schedule, core.format_ndc(product.ndc),
             lot.lot_number, lot.expiry_date.isoformat(), cat.locations[place_id].name, sealed,
             opened_ml, mg / product.concentration_mg_per_ml, mg)
        )  # fmt: skip
    for product in cat.products.values():
        if product.id not in stocked:  # 1304.11(e): a substance on hand at none is recorded as 0
            rows.append(
                (cat.product_text(product), product.schedule, core.format_ndc(product.ndc),
                 "none on hand", "", "", 0, Decimal(0), Decimal(0), Decimal(0))
            )  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[3], r[5]))
    return rows


def _totals(stock: dict[tuple[int, int], Decimal], drawn: dict[int, Decimal]) -> dict[int, Decimal]:
    """Per lot: on hand at every location plus drawn for open sessions."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for (lot_id, _), mg in stock.items():
        totals[lot_id] += mg
    for lot_id, mg in drawn.items():
        totals[lot_id] += mg
    return totals


def _summary_rows(
    cat: Catalogue,
    *,
    opening: dict[int, Decimal],
    moved: dict[tuple[int, str], Decimal],
    closing: dict[int, Decimal],
) -> list[tuple[Cell, ...]]:
    lots = sorted(
        {*opening, *closing, *(lot for lot, _ in moved)},
        key=lambda i: (cat.products[cat.lots[i].product_id].substance, cat.lots[i].lot_number),
    )
    rows: list[tuple[Cell, ...]] = []
    for lot_id in lots:
        lot = cat.lots[lot_id]
        amounts = [moved.get((lot_id, m.value), Decimal(0)) for m, _ in _IN_AND_OUT]
        start = opening.get(lot_id, Decimal(0))
        by_movements = start + sum(
            (sign * amount for (_, sign), amount in zip(_IN_AND_OUT, amounts, strict=True)),
            Decimal(0),
        )
        held = closing.get(lot_id, Decimal(0))
        if start == 0 and held == 0 and not any(amounts):
            continue
        rows.append(
            (cat.product_text(cat.products[lot.product_id]), lot.lot_number, start, *amounts,
             by_movements, held, "yes" if by_movements == held else "NO")
        )  # fmt: skip
    return rows


# --- (c) A lot's whole history --------------------------------------------------------------------


def lot_history(session: Session, *, clinic_id: int, lot_id: int, period: Period) -> Report:
    """Every entry of one lot in the period, with the lot's stock after each."""
    cat = catalogue(session, clinic_id)
    lot = cat.lots.get(lot_id)
    if lot is None:
        raise NotFound(f"no lot {lot_id} in your clinic", loc=("path", "lot_id"))
    product = cat.products[lot.product_id]
    before = sum(
        (mg for (lot_key, _), mg in stock_at(session, clinic_id, period.start).items()
         if lot_key == lot_id),
        Decimal(0),
    )  # fmt: skip
    entries = session.scalars(
        _in_period(select(LedgerEntry).where(LedgerEntry.lot_id == lot_id), period).order_by(
            LedgerEntry.at, LedgerEntry.id
        )
    ).all()
    rows: list[tuple[Cell, ...]] = []
    held = before
    for e in entries:
        held += e.stock_delta_mg
        rows.append(
            (_local(e.at, period.zone), e.kind.replace("_", " "),
             cat.locations[e.location_id].name if e.location_id else "",
             e.containers, e.quantity_mg, e.volume_ml, held, cat.person(e.by_user_id),
             cat.person(e.witness_user_id), e.session_id, e.receipt_id, e.reason or e.manner or "")
        )  # fmt: skip
    return Report(
        Kind.LOT,
        f"History of lot {lot.lot_number}",
        cat.clinic.name,
        [
            *_registration_facts(session, clinic_id),
            ("Lot id", str(lot.id)),
            ("Lot", lot.lot_number),
            ("Product", cat.product_text(product)),
            ("NDC", core.format_ndc(product.ndc)),
            ("Manufacturer", product.manufacturer),
            ("Expiry", lot.expiry_date.isoformat()),
            ("Period", period.label),
            ("In stock at the start of the period", f"{exact(before)} mg"),
        ],
        [
            Table(
                "Entries",
                (
                    "When",
                    "Movement",
                    "Location",
                    "Containers",
                    "mg",
                    "mL",
                    "In stock after mg",
                    "By",
                    "Witness",
                    "Session",
                    "Receipt",
                    "Reason or manner",
                ),
                rows,
                "No entry for this lot in this period.",
                (2.4, 2, 2, 1.4, 1.4, 1.4, 1.8, 3, 3, 1.2, 1.2, 3.4),
            )
        ],
        ["In stock = at every locked location; drug drawn for a session has left stock."],
        scope=(("lot_id", str(lot.id)), *period.scope),
    )


# --- (d) Receipts with the suppliers' DEA numbers ----------------------------------------------


def receipts(session: Session, *, clinic_id: int, period: Period) -> Report:
    """Every receipt dated in the period (by its date received), line by line."""
    cat = catalogue(session, clinic_id)
    query = (
        select(StockReceipt, ReceiptLine)
        .join(ReceiptLine, ReceiptLine.receipt_id == StockReceipt.id)
        .where(
            StockReceipt.clinic_id == clinic_id,
            StockReceipt.received_date >= period.first,
            StockReceipt.received_date <= period.last,
        )
        .order_by(StockReceipt.received_date, StockReceipt.id, ReceiptLine.id)
    )
    reversed_ids = set(
        session.scalars(
            select(LedgerEntry.receipt_id).where(
                LedgerEntry.clinic_id == clinic_id,
                LedgerEntry.kind == Movement.RECEIPT_REVERSAL.value,
            )
        )
    )
    rows: list[tuple[Cell, ...]] = []
    for receipt, line in session.execute(query).all():
        lot = cat.lots[line.lot_id]
        product = cat.products[lot.product_id]
        mg = core.quantity_of(service.core_product(product), containers=line.containers).mg
        if receipt.confirmed_by_user_id is None:
            status = "awaiting a second person"
        elif receipt.id in reversed_ids:
            status = "reversed"
        else:
            status = "confirmed"
        rows.append(
            (receipt.received_date.isoformat(), receipt.id, receipt.supplier_name,
             receipt.supplier_address, receipt.supplier_dea_number, receipt.invoice_number,
             cat.product_text(product), core.format_ndc(product.ndc), lot.lot_number,
             lot.expiry_date.isoformat(), line.containers, mg,
             cat.locations[receipt.location_id].name, cat.person(receipt.entered_by_user_id),
             cat.person(receipt.confirmed_by_user_id), status)
        )  # fmt: skip
    return Report(
        Kind.RECEIPTS,
        "Receipts (21 CFR 1304.22(c))",
        cat.clinic.name,
        [*_registration_facts(session, clinic_id), ("Period", period.label)],
        [
            Table(
                "Containers received",
                (
                    "Received",
                    "Receipt",
                    "Supplier",
                    "Supplier address",
                    "Supplier DEA number",
                    "Invoice",
                    "Substance",
                    "NDC",
                    "Lot",
                    "Expiry",
                    "Containers",
                    "mg",
                    "Location",
                    "Entered by",
                    "Confirmed by",
                    "Status",
                ),
                rows,
                "No receipt dated in this period.",
                (2, 1.2, 3, 3, 2.2, 1.8, 4, 2.4, 1.6, 2, 1.4, 1.4, 2, 2.6, 2.6, 2),
            )
        ],
        [
            "A receipt enters stock once a second person confirms the count; one entered in "
            "error is reversed with a reason, never edited."
        ],
        scope=period.scope,
    )


# --- (e) Reconciliation per session ------------------------------------------------------------


@dataclass(frozen=True)
class SessionCheck:
    session_id: int
    state: str
    day: str
    lots: str
    drawn_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    returned_mg: Decimal
    status: str

    @property
    def needs_attention(self) -> bool:
        return self.status not in ("balanced", "in progress")

    def row(self) -> tuple[Cell, ...]:
        unaccounted = self.drawn_mg - self.administered_mg - self.wasted_mg - self.returned_mg
        return (self.session_id, self.day, self.state.replace("_", " "), self.lots,
                self.drawn_mg, self.administered_mg, self.wasted_mg, self.returned_mg,
                unaccounted, self.status)  # fmt: skip


def session_checks(session: Session, *, clinic_id: int, period: Period) -> list[SessionCheck]:
    """Each session with a ledger entry in the period, checked: drawn = administered + wasted +
    returned, and the administered amount still equal to what the timeline derives."""
    ids = _in_period(
        select(LedgerEntry.session_id).where(
            LedgerEntry.clinic_id == clinic_id, LedgerEntry.session_id.is_not(None)
        ),
        period,
    )
    total = type_coerce(func.sum(LedgerEntry.quantity_mg), ExactQuantity())
    sums: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    by_substance: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    lots: dict[int, list[str]] = defaultdict(list)
    query = (
        select(LedgerEntry.session_id, LedgerEntry.kind, DrugProduct.substance,
               StockLot.lot_number, total)
        .join(DrugProduct, DrugProduct.id == LedgerEntry.product_id)
        .join(StockLot, StockLot.id == LedgerEntry.lot_id)
        .where(LedgerEntry.session_id.in_(ids))
        .group_by(LedgerEntry.session_id, LedgerEntry.kind, DrugProduct.substance,
                  StockLot.lot_number)
    )  # fmt: skip
    for sid, kind, substance, lot_number, amount in session.execute(query):
        if sid is None:
            continue
        sums[sid][kind] += amount
        if kind == Movement.ADMINISTER.value:
            by_substance[sid][substance] += amount
        if lot_number not in lots[sid]:
            lots[sid].append(lot_number)
    rows = session.scalars(
        select(InfusionSession)
        .where(InfusionSession.id.in_(ids))
        .options(selectinload(InfusionSession.events))
        .order_by(InfusionSession.scheduled_at, InfusionSession.id)
    ).all()
    checks = []
    for row in rows:
        status = _status(row, dict(sums[row.id]), dict(by_substance[row.id]))
        kinds: dict[str, Decimal] = defaultdict(Decimal, sums[row.id])
        checks.append(
            SessionCheck(
                session_id=row.id,
                state=row.state,
                day=_local(row.scheduled_at, period.zone, "%Y-%m-%d"),
                lots=", ".join(sorted(lots[row.id])),
                drawn_mg=kinds[Movement.DRAW.value],
                administered_mg=kinds[Movement.ADMINISTER.value],
                wasted_mg=kinds[Movement.WASTE.value],
                returned_mg=kinds[Movement.RETURN.value],
                status=status,
            )
        )
    return checks


def _status(row: InfusionSession, kinds: dict[str, Decimal], given: dict[str, Decimal]) -> str:
    if Movement.ADMINISTER.value not in kinds:
        return "waste not recorded" if row.state in chain.WASTE_STATES else "in progress"
    unaccounted = kinds.get(Movement.DRAW.value, Decimal(0)) - sum(
        (
            kinds.get(m.value, Decimal(0))
            for m in (Movement.ADMINISTER, Movement.WASTE, Movement.RETURN)
        ),
        Decimal(0),
    )
    problems = []
    if unaccounted != 0:
        problems.append(f"mismatch: {exact(unaccounted)} mg drawn is not accounted for")
    for substance, ledger_mg in sorted(given.items()):
        timeline = chain.administered_mg(row, substance).quantize(
            chain.LEDGER_QUANTUM, ROUND_HALF_EVEN
        )
        if timeline != ledger_mg:
            problems.append(
                f"mismatch: the ledger says {exact(ledger_mg)} mg of {substance} was given, "
                f"the record now says {exact(timeline)} mg"
            )
    return "; ".join(problems) or "balanced"


def reconciliation(session: Session, *, clinic_id: int, period: Period) -> Report:
    cat = catalogue(session, clinic_id)
    checks = session_checks(session, clinic_id=clinic_id, period=period)
    headings = ("Session", "Day", "State", "Lots", "Drawn mg", "Administered mg", "Wasted mg",
                "Returned mg", "Unaccounted mg", "Status")  # fmt: skip
    widths = (1.2, 2, 1.8, 2, 1.6, 1.8, 1.6, 1.6, 1.8, 6)
    attention = [c for c in checks if c.needs_attention]
    return Report(
        Kind.RECONCILIATION,
        "Reconciliation per session (drawn = administered + wasted + returned)",
        cat.clinic.name,
        [
            *_registration_facts(session, clinic_id),
            ("Period", period.label),
            ("Sessions", str(len(checks))),
            ("Needing attention", str(len(attention))),
        ],
        [
            Table(
                "Mismatches and sessions with unrecorded waste",
                headings,
                [c.row() for c in attention],
                "None: every session in this period balances.",
                widths,
            ),
            Table("Every session", headings, [c.row() for c in checks], "No session.", widths),
        ],
        [
            "Administered is checked again against the session's record as it reads today, so "
            "a dose corrected after the waste was recorded shows here as a mismatch.",
            "The software supports, not replaces, the judgement of the people who investigate "
            "a mismatch.",
        ],
        scope=period.scope,
    )


def lots_of(session: Session, clinic_id: int) -> Sequence[tuple[StockLot, DrugProduct]]:
    """The clinic's lots, for choosing one's history."""
    query = (
        select(StockLot, DrugProduct)
        .join(DrugProduct, DrugProduct.id == StockLot.product_id)
        .where(StockLot.clinic_id == clinic_id)
        .order_by(DrugProduct.substance, StockLot.expiry_date, StockLot.lot_number)
    )
    return list(session.execute(query).all())
