from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.dosing.checks import DOSE_CONTEXT
from ketaclinic.errors import InvalidInput
from ketaclinic.infusions.timeline import (
    BolusGiven,
    Event,
    Pause,
    RateChange,
    Resume,
    Start,
    Stop,
    derive,
)
from ketaclinic.pk import schedule as pk

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
TEN = Decimal(10)  # mg/mL


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_rate_change_and_pause_give_the_hand_computed_dose() -> None:
    # 30 min at 20 mg/h = 10 mg; 10 min paused = 0 mg; 20 min at 30 mg/h = 10 mg → 20 mg.
    events: list[Event] = [
        Start(at(0), Decimal(20)),
        Pause(at(30), "nausea"),
        Resume(at(40), Decimal(30)),
        Stop(at(60)),
    ]
    given_ = derive(events, TEN)
    assert given_.total_mg == Decimal(20)
    assert given_.total_ml == Decimal(2)  # 20 mg / 10 mg/mL
    assert given_.infusing_min == Decimal(50)
    assert given_.paused_min == Decimal(10)
    assert [(s.start_min, s.end_min, s.mg_per_h) for s in given_.segments] == [
        (Decimal(0), Decimal(30), Decimal(20)),
        (Decimal(40), Decimal(60), Decimal(30)),
    ]
    assert given_.ended_at == at(60) and not given_.running


def test_rate_changes_and_a_bolus_add_up() -> None:
    # 15 mg bolus; 45 min at 40 mg/h = 30 mg; 15 min at 24 mg/h = 6 mg → 51 mg, 5.1 mL at 10 mg/mL.
    events: list[Event] = [
        Start(at(0), Decimal(40)),
        BolusGiven(at(0), Decimal(15)),
        RateChange(at(45), Decimal(24)),
        Stop(at(60)),
    ]
    given_ = derive(events, TEN)
    assert given_.infused_mg == Decimal(36)
    assert given_.bolus_mg == Decimal(15)
    assert given_.total_mg == Decimal(51)
    assert given_.total_ml == Decimal("5.1")
    assert [(b.at_min, b.mg) for b in given_.boluses] == [(Decimal(0), Decimal(15))]


def test_resume_without_a_rate_keeps_the_rate_before_the_pause() -> None:
    # 6 min at 50 mg/h = 5 mg, 4 min paused, 6 min at 50 mg/h = 5 mg → 10 mg.
    events: list[Event] = [Start(at(0), Decimal(50)), Pause(at(6)), Resume(at(10)), Stop(at(16))]
    assert derive(events, TEN).total_mg == Decimal(10)


def test_stopping_while_paused_counts_the_pause_to_the_stop() -> None:
    events: list[Event] = [Start(at(0), Decimal(60)), Pause(at(20)), Stop(at(25))]
    given_ = derive(events, TEN)
    assert (given_.total_mg, given_.infusing_min, given_.paused_min) == tuple(
        map(Decimal, (20, 20, 5))
    )


def test_seconds_are_exact_and_quotients_are_never_above_the_exact_value() -> None:
    # 1 s at 3600 mg/h = exactly 1 mg; 1 s is 0.01666… min, cut toward zero at 28 digits.
    events: list[Event] = [Start(T0, Decimal(3600)), Stop(T0 + timedelta(seconds=1))]
    given_ = derive(events, Decimal(3))
    assert given_.total_mg == Decimal(1)
    assert given_.infusing_min == Decimal("0.01666666666666666666666666666")
    assert given_.total_ml == Decimal("0.3333333333333333333333333333")
    assert given_.segments[0].end_s == Decimal(1)


def test_a_running_infusion_is_read_up_to_as_of() -> None:
    events: list[Event] = [Start(at(0), Decimal(30))]
    given_ = derive(events, TEN, as_of=at(20))
    assert given_.running and given_.total_mg == Decimal(10)
    with pytest.raises(InvalidInput, match="no stop; pass as_of"):
        derive(events, TEN)
    with pytest.raises(InvalidInput, match=r"as_of .* is before the last event"):
        derive([*events, RateChange(at(30), Decimal(1))], TEN, as_of=at(20))


def test_the_pk_schedule_has_the_same_doses_in_minutes() -> None:
    events: list[Event] = [
        Start(at(0), Decimal(20)),
        BolusGiven(at(5), Decimal("7.5")),
        Pause(at(30), "bp"),
        Resume(at(40), Decimal(30)),
        Stop(at(60)),
    ]
    schedule = derive(events, TEN).to_pk_schedule()
    assert schedule.infusions == (pk.Infusion(0, 30, 20), pk.Infusion(40, 60, 30))
    assert schedule.boluses == (pk.Bolus(5, 7.5),)
    assert schedule.total_mg == pytest.approx(27.5)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "must begin with a start"),
        ([Pause(at(0)), Stop(at(1))], "must begin with a start"),
        ([Start(at(10), Decimal(1)), Stop(at(5))], r"events\[1\] .* earlier than the event"),
        ([Start(at(0), Decimal(1)), Pause(at(1)), RateChange(at(2), Decimal(2))], "while paused"),
        ([Start(at(0), Decimal(1)), Pause(at(1)), Pause(at(2))], "already paused"),
        ([Start(at(0), Decimal(1)), Resume(at(1))], "not paused"),
        ([Start(at(0), Decimal(1)), Start(at(1), Decimal(1))], "second start"),
        ([Start(at(0), Decimal(1)), Stop(at(1)), BolusGiven(at(2), Decimal(1))], "after the stop"),
        ([Start(at(0), Decimal(1)), Stop(at(1)), Stop(at(1))], "after the stop"),
        ([Start(at(0), Decimal(-1)), Stop(at(1))], r"events\[0\].mg_per_h must be at least 0"),
        ([Start(at(0), Decimal(1)), RateChange(at(1), Decimal(-2))], "at least 0 mg/h"),
        ([Start(at(0), Decimal(1)), BolusGiven(at(1), Decimal(0))], "greater than 0 mg"),
        ([Start(at(0), 1.5), Stop(at(1))], "must be a Decimal or an int"),  # type: ignore[arg-type]
        ([Start(datetime(2025, 1, 1), Decimal(1))], "timezone-aware"),
    ],
)
def test_malformed_timelines_are_refused_with_the_event_named(
    events: list[Event], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        derive(events, TEN, as_of=at(100))


def test_concentration_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="concentration_mg_per_ml must be greater than 0"):
        derive([Start(at(0), Decimal(1)), Stop(at(1))], Decimal(0))


