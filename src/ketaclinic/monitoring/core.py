"""Monitoring entry points: one bedside check in, alerts out; and the rules of charting it. Pure.

The rule, assessment and adjunct tables live in their own modules; this one joins vitals and
side-effect assessments into one reading so that severe side effects and deep sedation are judged
by the same rules as the vital signs. It also holds the three rules of a chart that can be
trusted: a value beyond its plausibility band is stored only once the nurse confirms it, a late
entry carries the time it was observed within a clinic-policy window, and a charted entry is
marked entered in error (never deleted) by its author or a physician.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from ketaclinic.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.monitoring.adjuncts import ADJUNCTS, Adjunct, Route, check_adjunct
from ketaclinic.monitoring.alerts import (
    DEFAULT_RULES,
    Action,
    Alert,
    AlertRule,
    AlertSeverity,
    Comparison,
    Watch,
    evaluate,
)
from ketaclinic.monitoring.side_effects import (
    MOAA_S_LEVELS,
    SIDE_EFFECTS,
    Assessment,
    Severity,
    reading_from_assessments,
    validate_assessment,
)

__all__ = [
    "ADJUNCTS",
    "CORRECTABLE_KINDS",
    "DEFAULT_RULES",
    "MOAA_S_LEVELS",
    "PLAUSIBILITY_BANDS",
    "SIDE_EFFECTS",
    "Action",
    "Adjunct",
    "Alert",
    "AlertRule",
    "AlertSeverity",
    "Assessment",
    "Band",
    "Comparison",
    "Implausible",
    "ImplausibleValues",
    "Route",
    "Severity",
    "Watch",
    "alerts_for",
    "check_adjunct",
    "check_correction",
    "check_plausible",
    "evaluate",
    "implausible_values",
    "late_entry_problem",
    "reading_from_assessments",
    "validate_assessment",
]


def alerts_for(
    vitals: Mapping[str, int],
    assessments: Iterable[Assessment] = (),
    rules: Iterable[AlertRule] = DEFAULT_RULES,
) -> tuple[Alert, ...]:
    """Alerts for one bedside check: ``vitals`` (any subset of the vital keys) and assessments.

    Sedation and side-effect grades come only from ``assessments``; putting them in ``vitals``
    too would give two answers for one value, so it is refused.
    """
    from_assessments = reading_from_assessments(assessments)
    for key in from_assessments.keys() & vitals.keys():
        raise InvalidInput(f"{key} comes from the assessments, not the vitals", loc=(key,))
    return evaluate(rules, {**vitals, **from_assessments})


# --- plausibility bands ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """Where a reading is plausible; beyond it (but within the possible range of
    ``vitals.core.PLAUSIBLE``) it is stored only once the nurse confirms it was re-checked."""

    label: str
    low: int
    high: int
    unit: str

    def holds(self, value: int) -> bool:
        return self.low <= value <= self.high


#: Clinic policy: no published plausibility band for bedside readings was found
#: (/work/shared/clinical has none). Each band is far beyond the alert thresholds of
#: ``alerts.DEFAULT_RULES`` (SBP >180, HR >110, SpO2 <90…), so a reading that alerts is never asked
#: for a confirmation unless it is also extreme: systolic > 250, heart rate > 200 and SpO2 < 70
#: are the issue's examples; the other bounds are set in the same spirit.
PLAUSIBILITY_BANDS: Mapping[str, Band] = {
    "systolic_mmhg": Band("systolic BP", 70, 250, "mmHg"),
    "diastolic_mmhg": Band("diastolic BP", 30, 150, "mmHg"),
    "heart_rate_per_min": Band("heart rate", 30, 200, "/min"),
    "spo2_percent": Band("SpO2", 70, 100, "%"),
    "resp_rate_per_min": Band("respiratory rate", 6, 40, "/min"),
}


@dataclass(frozen=True)
class Implausible:
    """One value beyond its band: what the refusal and the confirmation box say."""

    field: str
    value: int
    band: Band

    @property
    def message(self) -> str:
        return (
            f"{self.band.label} {self.value} {self.band.unit} is outside the plausibility band "
            f"{self.band.low}–{self.band.high} {self.band.unit} (clinic policy): re-check it, "
            "then confirm it (confirm_implausible) to store it"
        )

    @property
    def page_message(self) -> str:
        """The same refusal in the page's words: the box to tick sits below the form."""
        return (
            f"{self.band.label} {self.value} {self.band.unit} is outside the plausibility band "
            f"{self.band.low}–{self.band.high} {self.band.unit} (clinic policy): re-check it, "
            "then tick the box below to store it"
        )

    @property
    def confirmation(self) -> str:
        return f"Yes, I re-checked: {self.band.label} {self.value} {self.band.unit} is right"


