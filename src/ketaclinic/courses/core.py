"""A course's phase, series progress and next-session suggestion. Pure: no I/O, no clock.

The phase is derived from the sessions every time, never stored, so it cannot disagree with them.
Everything here that a person decides (when to book, whether to go on) is a suggestion; the text
says so, because the physician decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ketaclinic.errors import InvalidInput
from ketaclinic.infusions.core import TERMINAL, State

DECIDES = "suggested; the physician decides"


class Phase(StrEnum):
    STABILISATION = "stabilisation"
    MAINTENANCE = "maintenance"
    ENDED = "ended"


class NextKind(StrEnum):
    """What the next-session suggestion is about, for pages and scripts to branch on."""

    SERIES = "series"  # book the next series session on or after ``earliest_date``
    BOOKED = "booked"  # a session is already booked or under way: no second one suggested
    MAINTENANCE = "maintenance"  # the protocol's maintenance rule, no date (a later issue)
    NONE = "none"  # the course has ended


@dataclass(frozen=True, kw_only=True)
class SeriesRule:
    """The protocol's stabilisation series: how many sessions, how many days apart."""

    series_sessions: int
    series_spacing_days: int
    maintenance_rule: str

    def __post_init__(self) -> None:
        if self.series_sessions < 1:
            raise InvalidInput("series_sessions must be at least 1", loc=("series_sessions",))
        if self.series_spacing_days < 0:
            raise InvalidInput(
                "series_spacing_days must not be negative (days)", loc=("series_spacing_days",)
            )


@dataclass(frozen=True, kw_only=True)
class SessionFact:
    """One session of the course as this module needs it.

    ``state`` is an ``infusions.core.State`` value. ``scheduled_date`` is the clinic-local day it
    was booked for; ``discharged_date`` the day it was discharged, when it was. ``reason`` is why
    it was aborted or cancelled, when it was.
    """

    session_id: int
    state: str
    scheduled_date: date
    discharged_date: date | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.state not in set(State):
            known = ", ".join(State)
            raise InvalidInput(
                f"unknown session state {self.state!r}; known: {known}", loc=("state",)
            )

    @property
    def completed(self) -> bool:
        return self.state == State.DISCHARGED

    @property
    def completed_date(self) -> date:
        """The day the session was completed; the booked day when no discharge day is known."""
        return self.discharged_date or self.scheduled_date

    @property
    def open(self) -> bool:
        """Booked or under way: not yet in a final state."""
        return State(self.state) not in TERMINAL


@dataclass(frozen=True, kw_only=True)
class NextSession:
    kind: NextKind
    earliest_date: date | None
    text: str


@dataclass(frozen=True, kw_only=True)
class Progress:
    phase: Phase
    series_sessions: int
    series_completed: int
    maintenance_completed: int
    aborted: int
    series_session_ids: frozenset[int]
    next_session: NextSession

    @property
    def series_progress(self) -> str:
        """As a nurse says it: "3 of 6"."""
        return f"{self.series_completed} of {self.series_sessions}"


def progress(
    rule: SeriesRule, sessions: Sequence[SessionFact], *, ended: bool, today: date
) -> Progress:
    """Phase, counts and the next-session suggestion of one course.

    Only completed (discharged) sessions count toward the series. Clinic policy: an aborted session
    does not count, whatever was infused before the abort, so the series is made up by another
    session; neither do cancelled or no-show sessions, which never reached the chair.
    """
    completed = sorted(
        (s for s in sessions if s.completed), key=lambda s: (s.completed_date, s.session_id)
    )
    series_completed = min(len(completed), rule.series_sessions)
    if ended:
        phase = Phase.ENDED
    elif len(completed) < rule.series_sessions:
        phase = Phase.STABILISATION
    else:
        phase = Phase.MAINTENANCE
    return Progress(
        phase=phase,
        series_sessions=rule.series_sessions,
        series_completed=series_completed,
        maintenance_completed=len(completed) - series_completed,
        aborted=sum(1 for s in sessions if s.state == State.ABORTED),
        series_session_ids=frozenset(s.session_id for s in completed[: rule.series_sessions]),
        next_session=_next_session(rule, phase, completed, sessions, today),
    )


def _next_session(
    rule: SeriesRule,
    phase: Phase,
    completed: Sequence[SessionFact],
    sessions: Sequence[SessionFact],
    today: date,
) -> NextSession:
    """The suggestion for the next session. ``completed`` is in the order they were completed.

    A session already booked or under way is named instead of suggesting a second one: two
    bookings for one slot in the series is the mistake this guards against.
    """
    if phase is Phase.ENDED:
        return NextSession(
            kind=NextKind.NONE, earliest_date=None, text="The course has ended; none is suggested."
        )
    booked = _open_session(sessions, today)
    if booked is not None:
        return booked
    if phase is Phase.MAINTENANCE:
        text = f"Maintenance: {rule.maintenance_rule} ({DECIDES})."
        return NextSession(kind=NextKind.MAINTENANCE, earliest_date=None, text=text)
    number = len(completed) + 1
    if not completed:
        text = f"Series session 1 of {rule.series_sessions}: from {today.isoformat()} ({DECIDES})."
        return NextSession(kind=NextKind.SERIES, earliest_date=today, text=text)
    last = completed[-1].completed_date
    due = last + timedelta(days=rule.series_spacing_days)
    earliest = max(due, today)
    spacing = f"{rule.series_spacing_days} day(s) after session {number - 1} on {last.isoformat()}"
    late = "" if due >= today else f"; the spacing allowed {due.isoformat()}"
    text = (
        f"Series session {number} of {rule.series_sessions}: earliest {earliest.isoformat()} "
        f"({spacing}{late}) ({DECIDES})."
    )
    return NextSession(kind=NextKind.SERIES, earliest_date=earliest, text=text)


def _open_session(sessions: Sequence[SessionFact], today: date) -> NextSession | None:
    """The booked or running session that makes a new suggestion premature, if any."""
    waiting = sorted((s for s in sessions if s.open), key=lambda s: s.scheduled_date)
    if not waiting:
        return None
    first = waiting[0]
    day = first.scheduled_date.isoformat()
    if first.state != State.SCHEDULED:
        text = f"Session {first.session_id} is under way ({first.state}); book the next after it."
    elif first.scheduled_date >= today:
        text = f"Session {first.session_id} is already booked for {day}; no other is suggested."
    else:
        text = (
            f"Session {first.session_id} was booked for {day} and is still open: record what "
            "happened (check-in, cancel or no-show) before booking another."
        )
    return NextSession(kind=NextKind.BOOKED, earliest_date=first.scheduled_date, text=text)
