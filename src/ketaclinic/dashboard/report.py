"""The dashboard as one value, and its CSV rows. Pure: the page and the export share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ketaclinic.dashboard.core import (
    AbandonmentLine,
    ChairLine,
    ResponderLine,
    SafetyLine,
    WeekCounts,
    Window,
)
from ketaclinic.labels import label

CSV_HEADER = ("table", "key", "metric", "value")


@dataclass(frozen=True)
class OverduePatient:
    patient_id: int
    name: str
    mrn: str
    last_measured_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    window: Window
    as_of: datetime
    weeks: list[WeekCounts]
    safety: list[SafetyLine]
    chairs: list[ChairLine]
    responders: list[ResponderLine]
    abandonment: list[AbandonmentLine]
    overdue_total: int
    overdue_shown: list[OverduePatient]


def csv_rows(board: Dashboard) -> list[tuple[str, str, str, str]]:
    """The tables in long form (table, key, metric, value): one header, any spreadsheet pivots
    it. Counts only: no patient is named, so the export carries no patient identity."""
    rows: list[tuple[str, str, str, str]] = [
        ("window", "", "from", board.window.first_day.isoformat()),
        ("window", "", "to", board.window.last_day.isoformat()),
        ("window", "", "clinic_id", str(board.window.clinic_id)),
    ]

    def add(table: str, key: str, metrics: dict[str, object]) -> None:
        rows.extend((table, key, name, str(value)) for name, value in metrics.items())

    for week in board.weeks:
        add(
            "sessions_per_week",
            week.week_start.isoformat(),
            {
                "booked": week.booked,
                "infused": week.infused,
                "discharged": week.discharged,
                "aborted": week.aborted,
                "cancelled_or_no_show": week.not_held,
            },
        )
    for r in board.responders:
        add(
            "responders",
            f"{label(r.indication_id)} | {r.protocol_key}",
            {
                "patients": r.patients,
                "pain_evaluable": r.pain_evaluable,
                "pain_responders": r.pain_responders,
                "pain_responder_percent": r.pain_percent,
                "depression_evaluable": r.depression_evaluable,
                "depression_responders": r.depression_responders,
                "depression_responder_percent": r.depression_percent,
            },
        )
    for s in board.safety:
        add(
            "safety",
            s.protocol_key or "all",
            {
                "infused": s.infused,
                "with_alert": s.with_alert,
                "alert_percent": s.alert_percent,
                "with_adverse_event": s.with_adverse_event,
                "adverse_event_percent": s.adverse_percent,
            },
        )
    for c in board.chairs:
        add(
            "chairs",
            c.chair,
            {
                "booked": c.booked,
                "infused": c.infused,
                "occupied_hours": c.occupied_hours,
                "booked_hours": c.booked_hours,
                "open_hours": c.open_hours,
                "booked_percent": "" if c.booked_percent is None else c.booked_percent,
                "used_percent": "" if c.used_percent is None else c.used_percent,
                "mean_minutes": "" if c.mean_minutes is None else c.mean_minutes,
            },
        )
    for a in board.abandonment:
        add(
            "abandoned_courses",
            a.protocol_key or "all",
            {"courses": a.courses, "abandoned": a.abandoned, "percent": a.abandoned_percent},
        )
    add("overdue_questionnaires", "", {"patients": board.overdue_total})
    return rows
