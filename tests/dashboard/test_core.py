"""The dashboard's definitions on small inputs: windows, thresholds, adverse events, abandonment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from ketaclinic.dashboard import core
from ketaclinic.dashboard.report import Dashboard, csv_rows
from ketaclinic.errors import Forbidden, InvalidInput
from ketaclinic.outcomes.core import PHQ9_RESPONSE_REDUCTION_PERCENT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 15)


def _window(first: str | None = None, last: str | None = None, clinic: str | None = None):
    first_day = date.fromisoformat(first) if first else None
    last_day = date.fromisoformat(last) if last else None
    return core.parse_window(first_day, last_day, clinic, today=TODAY, own_clinic_id=4)


def test_the_default_window_is_the_last_twelve_weeks_to_today() -> None:
    window = _window()
    assert window.last_day == TODAY
    assert (window.last_day - window.first_day).days + 1 == core.DEFAULT_WINDOW_DAYS
    assert window.clinic_id == 4


def test_a_window_that_ends_before_it_starts_is_refused_naming_from() -> None:
    with pytest.raises(InvalidInput) as refused:
        _window("2026-03-10", "2026-03-09")
    assert refused.value.loc == ("query", "from")
    assert refused.value.msg.startswith("from:")


def test_a_window_longer_than_the_limit_is_refused() -> None:
    last = date(2026, 3, 15)
    first = last - timedelta(days=core.MAX_WINDOW_DAYS)
    with pytest.raises(InvalidInput):
        _window(first.isoformat(), last.isoformat())
    assert _window((first + timedelta(days=1)).isoformat(), last.isoformat()).first_day


def test_only_the_actors_own_clinic_may_be_asked_for() -> None:
    assert _window(clinic="4").clinic_id == 4
    with pytest.raises(Forbidden):
        _window(clinic="5")
    with pytest.raises(InvalidInput) as refused:
        _window(clinic="north")
    assert refused.value.loc == ("query", "clinic")


def test_weeks_start_on_the_first_day_then_on_mondays() -> None:
    window = core.Window(date(2026, 3, 4), date(2026, 3, 16), 1)  # a Wednesday to a Monday
    starts = window.week_starts()
    assert starts[0] == window.first_day
    assert all(d.weekday() == 0 for d in starts[1:])
    assert starts[-1] <= window.last_day < starts[-1] + timedelta(days=7)
    table = core.weeks_table(window, {})
    assert [w.week_start for w in table] == starts
    assert all(w.booked == 0 for w in table)


def test_percent_is_blank_for_nothing_and_rounded_to_a_tenth() -> None:
    assert core.percent(0, 0) == ""
    assert core.percent(1, 3) == f"{100 / 3:.1f}"
    assert core.percent(2, 3) == f"{float(Fraction(200, 3)):.1f}"
    assert core.percent(3, 3) == "100.0"


def _scores(baseline: int, latest: int, *, later: bool = True, mood: bool = False):
    first = core.Score(value=Fraction(baseline), measured_at=T0)
    then = core.Score(value=Fraction(latest), measured_at=T0 + timedelta(days=1 if later else -1))
    if mood:
        return core.PatientScores(phq9_baseline=first, phq9_latest=then)
    return core.PatientScores(pain_baseline=first, pain_latest=then)


def test_a_pain_responder_has_at_least_a_thirty_percent_reduction() -> None:
    baseline = 10
    at_threshold = baseline - baseline * 3 // 10  # exactly 30 % lower
    assert core.pain_responder(_scores(baseline, at_threshold)) is True
    assert core.pain_responder(_scores(baseline, at_threshold + 1)) is False
    assert core.pain_responder(_scores(baseline, 0)) is True


def test_pain_without_a_baseline_to_reduce_or_in_the_wrong_order_is_not_evaluable() -> None:
    assert core.pain_responder(_scores(0, 0)) is None
    assert core.pain_responder(_scores(8, 2, later=False)) is None
    assert core.pain_responder(core.PatientScores()) is None


def test_a_depression_responder_meets_the_phq9_response_threshold() -> None:
    baseline = 20
    at_threshold = int(baseline * (100 - PHQ9_RESPONSE_REDUCTION_PERCENT) / 100)
    assert core.depression_responder(_scores(baseline, at_threshold, mood=True)) is True
    assert core.depression_responder(_scores(baseline, at_threshold + 1, mood=True)) is False
    assert core.depression_responder(_scores(0, 0, mood=True)) is None


def test_responders_are_grouped_by_indication_and_protocol() -> None:
    treated = [(1, "pain"), (1, "mood"), (2, "pain"), (3, "pain"), (2, "pain")]
    indications = {1: "fibromyalgia", 2: "fibromyalgia"}
    scores = {1: _scores(10, 5), 2: _scores(10, 9)}
    lines = core.responder_table(treated, indications, scores, {}, {"pain": "Pain protocol"})
    by_key = {(line.indication_id, line.protocol_key): line for line in lines}
    assert set(by_key) == {
        ("fibromyalgia", "pain"),
        ("fibromyalgia", "mood"),
        (core.UNSPECIFIED, "pain"),
    }
    fibro = by_key[("fibromyalgia", "pain")]
    assert (fibro.patients, fibro.pain_evaluable, fibro.pain_responders) == (2, 2, 1)
    assert fibro.protocol_name == "Pain protocol"
    assert fibro.depression_evaluable == 0 and fibro.depression_percent == ""
    assert by_key[(core.UNSPECIFIED, "pain")].pain_evaluable == 0


def test_the_indication_is_the_chosen_one_else_the_first_matched() -> None:
    assert core.indication_of("crps", "migraine") == "crps"
    assert core.indication_of(None, "migraine") == "migraine"
    assert core.indication_of(None, None) == core.UNSPECIFIED


@pytest.mark.parametrize(
    ("assessment", "adverse"),
    [
        ({"effect": "nausea_vomiting", "grade": "moderate"}, True),
        ({"effect": "hallucinations", "grade": "severe"}, True),
        ({"effect": "dizziness", "grade": "mild"}, False),
        ({"effect": "sedation", "grade": core.DEEP_SEDATION_MOAA_S}, True),
        ({"effect": "sedation", "grade": core.DEEP_SEDATION_MOAA_S + 1}, False),
    ],
)
def test_an_adverse_event_is_a_significant_side_effect(
    assessment: dict[str, object], adverse: bool
) -> None:
    assert core.is_adverse([assessment]) is adverse


def test_no_sessions_means_no_safety_lines_and_blank_rates() -> None:
    assert core.safety_table({}, [], {}) == []
    line = core.SafetyLine(
        protocol_key="k", protocol_name="k", infused=0, with_alert=0, with_adverse_event=0
    )
    assert line.alert_percent == "" and line.adverse_percent == ""


def test_safety_counts_each_adverse_session_once_and_totals_them() -> None:
    severe = [{"effect": "nausea_vomiting", "grade": "severe"}]
    events = [(1, "a", severe), (1, "a", severe), (2, "b", [{"effect": "x", "grade": "none"}])]
    lines = core.safety_table({"a": (4, 1), "b": (2, 2)}, events, {})
    assert [line.with_adverse_event for line in lines] == [1, 0, 1]
    assert lines[-1].infused == 4 + 2 and lines[-1].with_alert == 1 + 2


def _course(infused: int, *, quiet_days: float, ended: bool = False, booked_again: bool = False):
    first = T0
    return core.CourseFacts(
        course_id=1,
        protocol_key="k",
        infused_sessions=infused,
        first_infused_at=first,
        last_booked_at=first + timedelta(days=7) if booked_again else first,
        ended_at=first + timedelta(days=1) if ended else None,
    ), first + timedelta(days=quiet_days)


def test_a_course_is_abandoned_after_one_session_when_ended_or_quiet_long_enough() -> None:
    limit = core.ABANDONED_AFTER.days
    assert core.is_abandoned(*_course(1, quiet_days=2, ended=True))
    assert core.is_abandoned(*_course(1, quiet_days=limit))
    assert not core.is_abandoned(*_course(1, quiet_days=limit - 0.5))
    assert not core.is_abandoned(*_course(1, quiet_days=limit * 2, booked_again=True))
    assert not core.is_abandoned(*_course(2, quiet_days=limit * 2, ended=True))


def test_the_csv_has_one_header_and_the_window_first() -> None:
    window = core.Window(date(2026, 3, 2), date(2026, 3, 8), 3)
    board = Dashboard(
        window=window,
        as_of=T0,
        weeks=core.weeks_table(window, {}),
        safety=[],
        chairs=[],
        responders=[],
        abandonment=[],
        overdue_total=2,
        overdue_shown=[],
    )
    rows = csv_rows(board)
    assert rows[:3] == [
        ("window", "", "from", "2026-03-02"),
        ("window", "", "to", "2026-03-08"),
        ("window", "", "clinic_id", "3"),
    ]
    assert ("overdue_questionnaires", "", "patients", "2") in rows
    assert all(len(row) == 4 for row in rows)
