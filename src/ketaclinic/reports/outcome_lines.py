"""Outcome measurements as a report lists them, and the change from baseline. Pure: no I/O.

Whether a change counts as a response is ``outcomes.core``'s rule, not this module's, so the report
and the outcome pages can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from ketaclinic.outcomes import core as outcomes

#: Instruments whose change from baseline the report states, and who judges it.
PAIN_INSTRUMENT = "nrs"
MOOD_INSTRUMENT = "phq9"


@dataclass(frozen=True)
class OutcomeLine:
    """One scored questionnaire; ``value`` is the exact score named ``score_name``."""

    instrument: str
    label: str
    context: str
    at: datetime
    score_name: str
    value: Fraction
    band: str | None
    session_id: int | None


@dataclass(frozen=True)
class ResponseLine:
    """The latest score against baseline; ``change_percent`` is ``None`` from a zero baseline."""

    label: str
    baseline: Fraction
    baseline_at: datetime
    latest: Fraction
    latest_at: datetime
    change_percent: Fraction | None
    verdict: str


def _baseline(lines: Sequence[OutcomeLine]) -> OutcomeLine:
    """The first baseline questionnaire; before one was taken, the first one recorded."""
    return next((o for o in lines if o.context == "baseline"), lines[0])


def responses(outcomes_in_time_order: Sequence[OutcomeLine]) -> tuple[ResponseLine, ...]:
    """Pain (NRS) and depression (PHQ-9) now against baseline, where both exist."""
    found = []
    for instrument in (PAIN_INSTRUMENT, MOOD_INSTRUMENT):
        lines = [o for o in outcomes_in_time_order if o.instrument == instrument]
        if len(lines) < 2:
            continue
        first = _baseline(lines)
        latest = lines[-1]
        if latest is first:
            continue
        found.append(_compare(instrument, first, latest))
    return tuple(found)


def _compare(instrument: str, first: OutcomeLine, latest: OutcomeLine) -> ResponseLine:
    if instrument == PAIN_INSTRUMENT:
        verdict = f"pain response: {outcomes.pain_response(first.value, latest.value).value}"
        change = outcomes.percent_change(first.value, latest.value)
    else:
        status = outcomes.depression_status(first.value, latest.value)
        change = status.change_percent
        verdict = "response" if status.response else "no response"
        verdict += "; remission" if status.remission else "; not in remission"
    return ResponseLine(
        label=latest.label,
        baseline=first.value,
        baseline_at=first.at,
        latest=latest.value,
        latest_at=latest.at,
        change_percent=change,
        verdict=verdict.replace("_", " "),
    )
