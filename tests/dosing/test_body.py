"""Ideal and adjusted body weight, with expectations worked by hand from the published formulas.

Devine 1974: IBW = 50 kg (men) / 45.5 kg (women) + 2.3 kg per inch over 5 ft.
Adjusted body weight (Bauer 1983, aminoglycosides): AdjBW = IBW + 0.4 × (ABW − IBW).
1 inch = 2.54 cm exactly, so 5 ft 10 in = 70 in = 177.8 cm.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.dosing.body import (
    WeightBasis,
    adjusted_body_weight_kg,
    bmi_kg_per_m2,
    dosing_weight,
    ideal_body_weight_kg,
    is_obese,
)
from ketaclinic.errors import InvalidInput


def test_a_man_of_5_ft_10_in_has_an_ideal_weight_of_73_kg() -> None:
    # 50 + 2.3 × (70 − 60) = 73
    assert ideal_body_weight_kg(height_cm=Decimal("177.8"), sex="male") == Decimal("73.0")


def test_a_woman_of_5_ft_10_in_has_an_ideal_weight_of_68_5_kg() -> None:
    # 45.5 + 2.3 × 10 = 68.5
    assert ideal_body_weight_kg(height_cm=Decimal("177.8"), sex="female") == Decimal("68.5")


def test_a_woman_of_5_ft_5_in_has_an_ideal_weight_of_57_kg() -> None:
    # 65 in = 165.1 cm; 45.5 + 2.3 × 5 = 57
    assert ideal_body_weight_kg(height_cm=Decimal("165.1"), sex="female") == Decimal("57.0")


def test_at_exactly_5_ft_the_ideal_weight_is_the_base_weight() -> None:
    assert ideal_body_weight_kg(height_cm=Decimal("152.4"), sex="male") == Decimal("50.0")


def test_the_ideal_weight_is_rounded_down_to_a_tenth_of_a_kilogram() -> None:
    # 180 cm = 70.866 in; 50 + 2.3 × 10.866 = 74.992 kg, shown as 74.9 (down, never up)
    assert ideal_body_weight_kg(height_cm=Decimal(180), sex="male") == Decimal("74.9")


def test_the_adjusted_weight_adds_forty_percent_of_the_excess() -> None:
    # 73 + 0.4 × (120 − 73) = 73 + 18.8 = 91.8
    assert adjusted_body_weight_kg(
        weight_kg=Decimal(120), height_cm=Decimal("177.8"), sex="male"
    ) == Decimal("91.8")
    # 57 + 0.4 × (100 − 57) = 57 + 17.2 = 74.2
    assert adjusted_body_weight_kg(
        weight_kg=Decimal(100), height_cm=Decimal("165.1"), sex="female"
    ) == Decimal("74.2")


def test_the_adjusted_weight_uses_the_unrounded_ideal_weight() -> None:
    # IBW 74.99213 kg; + 0.4 × (130 − 74.99213) = 74.99213 + 22.00315 = 96.99528 → 96.9
    assert adjusted_body_weight_kg(
        weight_kg=Decimal(130), height_cm=Decimal(180), sex="male"
    ) == Decimal("96.9")


def test_actual_weight_is_the_default_and_needs_no_height() -> None:
    weight = dosing_weight("actual", weight_kg=Decimal("82.5"))
    assert (weight.basis, weight.kg, weight.actual_kg) == (
        WeightBasis.ACTUAL,
        Decimal("82.5"),
        Decimal("82.5"),
    )


def test_it_gives_the_adjusted_weight_for_an_obese_patient_who_asks() -> None:
    weight = dosing_weight(
        "adjusted", weight_kg=Decimal(120), height_cm=Decimal("177.8"), sex="male"
    )
    assert (weight.basis, weight.kg, weight.actual_kg) == (
        WeightBasis.ADJUSTED,
        Decimal("91.8"),
        Decimal(120),
    )
    assert dosing_weight(
        "ideal", weight_kg=Decimal(120), height_cm=Decimal("177.8"), sex="male"
    ).kg == Decimal(73)


def test_it_refuses_ideal_weight_below_a_bmi_of_30() -> None:
    # 90 / 1.778² = 28.47 kg/m², shown rounded down
    with pytest.raises(InvalidInput, match=r"BMI of at least 30 kg/m².*28\.4") as caught:
        dosing_weight("ideal", weight_kg=Decimal(90), height_cm=Decimal("177.8"), sex="male")
    assert caught.value.loc == ("weight_basis",)


def test_a_bmi_of_exactly_30_counts_as_obese() -> None:
    # 120 kg / (2.00 m)² = 30.0 kg/m² exactly; one gram less is below
    assert bmi_kg_per_m2(weight_kg=Decimal(120), height_cm=Decimal(200)) == 30
    assert is_obese(weight_kg=Decimal(120), height_cm=Decimal(200))
    assert not is_obese(weight_kg=Decimal("119.999"), height_cm=Decimal(200))
    assert (
        dosing_weight("adjusted", weight_kg=Decimal(120), height_cm=Decimal(200), sex="male").kg > 0
    )
    with pytest.raises(InvalidInput):
        dosing_weight("adjusted", weight_kg=Decimal("119.999"), height_cm=Decimal(200), sex="male")


def test_it_asks_for_the_height_to_use_ideal_weight() -> None:
    with pytest.raises(InvalidInput, match="height_cm is needed") as caught:
        dosing_weight("ideal", weight_kg=Decimal(120), sex="male")
    assert caught.value.loc == ("height_cm",)


@pytest.mark.parametrize("sex", ["other", "unknown", None, "x"])
def test_it_asks_the_clinician_to_choose_when_sex_is_not_female_or_male(sex: str | None) -> None:
    with pytest.raises(InvalidInput, match="Choose the formula") as caught:
        dosing_weight("adjusted", weight_kg=Decimal(120), height_cm=Decimal("177.8"), sex=sex)
    assert caught.value.loc == ("sex",)


def test_it_does_not_extrapolate_devine_below_5_ft() -> None:
    with pytest.raises(InvalidInput, match=r"at least 152\.4 cm") as caught:
        dosing_weight("ideal", weight_kg=Decimal(90), height_cm=Decimal(150), sex="female")
    assert caught.value.loc == ("height_cm",)


@pytest.mark.parametrize(
    "weight", [Decimal("29.999"), Decimal("300.001"), Decimal(0), Decimal(-70)]
)
def test_it_refuses_a_weight_outside_30_to_300_kg(weight: Decimal) -> None:
    with pytest.raises(InvalidInput, match="weight_kg must be between 30 and 300 kg") as caught:
        dosing_weight("actual", weight_kg=weight)
    assert caught.value.loc == ("weight_kg",)


@pytest.mark.parametrize("weight", [Decimal(30), Decimal(300)])
def test_it_accepts_the_weight_limits_themselves(weight: Decimal) -> None:
    assert dosing_weight("actual", weight_kg=weight).kg == weight


def test_it_refuses_a_float_weight_and_an_unknown_basis() -> None:
    with pytest.raises(InvalidInput, match="weight_kg must be a Decimal or an int in kg"):
        dosing_weight("actual", weight_kg=70.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="weight_basis must be one of") as caught:
        dosing_weight("lean", weight_kg=Decimal(70))
    assert caught.value.loc == ("weight_basis",)


_HEIGHTS_CM = st.decimals(min_value=Decimal("152.4"), max_value=Decimal(250), places=1)


@given(_HEIGHTS_CM, st.sampled_from(["female", "male"]), st.decimals(0, 300, places=3))
def test_the_adjusted_weight_lies_between_ideal_and_actual(
    height: Decimal, sex: str, extra_kg: Decimal
) -> None:
    ideal_kg = ideal_body_weight_kg(height_cm=height, sex=sex)
    weight = min(Decimal(300), max(Decimal(30), ideal_kg + extra_kg))
    adjusted_kg = adjusted_body_weight_kg(weight_kg=weight, height_cm=height, sex=sex)
    assert ideal_kg - Decimal("0.1") <= adjusted_kg <= max(weight, ideal_kg)


@given(_HEIGHTS_CM, st.sampled_from(["female", "male"]))
def test_the_ideal_weight_is_within_a_tenth_of_the_devine_value(height: Decimal, sex: str) -> None:
    base = Fraction(50) if sex == "male" else Fraction(91, 2)
    exact = base + Fraction(23, 10) * (Fraction(height) / Fraction(254, 100) - 60)
    shown = Fraction(ideal_body_weight_kg(height_cm=height, sex=sex))
    assert shown <= exact < shown + Fraction(1, 10)
