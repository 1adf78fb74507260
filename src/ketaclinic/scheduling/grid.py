"""The day and week views of the appointment book as data, pure: chairs × hours, blocks positioned
on a time axis of real instants. No I/O.

The axis runs between two *instants* (local wall times turned into UTC), and every position is a
share of the real minutes between them, so a day on which the clocks change (23 or 25 hours)
places each block where it really is; the hour marks are labelled in local time, so a repeated
hour shows twice and a skipped hour not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ketaclinic.scheduling.core import Interval

#: Without opening hours or bookings, the axis shows a plain working day.
DEFAULT_AXIS_LOCAL = (time(7, 0), time(19, 0))


@dataclass(frozen=True)
class GridBooking:
    """One booking as the grid needs it. ``patient`` and ``protocol`` are ``None`` when the
    reader may not see them (the caller decides who may)."""

    session_id: int
    chair_id: int
    start: datetime
    visit_end: datetime
    hold_end: datetime
    state: str
    patient: str | None = None
    protocol: str | None = None
    course_id: int | None = None


@dataclass(frozen=True)
class Span:
    """A stretch of the axis, as percentages of its height (top and height, 0-100)."""

    top: float
    height: float


@dataclass(frozen=True)
class Block:
    booking: GridBooking
    visit: Span
    turnover: Span | None
    clipped: bool  # it starts before or ends after the axis


@dataclass(frozen=True)
class Mark:
    label: str
    top: float


@dataclass(frozen=True)
class ChairColumn:
    chair_id: int
    name: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class DayGrid:
    day: date
    axis: Interval
    marks: list[Mark]
    shaded: list[Span]
    closed_reason: str | None
    columns: list[ChairColumn]
    opening: list[Interval]
    open_minutes: float
    booked_minutes: float

    @property
    def utilisation_percent(self) -> float | None:
        """Booked visit minutes against open chair-minutes (``None`` when closed all day)."""
        offered = self.open_minutes * len(self.columns)
        return None if offered <= 0 else round(100 * self.booked_minutes / offered, 1)


def local_day(day: date, zone: ZoneInfo) -> Interval:
    """The clinic's calendar day as the instants from its midnight to the next (23-25 hours)."""
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return Interval(start, end)


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def axis_for(
    day: date,
    zone: ZoneInfo,
    opening: Sequence[Interval],
    bookings: Sequence[GridBooking],
) -> Interval:
    """Whole local hours from the first opening or booking of the day to the last hold's end,
    within the day; a plain working day when there is neither."""
    whole = local_day(day, zone)
    starts = [o.start for o in opening] + [b.start for b in bookings]
    ends = [o.end for o in opening] + [b.hold_end for b in bookings]
    if not starts:
        return Interval(
            _at(day, DEFAULT_AXIS_LOCAL[0], zone), _at(day, DEFAULT_AXIS_LOCAL[1], zone)
        )
    first = max(min(starts), whole.start).astimezone(zone)
    last = min(max(ends), whole.end).astimezone(zone)
    start = first.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    end = last.astimezone(UTC)
    if last.minute or last.second or last.microsecond:
        end = (last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).astimezone(UTC)
    end = min(max(end, start + timedelta(hours=1)), max(whole.end, start + timedelta(hours=1)))
    return Interval(start, end)


def axis_between(day: date, zone: ZoneInfo, first: time, last: time | None) -> Interval:
    """The axis of a day between two local clock times (``None``: midnight at the day's end):
    the week view gives every day the same clock span."""
    end = local_day(day, zone).end if last is None else _at(day, last, zone)
    return Interval(_at(day, first, zone), end)


def position(axis: Interval, instant: datetime) -> float:
    """Where ``instant`` falls on the axis, 0-100, clipped to it."""
    total = (axis.end - axis.start).total_seconds()
    share = (instant - axis.start).total_seconds() / total if total > 0 else 0.0
    return round(100 * min(1.0, max(0.0, share)), 3)


def span(axis: Interval, start: datetime, end: datetime) -> Span:
    top = position(axis, start)
    return Span(top, round(position(axis, end) - top, 3))


