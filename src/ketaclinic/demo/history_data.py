"""The demo clinic's past ten weeks, as data: who was screened, treated and followed, and how
each patient's scores went. ``demo.history`` plays it through the clinic's use-cases.

Scores are written out, not drawn at random, so that what the booster rule and the charts show is
known: two patients relapse in maintenance, two do not respond and have their course ended, one
is still in the middle of a depression series. Dates are (weeks ago, weekday), weeks counted back
from this week's Monday, so every one of them is before today whatever day the demo is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEPRESSION = "depression-murrough-2013"
MIGRAINE = "migraine-lauritsen-2016"
CHRONIC_PAIN = "chronic-pain-low-dose"
FIBROMYALGIA = "fibromyalgia-graven-nielsen-2000"
CRPS = "crps-schwartzman-2009"

#: Positions (in patient-id order) that today's floor uses: the history leaves them alone so the
#: chair board's patients have no past that the board does not explain.
FLOOR_POSITIONS = frozenset(range(1, 7))

ABORT_REASON = (
    "Blood pressure stayed above 180/100 mmHg 15 min after pausing; physician stopped the "
    "infusion. To repeat once the blood pressure is controlled."
)


class Event(StrEnum):
    """What else happened at a visit besides a plain infusion."""

    NONE = ""
    DISSOCIATION = "dissociation"  # a mild dissociation charted
    NAUSEA = "nausea"  # nausea: ondansetron given and the rate lowered
    ALERT = "alert"  # a high blood pressure alert: paused, acknowledged, resumed
    ABORT = "abort"  # stopped for good with ``ABORT_REASON``; no post scores
    NO_SHOW = "no_show"  # the patient did not come


Day = tuple[int, int]  # (weeks ago, weekday 0 = Monday)


@dataclass(frozen=True)
class Visit:
    day: Day
    pain: tuple[int, int]  # NRS before, after (after unused when the visit did not complete)
    phq9: tuple[int, int]  # PHQ-9 total before, after
    event: Event = Event.NONE

    @property
    def completed(self) -> bool:
        return self.event not in (Event.ABORT, Event.NO_SHOW)


@dataclass(frozen=True)
class Diary:
    """A score between visits: a portal diary, or the nurse's phone follow-up."""

    day: Day
    instrument: str  # "nrs" or "phq9"
    score: int


@dataclass(frozen=True)
class Story:
    position: int  # index into the clinic's patients by id; 0 is the portal patient
    protocol: str
    screened: Day
    baseline: tuple[int, int]  # pain NRS, PHQ-9
    visits: tuple[Visit, ...]
    diaries: tuple[Diary, ...] = ()
    diary_context: str = "portal"  # or "follow_up" (a phone call)
    goal: tuple[str, int | None] | None = None  # the patient's words, target pain NRS
    end: tuple[Day, str] | None = None  # when and why the physician ended the course
    relapse: bool = False  # the booster rule should suggest a booster now


def _v(day: Day, pain: tuple[int, int], phq9: tuple[int, int], event: Event = Event.NONE) -> Visit:
    return Visit(day, pain, phq9, event)


def _d(instrument: str, *points: tuple[int, int, int]) -> tuple[Diary, ...]:
    return tuple(Diary((week, weekday), instrument, score) for week, weekday, score in points)