# --- properties -----------------------------------------------------------------------------------

rates = st.decimals(min_value=0, max_value=500, places=2)
gaps_s = st.integers(min_value=0, max_value=4 * 3600)
step = st.tuples(st.sampled_from(["rate", "pause", "bolus"]), gaps_s, rates)


@st.composite
def timelines(draw: st.DrawFn) -> list[Event]:
    t = T0 + timedelta(microseconds=draw(st.integers(0, 999_999)))
    events: list[Event] = [Start(t, draw(rates))]
    paused = False
    for kind, gap, value in draw(st.lists(step, max_size=12)):
        t += timedelta(seconds=gap, microseconds=draw(st.integers(0, 999_999)))
        if kind == "bolus" and value > 0:
            events.append(BolusGiven(t, value))
        elif kind == "pause" and not paused:
            events.append(Pause(t, "x"))
            paused = True
        elif paused:
            events.append(Resume(t, value if kind == "rate" else None))
            paused = False
        else:
            events.append(RateChange(t, value))
    events.append(Stop(t + timedelta(seconds=draw(gaps_s))))
    return events


@given(timelines())
def test_total_is_the_sum_of_rate_times_duration_plus_boluses(events: list[Event]) -> None:
    given_ = derive(events, TEN)
    with localcontext(DOSE_CONTEXT):
        by_hand = sum(
            (s.mg_per_h * (s.end_s - s.start_s) for s in given_.segments), Decimal(0)
        ) / 3600 + sum((b.mg for b in given_.boluses), Decimal(0))
        per_minute = sum(
            (s.mg_per_h * (s.end_min - s.start_min) / 60 for s in given_.segments), Decimal(0)
        )
    assert given_.total_mg == by_hand
    assert abs(given_.infused_mg - per_minute) < Decimal("1e-20")
    elapsed_us = (given_.ended_at - given_.started_at) // timedelta(microseconds=1)
    assert given_.infusing_s + given_.paused_s == Decimal(elapsed_us).scaleb(-6)


@given(timelines(), st.decimals(min_value="0.5", max_value=100, places=3))
def test_ml_times_concentration_is_mg(events: list[Event], concentration: Decimal) -> None:
    given_ = derive(events, concentration)
    with localcontext(DOSE_CONTEXT):
        back = given_.total_ml * concentration
    assert back <= given_.total_mg  # cut toward zero, never above
    assert given_.total_mg - back <= given_.total_mg * Decimal("1e-26")


def _paused_at_end(events: list[Event]) -> bool:
    kinds = [e for e in events if isinstance(e, Pause | Resume)]
    return bool(kinds) and isinstance(kinds[-1], Pause)


@given(timelines(), st.integers(0, 100), st.integers(1, 3600))
def test_pausing_never_increases_the_dose(events: list[Event], where: int, pause_s: int) -> None:
    """Insert a pause into the last running stretch: the stop moves later by the pause, so the
    running time is unchanged; the dose must not go up (here it stays the same)."""
    last, before = events[-1], events[-2]
    if _paused_at_end(events):
        return
    gap = last.at - before.at
    pause_at = before.at + gap * where / 100
    shifted = [
        *events[:-1],
        Pause(pause_at, "x"),
        Resume(pause_at + timedelta(seconds=pause_s)),
        Stop(last.at + timedelta(seconds=pause_s)),
    ]
    original = derive(events, TEN)
    paused = derive(shifted, TEN)
    assert paused.total_mg <= original.total_mg
    assert paused.paused_s == original.paused_s + pause_s


@given(timelines(), st.integers(0, 100), st.integers(1, 3600))
def test_a_pause_without_moving_the_stop_gives_less_or_equal(
    events: list[Event], where: int, pause_s: int
) -> None:
    last, before = events[-1], events[-2]
    if _paused_at_end(events) or last.at - before.at < timedelta(seconds=pause_s):
        return
    pause_at = before.at + (last.at - before.at - timedelta(seconds=pause_s)) * where / 100
    paused = [
        *events[:-1],
        Pause(pause_at, "x"),
        Resume(pause_at + timedelta(seconds=pause_s)),
        last,
    ]
    assert derive(paused, TEN).total_mg <= derive(events, TEN).total_mg
