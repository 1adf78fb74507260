"""Which body weight a weight-based dose is multiplied by. Pure.

Actual body weight is the default. Ideal (IBW) and adjusted (AdjBW) body weight are offered only
on request and only for obese patients (BMI ≥ 30 kg/m²). That gate is clinic policy: REFERENCE §2
found no published rule on ketamine dosing in obesity (UNCONFIRMED). The IBW and AdjBW formulas
below come from the drug-dosing literature, not from REFERENCE.md; the clinic should check them
against the primary papers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from enum import StrEnum

from ketaclinic.dosing.checks import DOSE_CONTEXT, require_decimal
from ketaclinic.errors import InvalidInput
from ketaclinic.patients.core import (
    HEIGHT_MAX_CM,
    HEIGHT_MIN_CM,
    WEIGHT_MAX_KG,
    WEIGHT_MIN_KG,
    Sex,
)


class WeightBasis(StrEnum):
    ACTUAL = "actual"
    IDEAL = "ideal"
    ADJUSTED = "adjusted"


#: WHO adult obesity threshold (BMI ≥ 30 kg/m²); as the gate for IBW/AdjBW it is clinic policy.
OBESITY_BMI_KG_PER_M2 = Decimal(30)

#: The international inch (1959) is exactly 2.54 cm.
CM_PER_INCH = Decimal("2.54")

#: Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650–655: IBW = 50 kg (men) or
#: 45.5 kg (women) + 2.3 kg per inch over 5 ft. The formula is stated for heights of 5 ft and over;
#: below that we refuse rather than extrapolate.
DEVINE_BASE_KG: dict[Sex, Decimal] = {Sex.MALE: Decimal(50), Sex.FEMALE: Decimal("45.5")}
DEVINE_KG_PER_INCH = Decimal("2.3")
DEVINE_BASE_HEIGHT_INCH = Decimal(60)
DEVINE_MIN_HEIGHT_CM = Decimal("152.4")  # 60 in × 2.54 cm/in [D]

#: AdjBW = IBW + 0.4 × (ABW − IBW): the aminoglycoside dosing-weight correction for obesity,
#: Bauer LA et al., Eur J Clin Pharmacol 1983;24:643–647 (IBW + 40 % of the excess weight;
#: Traynor AM et al., Antimicrob Agents Chemother 1995;39:545–548 found 0.43 in 1,708 patients).
ADJUSTED_EXCESS_FRACTION = Decimal("0.4")

#: IBW and AdjBW are reported to 0.1 kg, the resolution of a clinic scale, rounded down: a lower
#: dosing weight can only lower the dose.
WEIGHT_QUANTUM_KG = Decimal("0.1")


@dataclass(frozen=True, kw_only=True)
class DosingWeight:
    """The weight a per-kg dose is multiplied by, and where it came from."""

    basis: WeightBasis
    kg: Decimal
    actual_kg: Decimal


def checked_weight_kg(weight_kg: object) -> Decimal:
    """The patient's actual weight; 30–300 kg, the range adult weight-based dosing covers."""
    weight = require_decimal("weight_kg", weight_kg, "kg")
    if not WEIGHT_MIN_KG <= weight <= WEIGHT_MAX_KG:
        raise InvalidInput(
            f"weight_kg must be between {WEIGHT_MIN_KG} and {WEIGHT_MAX_KG} kg, got {weight}",
            loc=("weight_kg",),
        )
    return weight


def checked_height_cm(height_cm: object, *, purpose: str) -> Decimal:
    if height_cm is None:
        raise InvalidInput(f"height_cm is needed for {purpose}", loc=("height_cm",))
    height = require_decimal("height_cm", height_cm, "cm")
    if not HEIGHT_MIN_CM <= height <= HEIGHT_MAX_CM:
        raise InvalidInput(
            f"height_cm must be between {HEIGHT_MIN_CM} and {HEIGHT_MAX_CM} cm, got {height}",
            loc=("height_cm",),
        )
    return height


def bmi_kg_per_m2(*, weight_kg: Decimal, height_cm: Decimal) -> Decimal:
    """Body-mass index, kg/m² (cut toward zero when the quotient does not terminate)."""
    weight = checked_weight_kg(weight_kg)
    height = checked_height_cm(height_cm, purpose="the body-mass index")
    with localcontext(DOSE_CONTEXT):
        return weight * 10_000 / (height * height)


