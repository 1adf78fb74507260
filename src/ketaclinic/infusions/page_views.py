"""What the chairside pages show, built from a stored session: the timeline a nurse reads at a
glance, the board's row per chair, and the numbers the charts hand to Plotly.

Kept apart from the routes so that the wording of a timeline line, the board's columns and the
chart's data can be read (and tested) without a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.models import User
from ketaclinic.infusions import service
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.infusions.pump import show, stopped_early
from ketaclinic.infusions.timeline import Delivered
from ketaclinic.labels import label, labelled
from ketaclinic.patients.core import age_in_years
from ketaclinic.patients.models import Patient
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import Patient as PkPatient
from ketaclinic.pk.pages import chart_data
from ketaclinic.pk.simulate import simulate
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling.models import Chair
from ketaclinic.web.chart_axes import clock_axis

PK_MODEL = "domino"  # the adult model the dose plan page draws with
#: The curve after the stop is drawn for the clinic's minimum observation (DESIGN §3).
AFTER_STOP_MIN = 60
#: Enough points for a smooth curve, few enough for a tablet.
CHART_POINTS = 600

VITAL_LABELS = (
    ("systolic_mmhg", "SBP"),
    ("diastolic_mmhg", "DBP"),
    ("heart_rate_per_min", "HR"),
    ("spo2_percent", "SpO2"),
    ("resp_rate_per_min", "RR"),
)
_CONTEXT = {"pre": "before the infusion", "during": "", "observation": "observation"}
_MOVE_WORDS = {
    "check_in": "Checked in",
    "start": "Infusion started",
    "pause": "Paused",
    "resume": "Resumed",
    "stop": "Infusion stopped; observation begins",
    "abort": "Aborted",
    "cancel": "Cancelled",
    "reschedule": "Booking moved",
    "mark_no_show": "Marked as no-show",
    "discharge": "Discharged",
    "verify": "Order verified (second check)",
    "clearance": "Physician clearance",
    "bp_decision": "Physician decision on blood pressure",
}


def number(value: Decimal | float | int | str | None, places: int = 2) -> str:
    """A recorded number for people: at most ``places`` decimals, no trailing zeros."""
    if value is None:
        return "—"
    exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = format(exact.normalize(), "f")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Line:
    """One timeline entry: when, what, by whom, and the values."""

    at: datetime
    what: str
    by: str
    values: str = ""
    kind: str = ""
    warn: bool = False
    # Charting corrections (issue 11): which entry, a late entry's typing time, and who marked
    # it entered in error, when and why (or when an alert was withdrawn with its reading).
    event_id: int | None = None
    recorded_at: datetime | None = None
    error_at: datetime | None = None
    error_by: str = ""
    error_reason: str = ""
    observed_at: datetime | None = None


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(wanted))
    )
    return {uid: display or username for uid, display, username in rows}


def vitals_text(data: Mapping[str, Any]) -> str:
    parts = []
    if "systolic_mmhg" in data and "diastolic_mmhg" in data:
        parts.append(f"BP {data['systolic_mmhg']}/{data['diastolic_mmhg']}")
    parts += [f"{label} {data[name]}" for name, label in VITAL_LABELS[2:] if name in data]
    return ", ".join(parts)


def _blind_check_text(read: Mapping[str, Any]) -> str:
    """What the verifier read on the pump, as they typed it."""
    drug, concentration = read.get("drug", ""), read.get("concentration_mg_per_ml", "")
    rate, volume = read.get("rate_ml_per_h", ""), read.get("volume_to_be_infused_ml", "")
    return f"blind check: {drug} {concentration} mg/mL, {rate} mL/h, to infuse {volume} mL"


def _describe(event: SessionEvent) -> tuple[str, str, bool]:
    """``(what, values, warn)`` for one stored event."""
    data, reason = event.data or {}, event.reason or ""
    kind = event.kind
    if kind == "vitals":
        context = _CONTEXT.get(str(data.get("context", "")), "")
        what = "Vitals" + (f" ({context})" if context else "")
        return what, vitals_text(data), bool(data.get("bp_block"))
    if kind == "order":
        pump = number(data.get("pump_rate_ml_per_h"))
        return "Order signed", f"pump {pump} mL/h ({number(event.rate_mg_per_h)} mg/h)", False
    if kind == "start":
        return "Infusion started", f"{number(event.rate_mg_per_h)} mg/h", False
    if kind == "rate":
        values = f"{show(event.rate_mg_per_h)} mg/h" if event.rate_mg_per_h is not None else ""
        if "pump_rate_ml_per_h" in data:
            values = f"{show(Decimal(str(data['pump_rate_ml_per_h'])))} mL/h = {values}"
        return "Rate changed", values + (f" — {reason}" if reason else ""), False
    if kind == "verify" and isinstance(data.get("read"), dict):
        return _MOVE_WORDS["verify"], _blind_check_text(data["read"]), False
    if kind == "stop":
        early = stopped_early(data, reason)
        if early is not None:
            return "Infusion stopped early; observation begins", early, True
        return _MOVE_WORDS["stop"], reason, False
    if kind == "side_effects":
        items = data.get("assessments", [])
        text = ", ".join(f"{label(a.get('effect', '?'))} {a.get('grade', '?')}" for a in items)
        return "Side effects", text.replace("sedation ", "MOAA/S "), False
    if kind == "adjunct":
        given = f"{data.get('drug', '')} {number(data.get('dose'), 3)} {data.get('unit', '')}"
        return "Adjunct given", f"{given} {data.get('route', '')} — {reason}".strip(" —"), False
    if kind == "bolus":
        return "Bolus", f"{number(data.get('dose_mg'), 3)} mg — {reason}".strip(" —"), False
    if kind == "check_in":
        blocks = labelled(list(data.get("blocks", [])))
        return "Checked in", (f"blocks start: {blocks}" if blocks else ""), bool(blocks)
    what = _MOVE_WORDS.get(kind, kind.replace("_", " ").capitalize())
    return what, reason, kind == "abort"


#: What a blind verifier sees instead of the order's values.
BLIND_TEXT = "values hidden until your blind check"


def blind(lines: list[Line]) -> list[Line]:
    """The timeline for a nurse about to do the blind check: the order's values are not shown
    before they type what the pump reads."""
    return [replace(line, values=BLIND_TEXT) if line.kind == "order" else line for line in lines]


def timeline_lines(session: Session, row: InfusionSession) -> list[Line]:
    """Newest first: the nurse looks for what just happened, not how the day began."""
    ids = [e.by_user_id for e in row.events] + [e.entered_in_error_by_user_id for e in row.events]
    names = user_names(session, ids)
    lines = []
    for event in row.events:
        what, values, warn = _describe(event)
        by = names.get(event.by_user_id, f"user {event.by_user_id}")
        lines.append(
            Line(event.at, what, by, values, event.kind, warn, **_correction(event, names))
        )
    for alert in row.alerts:
        late = alert.observed_at if alert.observed_at != alert.raised_at else None
        lines.append(
            Line(alert.raised_at, "Alert", "monitoring rules", alert.message, "alert",
                 alert.withdrawn_at is None, error_at=alert.withdrawn_at, observed_at=late)
        )  # fmt: skip
    lines.sort(key=lambda line: line.at, reverse=True)
    return lines


def _correction(event: SessionEvent, names: Mapping[int, str]) -> dict[str, Any]:
    """The timeline's correction fields of one event (issue 11)."""
    marker = event.entered_in_error_by_user_id
    return {
        "event_id": event.id,
        "recorded_at": event.recorded_at if event.is_late_entry else None,
        "error_at": event.entered_in_error_at,
        "error_by": "" if marker is None else names.get(marker, f"user {marker}"),
        "error_reason": event.entered_in_error_reason or "",
    }


