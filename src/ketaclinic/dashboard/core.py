"""The clinic dashboard's figures from plain rows. Pure: no I/O, no clock, no SQLAlchemy.

The database does the counting (``queries.py``); this module holds the definitions, so that each
one is written once and tested on small inputs:

- **window**: clinic-local dates ``from``..``to`` inclusive; weeks start on Monday.
- **infused session**: one with a ``start`` event (the pump ran), whatever happened later.
- **alert rate**: infused sessions with at least one alert ÷ infused sessions.
- **adverse-event rate**: infused sessions with a side effect charted moderate or severe, or
  sedation at MOAA/S ≤ 2 (responds only to prodding or worse) ÷ infused sessions.
- **indication**: the one chosen on the patient's latest signed screening, or, when none was
  chosen, the first one the screening matched.
- **responder**: pain — the latest NRS taken in the window (not ``post``: the minutes after an
  infusion show its acute effect, not a response) at least 30 % below the latest baseline NRS
  (IMMPACT moderate or substantial, ``outcomes.core.pain_response``); depression — PHQ-9 response
  (``outcomes.core.depression_status``). A patient without both scores is not evaluable.
- **abandoned course** (of the courses started in the window that had an infusion): exactly one
  infused session, and then either ended, or nothing else booked and at least
  ``ABANDONED_AFTER`` passed since that session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from fractions import Fraction
from functools import lru_cache

from ketaclinic.errors import Forbidden, InvalidInput
from ketaclinic.outcomes.core import PainResponse, depression_status, pain_response

#: The default window: the last twelve weeks, today included.
DEFAULT_WINDOW_DAYS = 84
#: A longer window would need more than ~105 weekly buckets; two years covers any review.
MAX_WINDOW_DAYS = 731
#: Clinic policy: an open course with no PHQ-9 or pain NRS in this long is overdue.
OVERDUE_AFTER = timedelta(days=7)
OVERDUE_INSTRUMENTS = ("nrs", "phq9")
#: Clinic policy: an open course quiet this long after its first session is abandoned.
ABANDONED_AFTER = timedelta(days=28)
#: Contexts whose scores count as "latest" for response (``post`` is the acute effect).
RESPONSE_CONTEXTS = ("pre", "follow_up", "portal")
PAIN_RESPONDER = frozenset({PainResponse.MODERATE, PainResponse.SUBSTANTIAL})
#: MOAA/S ≤ 2: responds only after prodding or shaking, or not at all (monitoring.side_effects).
DEEP_SEDATION_MOAA_S = 2
SIGNIFICANT_GRADES = frozenset({"moderate", "severe"})
UNSPECIFIED = "unspecified"


@dataclass(frozen=True)
class Window:
    """Clinic-local dates, both included, of one clinic."""

    first_day: date
    last_day: date
    clinic_id: int

    def start(self, zone: tzinfo) -> datetime:
        return local_midnight(self.first_day, zone)

    def end(self, zone: tzinfo) -> datetime:
        """The instant just after the window (midnight after ``last_day``)."""
        return local_midnight(self.last_day + timedelta(days=1), zone)

    def week_starts(self) -> list[date]:
        """Each week's first day in the window: ``first_day``, then every Monday after it."""
        starts = [self.first_day]
        monday = self.first_day + timedelta(days=7 - self.first_day.weekday())
        while monday <= self.last_day:
            starts.append(monday)
            monday += timedelta(days=7)
        return starts


def local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def parse_window(
    first_day: date | None,
    last_day: date | None,
    clinic_text: str | None,
    *,
    today: date,
    own_clinic_id: int,
) -> Window:
    """The window asked for; the clinic must be the actor's own (users belong to one clinic).
    The dates come from the page's bounded date fields (``web.fields``), so the arithmetic here
    stays inside the calendar."""
    last = last_day or today
    first = first_day or last - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    if first > last:
        raise InvalidInput("from: must be on or before to", loc=("query", "from"))
    if (last - first).days + 1 > MAX_WINDOW_DAYS:
        raise InvalidInput(
            f"from: the window may span at most {MAX_WINDOW_DAYS} days", loc=("query", "from")
        )
    if clinic_text is not None and clinic_text.strip():
        if not clinic_text.strip().isdigit():
            raise InvalidInput(
                f"clinic: {clinic_text!r} is not a clinic id", loc=("query", "clinic")
            )
        if int(clinic_text) != own_clinic_id:
            raise Forbidden("clinic: the dashboard shows only your own clinic")
    return Window(first, last, own_clinic_id)


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage with one decimal ("42.9"); "" when ``whole`` is 0."""
    if whole == 0:
        return ""
    tenths = round(Fraction(1000 * part, whole))
    return f"{tenths // 10}.{tenths % 10}"


# --- sessions, safety, chairs --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WeekCounts:
    week_start: date
    booked: int = 0
    infused: int = 0
    discharged: int = 0
    aborted: int = 0
    not_held: int = 0  # cancelled or no-show


def weeks_table(window: Window, counted: Mapping[int, WeekCounts]) -> list[WeekCounts]:
    """Every week of the window by its index, zero where nothing was booked (a chart needs the
    gaps); ``counted`` maps a week's index to its counts."""
    return [
        replace(counted[i], week_start=start) if i in counted else WeekCounts(week_start=start)
        for i, start in enumerate(window.week_starts())
    ]


