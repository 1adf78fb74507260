"""When a patient may leave: the observation time rule and the modified Aldrete score.

Pure: times are passed in (timezone-aware), nothing reads the clock. ``discharge_problems`` lists
every unmet criterion at once, so the nurse sees the whole checklist, not one refusal at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, localcontext
from types import MappingProxyType

from ketaclinic.dosing.checks import DOSE_CONTEXT
from ketaclinic.dosing.protocol import MIN_OBSERVATION_MIN
from ketaclinic.errors import InvalidInput

#: Modified Aldrete (Aldrete 1995): a total of at least 9 of 10 is the usual threshold for leaving
#: recovery (REFERENCE §5a [R53][R54][R55]).
ALDRETE_DISCHARGE_MIN = 9

#: Circulation is scored in percent of the pre-infusion blood pressure, not in mmHg: ±20 mmHg is
#: a very different margin at 100 than at 160 mmHg systolic. Percent bands as in the percent-based
#: description of Aldrete 1995 (REFERENCE §5a [R55]); the mmHg variant is not offered.
CIRCULATION_GOOD_PCT = Decimal(20)  # within ±20 % → 2
CIRCULATION_POOR_PCT = Decimal(50)  # ±20–49 % → 1; ±50 % or more → 0

#: Pain NRS range (0 = no pain, 10 = worst imaginable).
NRS_MAX = 10


@dataclass(frozen=True)
class AldreteItem:
    """One item of the score; ``levels`` maps each score (2, 1, 0) to what the nurse sees."""

    name: str
    label: str
    levels: Mapping[int, str]


#: REFERENCE §5a table (Aldrete 1995; SpO2 replaced "colour" of Aldrete & Kroulik 1970).
ALDRETE_ITEMS: tuple[AldreteItem, ...] = (
    AldreteItem(
        "activity",
        "Activity",
        MappingProxyType(
            {
                2: "Moves 4 limbs voluntarily or on command",
                1: "Moves 2 limbs",
                0: "Moves 0 limbs",
            }
        ),
    ),
    AldreteItem(
        "respiration",
        "Respiration",
        MappingProxyType(
            {
                2: "Breathes deeply and coughs freely",
                1: "Dyspnea, shallow or limited breathing",
                0: "Apneic",
            }
        ),
    ),
    AldreteItem(
        "circulation",
        "Circulation",
        MappingProxyType(
            {
                2: "BP within ±20% of the pre-infusion level",
                1: "BP ±20–49% of the pre-infusion level",
                0: "BP ±50% or more from the pre-infusion level",
            }
        ),
    ),
    AldreteItem(
        "consciousness",
        "Consciousness",
        MappingProxyType({2: "Fully awake", 1: "Arousable on calling", 0: "Not responding"}),
    ),
    AldreteItem(
        "spo2",
        "SpO2",
        MappingProxyType(
            {
                2: "Keeps SpO2 >92% on room air",
                1: "Needs O2 to keep SpO2 >90%",
                0: "SpO2 <90% even with O2",
            }
        ),
    ),
)
ALDRETE_NAMES = tuple(item.name for item in ALDRETE_ITEMS)


def aldrete_total(items: Mapping[str, int]) -> int:
    """The modified Aldrete total (0–10) of exactly the five named items, each a whole 0–2."""
    if not isinstance(items, Mapping):
        raise InvalidInput("aldrete_items must map item names to scores", loc=("aldrete_items",))
    missing = [name for name in ALDRETE_NAMES if name not in items]
    unknown = sorted(str(name) for name in items if name not in ALDRETE_NAMES)
    if missing or unknown:
        parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
            [f"unknown: {', '.join(unknown)}"] if unknown else []
        )
        raise InvalidInput(
            f"aldrete_items must be exactly {', '.join(ALDRETE_NAMES)} ({'; '.join(parts)})",
            loc=("aldrete_items",),
        )
    for name in ALDRETE_NAMES:
        value = items[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2:
            raise InvalidInput(
                f"aldrete_items.{name} must be a whole score 0, 1 or 2, got {value!r}",
                loc=("aldrete_items", name),
            )
    return sum(items[name] for name in ALDRETE_NAMES)


def circulation_score(pre_mmhg: int | Decimal, now_mmhg: int | Decimal) -> int:
    """The Aldrete circulation item from one blood-pressure figure before and now (the same kind,
    e.g. systolic both times): within ±20 % → 2, under ±50 % → 1, else 0."""
    for name, value in (("pre_mmhg", pre_mmhg), ("now_mmhg", now_mmhg)):
        if isinstance(value, bool) or not isinstance(value, int | Decimal) or not value > 0:
            raise InvalidInput(f"{name} must be a positive number of mmHg, got {value!r}")
    with localcontext(DOSE_CONTEXT):
        deviation_pct = abs(Decimal(now_mmhg) - Decimal(pre_mmhg)) * 100 / Decimal(pre_mmhg)
    if deviation_pct <= CIRCULATION_GOOD_PCT:
        return 2
    if deviation_pct < CIRCULATION_POOR_PCT:
        return 1
    return 0


def _aware(name: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be a timezone-aware datetime, got {value!r}", loc=(name,))
    return value


def observation_minutes(protocol_observation_min: int | None = None) -> int:
    """Clinic policy: at least 60 min (REFERENCE §5c); a protocol may ask for more, never less."""
    if protocol_observation_min is None:
        return MIN_OBSERVATION_MIN
    value = protocol_observation_min
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(
            f"protocol_observation_min must be a whole number of minutes ≥ 0, got {value!r}",
            loc=("protocol_observation_min",),
        )
    return max(MIN_OBSERVATION_MIN, value)


def earliest_discharge_at(
    infusion_end: datetime, protocol_observation_min: int | None = None
) -> datetime:
    """Observation starts when the infusion stops; discharge no earlier than its minimum later."""
    end = _aware("infusion_end", infusion_end)
    return end + timedelta(minutes=observation_minutes(protocol_observation_min))


def clock_time(at: datetime, zone: tzinfo) -> str:
    """ "15:36": an instant as the clinic's wall clock shows it (no date, no seconds)."""
    return at.astimezone(zone).strftime("%H:%M")


