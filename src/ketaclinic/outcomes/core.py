"""Response to treatment and the maintenance booster rule. Pure: scores in, verdicts out.

Arithmetic is exact (``fractions.Fraction``): a threshold such as "≥ 30 %" is never missed or met
by a binary rounding error, and a PEG mean such as 19/3 is compared as it was scored.

Thresholds and their sources (docs: /work/shared/clinical/REFERENCE.md):

- Pain: a ≥ 30 % reduction on the 0–10 NRS is moderately important and ≥ 50 % substantial
  (IMMPACT, Dworkin 2008) [R30][R65]; REFERENCE §1f uses these as the practical default because
  Cohen 2018's own threshold could not be read (UNCONFIRMED there) [R1].
- Depression (PHQ-9): response is a ≥ 50 % reduction from baseline [R79][R80]; remission is a
  score below 5 [R79].

Everything here that leads to treatment (a booster) is a suggestion: the physician decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from ketaclinic.errors import InvalidInput

#: Reductions (as a percentage of baseline) that IMMPACT calls substantial and moderately
#: important on the pain NRS [R30][R65].
PAIN_SUBSTANTIAL_REDUCTION_PERCENT = Fraction(50)
PAIN_MODERATE_REDUCTION_PERCENT = Fraction(30)
#: PHQ-9 response: a ≥ 50 % reduction from baseline (NCQA/HEDIS) [R79][R80].
PHQ9_RESPONSE_REDUCTION_PERCENT = Fraction(50)
#: PHQ-9 remission: a total below 5 [R79] (0–4 is the "none/minimal" band [R72]).
PHQ9_REMISSION_BELOW = Fraction(5)
#: Clinic policy, not a published standard: relief has ended when pain is back to 70 % of
#: baseline, i.e. less than the 30 % reduction IMMPACT calls moderately important [R30] remains.
DEFAULT_RELIEF_RETURN_FRACTION = Fraction(7, 10)

CONTEXTS = frozenset({"baseline", "pre", "post", "follow_up", "portal"})
PHYSICIAN_DECIDES = "This is a suggestion from the clinic's booster rule; the physician decides."

_DAY = timedelta(days=1)


# --- validation at the door -------------------------------------------------------------------


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be a timezone-aware time, not a naive one", loc=(name,))
    return value


def _score(value: Fraction, name: str) -> Fraction:
    if value < 0:
        raise InvalidInput(f"{name} must not be negative (score points), got {value}", loc=(name,))
    return value


# --- change from baseline ---------------------------------------------------------------------


class PainResponse(StrEnum):
    SUBSTANTIAL = "substantial"  # ≥ 50 % reduction [R30][R65]
    MODERATE = "moderate"  # ≥ 30 % reduction [R30][R65]
    NONE = "none"  # < 30 % reduction, or worse
    NOT_APPLICABLE = "not_applicable"  # baseline 0: nothing to reduce


def percent_change(baseline: Fraction, value: Fraction) -> Fraction | None:
    """(value − baseline) / baseline × 100, exactly; negative is an improvement.

    ``None`` when the baseline is 0: a change relative to nothing has no meaning.
    """
    _score(baseline, "baseline")
    _score(value, "value")
    if baseline == 0:
        return None
    return (value - baseline) / baseline * 100


def pain_response(baseline: Fraction, value: Fraction) -> PainResponse:
    """The IMMPACT category of a pain score against its baseline [R30][R65]."""
    change = percent_change(baseline, value)
    if change is None:
        return PainResponse.NOT_APPLICABLE
    if -change >= PAIN_SUBSTANTIAL_REDUCTION_PERCENT:
        return PainResponse.SUBSTANTIAL
    if -change >= PAIN_MODERATE_REDUCTION_PERCENT:
        return PainResponse.MODERATE
    return PainResponse.NONE


@dataclass(frozen=True)
class DepressionStatus:
    change_percent: Fraction | None
    response: bool  # ≥ 50 % reduction from baseline [R79][R80]
    remission: bool  # PHQ-9 < 5 [R79]


def depression_status(baseline: Fraction, value: Fraction) -> DepressionStatus:
    """PHQ-9 response and remission. A baseline of 0 can show no response, only remission."""
    change = percent_change(baseline, value)
    return DepressionStatus(
        change_percent=change,
        response=change is not None and -change >= PHQ9_RESPONSE_REDUCTION_PERCENT,
        remission=value < PHQ9_REMISSION_BELOW,
    )


# --- scores over time -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScorePoint:
    """One score of one instrument at one time. ``context`` is where it was taken (baseline,
    pre, post, follow_up, portal); ``session_id`` the infusion session of a pre or post score."""

    at: datetime
    value: Fraction
    context: str
    session_id: int | None = None

    def __post_init__(self) -> None:
        _aware(self.at, "at")
        _score(self.value, "value")
        if self.context not in CONTEXTS:
            known = ", ".join(sorted(CONTEXTS))
            raise InvalidInput(
                f"unknown context {self.context!r}; known: {known}", loc=("context",)
            )


@dataclass(frozen=True)
class SessionChange:
    session_id: int
    pre: Fraction
    post: Fraction
    change: Fraction  # post − pre; negative is an improvement
    change_percent: Fraction | None  # None when pre is 0


def within_session_changes(points: Sequence[ScorePoint]) -> list[SessionChange]:
    """Each session's change from its pre to its post score, for points of one instrument.

    Sessions lacking a pre or a post are left out. When a session has several pre (or post)
    scores, the latest one counts: a re-entry corrects the first. Ordered by the pre's time.
    """
    pres: dict[int, ScorePoint] = {}
    posts: dict[int, ScorePoint] = {}
    for point in sorted(points, key=lambda p: p.at):
        if point.session_id is None:
            continue
        if point.context == "pre":
            pres[point.session_id] = point
        elif point.context == "post":
            posts[point.session_id] = point
    paired = sorted((pres[s].at, s) for s in pres.keys() & posts.keys())
    return [
        SessionChange(
            session_id=s,
            pre=pres[s].value,
            post=posts[s].value,
            change=posts[s].value - pres[s].value,
            change_percent=percent_change(pres[s].value, posts[s].value),
        )
        for _, s in paired
    ]


def exact_days(start: datetime, end: datetime) -> Fraction:
    """Days from ``start`` to ``end``, exact to the microsecond."""
    return Fraction((end - start) // timedelta(microseconds=1), _DAY // timedelta(microseconds=1))


def relief_days(
    session_end: datetime,
    baseline: Fraction,
    later: Sequence[ScorePoint],
    return_fraction: Fraction = DEFAULT_RELIEF_RETURN_FRACTION,
) -> Fraction | None:
    """Exact days from ``session_end`` to the first pain score at or after it that is back to
    ``return_fraction`` × ``baseline`` or more (clinic policy default 70 %; REFERENCE §1f notes
    relief of about 3 weeks in half of one series' patients [R24]).

    ``None`` when pain has not returned (yet), and when the baseline is 0 (no pain to return
    to; ``pain_response`` says not applicable). A score at the very instant of ``session_end``
    counts (0 days); scores before it are ignored.
    """
    _aware(session_end, "session_end")
    _score(baseline, "baseline")
    if return_fraction <= 0:
        raise InvalidInput("return_fraction must be above 0", loc=("return_fraction",))
    if baseline == 0:
        return None
    threshold = return_fraction * baseline
    for point in sorted(later, key=lambda p: p.at):
        if point.at >= session_end and point.value >= threshold:
            return exact_days(session_end, point.at)
    return None


# --- the maintenance booster rule ---------------------------------------------------------------


@dataclass(frozen=True)
class BoosterRule:
    """When a course in maintenance may need a booster. The defaults are clinic policy: no
    guideline or trial sets a pain booster interval (REFERENCE §3b, UNCONFIRMED as a standard;
    relief lasts about 3 weeks in half of one pain series [R24]); in depression the median time
    to relapse after a series was 18 days [R16] and clinics report boosters every 4–6 weeks, a
    marketing claim, not evidence [R37]. So the rule watches the patient's scores, not a calendar.

    - ``pain_return_fraction``: pain back to this fraction of baseline (clinic policy 7/10: less
      than IMMPACT's moderate 30 % reduction is left [R30]); ``None`` turns the pain rule off.
    - ``phq9_rise_from_best``: the latest PHQ-9 this many points above its best since the last
      session (clinic policy 5: one PHQ-9 severity band, bands start at 5, 10, 15, 20 [R72]);
      ``None`` turns it off.
    - ``min_days_since_last_session``: no suggestion sooner (clinic policy 0: none).
    """

    pain_return_fraction: Fraction | None = DEFAULT_RELIEF_RETURN_FRACTION
    phq9_rise_from_best: int | None = 5
    min_days_since_last_session: int = 0

    def __post_init__(self) -> None:
        if self.pain_return_fraction is not None and self.pain_return_fraction <= 0:
            raise InvalidInput(
                "pain_return_fraction must be above 0 (a fraction of baseline)",
                loc=("pain_return_fraction",),
            )
        if self.phq9_rise_from_best is not None and self.phq9_rise_from_best < 1:
            raise InvalidInput(
                "phq9_rise_from_best must be at least 1 (PHQ-9 points)",
                loc=("phq9_rise_from_best",),
            )
        if self.min_days_since_last_session < 0:
            raise InvalidInput(
                "min_days_since_last_session must not be negative (days)",
                loc=("min_days_since_last_session",),
            )


@dataclass(frozen=True)
class BoosterSuggestion:
    """Why a booster is suggested (sentences, the last saying the physician decides) and the
    scores behind it."""

    reasons: tuple[str, ...]
    evidence: tuple[ScorePoint, ...]


def score_text(value: Fraction) -> str:
    """A score as a person reads it: "7", or "6.33" for 19/3 (half away from zero)."""
    if value.denominator == 1:
        return str(value.numerator)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _percent_text(value: Fraction) -> str:
    whole = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{whole.quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def _checked_points(points: Sequence[ScorePoint], name: str, now: datetime) -> list[ScorePoint]:
    for index, point in enumerate(points):
        if point.at > now:
            raise InvalidInput(f"{name}[{index}] is later than now", loc=(name, index, "at"))
    return sorted(points, key=lambda p: p.at)  # stable: equal times keep the caller's order


def _pain_reason(
    fraction: Fraction, baseline: Fraction, pain: Sequence[ScorePoint]
) -> tuple[str, ScorePoint] | None:
    if not pain or baseline == 0:
        return None
    latest = pain[-1]
    if latest.value < fraction * baseline:
        return None
    share = latest.value / baseline * 100
    text = (
        f"Pain {score_text(latest.value)}/10 on {latest.at.date().isoformat()} is "
        f"{_percent_text(share)} of the baseline {score_text(baseline)}/10 "
        f"(rule: ≥ {_percent_text(fraction * 100)})."
    )
    return text, latest


def _phq9_reason(
    rise: int, phq9: Sequence[ScorePoint]
) -> tuple[str, ScorePoint, ScorePoint] | None:
    if not phq9:
        return None
    latest = phq9[-1]
    best = min(phq9, key=lambda p: p.value)  # the earliest of equal bests
    if latest.value - best.value < rise:
        return None
    text = (
        f"PHQ-9 {score_text(latest.value)} on {latest.at.date().isoformat()} is "
        f"{score_text(latest.value - best.value)} points above its best since the last session, "
        f"{score_text(best.value)} on {best.at.date().isoformat()} (rule: a rise of ≥ {rise})."
    )
    return text, best, latest


def booster_suggestion(
    rule: BoosterRule,
    *,
    pain_baseline: Fraction | None,
    pain: Sequence[ScorePoint],
    phq9: Sequence[ScorePoint],
    last_session_at: datetime | None,
    now: datetime,
) -> BoosterSuggestion | None:
    """A booster suggestion when the patient's scores since the last session meet ``rule``.

    Only scores at or after ``last_session_at`` count (earlier ones were already treated by that
    session); with no last session, all of them. Pain: the latest score is ≥ the fraction of
    ``pain_baseline``. PHQ-9: the latest score is ≥ the best since the last session + the rise.
    Dates in the reasons are those of the points' ``at`` as given: pass clinic-local times.
    """
    _aware(now, "now")
    if last_session_at is not None:
        _aware(last_session_at, "last_session_at")
        if last_session_at > now:
            raise InvalidInput("last_session_at is later than now", loc=("last_session_at",))
        if exact_days(last_session_at, now) < rule.min_days_since_last_session:
            return None
    if pain_baseline is not None:
        _score(pain_baseline, "pain_baseline")
    since = last_session_at

    def recent(points: list[ScorePoint]) -> list[ScorePoint]:
        return [p for p in points if since is None or p.at >= since]

    pain_since = recent(_checked_points(pain, "pain", now))
    phq9_since = recent(_checked_points(phq9, "phq9", now))
    reasons: list[str] = []
    evidence: list[ScorePoint] = []
    if rule.pain_return_fraction is not None and pain_baseline is not None:
        found = _pain_reason(rule.pain_return_fraction, pain_baseline, pain_since)
        if found is not None:
            reasons.append(found[0])
            evidence.append(found[1])
    if rule.phq9_rise_from_best is not None:
        rose = _phq9_reason(rule.phq9_rise_from_best, phq9_since)
        if rose is not None:
            reasons.append(rose[0])
            evidence.extend(rose[1:])
    if not reasons:
        return None
    return BoosterSuggestion(reasons=(*reasons, PHYSICIAN_DECIDES), evidence=tuple(evidence))
