"""Placing the rest of a stabilisation series in one step, pure: a proposal, never a booking.

Each session is sought on its day (the previous one's day plus the protocol's spacing) at the
preferred time of day, on the first chair free then in the clinic's order. When no chair is free
then, the nearest free start is proposed instead (the same day first, nearest in time; then the
following days) with the next nearest as alternatives; what finds no start within
``SEARCH_DAYS`` is left unplaced. The person reviews the proposal and confirms; nothing here
writes. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ketaclinic.scheduling.core import Booked, Interval, free_starts, hold_for, visit_for

#: How many days after its due day a session's nearest free start is sought.
SEARCH_DAYS = 14
#: Alternatives offered beside each proposed start.
ALTERNATIVES = 3
#: Starts considered on one chair on one day (every quarter-hour of a 24-hour day).
STARTS_PER_DAY = 96


class Fit(StrEnum):
    AS_ASKED = "as_asked"  # on its due day at the preferred time
    MOVED = "moved"  # the nearest free start instead
    UNPLACED = "unplaced"  # nothing free within the search


@dataclass(frozen=True)
class Slot:
    chair_id: int
    start: datetime


@dataclass(frozen=True)
class Proposed:
    number: int  # 1-based among the sessions still to book
    due_day: date
    wanted: datetime  # the due day at the preferred time
    fit: Fit
    slot: Slot | None
    alternatives: list[Slot] = field(default_factory=list)


@dataclass(frozen=True)
class SeriesAsk:
    """What to place. ``first_day`` is the earliest day the first remaining session may be on
    (its spacing from the last session already done or booked); ``not_before`` the earliest
    instant at all (now)."""

    count: int
    first_day: date
    spacing_days: int
    preferred: time
    visit_min: int
    turnover_min: int
    not_before: datetime


@dataclass(frozen=True)
class Clinic:
    """The book around the series: chairs in the clinic's order, when it is open, the holds
    already on the chairs and the patient's own other visits."""

    zone: ZoneInfo
    chair_ids: Sequence[int]
    opening: Sequence[Interval]
    booked: Sequence[Booked]
    patient_busy: Sequence[Interval] = ()


def wall_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant (a skipped time reads with the offset before the gap)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _day_window(day: date, zone: ZoneInfo) -> Interval:
    start = wall_instant(day, time(), zone)
    return Interval(start, wall_instant(day + timedelta(days=1), time(), zone))


def _day_opening(opening: Sequence[Interval], window: Interval) -> list[Interval]:
    return [
        Interval(max(o.start, window.start), min(o.end, window.end))
        for o in opening
        if o.overlaps(window)
    ]


@dataclass
class _Book:
    """The holds per chair and the patient's visits, growing as sessions are proposed."""

    holds: dict[int, list[Interval]]
    patient: list[Interval]

    def add(self, slot: Slot, ask: SeriesAsk) -> None:
        self.holds[slot.chair_id].append(hold_for(slot.start, ask.visit_min, ask.turnover_min))
        self.patient.append(visit_for(slot.start, ask.visit_min))

    def patient_free(self, start: datetime, ask: SeriesAsk) -> bool:
        visit = visit_for(start, ask.visit_min)
        return not any(v.overlaps(visit) for v in self.patient)


def _free_on_day(
    day: date, earliest: datetime, ask: SeriesAsk, clinic: Clinic, book: _Book
) -> list[Slot]:
    """Every start on ``day`` from ``earliest`` at which the visit fits some chair, the
    patient being free."""
    window = _day_window(day, clinic.zone)
    opening = _day_opening(clinic.opening, window)
    after = max(window.start, earliest)
    found: list[Slot] = []
    if not opening or after >= window.end:
        return found
    for chair_id in clinic.chair_ids:
        for start in free_starts(
            visit_min=ask.visit_min,
            turnover_min=ask.turnover_min,
            opening=opening,
            busy=book.holds[chair_id],
            after=after,
            limit=STARTS_PER_DAY,
        ):
            if start < window.end and book.patient_free(start, ask):
                found.append(Slot(chair_id, start))
    return found


