"""Monitoring entry points: one bedside check in, alerts out. Pure.

The rule, assessment and adjunct tables live in their own modules; this one joins vitals and
side-effect assessments into one reading so that severe side effects and deep sedation are judged
by the same rules as the vital signs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ketaclinic.errors import InvalidInput
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
    "DEFAULT_RULES",
    "MOAA_S_LEVELS",
    "SIDE_EFFECTS",
    "Action",
    "Adjunct",
    "Alert",
    "AlertRule",
    "AlertSeverity",
    "Assessment",
    "Comparison",
    "Route",
    "Severity",
    "Watch",
    "alerts_for",
    "check_adjunct",
    "evaluate",
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
