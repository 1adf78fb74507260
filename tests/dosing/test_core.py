"""The dose calculator: worked examples, every limit edge, the CRPS cap and pump rounding.

Expected values are worked by hand from the rules in the comments, never taken from the code.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest

from ketaclinic.dosing.core import (
    DosePlan,
    FindingKind,
    HardLimitExceeded,
    LimitFinding,
    SoftLimitNeedsOverride,
    calculate,
)
from ketaclinic.dosing.library import (
    CHRONIC_PAIN_LOW_DOSE,
    CRPS_SCHWARTZMAN_2009,
    DEPRESSION_MURROUGH_2013,
    MIGRAINE_LAURITSEN_2016,
)
from ketaclinic.errors import DoseOutOfRange, InvalidInput
from tests.dosing.examples import FIXED_RATE

MIGRAINE = (
    MIGRAINE_LAURITSEN_2016  # dose soft 0.4 / hard 1.0 mg/kg/h, rate 40/60 mg/h, total 160/300 mg
)
PAIN = CHRONIC_PAIN_LOW_DOSE  # 2 mg/mL; bolus soft 0.2 / hard 0.35 mg/kg
REASON = "discussed with the attending; tolerated last session"


def soft(plan: DosePlan) -> dict[str, LimitFinding]:
    return {f.limit: f for f in plan.findings if f.kind is FindingKind.SOFT}


# --- worked examples -----------------------------------------------------------------------------


def test_crps_at_100_kg_is_capped_from_35_to_25_mg_per_h_and_says_so() -> None:
    # 0.35 mg/kg/h × 100 kg = 35 mg/h > the 25 mg/h cap; 25 mg/h × 4 h = 100 mg at 1 mg/mL
    plan = calculate(CRPS_SCHWARTZMAN_2009, weight_kg=Decimal(100))
    assert plan.ordered_rate_mg_per_h == 35
    assert plan.planned_rate_mg_per_h == plan.rate_mg_per_h == 25
    assert plan.pump_rate_ml_per_h == Decimal("25.0")
    assert (plan.total_mg, plan.total_ml, plan.bags_needed) == (Decimal(100), Decimal(100), 1)
    assert plan.findings == (
        LimitFinding(
            kind=FindingKind.CAP,
            limit="cap_mg_per_h",
            limit_value=Decimal(25),
            unit="mg/h",
            planned_value=Decimal(35),
        ),
    )
    assert plan.findings[0].message == (
        "the planned rate of 35 mg/h was lowered to the protocol cap cap_mg_per_h of 25 mg/h"
    )


def test_crps_below_the_cap_has_no_finding() -> None:
    # 0.35 × 70 = 24.5 mg/h → 24.5 mL/h; × 4 h = 98 mg
    plan = calculate(CRPS_SCHWARTZMAN_2009, weight_kg=Decimal(70))
    assert (plan.rate_mg_per_h, plan.pump_rate_ml_per_h, plan.total_mg) == (
        Decimal("24.5"),
        Decimal("24.5"),
        Decimal(98),
    )
    assert plan.findings == ()


def test_depression_is_0_5_mg_per_kg_over_40_minutes() -> None:
    # 0.5 × 80 = 40 mg over 40 min → 60 mg/h → 60 mL/h at 1 mg/mL; 40 mL from one 100 mL bag
    plan = calculate(DEPRESSION_MURROUGH_2013, weight_kg=Decimal(80))
    assert (plan.dose, plan.dose_unit, plan.duration_min) == (Decimal("0.5"), "mg/kg", 40)
    assert (plan.rate_mg_per_h, plan.pump_rate_ml_per_h) == (Decimal(60), Decimal("60.0"))
    assert (plan.total_mg, plan.total_ml, plan.bags_needed) == (Decimal(40), Decimal(40), 1)
    assert plan.observation_min == 60


def test_the_pump_rate_is_rounded_down_and_the_totals_follow_the_pump() -> None:
    # 0.1 × 73.3 = 7.33 mg/h → 7.33 mL/h → 7.3 mL/h; delivers 7.3 mg/h × 4 h = 29.2 mg
    plan = calculate(MIGRAINE, weight_kg=Decimal("73.3"))
    assert plan.planned_rate_mg_per_h == Decimal("7.33")
    assert (plan.pump_rate_ml_per_h, plan.rate_mg_per_h) == (Decimal("7.3"), Decimal("7.3"))
    assert (plan.rounding_mg_per_h, plan.rounding_mg) == (Decimal("0.03"), Decimal("0.12"))
    assert (plan.infusion_mg, plan.total_mg, plan.infusion_ml) == (
        Decimal("29.2"),
        Decimal("29.2"),
        Decimal("29.2"),
    )


@pytest.mark.parametrize(
    ("resolution", "pump_ml_per_h", "rate_mg_per_h"),
    # 0.3 × 77.7 = 23.31 mg/h at 2 mg/mL = 11.655 mL/h
    [
        (Decimal("0.1"), Decimal("11.6"), Decimal("23.2")),
        (Decimal("0.01"), Decimal("11.65"), Decimal("23.30")),
        (Decimal(1), Decimal(11), Decimal(22)),
    ],
)
def test_the_pump_resolution_sets_the_rounding(
    resolution: Decimal, pump_ml_per_h: Decimal, rate_mg_per_h: Decimal
) -> None:
    plan = calculate(PAIN, weight_kg=Decimal("77.7"), pump_resolution_ml_per_h=resolution)
    assert (plan.pump_rate_ml_per_h, plan.rate_mg_per_h) == (pump_ml_per_h, rate_mg_per_h)
    assert plan.total_mg == rate_mg_per_h * 4


def test_a_total_that_does_not_terminate_is_exact_to_28_digits_and_never_above() -> None:
    # 0.5 × 73 = 36.5 mg over 40 min = 54.75 mg/h → 54.7 mL/h; 54.7 × 40/60 = 36.4666… mg
    plan = calculate(DEPRESSION_MURROUGH_2013, weight_kg=Decimal(73))
    assert plan.pump_rate_ml_per_h == Decimal("54.7")
    exact = Fraction(547, 10) * 40 / 60
    assert Fraction(plan.total_mg) <= exact < Fraction(plan.total_mg) + Fraction(1, 10**25)
    assert str(plan.total_mg).startswith("36.4666666")


def test_the_bags_count_the_bolus_volume_too() -> None:
    # infusion 23.2 mg/h × 4 h = 92.8 mg = 46.4 mL; bolus 0.1 × 77.7 = 7.77 mg = 3.885 mL
    small_bags = dataclasses.replace(PAIN, bag_volume_ml=Decimal(50))
    without = calculate(small_bags, weight_kg=Decimal("77.7"))
    with_bolus = calculate(small_bags, weight_kg=Decimal("77.7"), bolus_mg_per_kg=Decimal("0.1"))
    assert (without.total_ml, without.bags_needed) == (Decimal("46.4"), 1)
    assert (with_bolus.bolus_mg, with_bolus.bolus_ml) == (Decimal("7.77"), Decimal("3.885"))
    assert (with_bolus.total_mg, with_bolus.total_ml) == (Decimal("100.57"), Decimal("50.285"))
    assert (with_bolus.bags_needed, with_bolus.bolus_over_min) == (2, 5)


def test_a_fixed_rate_protocol_gives_the_dose_as_the_rate() -> None:
    # 15 mg/h at 2 mg/mL = 7.5 mL/h; 2 h → 30 mg, 15 mL
    plan = calculate(FIXED_RATE, weight_kg=Decimal(70), dose=Decimal(15))
    assert (plan.dose_unit, plan.rate_mg_per_h, plan.pump_rate_ml_per_h) == (
        "mg/h",
        Decimal(15),
        Decimal("7.5"),
    )
    assert (plan.total_mg, plan.total_ml) == (Decimal(30), Decimal(15))


def test_it_doses_on_the_adjusted_weight_when_asked() -> None:
    # AdjBW 73 + 0.4 × (120 − 73) = 91.8 kg; 0.1 × 91.8 = 9.18 mg/h → 9.1 mL/h
    plan = calculate(
        MIGRAINE,
        weight_kg=Decimal(120),
        height_cm=Decimal("177.8"),
        sex="male",
        weight_basis="adjusted",
    )
    assert (plan.weight_basis, plan.weight_basis_kg, plan.actual_weight_kg) == (
        "adjusted",
        Decimal("91.8"),
        Decimal(120),
    )
    assert plan.pump_rate_ml_per_h == Decimal("9.1")


def test_a_rate_that_rounds_to_zero_ml_per_h_is_refused() -> None:
    # 0.1 mg/h at 2 mg/mL = 0.05 mL/h, below the 0.1 mL/h step
    with pytest.raises(DoseOutOfRange, match=r"round to 0 mL/h") as caught:
        calculate(FIXED_RATE, weight_kg=Decimal(70), dose=Decimal("0.1"))
    assert not isinstance(caught.value, HardLimitExceeded | SoftLimitNeedsOverride)


# --- per-kg dose limits (migraine, 40 kg, 4 h: rate and total stay within their soft limits) ----


def test_a_dose_exactly_at_the_soft_limit_needs_no_reason() -> None:
    assert calculate(MIGRAINE, weight_kg=Decimal(40), dose=Decimal("0.4")).findings == ()


def test_a_dose_one_step_above_the_soft_limit_needs_a_reason() -> None:
    with pytest.raises(SoftLimitNeedsOverride, match=r"dose_mg_per_kg_per_h 0\.400001") as caught:
        calculate(MIGRAINE, weight_kg=Decimal(40), dose=Decimal("0.400001"))
    assert caught.value.loc == ("override_reasons", "dose_mg_per_kg_per_h")
    assert isinstance(caught.value, DoseOutOfRange)
    plan = calculate(
        MIGRAINE,
        weight_kg=Decimal(40),
        dose=Decimal("0.400001"),
        override_reasons={"dose_mg_per_kg_per_h": f"  {REASON} "},
    )
    assert soft(plan)["dose_mg_per_kg_per_h"] == LimitFinding(
        kind=FindingKind.SOFT,
        limit="dose_mg_per_kg_per_h",
        limit_value=Decimal("0.4"),
        unit="mg/kg/h",
        planned_value=Decimal("0.400001"),
        override_reason=REASON,
    )


def test_a_dose_at_the_hard_limit_is_allowed_with_a_reason() -> None:
    # 1.0 × 40 = 40 mg/h (the rate's soft limit), × 4 h = 160 mg (the total's soft limit)
    reasons = {"dose_mg_per_kg_per_h": REASON}
    plan = calculate(MIGRAINE, weight_kg=Decimal(40), dose=Decimal("1.0"), override_reasons=reasons)
    assert list(soft(plan)) == ["dose_mg_per_kg_per_h"]
    assert plan.rate_mg_per_h == 40


def test_a_dose_above_the_hard_limit_is_refused_even_with_a_reason() -> None:
    reasons = dict.fromkeys(MIGRAINE.limit_names(), REASON)
    with pytest.raises(HardLimitExceeded) as caught:
        calculate(
            MIGRAINE, weight_kg=Decimal(30), dose=Decimal("1.000001"), override_reasons=reasons
        )
    assert str(caught.value) == (
        "refused: dose_mg_per_kg_per_h 1.000001 mg/kg/h is above the hard limit of 1 mg/kg/h"
    )
    assert caught.value.loc == ("dose_mg_per_kg_per_h",)
    assert [f.kind for f in caught.value.findings] == [FindingKind.HARD]


def test_a_blank_reason_is_no_reason() -> None:
    with pytest.raises(SoftLimitNeedsOverride):
        calculate(
            MIGRAINE,
            weight_kg=Decimal(40),
            dose=Decimal("0.5"),
            override_reasons={"dose_mg_per_kg_per_h": "   "},
        )


def test_it_asks_for_every_missing_reason_at_once() -> None:
    # 0.5 × 100 = 50 mg/h > 40 soft; × 4 h = 200 mg > 160 soft
    with pytest.raises(SoftLimitNeedsOverride) as caught:
        calculate(MIGRAINE, weight_kg=Decimal(100), dose=Decimal("0.5"))
    assert [f.limit for f in caught.value.findings] == [
        "dose_mg_per_kg_per_h",
        "rate_mg_per_h",
        "total_mg",
    ]


def test_it_refuses_a_reason_for_a_limit_the_protocol_does_not_have() -> None:
    with pytest.raises(InvalidInput, match=r"\['rate'\]") as caught:
        calculate(MIGRAINE, weight_kg=Decimal(40), override_reasons={"rate": REASON})
    assert caught.value.loc == ("override_reasons",)


# --- rate limits (fixed rate: soft 20, hard 30 mg/h; 2 h keeps the total within 60 mg) ---------


def test_a_rate_at_the_soft_limit_passes_and_one_step_above_needs_a_reason() -> None:
    assert calculate(FIXED_RATE, weight_kg=Decimal(70), dose=Decimal(20)).findings == ()
    with pytest.raises(SoftLimitNeedsOverride, match="rate_mg_per_h"):
        calculate(FIXED_RATE, weight_kg=Decimal(70), dose=Decimal("20.000001"))


def test_a_rate_at_the_hard_limit_passes_with_a_reason_and_above_it_is_refused() -> None:
    reasons = {"rate_mg_per_h": REASON}
    # 30 mg/h × 2 h = 60 mg: the total's soft limit, no reason needed there
    plan = calculate(FIXED_RATE, weight_kg=Decimal(70), dose=Decimal(30), override_reasons=reasons)
    assert list(soft(plan)) == ["rate_mg_per_h"]
    with pytest.raises(HardLimitExceeded, match=r"rate_mg_per_h 30\.000001 mg/h .* 30 mg/h"):
        calculate(
            FIXED_RATE, weight_kg=Decimal(70), dose=Decimal("30.000001"), override_reasons=reasons
        )


def test_a_weight_one_gram_heavier_can_cross_the_rate_limit() -> None:
    # migraine 0.4 × 100 kg = 40 mg/h (soft); × 100.001 kg = 40.0004 mg/h; 200 min keeps the total low
    assert (
        calculate(MIGRAINE, weight_kg=Decimal(100), dose=Decimal("0.4"), duration_min=200).findings
        == ()
    )
    with pytest.raises(SoftLimitNeedsOverride) as caught:
        calculate(MIGRAINE, weight_kg=Decimal("100.001"), dose=Decimal("0.4"), duration_min=200)
    assert [f.limit for f in caught.value.findings] == ["rate_mg_per_h"]


# --- total limits (fixed rate: soft 60, hard 90 mg) ------------------------------------------------


def test_a_total_at_the_soft_limit_passes_and_a_minute_more_needs_a_reason() -> None:
    # 20 mg/h × 180 min = 60 mg; × 181 min = 60.33 mg
    assert calculate(FIXED_RATE, weight_kg=Decimal(70), duration_min=180).findings == ()
    with pytest.raises(SoftLimitNeedsOverride, match=r"total_mg 60\.333334 mg .* soft limit of 60"):
        calculate(FIXED_RATE, weight_kg=Decimal(70), duration_min=181)


def test_a_total_at_the_hard_limit_passes_with_a_reason_and_above_it_is_refused() -> None:
    reasons = {"rate_mg_per_h": REASON, "total_mg": REASON}
    # 30 mg/h × 180 min = 90 mg; × 181 min = 90.5 mg
    plan = calculate(
        FIXED_RATE,
        weight_kg=Decimal(70),
        dose=Decimal(30),
        duration_min=180,
        override_reasons=reasons,
    )
    assert soft(plan)["total_mg"].planned_value == 90
    with pytest.raises(
        HardLimitExceeded, match=r"total_mg 90\.5 mg is above the hard limit of 90 mg"
    ):
        calculate(
            FIXED_RATE,
            weight_kg=Decimal(70),
            dose=Decimal(30),
            duration_min=181,
            override_reasons=reasons,
        )


# --- bolus limits (chronic pain: soft 0.2, hard 0.35 mg/kg) ---------------------------------------


def test_bolus_limit_edges() -> None:
    reasons = {"bolus_mg_per_kg": REASON}
    assert calculate(PAIN, weight_kg=Decimal(60), bolus_mg_per_kg=Decimal("0.2")).findings == ()
    with pytest.raises(SoftLimitNeedsOverride, match="bolus_mg_per_kg"):
        calculate(PAIN, weight_kg=Decimal(60), bolus_mg_per_kg=Decimal("0.200001"))
    plan = calculate(
        PAIN, weight_kg=Decimal(60), bolus_mg_per_kg=Decimal("0.35"), override_reasons=reasons
    )
    # 0.35 × 60 = 21 mg; 0.3 × 60 = 18 mg/h × 4 h = 72 mg; 93 mg in all
    assert (plan.bolus_mg, plan.total_mg) == (Decimal(21), Decimal(93))
    with pytest.raises(HardLimitExceeded, match=r"bolus_mg_per_kg 0\.350001 mg/kg"):
        calculate(
            PAIN,
            weight_kg=Decimal(60),
            bolus_mg_per_kg=Decimal("0.350001"),
            override_reasons=reasons,
        )


def test_a_bolus_is_given_only_when_ordered_and_only_if_the_protocol_has_one() -> None:
    assert calculate(PAIN, weight_kg=Decimal(60)).bolus_mg == 0
    with pytest.raises(InvalidInput, match="has no bolus"):
        calculate(MIGRAINE, weight_kg=Decimal(60), bolus_mg_per_kg=Decimal("0.1"))


# --- duration and weight -------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [45, 300])
def test_the_duration_bounds_themselves_are_allowed(minutes: int) -> None:
    assert calculate(MIGRAINE, weight_kg=Decimal(60), duration_min=minutes).duration_min == minutes


@pytest.mark.parametrize("minutes", [44, 301])
def test_a_duration_outside_the_bounds_is_refused_without_override(minutes: int) -> None:
    with pytest.raises(
        DoseOutOfRange, match=rf"duration_min {minutes} min .* 45–300 min"
    ) as caught:
        calculate(MIGRAINE, weight_kg=Decimal(60), duration_min=minutes)
    assert caught.value.loc == ("duration_min",)


@pytest.mark.parametrize("weight", [Decimal("29.999"), Decimal("300.001")])
def test_a_weight_outside_30_to_300_kg_is_refused(weight: Decimal) -> None:
    with pytest.raises(InvalidInput, match="weight_kg must be between 30 and 300 kg"):
        calculate(MIGRAINE, weight_kg=weight)


def test_it_refuses_a_float_dose() -> None:
    with pytest.raises(InvalidInput, match=r"dose must be a Decimal or an int in mg/kg/h"):
        calculate(MIGRAINE, weight_kg=Decimal(60), dose=0.2)  # type: ignore[arg-type]