STORIES: tuple[Story, ...] = (
    Story(  # the portal patient: fibromyalgia, a responder who keeps a weekly pain diary
        position=0,
        protocol=FIBROMYALGIA,
        screened=(10, 3),
        baseline=(8, 12),
        visits=(
            _v((9, 1), (8, 4), (12, 9), Event.DISSOCIATION),
            _v((6, 1), (6, 3), (10, 8), Event.NAUSEA),
            _v((3, 1), (5, 2), (9, 6)),
            _v((1, 1), (4, 2), (7, 5)),
        ),
        diaries=_d("nrs", (8, 3, 4), (7, 3, 5), (6, 0, 6), (5, 3, 3), (4, 3, 4), (3, 0, 5))
        + _d("nrs", (2, 3, 3), (1, 4, 3))
        + _d("phq9", (8, 5, 9), (5, 5, 8), (2, 5, 7)),
        goal=("Walk the dog round the park without stopping", 3),
    ),
    Story(  # depression: responds to the series, then relapses (PHQ-9 by phone follow-up)
        position=10,
        protocol=DEPRESSION,
        screened=(10, 2),
        baseline=(0, 19),
        visits=(
            _v((9, 0), (0, 0), (19, 15)),
            _v((9, 2), (0, 0), (17, 12)),
            _v((9, 4), (0, 0), (15, 11), Event.DISSOCIATION),
            _v((8, 0), (0, 0), (12, 8)),
            _v((8, 2), (0, 0), (10, 7)),
            _v((8, 4), (0, 0), (9, 5)),
        ),
        diaries=_d("phq9", (6, 3, 6), (4, 3, 7), (3, 3, 9), (2, 3, 12), (1, 3, 14)),
        diary_context="follow_up",
        goal=("Get back to work three days a week", None),
        relapse=True,
    ),
    Story(  # depression: no response after the series; the course is ended
        position=21,
        protocol=DEPRESSION,
        screened=(8, 3),
        baseline=(2, 17),
        visits=(
            _v((7, 0), (2, 2), (17, 15)),
            _v((7, 2), (2, 1), (16, 14), Event.ALERT),
            _v((7, 4), (2, 2), (16, 15)),
            _v((6, 0), (3, 2), (17, 15)),
            _v((6, 2), (2, 2), (16, 14)),
            _v((6, 4), (2, 2), (15, 14)),
        ),
        end=((5, 1), "No response after six infusions (PHQ-9 17 to 15); back to the psychiatrist"),
    ),
    Story(  # depression: four of six series sessions done, one missed
        position=32,
        protocol=DEPRESSION,
        screened=(3, 3),
        baseline=(1, 21),
        visits=(
            _v((2, 0), (1, 1), (21, 16)),
            _v((2, 2), (1, 1), (20, 20), Event.NO_SHOW),
            _v((2, 4), (1, 0), (18, 13)),
            _v((1, 0), (1, 1), (15, 11)),
            _v((1, 2), (1, 0), (13, 9)),
        ),
    ),
    Story(  # depression: one session aborted for blood pressure and made up; in remission
        position=43,
        protocol=DEPRESSION,
        screened=(6, 4),
        baseline=(0, 16),
        visits=(
            _v((5, 0), (0, 0), (16, 12)),
            _v((5, 2), (0, 0), (15, 15), Event.ABORT),
            _v((5, 4), (0, 0), (14, 10)),
            _v((4, 0), (0, 0), (12, 8)),
            _v((4, 2), (0, 0), (10, 6)),
            _v((4, 4), (0, 0), (8, 5)),
            _v((3, 0), (0, 0), (7, 4)),
        ),
    ),
    Story(  # migraine: a responder with a pain diary
        position=12,
        protocol=MIGRAINE,
        screened=(8, 1),
        baseline=(8, 6),
        visits=(
            _v((7, 3), (8, 3), (6, 5), Event.DISSOCIATION),
            _v((3, 3), (6, 2), (5, 4)),
        ),
        diaries=_d("nrs", (6, 3, 3), (5, 3, 4), (4, 3, 6), (2, 3, 3), (1, 3, 3)),
    ),
    Story(  # migraine: little relief twice; the course is ended
        position=23,
        protocol=MIGRAINE,
        screened=(7, 0),
        baseline=(7, 8),
        visits=(
            _v((6, 1), (7, 6), (8, 8)),
            _v((4, 1), (7, 6), (9, 8)),
        ),
        end=((3, 1), "Little relief after two infusions; back to the headache clinic"),
    ),
    Story(  # nerve pain: relief, then the pain diary climbs back to baseline
        position=9,
        protocol=CHRONIC_PAIN,
        screened=(9, 0),
        baseline=(8, 9),
        visits=(
            _v((8, 2), (8, 3), (9, 7)),
            _v((4, 2), (6, 2), (8, 6), Event.ALERT),
        ),
        diaries=_d("nrs", (7, 2, 3), (6, 2, 4), (5, 2, 6), (3, 2, 3), (2, 2, 5), (1, 2, 7)),
        goal=("Sleep through the night without the burning waking me", 4),
        relapse=True,
    ),
    Story(  # CRPS: one infusion of the daily series, with nausea, partial relief holding
        position=13,
        protocol=CRPS,
        screened=(4, 1),
        baseline=(9, 10),
        visits=(_v((3, 3), (9, 5), (10, 9), Event.NAUSEA),),
        diaries=_d("nrs", (2, 3, 5), (1, 3, 6)),
        goal=("Wear a shoe on the left foot again", 5),
    ),
    Story(  # back pain: a modest responder
        position=17,
        protocol=CHRONIC_PAIN,
        screened=(6, 0),
        baseline=(8, 7),
        visits=(
            _v((5, 1), (8, 6), (7, 6)),
            _v((2, 1), (7, 5), (7, 6)),
        ),
    ),
)
