"""A patient's response at a glance: change from baseline with the standard thresholds, the
average change within a session, and how long relief lasted after the last session. Pure.

The thresholds and their sources live in ``outcomes.core``; this module only picks the scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from ketaclinic.outcomes.core import (
    ScorePoint,
    depression_status,
    pain_response,
    percent_change,
    relief_days,
    within_session_changes,
)


@dataclass(frozen=True)
class Change:
    """A score's baseline and latest value, and the change between them in percent."""

    baseline: Fraction
    latest: Fraction
    change_percent: Fraction | None
    verdict: str  # e.g. "moderate", "substantial", "response", "remission", "none"


@dataclass(frozen=True)
class ResponseSummary:
    pain: Change | None
    phq9: Change | None
    sessions_paired: int  # sessions with a pain score before and after
    mean_session_change: Fraction | None  # NRS points, post − pre; negative is relief
    relief_days: Fraction | None  # since the last session, until pain is back to 70 % of baseline
    relief_from: datetime | None  # the end of the last session


def _baseline(points: Sequence[ScorePoint]) -> ScorePoint | None:
    """The first baseline score, or else the first score of all."""
    ordered = sorted(points, key=lambda p: p.at)
    return next((p for p in ordered if p.context == "baseline"), ordered[0] if ordered else None)


def _latest(points: Sequence[ScorePoint]) -> ScorePoint | None:
    return max(points, key=lambda p: p.at) if points else None


def pain_change(points: Sequence[ScorePoint]) -> Change | None:
    first, last = _baseline(points), _latest(points)
    if first is None or last is None or first is last:
        return None
    verdict = pain_response(first.value, last.value).value
    return Change(first.value, last.value, percent_change(first.value, last.value), verdict)


def phq9_change(points: Sequence[ScorePoint]) -> Change | None:
    first, last = _baseline(points), _latest(points)
    if first is None or last is None or first is last:
        return None
    status = depression_status(first.value, last.value)
    verdict = "remission" if status.remission else "response" if status.response else "none"
    return Change(first.value, last.value, status.change_percent, verdict)


def summarise(
    pain: Sequence[ScorePoint], phq9: Sequence[ScorePoint], last_session_end: datetime | None
) -> ResponseSummary:
    """The summary of one patient's pain (NRS) and PHQ-9 scores."""
    changes = within_session_changes(pain)
    mean = sum((c.change for c in changes), Fraction(0)) / len(changes) if changes else None
    baseline = _baseline(pain)
    relief = None
    if last_session_end is not None and baseline is not None:
        relief = relief_days(last_session_end, baseline.value, pain)
    return ResponseSummary(
        pain=pain_change(pain),
        phq9=phq9_change(phq9),
        sessions_paired=len(changes),
        mean_session_change=mean,
        relief_days=relief,
        relief_from=last_session_end,
    )
