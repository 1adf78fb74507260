"""A course's phase, series count and next-session suggestion, derived from its sessions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.courses.core import (
    DECIDES,
    NextKind,
    Phase,
    SeriesRule,
    SessionFact,
    progress,
)
from ketaclinic.errors import InvalidInput
from ketaclinic.infusions.core import State

TODAY = date(2026, 3, 10)
RULE = SeriesRule(series_sessions=6, series_spacing_days=2, maintenance_rule="A booster on relapse")


def done(session_id: int, day: date) -> SessionFact:
    return SessionFact(
        session_id=session_id, state="discharged", scheduled_date=day, discharged_date=day
    )


def aborted(session_id: int, day: date, reason: str = "hypertension") -> SessionFact:
    return SessionFact(session_id=session_id, state="aborted", scheduled_date=day, reason=reason)


def series_of(count: int, first: date) -> list[SessionFact]:
    step = timedelta(days=RULE.series_spacing_days)
    return [done(i + 1, first + i * step) for i in range(count)]


@pytest.mark.parametrize("completed", range(RULE.series_sessions + 3))
def test_the_phase_is_stabilisation_until_the_series_is_complete_then_maintenance(
    completed: int,
) -> None:
    result = progress(
        RULE, series_of(completed, TODAY - timedelta(days=30)), ended=False, today=TODAY
    )
    expected = Phase.STABILISATION if completed < RULE.series_sessions else Phase.MAINTENANCE
    assert result.phase is expected
    assert result.series_completed == min(completed, RULE.series_sessions)
    assert result.maintenance_completed == completed - result.series_completed
    assert result.series_progress == f"{result.series_completed} of {RULE.series_sessions}"


def test_the_first_session_is_suggested_from_today_when_none_is_completed() -> None:
    result = progress(RULE, [], ended=False, today=TODAY)
    assert result.next_session.kind is NextKind.SERIES
    assert result.next_session.earliest_date == TODAY
    assert DECIDES in result.next_session.text


def test_the_next_series_session_is_spaced_from_the_last_completed_one() -> None:
    last = TODAY - timedelta(days=1)
    sessions = [done(1, last - timedelta(days=RULE.series_spacing_days)), done(2, last)]
    result = progress(RULE, sessions, ended=False, today=TODAY)
    due = last + timedelta(days=RULE.series_spacing_days)
    assert due > TODAY  # the case under test: the spacing, not today, decides
    assert result.next_session.earliest_date == due
    assert f"Series session 3 of {RULE.series_sessions}" in result.next_session.text
    assert DECIDES in result.next_session.text


def test_a_series_behind_its_spacing_is_suggested_from_today_naming_the_spacing_date() -> None:
    last = TODAY - timedelta(days=10)
    result = progress(RULE, [done(1, last)], ended=False, today=TODAY)
    due = last + timedelta(days=RULE.series_spacing_days)
    assert result.next_session.earliest_date == TODAY
    assert due.isoformat() in result.next_session.text


def test_the_discharge_day_dates_a_session_not_the_order_it_is_given_in() -> None:
    early, late = TODAY - timedelta(days=5), TODAY - timedelta(days=1)
    result = progress(RULE, [done(7, late), done(3, early)], ended=False, today=TODAY)
    assert result.next_session.earliest_date == late + timedelta(days=RULE.series_spacing_days)


def test_aborted_sessions_do_not_count_toward_the_series_nor_date_the_next() -> None:
    completed = TODAY - timedelta(days=6)
    sessions = [
        *[done(i, completed) for i in range(1, RULE.series_sessions)],
        aborted(99, TODAY - timedelta(days=1)),
    ]
    result = progress(RULE, sessions, ended=False, today=TODAY)
    assert result.phase is Phase.STABILISATION
    assert result.series_completed == RULE.series_sessions - 1
    assert result.aborted == 1
    assert 99 not in result.series_session_ids
    assert result.next_session.earliest_date == TODAY  # spaced from the completed one, now past


def test_cancelled_and_no_show_sessions_do_not_count_either() -> None:
    sessions = [
        SessionFact(session_id=1, state="cancelled", scheduled_date=TODAY - timedelta(days=3)),
        SessionFact(session_id=2, state="no_show", scheduled_date=TODAY - timedelta(days=2)),
    ]
    result = progress(RULE, sessions, ended=False, today=TODAY)
    assert result.series_completed == 0
    assert result.aborted == 0
    assert result.next_session.earliest_date == TODAY


def test_maintenance_suggests_the_protocol_rule_and_no_date() -> None:
    result = progress(
        RULE, series_of(RULE.series_sessions, TODAY - timedelta(days=20)), ended=False, today=TODAY
    )
    assert result.next_session.kind is NextKind.MAINTENANCE
    assert result.next_session.earliest_date is None
    assert RULE.maintenance_rule in result.next_session.text
    assert DECIDES in result.next_session.text


@pytest.mark.parametrize("completed", [0, 2, RULE.series_sessions])
def test_an_ended_course_is_ended_whatever_its_sessions_and_suggests_nothing(
    completed: int,
) -> None:
    result = progress(
        RULE, series_of(completed, TODAY - timedelta(days=20)), ended=True, today=TODAY
    )
    assert result.phase is Phase.ENDED
    assert result.series_completed == min(completed, RULE.series_sessions)
    assert result.next_session.kind is NextKind.NONE
    assert result.next_session.earliest_date is None


@pytest.mark.parametrize("completed", [1, RULE.series_sessions])
def test_a_session_booked_in_the_future_is_named_instead_of_suggesting_another(
    completed: int,
) -> None:
    booked_for = TODAY + timedelta(days=4)
    booked = SessionFact(session_id=42, state="scheduled", scheduled_date=booked_for)
    sessions = [*series_of(completed, TODAY - timedelta(days=20)), booked]
    result = progress(RULE, sessions, ended=False, today=TODAY)
    assert result.next_session.kind is NextKind.BOOKED
    assert result.next_session.earliest_date == booked_for
    assert "42" in result.next_session.text
    assert booked_for.isoformat() in result.next_session.text


def test_a_booking_left_open_in_the_past_must_be_resolved_before_another() -> None:
    stale = SessionFact(session_id=5, state="scheduled", scheduled_date=TODAY - timedelta(days=2))
    result = progress(RULE, [stale], ended=False, today=TODAY)
    assert result.next_session.kind is NextKind.BOOKED
    assert "still open" in result.next_session.text


def test_a_session_under_way_is_named_instead_of_suggesting_another() -> None:
    running = SessionFact(session_id=8, state="infusing", scheduled_date=TODAY)
    result = progress(RULE, [done(1, TODAY - timedelta(days=3)), running], ended=False, today=TODAY)
    assert result.next_session.kind is NextKind.BOOKED
    assert "under way" in result.next_session.text


def test_an_unknown_state_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput, match="'finished'"):
        SessionFact(session_id=1, state="finished", scheduled_date=TODAY)


def test_a_series_rule_without_sessions_is_refused() -> None:
    with pytest.raises(InvalidInput, match="series_sessions"):
        SeriesRule(series_sessions=0, series_spacing_days=1, maintenance_rule="x")


FINAL = [s.value for s in (State.DISCHARGED, State.ABORTED, State.CANCELLED, State.NO_SHOW)]


@given(
    states=st.lists(st.sampled_from(FINAL), max_size=15),
    series=st.integers(min_value=1, max_value=10),
    ended=st.booleans(),
)
def test_only_discharged_sessions_count_and_the_phase_follows_them(
    states: list[str], series: int, ended: bool
) -> None:
    rule = SeriesRule(series_sessions=series, series_spacing_days=1, maintenance_rule="rule")
    sessions = [
        SessionFact(
            session_id=i,
            state=state,
            scheduled_date=TODAY - timedelta(days=20 - i),
            discharged_date=TODAY - timedelta(days=20 - i) if state == "discharged" else None,
        )
        for i, state in enumerate(states)
    ]
    result = progress(rule, sessions, ended=ended, today=TODAY)
    discharged = states.count("discharged")
    assert result.series_completed == min(discharged, series)
    assert result.aborted == states.count("aborted")
    assert len(result.series_session_ids) == result.series_completed
    if ended:
        assert result.phase is Phase.ENDED
    else:
        assert result.phase is (Phase.STABILISATION if discharged < series else Phase.MAINTENANCE)