def is_obese(*, weight_kg: Decimal, height_cm: Decimal) -> bool:
    """BMI ≥ 30 kg/m², decided without division so a BMI of exactly 30 counts."""
    weight = checked_weight_kg(weight_kg)
    height = checked_height_cm(height_cm, purpose="the body-mass index")
    with localcontext(DOSE_CONTEXT):
        return weight * 10_000 >= OBESITY_BMI_KG_PER_M2 * height * height


def ideal_body_weight_kg(*, height_cm: Decimal, sex: Sex | str | None) -> Decimal:
    """Devine (1974) ideal body weight in kg, to 0.1 kg, rounded down."""
    return _round_down_to_tenth(_devine_kg(height_cm, sex))


def adjusted_body_weight_kg(
    *, weight_kg: Decimal, height_cm: Decimal, sex: Sex | str | None
) -> Decimal:
    """IBW + 0.4 × (ABW − IBW) in kg, to 0.1 kg, rounded down (from the unrounded IBW)."""
    weight = checked_weight_kg(weight_kg)
    ideal = _devine_kg(height_cm, sex)
    with localcontext(DOSE_CONTEXT):
        return _round_down_to_tenth(ideal + ADJUSTED_EXCESS_FRACTION * (weight - ideal))


def dosing_weight(
    basis: WeightBasis | str,
    *,
    weight_kg: Decimal,
    height_cm: Decimal | None = None,
    sex: Sex | str | None = None,
) -> DosingWeight:
    """The weight to dose on. IBW and AdjBW only when asked for, and only at BMI ≥ 30 kg/m²."""
    chosen = _basis(basis)
    weight = checked_weight_kg(weight_kg)
    if chosen is WeightBasis.ACTUAL:
        return DosingWeight(basis=chosen, kg=weight, actual_kg=weight)
    height = checked_height_cm(height_cm, purpose=f"dosing on {chosen.value} body weight")
    if not is_obese(weight_kg=weight, height_cm=height):
        # Shown rounded down, so a BMI of 29.96 never reads as "30.0" in a refusal.
        bmi = _round_down_to_tenth(bmi_kg_per_m2(weight_kg=weight, height_cm=height))
        raise InvalidInput(
            f"weight_basis {chosen.value!r} is offered only at a BMI of at least "
            f"{OBESITY_BMI_KG_PER_M2} kg/m²; this patient's BMI is {bmi} kg/m², so dose on "
            "actual body weight",
            loc=("weight_basis",),
        )
    if chosen is WeightBasis.IDEAL:
        kg = ideal_body_weight_kg(height_cm=height, sex=sex)
    else:
        kg = adjusted_body_weight_kg(weight_kg=weight, height_cm=height, sex=sex)
    return DosingWeight(basis=chosen, kg=kg, actual_kg=weight)


def _basis(basis: object) -> WeightBasis:
    try:
        return WeightBasis(str(basis))
    except ValueError:
        choices = ", ".join(item.value for item in WeightBasis)
        raise InvalidInput(
            f"weight_basis must be one of {choices}, got {basis!r}", loc=("weight_basis",)
        ) from None


def _devine_kg(height_cm: object, sex: object) -> Decimal:
    height = checked_height_cm(height_cm, purpose="the ideal body weight")
    chosen_sex = _sex_or_none(sex)
    base_kg = None if chosen_sex is None else DEVINE_BASE_KG.get(chosen_sex)
    if base_kg is None:
        raise InvalidInput(
            "sex must be female or male to use the Devine ideal-body-weight formula, which has "
            f"one for each; got {sex!r}. Choose the formula (or actual body weight) yourself",
            loc=("sex",),
        )
    if height < DEVINE_MIN_HEIGHT_CM:
        raise InvalidInput(
            f"height_cm must be at least {DEVINE_MIN_HEIGHT_CM} cm (5 ft) for the Devine formula, "
            f"got {height}; choose the dosing weight yourself",
            loc=("height_cm",),
        )
    with localcontext(DOSE_CONTEXT):
        inches = height / CM_PER_INCH
        return base_kg + DEVINE_KG_PER_INCH * (inches - DEVINE_BASE_HEIGHT_INCH)


def _sex_or_none(sex: object) -> Sex | None:
    try:
        return Sex(str(sex))
    except ValueError:
        return None


def _round_down_to_tenth(value: Decimal) -> Decimal:
    with localcontext(DOSE_CONTEXT):
        return value.quantize(WEIGHT_QUANTUM_KG, rounding=ROUND_DOWN)
