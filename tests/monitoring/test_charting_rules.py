"""The pure rules of a chart that can be trusted: plausibility bands, the late-entry window and
who may mark an entry entered in error (``monitoring.core``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.errors import Conflict, Forbidden
from ketaclinic.monitoring.alerts import DEFAULT_RULES
from ketaclinic.monitoring.core import (
    CORRECTABLE_KINDS,
    PLAUSIBILITY_BANDS,
    Corrector,
    ImplausibleValues,
    check_correction,
    check_plausible,
    implausible_values,
    late_entry_problem,
)
from ketaclinic.vitals.core import PLAUSIBLE

NOW = datetime(2026, 3, 2, 14, 42, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")  # UTC+1 in March: 14:42 UTC is 15:42 on the clinic's clock


def test_every_band_lies_inside_the_possible_range_of_its_vital() -> None:
    for name, band in PLAUSIBILITY_BANDS.items():
        possible = PLAUSIBLE[name]
        assert possible.low <= band.low < band.high <= possible.high, name
        assert band.unit == possible.unit


def test_no_alert_threshold_lies_beyond_a_band() -> None:
    """A reading that merely alerts never needs a confirmation: every alert threshold of a
    banded vital is inside its band."""
    for rule in DEFAULT_RULES:
        band = PLAUSIBILITY_BANDS.get(rule.watches.value)
        if band is not None:
            assert band.holds(rule.threshold), rule.id


@pytest.mark.parametrize(
    ("name", "inside", "beyond"),
    [
        # The issue's examples: systolic > 250, heart rate > 200, SpO2 < 70.
        ("systolic_mmhg", 250, 251),
        ("heart_rate_per_min", 200, 201),
        ("spo2_percent", 70, 69),
    ],
)
def test_the_issues_examples_sit_exactly_at_the_band_edges(
    name: str, inside: int, beyond: int
) -> None:
    assert implausible_values({name: inside}) == ()
    (finding,) = implausible_values({name: beyond})
    assert (finding.field, finding.value) == (name, beyond)


def test_it_refuses_an_unconfirmed_implausible_value_naming_field_value_and_band() -> None:
    reading = {"systolic_mmhg": 260, "diastolic_mmhg": 90, "heart_rate_per_min": 210}
    with pytest.raises(ImplausibleValues) as refused:
        check_plausible(reading, confirmed=False)
    detail = refused.value.detail()
    assert [d["loc"] for d in detail] == [["body", "systolic_mmhg"], ["body", "heart_rate_per_min"]]
    assert "systolic BP 260 mmHg" in str(detail[0]["msg"])
    assert "70–250 mmHg" in str(detail[0]["msg"])
    assert "confirm_implausible" in str(detail[0]["msg"])
    assert refused.value.status_code == 422
    confirmation = refused.value.findings[0].confirmation
    assert confirmation == "Yes, I re-checked: systolic BP 260 mmHg is right"


def test_a_confirmed_implausible_value_passes() -> None:
    check_plausible({"systolic_mmhg": 260}, confirmed=True)


@given(
    st.fixed_dictionaries(
        {name: st.integers(band.low, band.high) for name, band in PLAUSIBILITY_BANDS.items()}
    )
)
def test_a_reading_inside_every_band_never_needs_a_confirmation(reading: dict[str, int]) -> None:
    check_plausible(reading, confirmed=False)


def _late(minutes_back: int, checked_in_min_back: int | None = 90) -> str | None:
    checked_in = (
        None if checked_in_min_back is None else NOW - timedelta(minutes=checked_in_min_back)
    )
    return late_entry_problem(
        NOW - timedelta(minutes=minutes_back),
        now=NOW,
        checked_in_at=checked_in,
        max_late_min=60,
        zone=BERLIN,
    )


def test_a_late_entry_may_go_back_exactly_the_window_and_no_further() -> None:
    assert _late(0) is None
    assert _late(60) is None
    problem = _late(61)
    # 61 min before 15:42 (clinic clock) is 14:41; the earliest allowed is 14:42.
    assert problem is not None
    assert "14:41" in problem and "more than 60 min ago" in problem and "14:42" in problem
    assert "clinic policy" in problem


def test_a_late_entry_is_never_in_the_future() -> None:
    problem = _late(-1)
    assert problem is not None and "15:43" in problem and "future" in problem


def test_a_late_entry_is_never_before_the_check_in() -> None:
    problem = _late(20, checked_in_min_back=10)
    # Observed 15:22, checked in at 15:32 (clinic clock).
    assert problem is not None and "15:22" in problem and "check-in at 15:32" in problem
    assert _late(10, checked_in_min_back=10) is None


def _correct(
    kind: str = "vitals", *, actor: int = 7, physician: bool = False, marked: bool = False
) -> Corrector:
    return check_correction(
        kind=kind, author_id=7, actor_id=actor, actor_is_physician=physician, already_marked=marked
    )


def test_the_author_or_a_physician_may_correct_an_entry() -> None:
    assert _correct() is Corrector.AUTHOR
    assert _correct(actor=8, physician=True) is Corrector.PHYSICIAN


def test_it_refuses_a_correction_by_another_nurse() -> None:
    with pytest.raises(Forbidden, match="only the person who charted this vitals or a physician"):
        _correct(actor=8)


def test_it_refuses_a_second_correction_of_the_same_entry() -> None:
    with pytest.raises(Conflict, match="already marked entered in error"):
        _correct(marked=True)


@pytest.mark.parametrize("kind", ["start", "rate", "bolus", "check_in", "stop"])
def test_it_refuses_to_correct_anything_but_an_observation(kind: str) -> None:
    assert kind not in CORRECTABLE_KINDS
    with pytest.raises(Conflict, match=f"this entry is a {kind}"):
        _correct(kind, physician=True)


def test_a_band_includes_both_its_ends() -> None:
    band = PLAUSIBILITY_BANDS["spo2_percent"]
    assert band.holds(band.low) and band.holds(band.high)
    assert not band.holds(band.low - 1)