@dataclass
class Chart:
    """The numbers ``session.js`` draws, or why there is no concentration curve."""

    data: dict[str, Any] = field(default_factory=dict)
    pk_problem: str | None = None
    warnings: tuple[str, ...] = ()


def _local_iso(at: datetime, zone: ZoneInfo) -> str:
    # Plotly draws a zone-less ISO time as it is written: the clinic's wall clock.
    return at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def chart(row: InfusionSession, patient: Patient, given: Delivered | None, zone: ZoneInfo) -> Chart:
    """Predicted concentrations for what was actually given, and the vitals, on one clock axis."""
    result = Chart()
    vitals = [e for e in row.events if e.kind == "vitals" and not e.in_error]
    result.data["xaxis"] = clock_axis(e.at.astimezone(zone) for e in vitals)
    result.data["vitals"] = {
        "times": [_local_iso(e.at, zone) for e in vitals],
        **{name: [e.data.get(name) for e in vitals] for name, _ in VITAL_LABELS},
        "labels": dict(VITAL_LABELS),
    }
    if given is None:
        result.pk_problem = "The predicted concentration is drawn once the infusion has started."
        return result
    weight = patient.current_weight
    if weight is None:
        result.pk_problem = "No weight on record, so the concentration cannot be predicted."
        return result
    now = clock.now()
    until_min = _minutes(given.ended_at - given.started_at)
    if not given.running:
        until_min = max(until_min + AFTER_STOP_MIN, _minutes(now - given.started_at))
    until_min = max(until_min, 1.0)
    age = age_in_years(patient.birth_date, now.date())
    try:
        sim = simulate(
            PK_MODEL,
            PkPatient(float(weight.weight_kg), age),
            given.to_pk_schedule(),
            UniformGrid.until(until_min, max(until_min / CHART_POINTS, 1 / 60)),
        )
    except PkInputError as error:
        result.pk_problem = f"The concentration cannot be predicted: {error.msg}"
        return result
    pk = chart_data(sim)
    pk["times"] = [
        _local_iso(given.started_at + timedelta(minutes=t), zone) for t in pk.pop("times_min")
    ]
    result.data["pk"] = pk
    drawn = [datetime.fromisoformat(t) for t in pk["times"] + result.data["vitals"]["times"]]
    result.data["xaxis"] = clock_axis(drawn)
    result.warnings = sim.warnings
    return result


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