def is_adverse(assessments: Iterable[Mapping[str, object]]) -> bool:
    """A charted side-effect assessment that counts as an adverse event (module docstring)."""
    for item in assessments:
        grade = item.get("grade")
        if item.get("effect") == "sedation":
            if isinstance(grade, int) and grade <= DEEP_SEDATION_MOAA_S:
                return True
        elif grade in SIGNIFICANT_GRADES:
            return True
    return False


@dataclass(frozen=True, kw_only=True)
class SafetyLine:
    protocol_key: str
    protocol_name: str
    infused: int
    with_alert: int
    with_adverse_event: int

    @property
    def alert_percent(self) -> str:
        return percent(self.with_alert, self.infused)

    @property
    def adverse_percent(self) -> str:
        return percent(self.with_adverse_event, self.infused)


def safety_table(
    infused_and_alerted: Mapping[str, tuple[int, int]],
    side_effects: Iterable[tuple[int, str, Sequence[Mapping[str, object]]]],
    protocol_names: Mapping[str, str],
) -> list[SafetyLine]:
    """Per protocol key, then "All": ``infused_and_alerted`` maps a key to (infused, with an
    alert); ``side_effects`` is (session id, protocol key, assessments) of infused sessions."""
    adverse: dict[str, set[int]] = {}
    for session_id, key, assessments in side_effects:
        if is_adverse(assessments):
            adverse.setdefault(key, set()).add(session_id)
    lines = [
        SafetyLine(
            protocol_key=key,
            protocol_name=protocol_names.get(key, key),
            infused=infused,
            with_alert=alerted,
            with_adverse_event=len(adverse.get(key, ())),
        )
        for key, (infused, alerted) in sorted(infused_and_alerted.items())
    ]
    return [*lines, _total_safety(lines)] if lines else []


def _total_safety(lines: Sequence[SafetyLine]) -> SafetyLine:
    return SafetyLine(
        protocol_key="",
        protocol_name="All protocols",
        infused=sum(line.infused for line in lines),
        with_alert=sum(line.with_alert for line in lines),
        with_adverse_event=sum(line.with_adverse_event for line in lines),
    )


@dataclass(frozen=True, kw_only=True)
class ChairLine:
    chair: str
    booked: int
    infused: int
    timed: int  # infused sessions with both a check-in and a discharge or abort
    occupied_minutes: float  # used: check-in to discharge or abort
    booked_minutes: float = 0.0  # each booking's hold (visit + turnover), not cancelled/no-show
    open_minutes: float | None = None  # opening hours minus closures; None: no hours set

    @property
    def booked_hours(self) -> str:
        return f"{self.booked_minutes / 60:.1f}"

    @property
    def open_hours(self) -> str:
        return "" if self.open_minutes is None else f"{self.open_minutes / 60:.1f}"

    @property
    def booked_percent(self) -> int | None:
        """Booked chair time against open chair time (``None`` without opening hours)."""
        return _share(self.booked_minutes, self.open_minutes)

    @property
    def used_percent(self) -> int | None:
        return _share(self.occupied_minutes, self.open_minutes)

    @property
    def mean_minutes(self) -> int | None:
        return round(self.occupied_minutes / self.timed) if self.timed else None

    @property
    def occupied_hours(self) -> str:
        return f"{self.occupied_minutes / 60:.1f}"


def _share(part: float, whole: float | None) -> int | None:
    return round(100 * part / whole) if whole else None


# --- courses -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CourseFacts:
    """One course started in the window with at least one infused session.

    ``last_booked_at``: the latest session of the course not cancelled or no-show, any state.
    """

    course_id: int
    protocol_key: str
    infused_sessions: int
    first_infused_at: datetime
    last_booked_at: datetime
    ended_at: datetime | None


def is_abandoned(course: CourseFacts, as_of: datetime) -> bool:
    if course.infused_sessions != 1:
        return False
    if course.ended_at is not None and course.ended_at <= as_of:
        return True
    booked_again = course.last_booked_at > course.first_infused_at
    return not booked_again and as_of - course.first_infused_at >= ABANDONED_AFTER


@dataclass(frozen=True, kw_only=True)
class AbandonmentLine:
    protocol_key: str
    protocol_name: str
    courses: int
    abandoned: int

    @property
    def abandoned_percent(self) -> str:
        return percent(self.abandoned, self.courses)