def discharge_problems(
    *,
    now: datetime,
    infusion_end: datetime,
    observation_min: int | None,
    aldrete_items: Mapping[str, int] | None,
    post_pain_nrs: int | None,
    post_mood_done: bool,
    escort_confirmed: bool,
    no_driving_advice_given: bool,
    zone: tzinfo = UTC,
) -> list[str]:
    """Every unmet discharge criterion; empty means the patient may go (a signer still signs).
    Times are the clinic's clock times in ``zone`` ("11:00"), as the nurse reads the wall clock.

    Malformed input (a naive datetime, an Aldrete item of 3, a pain score of 11) is an
    ``InvalidInput``, not a problem on the list: it is a data error, not a patient not yet ready.
    """
    current = _aware("now", now)
    earliest = earliest_discharge_at(infusion_end, observation_min)
    problems: list[str] = []
    if current < earliest:
        problems.append(
            f"observation not complete: discharge allowed from {clock_time(earliest, zone)} "
            f"({observation_minutes(observation_min)} min after the infusion ended at "
            f"{clock_time(infusion_end, zone)})"
        )
    if aldrete_items is None:
        problems.append("modified Aldrete score not recorded")
    else:
        total = aldrete_total(aldrete_items)
        if total < ALDRETE_DISCHARGE_MIN:
            problems.append(
                f"modified Aldrete score {total}/10 is below {ALDRETE_DISCHARGE_MIN} (Aldrete 1995)"
            )
    if post_pain_nrs is None:
        problems.append("post-infusion pain score (NRS) not recorded")
    elif (
        isinstance(post_pain_nrs, bool)
        or not isinstance(post_pain_nrs, int)
        or not 0 <= post_pain_nrs <= NRS_MAX
    ):
        raise InvalidInput(
            f"post_pain_nrs must be a whole number 0–{NRS_MAX}, got {post_pain_nrs!r}",
            loc=("post_pain_nrs",),
        )
    if not post_mood_done:
        problems.append("post-infusion mood questionnaire not done")
    # Ketalar label and Swiss product information: leave with a responsible adult, no driving for
    # 24 h or more (REFERENCE §5c [R13][R62][R63]).
    if not escort_confirmed:
        problems.append("no responsible adult escort confirmed")
    if not no_driving_advice_given:
        problems.append("no-driving advice (24 h) not given")
    return problems