# --- the board ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    """One chair on today's board; times are instants, shown relative to now by the template."""

    session_id: int
    chair_id: int
    chair: str
    patient: str
    mrn: str
    state: str
    scheduled_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    infusing_min: Decimal | None
    paused_min: Decimal | None
    vitals_due_at: datetime | None
    open_alerts: int
    earliest_discharge_at: datetime | None
    blocks: tuple[str, ...]
    protocol: str


def board_rows(session: Session, rows: Iterable[InfusionSession]) -> list[BoardRow]:
    """One row per session, by time. Patients and protocols are read in one query each (and held
    here, so the identity map keeps them for the row helpers that look them up again)."""
    rows = list(rows)
    patients = {
        p.id: p
        for p in session.scalars(
            select(Patient).where(Patient.id.in_({row.patient_id for row in rows}))
        )
    }
    protocols = {
        p.id: p
        for p in session.scalars(
            select(ProtocolVersion).where(
                ProtocolVersion.id.in_({row.protocol_version_id for row in rows})
            )
        )
    }
    result = []
    for row in rows:
        patient = patients.get(row.patient_id)
        protocol = protocols.get(row.protocol_version_id)
        assert patient is not None and protocol is not None  # foreign keys
        given = service.delivered(row)
        result.append(
            BoardRow(
                session_id=row.id,
                chair_id=row.chair_id,
                chair=row.chair.name,
                patient=f"{patient.family_name}, {patient.given_name}",
                mrn=patient.mrn,
                state=row.state,
                scheduled_at=row.scheduled_at,
                started_at=given.started_at if given else None,
                ended_at=None if given is None or given.running else given.ended_at,
                infusing_min=given.infusing_min if given else None,
                paused_min=given.paused_min if given else None,
                vitals_due_at=service.vitals_due_at(session, row),
                open_alerts=sum(1 for a in row.alerts if a.is_open),
                earliest_discharge_at=service.earliest_discharge(session, row),
                blocks=tuple(service.open_blocks(row)),
                protocol=f"{protocol.name} v{protocol.version}",
            )
        )
    result.sort(key=lambda r: (r.scheduled_at, r.session_id))
    return result


#: Off the floor: the chair is free again and the board does not show them.
OFF_FLOOR = frozenset({"cancelled", "no_show"})
#: In the chair now.
IN_CHAIR = frozenset({"checked_in", "infusing", "paused", "observing"})


@dataclass(frozen=True)
class ChairCard:
    """One active chair on today's board: who is in it (or next, or was last), and the day's
    later bookings of the chair."""

    chair_id: int
    name: str
    room: str | None
    current: BoardRow | None
    later: tuple[BoardRow, ...]


def chair_cards(chairs: Sequence[Chair], rows: Sequence[BoardRow]) -> list[ChairCard]:
    """One card per chair in the clinic's order, even an empty one. Cancelled and no-show
    sessions are left off; the card shows the session in the chair, else the next booked one,
    else the last finished one, and lists the chair's bookings after it."""
    cards = []
    for chair in chairs:
        mine = [r for r in rows if r.chair_id == chair.id and r.state not in OFF_FLOOR]
        current = (
            next((r for r in mine if r.state in IN_CHAIR), None)
            or next((r for r in mine if r.state == "scheduled"), None)
            or (mine[-1] if mine else None)
        )
        later = tuple(
            r
            for r in mine
            if r is not current
            and r.state == "scheduled"
            and (current is None or r.scheduled_at >= current.scheduled_at)
        )
        cards.append(ChairCard(chair.id, chair.name, chair.room, current, later))
    return cards
