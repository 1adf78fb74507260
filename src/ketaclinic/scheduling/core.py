"""The booking rule, pure: intervals, opening hours in the clinic's zone, conflicts and free starts.

A booking holds its chair for the **visit** (start → planned infusion end → observation of at
least 60 min) and then the clinic's **turnover** time (cleaning, the next patient's set-up). Two
bookings of a chair conflict when their holds overlap; the visit must lie inside the opening
hours (the patient leaves before closing; the turnover may run past it). No I/O here.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ketaclinic.dosing.protocol import MIN_OBSERVATION_MIN

#: Clinic policy default (issue 13): a quarter of an hour to clean the chair and set up the next.
DEFAULT_TURNOVER_MIN = 15
#: A turnover longer than a working day is a typing slip, not a policy.
MAX_TURNOVER_MIN = 240
#: Offered start times fall on this grid from the opening time (and right after a booking ends).
START_STEP_MIN = 15
MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, order=True)
class Interval:
    """Half-open ``[start, end)`` between two aware instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("an interval needs aware instants")
        if self.end < self.start:
            raise ValueError("an interval ends after it starts")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True)
class DailyHours:
    """One opening interval on a weekday (0 = Monday), in minutes after local midnight."""

    weekday: int
    opens_min: int
    closes_min: int


@dataclass(frozen=True)
class ClosedDays:
    first: date
    last: date
    reason: str = ""

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True)
class Policy:
    """The clinic's booking rules. ``max_concurrent_bookings`` (off when ``None``) caps how many
    bookings may hold a chair at the same moment across the clinic: the simple form of a
    nurse-to-chair ratio (nurses on duty × chairs per nurse), which the clinic decides."""

    turnover_min: int = DEFAULT_TURNOVER_MIN
    max_concurrent_bookings: int | None = None


@dataclass(frozen=True)
class Booked:
    """A booking already holding a chair."""

    session_id: int
    chair_id: int
    hold: Interval


def visit_minutes(duration_min: int, observation_min: int | None) -> int:
    """Planned infusion plus observation, which is never under 60 min (DESIGN §3, Discharge)."""
    return duration_min + max(MIN_OBSERVATION_MIN, observation_min or 0)


def hold_for(start: datetime, visit_min: int, turnover_min: int) -> Interval:
    return Interval(start, start + timedelta(minutes=visit_min + turnover_min))


def visit_for(start: datetime, visit_min: int) -> Interval:
    return Interval(start, start + timedelta(minutes=visit_min))


# --- validation of clinic data --------------------------------------------------------------------


def hours_problem(hours: Sequence[DailyHours]) -> tuple[int, str] | None:
    """``(index, message)`` of the first interval that is not a valid opening interval, or that
    overlaps another on the same weekday; ``None`` when all are valid."""
    for index, h in enumerate(hours):
        if not 0 <= h.weekday <= 6:
            return index, f"weekday must be 0 (Monday) to 6 (Sunday), got {h.weekday}"
        if not 0 <= h.opens_min < h.closes_min <= MINUTES_PER_DAY:
            return index, "the clinic must open before it closes, within one day (00:00-24:00)"
        for other in hours[:index]:
            same_day = other.weekday == h.weekday
            if same_day and h.opens_min < other.closes_min and other.opens_min < h.closes_min:
                return index, f"overlaps another opening interval on {WEEKDAYS[h.weekday]}"
    return None


def policy_problem(policy: Policy) -> tuple[str, str] | None:
    """``(field, message)`` when the policy is out of range, else ``None``."""
    if not 0 <= policy.turnover_min <= MAX_TURNOVER_MIN:
        return "turnover_min", f"turnover_min must be 0 to {MAX_TURNOVER_MIN} minutes"
    cap = policy.max_concurrent_bookings
    if cap is not None and cap < 1:
        return "max_concurrent_bookings", "max_concurrent_bookings must be at least 1, or empty"
    return None


