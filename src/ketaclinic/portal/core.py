"""Which portal questionnaires are due. Pure: last completions and the clock in, a list out.

A schedule is counted in the clinic's calendar days, not in elapsed hours: "daily" means once per
local calendar day (a pain diary filled in at 23:50 is due again at local midnight), and "weekly"
means again from the start of the same weekday one week later. A patient therefore never has to
wait for the exact hour of their last answer, and a questionnaire never falls due twice in a day.

The default (daily pain NRS, weekly PHQ-9 and GAD-7) is clinic policy, not a guideline: the PHQ-9
and GAD-7 ask about the last 2 weeks (REFERENCE.md §6b), so weekly answers overlap by design and
show change between sessions sooner. A course can have its own schedule, set by the physician on
the course (``Course.questionnaire_schedule``, ``{instrument: every_days}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: What a patient may fill in on the portal, in the order they are offered. The BPI-SF is left to
#: the clinic visit: its optional interference items need a clinician to judge a partial answer.
PORTAL_INSTRUMENTS: tuple[str, ...] = ("nrs", "phq9", "gad7", "peg")

DAILY_DAYS = 1
WEEKLY_DAYS = 7


@dataclass(frozen=True)
class Schedule:
    """One instrument asked every ``every_days`` local calendar days."""

    instrument: str
    every_days: int

    def __post_init__(self) -> None:
        if self.instrument not in PORTAL_INSTRUMENTS:
            raise ValueError(
                f"instrument {self.instrument!r} is not offered on the portal; "
                f"known: {', '.join(PORTAL_INSTRUMENTS)}"
            )
        if self.every_days < 1:
            raise ValueError(f"every_days must be at least 1 day, got {self.every_days}")


#: Clinic policy (see the module docstring): daily pain diary, weekly mood and anxiety.
DEFAULT_SCHEDULE: tuple[Schedule, ...] = (
    Schedule("nrs", DAILY_DAYS),
    Schedule("phq9", WEEKLY_DAYS),
    Schedule("gad7", WEEKLY_DAYS),
)

#: The longest interval a course may set: a questionnaire asked less often than every 4 weeks says
#: little about a course of sessions days or weeks apart (clinic policy).
MAX_EVERY_DAYS = 28


@dataclass(frozen=True)
class Due:
    """Where one instrument stands for one patient at one instant."""

    instrument: str
    every_days: int
    last_completed_at: datetime | None
    #: The first instant it is (or was) due again; ``None`` when never completed (due now).
    next_due_at: datetime | None
    is_due: bool


def schedule_from(every_days: Mapping[str, int]) -> tuple[Schedule, ...]:
    """A course's schedule from ``{instrument: every_days}``, in the portal's order; an unknown
    instrument or an interval outside 1–``MAX_EVERY_DAYS`` days raises ``ValueError``."""
    unknown = sorted(set(every_days) - set(PORTAL_INSTRUMENTS))
    if unknown:
        raise ValueError(
            f"not offered on the portal: {', '.join(unknown)}; "
            f"known: {', '.join(PORTAL_INSTRUMENTS)}"
        )
    for instrument, days in every_days.items():
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EVERY_DAYS:
            raise ValueError(
                f"{instrument} must be asked every 1–{MAX_EVERY_DAYS} days, got {days!r}"
            )
    return tuple(Schedule(i, every_days[i]) for i in PORTAL_INSTRUMENTS if i in every_days)


def schedule_for(course_schedule: Mapping[str, int] | None) -> tuple[Schedule, ...]:
    """The schedule of the patient's open course, or the clinic default when it sets none."""
    return DEFAULT_SCHEDULE if course_schedule is None else schedule_from(course_schedule)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone`` (aware, in ``zone``)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def due_status(
    schedule: Sequence[Schedule],
    last_completed: Mapping[str, datetime],
    now: datetime,
    zone: ZoneInfo,
) -> tuple[Due, ...]:
    """Each scheduled instrument's status; ``last_completed`` maps instrument -> latest instant.

    Times must be timezone-aware; ``next_due_at`` is returned in UTC like every stored time.
    """
    _require_aware("now", now)
    today = now.astimezone(zone).date()
    result = []
    for item in schedule:
        last = last_completed.get(item.instrument)
        if last is None:
            result.append(Due(item.instrument, item.every_days, None, None, True))
            continue
        _require_aware(f"last_completed[{item.instrument!r}]", last)
        next_day = last.astimezone(zone).date() + timedelta(days=item.every_days)
        next_due_at = local_midnight(next_day, zone).astimezone(UTC)
        result.append(Due(item.instrument, item.every_days, last, next_due_at, today >= next_day))
    return tuple(result)


def due_now(statuses: Sequence[Due]) -> tuple[str, ...]:
    """The instruments to offer first, in schedule order."""
    return tuple(s.instrument for s in statuses if s.is_due)


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
