"""Alert rules as data, and their evaluation against one reading. Pure.

Why data: thresholds for ketamine infusions are mostly unpublished (REFERENCE §4d), so each rule
carries its source or says plainly that it is clinic policy, and a clinic can pass its own set.

Edges follow the source's wording: a rule fires only when ``value <comparison> threshold`` holds,
so "SBP >180" means 180 does not alert and 181 does.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.errors import InvalidInput
from ketaclinic.labels import label
from ketaclinic.monitoring.side_effects import MOAA_S_LEVELS, Severity
from ketaclinic.vitals.core import PLAUSIBLE


class Watch(StrEnum):
    """What a rule looks at; also the key of that value in a reading."""

    SYSTOLIC_MMHG = "systolic_mmhg"
    DIASTOLIC_MMHG = "diastolic_mmhg"
    HEART_RATE_PER_MIN = "heart_rate_per_min"
    SPO2_PERCENT = "spo2_percent"
    RESP_RATE_PER_MIN = "resp_rate_per_min"
    MOAA_S = "moaa_s"
    # The worst grade among non-sedation side effects: 0 none, 1 mild, 2 moderate, 3 severe.
    SIDE_EFFECT_SEVERITY = "side_effect_severity"


class Comparison(StrEnum):
    GT = ">"
    GE = "≥"
    LT = "<"
    LE = "≤"


_COMPARE: Mapping[Comparison, Callable[[int, int], bool]] = {
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
}


class AlertSeverity(StrEnum):
    WARNING = "warning"
    URGENT = "urgent"


class Action(StrEnum):
    NONE = "none"
    PAUSE = "pause"
    STOP = "stop"


CLINIC_POLICY = "clinic policy"


@dataclass(frozen=True)
class AlertRule:
    """``source`` is a citation with its REFERENCE.md tags, or starts with "clinic policy"."""

    id: str
    watches: Watch
    comparison: Comparison
    threshold: int
    unit: str
    severity: AlertSeverity
    action: Action
    source: str

    @property
    def is_clinic_policy(self) -> bool:
        return self.source.startswith(CLINIC_POLICY)


@dataclass(frozen=True)
class Alert:
    rule_id: str
    watches: Watch
    value: int
    comparison: Comparison
    threshold: int
    unit: str
    severity: AlertSeverity
    action: Action
    source: str

    @property
    def message(self) -> str:
        return (
            f"{label(self.watches)} {self.value} {self.unit} {self.comparison} {self.threshold} "
            f"{self.unit}: {self.severity}, suggested action {self.action}"
        )


_BP_HR_SOURCE = (
    "BP >180/100 mmHg or HR >110 bpm → pause, treat or stop, often attributed to Sanacora 2017 "
    "[R14] — UNCONFIRMED (REFERENCE §4d)"
)

DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "systolic_high",
        Watch.SYSTOLIC_MMHG,
        Comparison.GT,
        180,
        "mmHg",
        AlertSeverity.URGENT,
        Action.PAUSE,
        _BP_HR_SOURCE,
    ),
    AlertRule(
        "diastolic_high",
        Watch.DIASTOLIC_MMHG,
        Comparison.GT,
        100,
        "mmHg",
        AlertSeverity.URGENT,
        Action.PAUSE,
        _BP_HR_SOURCE,
    ),
    AlertRule(
        "heart_rate_high",
        Watch.HEART_RATE_PER_MIN,
        Comparison.GT,
        110,
        "/min",
        AlertSeverity.URGENT,
        Action.PAUSE,
        _BP_HR_SOURCE,
    ),
    AlertRule(
        "systolic_low",
        Watch.SYSTOLIC_MMHG,
        Comparison.LT,
        90,
        "mmHg",
        AlertSeverity.WARNING,
        Action.PAUSE,
        "clinic policy: no published ketamine hypotension threshold found",
    ),
    AlertRule(
        "spo2_low",
        Watch.SPO2_PERCENT,
        Comparison.LT,
        92,
        "%",
        AlertSeverity.WARNING,
        Action.PAUSE,
        "clinic policy: no ketamine-specific SpO2 threshold published (UNCONFIRMED); nearest "
        "published reference is the modified Aldrete band 'SpO2 >92% on room air' [R53][R54] [V]. "
        "92% itself does not alert here, although Aldrete's top band needs >92%",
    ),
    AlertRule(
        "spo2_very_low",
        Watch.SPO2_PERCENT,
        Comparison.LT,
        90,
        "%",
        AlertSeverity.URGENT,
        Action.STOP,
        "clinic policy: modified Aldrete scores 'SpO2 <90% even with O2' as 0 [R53][R54] [V]",
    ),
    AlertRule(
        "resp_rate_low",
        Watch.RESP_RATE_PER_MIN,
        Comparison.LT,
        8,
        "/min",
        AlertSeverity.URGENT,
        Action.STOP,
        "clinic policy: no published threshold found",
    ),
    AlertRule(
        "resp_rate_high",
        Watch.RESP_RATE_PER_MIN,
        Comparison.GT,
        24,
        "/min",
        AlertSeverity.WARNING,
        Action.PAUSE,
        "clinic policy: no published threshold found",
    ),
    AlertRule(
        "deep_sedation",
        Watch.MOAA_S,
        Comparison.LE,
        2,
        "MOAA/S level",
        AlertSeverity.URGENT,
        Action.STOP,
        "MOAA/S levels [R45][R46] [V]: 2 = responds only after mild prodding or shaking; treating "
        "≤2 as deep sedation that stops the infusion is clinic policy",
    ),
    AlertRule(
        "severe_side_effect",
        Watch.SIDE_EFFECT_SEVERITY,
        Comparison.GE,
        int(Severity.SEVERE),
        "grade (0 none – 3 severe)",
        AlertSeverity.WARNING,
        Action.PAUSE,
        "clinic policy: no published stop threshold for dissociation (CADSS) or other side "
        "effects (REFERENCE §4a, UNCONFIRMED)",
    ),
)


# What a reading may hold: vitals within the plausible range, scale values within their scale.
_VALID_RANGE: Mapping[Watch, tuple[int, int, str]] = {
    **{w: (r.low, r.high, r.unit) for w in Watch if (r := PLAUSIBLE.get(w)) is not None},
    Watch.MOAA_S: (min(MOAA_S_LEVELS), max(MOAA_S_LEVELS), "MOAA/S level"),
    Watch.SIDE_EFFECT_SEVERITY: (int(min(Severity)), int(max(Severity)), "grade"),
}


def _validated(reading: Mapping[str, int]) -> dict[Watch, int]:
    """Refuse a reading with an unknown key or an impossible value, naming the key."""
    checked: dict[Watch, int] = {}
    for key, value in reading.items():
        if key not in _VALID_RANGE:
            known = ", ".join(Watch)
            raise InvalidInput(f"unknown reading {key!r}; known: {known}", loc=(key,))
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{key} must be a whole number, not {value!r}", loc=(key,))
        low, high, unit = _VALID_RANGE[Watch(key)]
        if not low <= value <= high:
            raise InvalidInput(
                f"{value} {unit} is outside the possible range {low}–{high}", loc=(key,)
            )
        checked[Watch(key)] = value
    return checked


def evaluate(rules: Iterable[AlertRule], reading: Mapping[str, int]) -> tuple[Alert, ...]:
    """Every alert ``reading`` raises under ``rules``, in rule order.

    ``reading`` holds any subset of the :class:`Watch` keys; a rule whose value is absent does
    not fire. Raises ``InvalidInput`` for an unknown key or an out-of-range value.
    """
    values = _validated(reading)
    alerts: list[Alert] = []
    for rule in rules:
        value = values.get(rule.watches)
        if value is not None and _COMPARE[rule.comparison](value, rule.threshold):
            alerts.append(
                Alert(
                    rule.id,
                    rule.watches,
                    value,
                    rule.comparison,
                    rule.threshold,
                    rule.unit,
                    rule.severity,
                    rule.action,
                    rule.source,
                )
            )
    return tuple(alerts)