def hour_marks(axis: Interval, zone: ZoneInfo) -> list[Mark]:
    """Every whole local hour inside the axis, by real instant (a repeated hour twice)."""
    marks: list[Mark] = []
    instant = axis.start
    local = instant.astimezone(zone)
    if local.minute or local.second:
        instant += timedelta(minutes=60 - local.minute, seconds=-local.second)
    while instant <= axis.end:
        marks.append(Mark(instant.astimezone(zone).strftime("%H:%M"), position(axis, instant)))
        instant += timedelta(hours=1)
    return marks


def closed_spans(axis: Interval, opening: Sequence[Interval]) -> list[Span]:
    """The parts of the axis outside the opening hours, to shade."""
    shaded: list[Span] = []
    cursor = axis.start
    for o in sorted(opening):
        if o.end <= cursor or o.start >= axis.end:
            continue
        if o.start > cursor:
            shaded.append(span(axis, cursor, o.start))
        cursor = max(cursor, o.end)
    if cursor < axis.end:
        shaded.append(span(axis, cursor, axis.end))
    return shaded


def block_for(axis: Interval, booking: GridBooking) -> Block:
    visit_end = min(booking.visit_end, booking.hold_end)
    turnover = span(axis, visit_end, booking.hold_end) if booking.hold_end > visit_end else None
    return Block(
        booking=booking,
        visit=span(axis, booking.start, visit_end),
        turnover=turnover if turnover is not None and turnover.height > 0 else None,
        clipped=booking.start < axis.start or booking.hold_end > axis.end,
    )


def _overlap_minutes(a: Interval, start: datetime, end: datetime) -> float:
    lo, hi = max(a.start, start), min(a.end, end)
    return max(0.0, (hi - lo).total_seconds() / 60)


def day_grid(
    *,
    day: date,
    zone: ZoneInfo,
    chairs: Sequence[tuple[int, str]],
    opening: Sequence[Interval],
    bookings: Sequence[GridBooking],
    closed_reason: str | None = None,
    axis: Interval | None = None,
) -> DayGrid:
    """The grid of one clinic day: one column per chair in the order given, each booking a
    block from its start to its visit's end (infusion and observation), then its turnover.

    ``opening`` is the day's open intervals (empty when closed); a booking on a chair not in
    ``chairs`` (a retired one) gets a column of its own at the end, so nothing booked is hidden.
    """
    whole = local_day(day, zone)
    todays = [b for b in bookings if b.start < whole.end and b.hold_end > whole.start]
    axis = axis or axis_for(day, zone, opening, todays)
    columns = {chair_id: ChairColumn(chair_id, name) for chair_id, name in chairs}
    for b in sorted(todays, key=lambda b: (b.start, b.session_id)):
        column = columns.setdefault(b.chair_id, ChairColumn(b.chair_id, f"Chair #{b.chair_id}"))
        column.blocks.append(block_for(axis, b))
    booked = sum(
        _overlap_minutes(o, b.start, min(b.visit_end, b.hold_end)) for b in todays for o in opening
    )
    return DayGrid(
        day=day,
        axis=axis,
        marks=hour_marks(axis, zone),
        shaded=[Span(0.0, 100.0)] if closed_reason else closed_spans(axis, opening),
        closed_reason=closed_reason,
        columns=list(columns.values()),
        opening=[] if closed_reason else sorted(opening),
        open_minutes=0.0 if closed_reason else sum(o.minutes for o in opening),
        booked_minutes=booked,
    )


def week_clock_span(zone: ZoneInfo, opening: Sequence[Interval]) -> tuple[time, time | None]:
    """One local clock span for every day of a week view: from the earliest opening hour to the
    latest closing hour of the week (a plain working day when it has no hours)."""
    if not opening:
        return DEFAULT_AXIS_LOCAL
    firsts = [o.start.astimezone(zone) for o in opening]
    lasts = [o.end.astimezone(zone) for o in opening]
    first = min(f.time().replace(minute=0, second=0, microsecond=0) for f in firsts)
    ends_tomorrow = any(e.date() > s.date() for s, e in zip(firsts, lasts, strict=True))
    if ends_tomorrow:
        return first, None
    latest = max(e.time() for e in lasts)
    if latest.minute or latest.second:
        if latest.hour == 23:
            return first, None
        latest = time(latest.hour + 1)
    return first, latest


def week_days(start: date) -> list[date]:
    return [start + timedelta(days=i) for i in range(7)]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