def abandonment_table(
    courses: Iterable[CourseFacts], as_of: datetime, protocol_names: Mapping[str, str]
) -> list[AbandonmentLine]:
    counts: dict[str, list[int]] = {}
    for course in courses:
        tally = counts.setdefault(course.protocol_key, [0, 0])
        tally[0] += 1
        tally[1] += is_abandoned(course, as_of)
    lines = [
        AbandonmentLine(
            protocol_key=key,
            protocol_name=protocol_names.get(key, key),
            courses=started,
            abandoned=abandoned,
        )
        for key, (started, abandoned) in sorted(counts.items())
    ]
    if not lines:
        return []
    total = AbandonmentLine(
        protocol_key="",
        protocol_name="All protocols",
        courses=sum(line.courses for line in lines),
        abandoned=sum(line.abandoned for line in lines),
    )
    return [*lines, total]


# --- responders ----------------------------------------------------------------------------------


def indication_of(chosen: str | None, first_matched: str | None) -> str:
    """The screening's chosen indication, else the first it matched, else ``UNSPECIFIED``."""
    return chosen or first_matched or UNSPECIFIED


@dataclass(frozen=True, kw_only=True)
class Score:
    value: Fraction
    measured_at: datetime


@dataclass(frozen=True, kw_only=True)
class PatientScores:
    """The latest baseline and the latest later score (``RESPONSE_CONTEXTS``) per instrument."""

    pain_baseline: Score | None = None
    pain_latest: Score | None = None
    phq9_baseline: Score | None = None
    phq9_latest: Score | None = None


def _pair(baseline: Score | None, latest: Score | None) -> tuple[Fraction, Fraction] | None:
    """Both scores, when the later one was taken after the baseline it is compared with."""
    if baseline is None or latest is None or latest.measured_at < baseline.measured_at:
        return None
    return baseline.value, latest.value


def pain_responder(scores: PatientScores) -> bool | None:
    """True or False, or None when not evaluable (a score missing, or a baseline of 0)."""
    pair = _pair(scores.pain_baseline, scores.pain_latest)
    if pair is None:
        return None
    verdict = _pain_response(*pair)
    return None if verdict is PainResponse.NOT_APPLICABLE else verdict in PAIN_RESPONDER


def depression_responder(scores: PatientScores) -> bool | None:
    pair = _pair(scores.phq9_baseline, scores.phq9_latest)
    if pair is None or pair[0] == 0:  # no depressive symptoms to respond from
        return None
    return _depression_response(*pair)


# Scores repeat (an NRS has 11 values, a PHQ-9 28), and exact Fraction arithmetic is slow: the
# dashboard judged ~1,500 patients' pairs afresh on every request (cProfile, bench/pages_bench.py
# data). Pure functions of their arguments, so a remembered answer never goes stale.
@lru_cache(maxsize=4096)
def _pain_response(baseline: Fraction, value: Fraction) -> PainResponse:
    return pain_response(baseline, value)


@lru_cache(maxsize=4096)
def _depression_response(baseline: Fraction, value: Fraction) -> bool:
    return depression_status(baseline, value).response


@dataclass(frozen=True, kw_only=True)
class ResponderLine:
    indication_id: str
    indication_name: str
    protocol_key: str
    protocol_name: str
    patients: int
    pain_evaluable: int
    pain_responders: int
    depression_evaluable: int
    depression_responders: int

    @property
    def pain_percent(self) -> str:
        return percent(self.pain_responders, self.pain_evaluable)

    @property
    def depression_percent(self) -> str:
        return percent(self.depression_responders, self.depression_evaluable)


def responder_table(
    treated: Iterable[tuple[int, str]],
    indications: Mapping[int, str],
    scores: Mapping[int, PatientScores],
    indication_names: Mapping[str, str],
    protocol_names: Mapping[str, str],
) -> list[ResponderLine]:
    """Per (indication, protocol key): ``treated`` is (patient id, protocol key) pairs of
    patients infused in the window; ``indications`` maps a patient to an indication id."""
    tallies: dict[tuple[str, str], list[int]] = {}
    for patient_id, key in sorted(set(treated)):
        indication = indications.get(patient_id, UNSPECIFIED)
        tally = tallies.setdefault((indication, key), [0, 0, 0, 0, 0])
        patient_scores = scores.get(patient_id, PatientScores())
        pain, mood = pain_responder(patient_scores), depression_responder(patient_scores)
        tally[0] += 1
        tally[1] += pain is not None
        tally[2] += pain is True
        tally[3] += mood is not None
        tally[4] += mood is True
    return [
        ResponderLine(
            indication_id=indication,
            indication_name=indication_names.get(indication, indication),
            protocol_key=key,
            protocol_name=protocol_names.get(key, key),
            patients=t[0],
            pain_evaluable=t[1],
            pain_responders=t[2],
            depression_evaluable=t[3],
            depression_responders=t[4],
        )
        for (indication, key), t in sorted(tallies.items())
    ]
