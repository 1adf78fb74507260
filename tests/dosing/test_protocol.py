"""A protocol refuses to exist with inconsistent numbers; the seeded library is cited and valid."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from ketaclinic.dosing.library import (
    CHRONIC_PAIN_LOW_DOSE,
    CRPS_SCHWARTZMAN_2009,
    DEPRESSION_MURROUGH_2013,
    FIBROMYALGIA_GRAVEN_NIELSEN_2000,
    MIGRAINE_LAURITSEN_2016,
    PROTOCOLS,
)
from ketaclinic.dosing.protocol import (
    MIN_OBSERVATION_MIN,
    Bolus,
    DoseMode,
    Limit,
    Protocol,
)
from ketaclinic.errors import InvalidInput

BASE = MIGRAINE_LAURITSEN_2016


def variant(**changes: Any) -> Protocol:
    return dataclasses.replace(BASE, **changes)


def test_it_refuses_an_observation_shorter_than_60_minutes() -> None:
    with pytest.raises(InvalidInput, match=r"observation_min must be at least 60 min") as caught:
        variant(observation_min=59)
    assert caught.value.loc == ("observation_min",)
    assert variant(observation_min=60).observation_min == MIN_OBSERVATION_MIN
    assert variant(observation_min=120).observation_min == 120


def test_it_refuses_a_soft_limit_above_the_hard_limit() -> None:
    with pytest.raises(
        InvalidInput, match=r"dose_limit.soft_max \(1.1 mg/kg/h\) must not be above"
    ):
        variant(dose_limit=Limit(soft_max=Decimal("1.1"), hard_max=Decimal("1.0")))
    with pytest.raises(InvalidInput, match=r"total_limit_mg.soft_max \(400 mg\)"):
        variant(total_limit_mg=Limit(soft_max=Decimal(400), hard_max=Decimal(300)))


def test_a_soft_limit_may_equal_the_hard_limit() -> None:
    limit = Limit(soft_max=Decimal(60), hard_max=Decimal(60))
    assert variant(rate_limit_mg_per_h=limit).rate_limit_mg_per_h == limit


def test_it_refuses_a_default_dose_outside_the_soft_limit() -> None:
    with pytest.raises(
        InvalidInput, match=r"default_dose \(0.5 mg/kg/h\) must be within"
    ) as caught:
        variant(default_dose=Decimal("0.5"))
    assert caught.value.loc == ("default_dose",)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"default_duration_min": 44}, "default_duration_min"),
        ({"default_duration_min": 301}, "default_duration_min"),
        ({"min_duration_min": 0}, "min_duration_min"),
        ({"max_duration_min": 40}, "max_duration_min"),
    ],
)
def test_it_refuses_inconsistent_durations(changes: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidInput, match=rf"{field} must be .* min") as caught:
        variant(**changes)
    assert caught.value.loc == (field,)


def test_the_default_duration_bounds_are_45_to_300_minutes() -> None:
    assert (BASE.min_duration_min, BASE.max_duration_min) == (45, 300)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"concentration_mg_per_ml": 1.0}, r"concentration_mg_per_ml must be a Decimal .* mg/mL"),
        (
            {"concentration_mg_per_ml": Decimal(0)},
            r"concentration_mg_per_ml must be greater than 0",
        ),
        ({"bag_volume_ml": Decimal("NaN")}, r"bag_volume_ml must be a finite number"),
        (
            {"default_dose": Decimal("0.1234567")},
            r"default_dose must have at most 6 decimal places",
        ),
        ({"titration_step": Decimal(-1)}, r"titration_step must be greater than 0 mg/kg/h"),
        ({"indications": ("depresion",)}, r"indications has unknown ids \['depresion'\]"),
        ({"indications": ()}, r"indications must name at least one"),
        ({"key": "Migraine v1"}, r"key must be lower-case"),
        ({"version": 0}, r"version must be at least 1"),
        ({"source": "  "}, r"source must be non-blank"),
        ({"dose_mode": "mg_per_kg"}, r"dose_mode must be one of"),
        ({"series_sessions": 3, "series_spacing_days": 0}, r"series_spacing_days must be at least"),
        ({"cap_mg_per_h": Decimal(61)}, r"cap_mg_per_h \(61 mg/h\) must not be above"),
        ({"vitals_interval_min": 0}, r"vitals_interval_min must be at least 1 and at most 60"),
        ({"vitals_interval_min": 61}, r"vitals_interval_min must be at least 1 and at most 60"),
        ({"booster_pain_return_percent": 101}, r"booster_pain_return_percent .* at most 100"),
        ({"booster_phq9_rise": 0}, r"booster_phq9_rise must be at least 1 and at most 27"),
        ({"booster_phq9_rise": True}, r"booster_phq9_rise must be a whole number of PHQ-9"),
    ],
)
def test_it_names_the_field_and_unit_of_a_bad_value(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        variant(**changes)


def test_a_weight_based_protocol_needs_a_per_kg_limit_and_a_fixed_rate_one_must_not_have_one() -> (
    None
):
    with pytest.raises(InvalidInput, match=r"dose_limit \(mg/kg/h\) is required"):
        variant(dose_limit=None)
    with pytest.raises(InvalidInput, match="dose_limit must be empty for dose_mode mg_per_h"):
        variant(dose_mode=DoseMode.MG_PER_H, default_dose=Decimal(20))
    fixed = variant(dose_mode="mg_per_h", default_dose=Decimal(20), dose_limit=None)
    assert fixed.dose_mode is DoseMode.MG_PER_H
    assert fixed.limit_names() == ("rate_mg_per_h", "total_mg")


def test_a_bolus_is_checked_against_its_own_limits() -> None:
    limit = Limit(soft_max=Decimal("0.2"), hard_max=Decimal("0.35"))
    with pytest.raises(InvalidInput, match=r"bolus.dose_mg_per_kg \(0.3 mg/kg\) must be within"):
        variant(bolus=Bolus(dose_mg_per_kg=Decimal("0.3"), limit_mg_per_kg=limit))
    with pytest.raises(InvalidInput, match=r"bolus.limit_mg_per_kg.soft_max"):
        variant(
            bolus=Bolus(
                dose_mg_per_kg=Decimal("0.1"),
                limit_mg_per_kg=Limit(soft_max=Decimal(1), hard_max=Decimal("0.35")),
            )
        )
    with pytest.raises(InvalidInput, match=r"bolus.over_min must be at least 1"):
        variant(bolus=Bolus(dose_mg_per_kg=Decimal("0.1"), limit_mg_per_kg=limit, over_min=0))
    push = variant(bolus=Bolus(dose_mg_per_kg=Decimal("0.1"), limit_mg_per_kg=limit))
    assert push.bolus is not None and push.bolus.over_min is None
    assert push.limit_names()[-1] == "bolus_mg_per_kg"


def test_a_protocol_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASE.default_dose = Decimal(1)  # type: ignore[misc]


def test_an_int_is_kept_as_a_decimal() -> None:
    kept = variant(bag_volume_ml=500).bag_volume_ml
    assert isinstance(kept, Decimal) and kept == 500


# --- the library ---------------------------------------------------------------------------------


def test_the_library_holds_the_five_seeded_protocols_by_key() -> None:
    assert set(PROTOCOLS) == {
        "crps-schwartzman-2009",
        "depression-murrough-2013",
        "migraine-lauritsen-2016",
        "chronic-pain-low-dose",
        "fibromyalgia-graven-nielsen-2000",
    }


@pytest.mark.parametrize("protocol", PROTOCOLS.values(), ids=list(PROTOCOLS))
def test_every_seeded_protocol_is_cited_and_says_its_limits_are_clinic_policy(
    protocol: Protocol,
) -> None:
    assert "clinic policy" in protocol.source
    assert protocol.observation_min >= 60
    assert protocol.version == 1


def test_crps_follows_schwartzman_2009() -> None:
    crps = CRPS_SCHWARTZMAN_2009
    assert (crps.dose_mode, crps.default_dose, crps.cap_mg_per_h) == (
        DoseMode.MG_PER_KG_PER_H,
        Decimal("0.35"),
        Decimal(25),
    )
    assert (crps.default_duration_min, crps.series_sessions, crps.series_spacing_days) == (
        240,
        10,
        1,
    )
    assert "Schwartzman" in crps.source


def test_depression_follows_murrough_2013() -> None:
    dep = DEPRESSION_MURROUGH_2013
    assert (dep.dose_mode, dep.default_dose, dep.default_duration_min) == (
        DoseMode.MG_PER_KG_OVER_MIN,
        Decimal("0.5"),
        40,
    )
    assert dep.series_sessions == 6
    assert "Murrough" in dep.source and "UNCONFIRMED" in dep.source


def test_migraine_titrates_from_0_1_in_steps_of_0_1() -> None:
    assert (BASE.default_dose, BASE.titration_step) == (Decimal("0.1"), Decimal("0.1"))
    assert "Lauritsen" in BASE.source


def test_low_dose_chronic_pain_is_marked_as_unconfirmed_clinic_practice() -> None:
    pain = CHRONIC_PAIN_LOW_DOSE
    assert "UNCONFIRMED" in pain.source and "Clinic practice" in pain.source
    assert (pain.min_duration_min, pain.max_duration_min) == (45, 300)
    assert pain.bolus is not None and pain.bolus.limit_mg_per_kg.hard_max == Decimal("0.35")


def test_fibromyalgia_is_0_3_mg_per_kg_over_30_minutes() -> None:
    fib = FIBROMYALGIA_GRAVEN_NIELSEN_2000
    assert (fib.default_dose, fib.default_duration_min) == (Decimal("0.3"), 30)
    assert "Graven-Nielsen" in fib.source and "Sörensen" in fib.source