class ImplausibleValues(InvalidInput):
    """Values beyond their plausibility band, sent without ``confirm_implausible``; one detail
    per value, each naming its field, the value and the band. Nothing is stored."""

    def __init__(self, findings: tuple[Implausible, ...]) -> None:
        first = findings[0]
        super().__init__("; ".join(f.message for f in findings), loc=("body", first.field))
        self.findings = findings

    def detail(self) -> list[dict[str, object]]:
        return [
            {"loc": ["body", f.field], "msg": f.message, "type": type(self).__name__}
            for f in self.findings
        ]


def implausible_values(
    reading: Mapping[str, int], bands: Mapping[str, Band] = PLAUSIBILITY_BANDS
) -> tuple[Implausible, ...]:
    """Every value of ``reading`` beyond its band, in the bands' order; unbanded keys pass."""
    return tuple(
        Implausible(name, reading[name], band)
        for name, band in bands.items()
        if name in reading and not band.holds(reading[name])
    )


def check_plausible(
    reading: Mapping[str, int],
    *,
    confirmed: bool,
    bands: Mapping[str, Band] = PLAUSIBILITY_BANDS,
) -> None:
    """Refuse a reading with a value beyond its band unless the nurse confirmed it."""
    findings = implausible_values(reading, bands)
    if findings and not confirmed:
        raise ImplausibleValues(findings)


# --- late entries ---------------------------------------------------------------------------------


def late_entry_problem(
    observed_at: datetime,
    *,
    now: datetime,
    checked_in_at: datetime | None,
    max_late_min: int,
    zone: tzinfo,
) -> str | None:
    """Why ``observed_at`` cannot be the time of an entry typed in at ``now``, or None.

    Never in the future, never more than ``max_late_min`` minutes back (clinic policy,
    ``KETACLINIC_LATE_ENTRY_MAX_MIN``), never before the session's check-in. Times in the message
    are the clinic's clock (``zone``), to the minute.
    """
    if observed_at > now:
        return f"the observed time {_clock(observed_at, zone)} is in the future"
    earliest = now - timedelta(minutes=max_late_min)
    if observed_at < earliest:
        return (
            f"the observed time {_clock(observed_at, zone)} is more than {max_late_min} min ago "
            f"(clinic policy: a late entry goes back to {_clock(earliest, zone)} at most)"
        )
    if checked_in_at is not None and observed_at < checked_in_at:
        return (
            f"the observed time {_clock(observed_at, zone)} is before the check-in at "
            f"{_clock(checked_in_at, zone)}"
        )
    return None


def _clock(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


# --- entered in error -----------------------------------------------------------------------------

#: What a nurse charts beside the session and may correct; moves and dose decisions are not.
CORRECTABLE_KINDS: Mapping[str, str] = {
    "vitals": "vitals",
    "side_effects": "side-effect assessment",
    "adjunct": "adjunct medication",
}


class Corrector(StrEnum):
    AUTHOR = "author"
    PHYSICIAN = "physician"


def check_correction(
    *,
    kind: str,
    author_id: int,
    actor_id: int,
    actor_is_physician: bool,
    already_marked: bool,
) -> Corrector:
    """Who may mark a charted entry entered in error: its author or a physician, once, and only
    an observation (``CORRECTABLE_KINDS``). Returns in which capacity; refuses with
    ``Conflict`` (not an observation, already marked) or ``Forbidden`` (anyone else)."""
    what = CORRECTABLE_KINDS.get(kind)
    if what is None:
        allowed = ", ".join(CORRECTABLE_KINDS.values())
        raise Conflict(
            f"only charted {allowed} can be marked entered in error; this entry is a {kind}",
            loc=("path", "event_id"),
        )
    if already_marked:
        raise Conflict(f"this {what} is already marked entered in error", loc=("path", "event_id"))
    if actor_id == author_id:
        return Corrector.AUTHOR
    if actor_is_physician:
        return Corrector.PHYSICIAN
    raise Forbidden(
        f"only the person who charted this {what} or a physician may mark it entered in error",
        loc=("path", "event_id"),
    )