def clock_text(minutes: int) -> str:
    """Minutes after midnight as ``HH:MM`` (1440 is ``24:00``)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --- opening hours as instants --------------------------------------------------------------------


def _local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``minutes`` after midnight on ``day`` in ``zone``. A wall time the
    clocks skip reads as the same offset as before the gap (``fold=0``), so an opening time in a
    spring-forward gap opens at the first real instant after it."""
    if minutes >= MINUTES_PER_DAY:
        return _local_instant(day + timedelta(days=1), minutes - MINUTES_PER_DAY, zone)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return local.astimezone(UTC)


def open_intervals(
    hours: Iterable[DailyHours],
    closures: Collection[ClosedDays],
    zone: ZoneInfo,
    window: Interval,
) -> list[Interval]:
    """The instants the clinic is open within ``window``, in order, merged where they touch."""
    by_day: dict[int, list[DailyHours]] = {}
    for h in hours:
        by_day.setdefault(h.weekday, []).append(h)
    first = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date()
    result: list[Interval] = []
    day = first
    while day <= last:
        if not any(c.covers(day) for c in closures):
            for h in sorted(by_day.get(day.weekday(), []), key=lambda h: h.opens_min):
                opens = max(_local_instant(day, h.opens_min, zone), window.start)
                closes = min(_local_instant(day, h.closes_min, zone), window.end)
                if opens < closes:
                    result.append(Interval(opens, closes))
        day += timedelta(days=1)
    return _merged(sorted(result))


def _merged(intervals: Sequence[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for interval in intervals:
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def inside_hours(visit: Interval, opening: Sequence[Interval]) -> bool:
    """Whether the whole visit lies within one stretch of opening hours."""
    return any(o.contains(visit) for o in opening)


# --- conflicts and free starts --------------------------------------------------------------------


def conflicts(hold: Interval, booked: Iterable[Booked]) -> list[Booked]:
    """The bookings whose hold overlaps ``hold``, earliest first."""
    return sorted((b for b in booked if b.hold.overlaps(hold)), key=lambda b: b.hold.start)


def peak_concurrency(holds: Iterable[Interval], window: Interval) -> int:
    """The most holds overlapping any one instant of ``window`` (a sweep over their ends)."""
    edges: list[tuple[datetime, int]] = []
    for hold in holds:
        if hold.overlaps(window):
            edges.append((max(hold.start, window.start), 1))
            edges.append((min(hold.end, window.end), -1))
    peak = current = 0
    for _, step in sorted(edges):  # an end (-1) sorts before a start (+1) at the same instant
        current += step
        peak = max(peak, current)
    return peak


def _candidates(
    opening: Sequence[Interval], busy: Sequence[Interval], after: datetime
) -> list[datetime]:
    """Starts worth trying: the grid from each opening time, and each booking's end."""
    step = timedelta(minutes=START_STEP_MIN)
    found: set[datetime] = set()
    for o in opening:
        t = o.start
        if t < after:
            t += step * -(-(after - t) // step)  # the first grid point at or after ``after``
        while t < o.end:
            found.add(t)
            t += step
    found.update(b.end for b in busy if b.end >= after)
    return sorted(found)


def free_starts(
    *,
    visit_min: int,
    turnover_min: int,
    opening: Sequence[Interval],
    busy: Sequence[Interval],
    after: datetime,
    limit: int,
) -> list[datetime]:
    """Up to ``limit`` starts at or after ``after`` whose visit lies inside the opening hours
    and whose hold (visit + turnover) overlaps no busy interval. ``busy`` is one chair's holds."""
    ordered = sorted(busy)
    starts = [b.start for b in ordered]
    result: list[datetime] = []
    for start in _candidates(opening, ordered, after):
        if start < after:
            continue
        if not inside_hours(visit_for(start, visit_min), opening):
            continue
        hold = hold_for(start, visit_min, turnover_min)
        # Only holds starting before this one ends can overlap it; they are sorted by start.
        upto = bisect.bisect_left(starts, hold.end)
        if any(b.overlaps(hold) for b in ordered[:upto]):
            continue
        result.append(start)
        if len(result) >= limit:
            break
    return result


def open_chair_minutes(opening: Iterable[Interval], active_chairs: int) -> float:
    """Chair-minutes on offer: every open minute of every active chair."""
    return sum(o.minutes for o in opening) * active_chairs