def _nearest(
    due: date, earliest: datetime, ask: SeriesAsk, clinic: Clinic, book: _Book
) -> list[Slot]:
    """Free starts from the due day on, nearest first: by day, then by distance from the
    preferred time, then in the clinic's chair order; one per start time."""
    order = {chair_id: i for i, chair_id in enumerate(clinic.chair_ids)}
    for offset in range(SEARCH_DAYS + 1):
        day = due + timedelta(days=offset)
        on_day = _free_on_day(day, earliest, ask, clinic, book)
        if not on_day:
            continue
        preferred = wall_instant(day, ask.preferred, clinic.zone)
        on_day.sort(key=lambda s: (abs(s.start - preferred), s.start, order[s.chair_id]))
        seen: set[datetime] = set()
        unique = []
        for s in on_day:
            if s.start not in seen:
                seen.add(s.start)
                unique.append(s)
        later = _free_after(day, earliest, ask, clinic, book) if len(unique) <= ALTERNATIVES else []
        return (unique + later)[: ALTERNATIVES + 1]
    return []


def _free_after(
    day: date, earliest: datetime, ask: SeriesAsk, clinic: Clinic, book: _Book
) -> list[Slot]:
    """A few more alternatives on the following days when the day itself has few."""
    for offset in range(1, SEARCH_DAYS + 1):
        more = _free_on_day(day + timedelta(days=offset), earliest, ask, clinic, book)
        if more:
            preferred = wall_instant(day + timedelta(days=offset), ask.preferred, clinic.zone)
            more.sort(key=lambda s: (abs(s.start - preferred), s.start))
            return more[:ALTERNATIVES]
    return []


def place_series(ask: SeriesAsk, clinic: Clinic) -> list[Proposed]:
    """The proposal for ``ask.count`` sessions, in order. Every proposed slot lies inside the
    opening hours, collides with no booking and no other proposed slot, leaves the patient in
    one chair at a time, and is at least ``spacing_days`` calendar days after the one before."""
    book = _Book(
        holds={chair_id: [] for chair_id in clinic.chair_ids},
        patient=list(clinic.patient_busy),
    )
    for b in clinic.booked:
        if b.chair_id in book.holds:
            book.holds[b.chair_id].append(b.hold)
    proposal: list[Proposed] = []
    due = ask.first_day
    earliest = ask.not_before
    for number in range(1, ask.count + 1):
        wanted = wall_instant(due, ask.preferred, clinic.zone)
        options = _nearest(due, earliest, ask, clinic, book)
        exact = [s for s in options if s.start == wanted]
        if exact:
            chosen, fit = exact[0], Fit.AS_ASKED  # the first chair in order (options sort so)
        elif options:
            chosen, fit = options[0], Fit.MOVED
        else:
            proposal.append(Proposed(number, due, wanted, Fit.UNPLACED, None, []))
            due += timedelta(days=max(ask.spacing_days, 1))
            continue
        others = [s for s in options if s != chosen][:ALTERNATIVES]
        proposal.append(Proposed(number, due, wanted, fit, chosen, others))
        book.add(chosen, ask)
        # The series keeps its order: the next one starts after this visit ends.
        earliest = max(earliest, chosen.start + timedelta(minutes=ask.visit_min))
        due = chosen.start.astimezone(clinic.zone).date() + timedelta(days=ask.spacing_days)
    return proposal


def spacing_problem(
    starts: Sequence[datetime],
    *,
    zone: ZoneInfo,
    spacing_days: int,
    visit_min: int,
    earliest_day: date,
) -> tuple[int, str] | None:
    """``(index, message)`` of the first chosen start that breaks the series' spacing (calendar
    days in the clinic's zone) or overlaps the visit before it; ``None`` when all keep it."""
    previous: datetime | None = None
    for index, start in enumerate(starts):
        day = start.astimezone(zone).date()
        if previous is None:
            if day < earliest_day:
                return index, (
                    f"series session {index + 1} on {day.isoformat()} is before "
                    f"{earliest_day.isoformat()}, the earliest the spacing allows"
                )
        else:
            before = previous.astimezone(zone).date()
            if (day - before).days < spacing_days or start < previous + timedelta(
                minutes=visit_min
            ):
                return index, (
                    f"series session {index + 1} on {day.isoformat()} is less than "
                    f"{spacing_days} day(s) after session {index} on {before.isoformat()}"
                )
        previous = start
    return None


def is_late_cancellation(scheduled_at: datetime, cancelled_at: datetime, hours: int) -> bool:
    """Called off less than ``hours`` before the session was due (clinic policy, default 24 h;
    ``Settings.late_cancellation_hours``); a cancellation after the time is late too."""
    return scheduled_at - cancelled_at < timedelta(hours=hours)
