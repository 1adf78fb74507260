from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.errors import InvalidInput
from ketaclinic.infusions.discharge import (
    ALDRETE_ITEMS,
    ALDRETE_NAMES,
    aldrete_total,
    circulation_score,
    discharge_problems,
    earliest_discharge_at,
    observation_minutes,
)

END = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
FULL = dict.fromkeys(ALDRETE_NAMES, 2)
NINE = FULL | {"activity": 1}
EIGHT = FULL | {"activity": 1, "consciousness": 1}


def problems(**changes: Any) -> list[str]:
    ready: dict[str, Any] = {
        "now": END + timedelta(minutes=60),
        "infusion_end": END,
        "observation_min": None,
        "aldrete_items": FULL,
        "post_pain_nrs": 3,
        "post_mood_done": True,
        "escort_confirmed": True,
        "no_driving_advice_given": True,
    }
    return discharge_problems(**(ready | changes))


def test_earliest_discharge_is_60_min_after_the_infusion_ends() -> None:
    assert earliest_discharge_at(END) == datetime(2025, 3, 4, 11, 0, tzinfo=UTC)


def test_a_protocol_may_ask_for_more_observation_never_less() -> None:
    assert earliest_discharge_at(END, 120) == END + timedelta(minutes=120)
    assert earliest_discharge_at(END, 30) == END + timedelta(minutes=60)
    assert observation_minutes(0) == 60


def test_at_59_min_59_s_it_is_too_early_and_the_message_gives_the_time() -> None:
    found = problems(now=END + timedelta(minutes=59, seconds=59))
    assert found == [
        "observation not complete: discharge allowed from 11:00 "
        "(60 min after the infusion ended at 10:00)"
    ]


def test_at_60_min_exactly_a_ready_patient_may_go() -> None:
    assert problems(now=END + timedelta(minutes=60)) == []


def test_a_protocol_asking_120_min_holds_the_patient_until_then() -> None:
    found = problems(now=END + timedelta(minutes=119, seconds=59), observation_min=120)
    assert len(found) == 1 and "discharge allowed from 12:00" in found[0]
    assert problems(now=END + timedelta(minutes=120), observation_min=120) == []


def test_other_timezones_compare_as_instants() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert problems(now=datetime(2025, 3, 4, 13, 0, tzinfo=plus_two)) == []


def test_aldrete_9_passes_and_8_does_not() -> None:
    assert aldrete_total(NINE) == 9 and problems(aldrete_items=NINE) == []
    assert aldrete_total(EIGHT) == 8
    assert problems(aldrete_items=EIGHT) == [
        "modified Aldrete score 8/10 is below 9 (Aldrete 1995)"
    ]


def test_every_unmet_criterion_is_listed_at_once() -> None:
    found = problems(
        now=END,
        aldrete_items=None,
        post_pain_nrs=None,
        post_mood_done=False,
        escort_confirmed=False,
        no_driving_advice_given=False,
    )
    assert len(found) == 6
    assert found[1:] == [
        "modified Aldrete score not recorded",
        "post-infusion pain score (NRS) not recorded",
        "post-infusion mood questionnaire not done",
        "no responsible adult escort confirmed",
        "no-driving advice (24 h) not given",
    ]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({k: v for k, v in FULL.items() if k != "spo2"}, "missing: spo2"),
        (FULL | {"colour": 2}, "unknown: colour"),
        (FULL | {"activity": 3}, r"aldrete_items.activity must be a whole score 0, 1 or 2"),
        (FULL | {"activity": -1}, "aldrete_items.activity"),
        (FULL | {"respiration": True}, "aldrete_items.respiration"),
        (FULL | {"respiration": 1.5}, "aldrete_items.respiration"),
    ],
)
def test_malformed_aldrete_items_are_refused(items: Mapping[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        aldrete_total(items)
    with pytest.raises(InvalidInput, match=message):
        problems(aldrete_items=items)


def test_aldrete_items_are_five_with_a_description_for_each_score() -> None:
    assert ALDRETE_NAMES == ("activity", "respiration", "circulation", "consciousness", "spo2")
    for item in ALDRETE_ITEMS:
        assert sorted(item.levels) == [0, 1, 2] and all(item.levels.values())


@given(st.fixed_dictionaries({name: st.integers(0, 2) for name in ALDRETE_NAMES}))
def test_the_total_is_the_sum_of_the_five_items(items: dict[str, int]) -> None:
    total = aldrete_total(items)
    assert 0 <= total <= 10 and total == sum(items.values())
    assert (problems(aldrete_items=items) == []) == (total >= 9)


@pytest.mark.parametrize(
    ("pre", "now", "score"),
    [(100, 100, 2), (100, 120, 2), (100, 80, 2), (100, 121, 1), (150, 76, 1), (100, 150, 0)]
    + [(100, 50, 0), (Decimal("100"), Decimal("149.9"), 1)],
)
def test_circulation_is_scored_in_percent_of_the_pre_infusion_pressure(
    pre: int, now: int, score: int
) -> None:
    assert circulation_score(pre, now) == score


def test_circulation_refuses_non_positive_pressures() -> None:
    with pytest.raises(InvalidInput, match="pre_mmhg must be a positive number"):
        circulation_score(0, 120)


@pytest.mark.parametrize("nrs", [-1, 11, True, "3"])
def test_a_malformed_pain_score_is_an_input_error(nrs: object) -> None:
    with pytest.raises(InvalidInput, match="post_pain_nrs must be a whole number 0–10"):
        problems(post_pain_nrs=nrs)


@pytest.mark.parametrize("bad", [-1, True, 30.0])
def test_a_malformed_protocol_minimum_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="protocol_observation_min"):
        earliest_discharge_at(END, bad)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="infusion_end must be a timezone-aware"):
        earliest_discharge_at(datetime(2025, 3, 4, 10, 0))
    with pytest.raises(InvalidInput, match="now must be a timezone-aware"):
        problems(now=datetime(2025, 3, 4, 11, 0))


def test_the_observation_message_gives_the_clinics_clock_time_in_its_zone() -> None:
    from zoneinfo import ZoneInfo

    # 4 March 2025 is winter time in Zurich, UTC+1: the end at 10:00 UTC is 11:00 on the wall.
    found = problems(now=END + timedelta(minutes=30), zone=ZoneInfo("Europe/Zurich"))
    assert found == [
        "observation not complete: discharge allowed from 12:00 "
        "(60 min after the infusion ended at 11:00)"
    ]
