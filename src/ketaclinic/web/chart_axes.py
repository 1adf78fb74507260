"""Axes for the charts, decided here rather than left to Plotly's autorange. Pure: no I/O.

Left to itself Plotly draws one point, or one day's points, on an axis a few minutes or hours wide:
tick labels repeat ("01 Dec, 01 Dec") or show clock times for scores taken days apart, and a score
axis around one value gets ticks such as 6.5. So: date axes are whole days and at least a week
wide, clock axes at least half an hour wide with ticks at least 5 minutes apart, and score axes
(whole numbers) have whole-number ticks. ``nticks`` is Plotly's *maximum* number of ticks: a
maximum of one tick per day (or per 5 minutes) of range keeps Plotly's own tick step from going
below a day (or 5 minutes), whatever the screen's width.

Times are the naive wall-clock datetimes the chart draws (Plotly ignores a UTC offset).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

#: A date axis is at least this many days wide (clinic policy for readability).
MIN_DAYS = 7
#: A clock axis is at least this wide, and its ticks at least this far apart.
MIN_CLOCK = timedelta(minutes=30)
CLOCK_STEP = timedelta(minutes=5)
#: At most this many ticks on an axis (labels of 6 dates fit a 390 px phone).
MAX_TICKS = 6


def day_axis(times: Iterable[datetime]) -> dict[str, Any]:
    """A date axis of whole days around ``times``, at least ``MIN_DAYS`` wide, labelled by day."""
    days = sorted({t.date() for t in times})
    if not days:
        return {"type": "date", "tickformat": "%d %b"}
    low, high = days[0], days[-1] + timedelta(days=1)
    short = MIN_DAYS - (high - low).days
    if short > 0:
        low -= timedelta(days=short // 2)
        high += timedelta(days=short - short // 2)
    span = (high - low).days
    return {
        "type": "date",
        "range": [_midnight(low), _midnight(high)],
        "nticks": min(span, MAX_TICKS),
        "tickformat": "%d %b" if span <= 366 else "%b %Y",
    }


def clock_axis(times: Iterable[datetime]) -> dict[str, Any]:
    """A clock axis around ``times``, at least ``MIN_CLOCK`` wide, in whole 5-minute steps."""
    stamps = sorted(times)
    if not stamps:
        return {"type": "date", "tickformat": "%H:%M"}
    low, high = _floor(stamps[0]), _ceil(stamps[-1])
    if high - low < MIN_CLOCK:
        high = low + MIN_CLOCK
    steps = (high - low) // CLOCK_STEP
    span_days = (high.date() - low.date()).days
    return {
        "type": "date",
        "range": [_iso(low), _iso(high)],
        "nticks": min(steps, MAX_TICKS + 2),
        "tickformat": "%H:%M" if span_days == 0 else "%d %b %H:%M",
    }


def score_axis(top: int, step: int) -> dict[str, Any]:
    """A 0–``top`` axis for a whole-number score, with ticks every ``step``."""
    return {"range": [0, top + 0.5], "tick0": 0, "dtick": step, "tickformat": "d"}


def _midnight(day: date) -> str:
    return _iso(datetime.combine(day, time()))


def _iso(at: datetime) -> str:
    return at.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def _floor(at: datetime) -> datetime:
    midnight = datetime.combine(at.date(), time(), tzinfo=at.tzinfo)
    return midnight + ((at - midnight) // CLOCK_STEP) * CLOCK_STEP


def _ceil(at: datetime) -> datetime:
    down = _floor(at)
    return down if down == at else down + CLOCK_STEP
