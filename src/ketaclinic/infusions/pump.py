"""Pump safety, pure: the blind double check, rate settings and their limits, stopping early.

No I/O, no clock: the service hands in what is stored and gets back a value or a refusal.

- **The blind check.** The second nurse types what the pump shows (drug, concentration, rate,
  volume to be infused); each is compared exactly with the signed order and every mismatch is
  refused naming the field and both values.
- **Rates.** A new rate is entered in mL/h (what the pump shows) or mg/h; the other unit follows
  through the order's concentration, exactly. A setting the pump cannot take (not a whole number
  of its steps) is refused, never rounded. The new rate is judged against the protocol's mg/h
  limits and against the total-dose limit for what has been given plus the new rate for the rest
  of the planned running time.
- **Stopping early.** Before the planned end and before the ordered dose is given, a stop needs
  a reason category.

Amounts are compared as exact fractions (``Fraction``), never through a quotient cut to 28 digits,
so a projection a hair above a hard limit is above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import Any

from ketaclinic.dosing.checks import DOSE_CONTEXT
from ketaclinic.dosing.protocol import RATE_LIMIT_NAME, TOTAL_LIMIT_NAME, Limit
from ketaclinic.errors import DoseOutOfRange, InvalidInput
from ketaclinic.infusions.timeline import Delivered

#: The one drug the clinic infuses; the verifier reads it off the bag's label.
ORDER_DRUG = "ketamine"
#: Clinic policy: pumps take the volume to be infused in steps of 0.1 mL, so the order's volume is
#: programmed rounded *down* to it (never more than ordered) and the verifier reads that value.
VTBI_STEP_ML = Decimal("0.1")
_SECONDS_PER_H = 3600


# --- the blind double check ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PumpReading:
    """What the verifying nurse reads on the pump and the bag, typed without seeing the order."""

    drug: str
    concentration_mg_per_ml: Decimal
    rate_ml_per_h: Decimal
    volume_to_be_infused_ml: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderedPump:
    """The signed order as the pump must be set: the drug, its concentration, the pump rate and
    the volume to be infused (``vtbi_ml``)."""

    concentration_mg_per_ml: Decimal
    rate_ml_per_h: Decimal
    vtbi_ml: Decimal
    drug: str = ORDER_DRUG


def programmed_vtbi_ml(infusion_ml: Decimal) -> Decimal:
    """The order's infusion volume as the pump takes it: down to ``VTBI_STEP_ML``, so the pump
    never runs more than the order (an exact volume is unchanged)."""
    steps = Fraction(infusion_ml) / Fraction(VTBI_STEP_ML)
    return (Decimal(int(steps)) * VTBI_STEP_ML).normalize()


class CheckMismatch(InvalidInput):
    """The blind check found values that differ from the order: one entry per field, so the API
    lists them all (each with its field path) and nothing is recorded."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "; ".join(message for _, message in self.problems),
            loc=("body", self.problems[0][0]),
        )

    def detail(self) -> list[dict[str, object]]:
        return [
            {"loc": ["body", name], "msg": message, "type": type(self).__name__}
            for name, message in self.problems
        ]


def _drug_name(text: str) -> str:
    return " ".join(text.split()).casefold()


def blind_check_problems(reading: PumpReading, order: OrderedPump) -> list[tuple[str, str]]:
    """``(field, message)`` for every value read that differs from the order; empty when all
    agree. Numbers are compared exactly (2 and 2.0 agree; 7.2 and 7.25 do not); the drug's name
    ignores case and spacing."""
    problems: list[tuple[str, str]] = []
    if _drug_name(reading.drug) != _drug_name(order.drug):
        problems.append(
            (
                "drug",
                f"drug: the pump's bag reads {reading.drug.strip()!r}, the order is {order.drug}",
            )
        )
    numbers = (
        ("concentration_mg_per_ml", "mg/mL", reading.concentration_mg_per_ml,
         order.concentration_mg_per_ml),
        ("rate_ml_per_h", "mL/h", reading.rate_ml_per_h, order.rate_ml_per_h),
        ("volume_to_be_infused_ml", "mL", reading.volume_to_be_infused_ml, order.vtbi_ml),
    )  # fmt: skip
    for name, unit, read, ordered in numbers:
        if read != ordered:
            problems.append(
                (name, f"{name}: the pump reads {show(read)} {unit}, the order is "
                       f"{show(ordered)} {unit}")
            )  # fmt: skip
    return problems


def check_reading(reading: PumpReading, order: OrderedPump) -> None:
    """Refuse (``CheckMismatch``, 422) a reading that differs from the order in any field."""
    problems = blind_check_problems(reading, order)
    if problems:
        raise CheckMismatch(problems)


# --- rate settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PumpSetting:
    """A pump rate in both units; ``mg_per_h`` = ``ml_per_h`` × the concentration, exactly."""

    ml_per_h: Decimal
    mg_per_h: Decimal


ZERO_RATE_MESSAGE = "a rate of 0 stops the drug: use Pause (with its reason) instead"


def setting(
    *,
    ml_per_h: Decimal | None,
    mg_per_h: Decimal | None,
    concentration_mg_per_ml: Decimal,
    resolution_ml_per_h: Decimal,
) -> PumpSetting:
    """The pump setting for a rate given in exactly one unit.

    mL/h must be a whole number of the pump's steps; mg/h must come to such a mL/h at the order's
    concentration. Anything else is refused naming the nearest settings the pump can take, never
    rounded to one of them. 0 is refused (use Pause)."""
    if (ml_per_h is None) == (mg_per_h is None):
        raise InvalidInput(
            "give the new rate in exactly one unit: rate_ml_per_h or rate_mg_per_h",
            loc=("body", "rate_ml_per_h"),
        )
    name = "rate_ml_per_h" if ml_per_h is not None else "rate_mg_per_h"
    given = ml_per_h if ml_per_h is not None else mg_per_h
    assert given is not None
    if given == 0:
        raise InvalidInput(ZERO_RATE_MESSAGE, loc=("body", name))
    if given < 0:
        raise InvalidInput(f"{name} must be above 0, got {show(given)}", loc=("body", name))
    exact_ml = Fraction(given) if ml_per_h is not None else (
        Fraction(given) / Fraction(concentration_mg_per_ml)
    )  # fmt: skip
    steps = exact_ml / Fraction(resolution_ml_per_h)
    if steps.denominator != 1:
        raise InvalidInput(
            _not_settable(name, given, exact_ml, steps, concentration_mg_per_ml,
                          resolution_ml_per_h),
            loc=("body", name),
        )  # fmt: skip
    ml = (Decimal(steps.numerator) * resolution_ml_per_h).normalize()
    with localcontext(DOSE_CONTEXT):
        mg = (ml * concentration_mg_per_ml).normalize()  # a product of two short decimals: exact
    return PumpSetting(ml_per_h=ml, mg_per_h=mg)


def _not_settable(
    name: str,
    given: Decimal,
    exact_ml: Fraction,
    steps: Fraction,
    concentration: Decimal,
    resolution: Decimal,
) -> str:
    below = Decimal(int(steps)) * resolution
    above = below + resolution
    unit = "mL/h" if name == "rate_ml_per_h" else "mg/h"
    what = f"{show(given)} {unit}"
    if unit == "mg/h":
        what += f" at {show(concentration)} mg/mL is {_fraction_text(exact_ml)} mL/h, which"
    nearest = " or ".join(
        f"{show(ml)} mL/h ({show(ml * concentration)} mg/h)" for ml in (below, above) if ml > 0
    )
    return (
        f"{what} cannot be set on the pump (steps of {show(resolution)} mL/h); "
        f"the nearest settings are {nearest}"
    )


def _fraction_text(value: Fraction) -> str:
    with localcontext(DOSE_CONTEXT):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    return show(exact) if Fraction(exact) == value else f"about {show(exact)}"


# --- judging a rate against the limits -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SoFar:
    """What a rate decision looks at: the mg given so far (pump and pushes, as an exact fraction:
    Σ rate × seconds / 3600 is never cut), the seconds the pump has run, and the order's running
    time in seconds."""

    given_mg: Fraction
    infused_s: Fraction
    planned_s: Fraction

    @property
    def remaining_s(self) -> Fraction:
        """Running time left until the planned end: paused time does not count, so the planned
        end moves later by every minute paused."""
        return max(self.planned_s - self.infused_s, Fraction(0))

    def projected_mg(self, rate_mg_per_h: Decimal) -> Fraction:
        """What will have been given at the planned end if the pump runs at ``rate_mg_per_h``
        from now on."""
        return self.given_mg + Fraction(rate_mg_per_h) * self.remaining_s / _SECONDS_PER_H

    def projected_with_bolus_mg(self, rate_mg_per_h: Decimal, bolus_mg: Decimal) -> Fraction:
        """The total by the planned end with a push of ``bolus_mg`` now and the pump going on at
        ``rate_mg_per_h`` (its rate before a pause, when paused)."""
        return self.projected_mg(rate_mg_per_h) + Fraction(bolus_mg)


def so_far(given: Delivered, planned_min: int) -> SoFar:
    """The exact amounts of a derived timeline, for a decision against an order of
    ``planned_min`` minutes of running time."""
    pumped = sum(
        (Fraction(s.mg_per_h) * Fraction(s.end_s - s.start_s) for s in given.segments), Fraction(0)
    )
    pushed = sum((Fraction(b.mg) for b in given.boluses), Fraction(0))
    return SoFar(
        given_mg=pumped / _SECONDS_PER_H + pushed,
        infused_s=Fraction(given.infusing_s),
        planned_s=Fraction(planned_min * 60),
    )


def judge_rate(
    rate_mg_per_h: Decimal,
    so_far: SoFar,
    *,
    rate_limit: Limit,
    total_limit: Limit,
    reason: str | None,
) -> None:
    """Refuse a rate above a hard limit (``DoseOutOfRange`` naming it); above a soft limit it
    needs ``reason``. The total is what has been given plus the new rate for the remaining
    planned time. Never clamped: the caller records the rate as given or not at all."""
    projected = so_far.projected_mg(rate_mg_per_h)
    left = _minutes_text(so_far.remaining_s)
    total_what = (
        f"{TOTAL_LIMIT_NAME} {show_fraction(projected)} mg ({show_fraction(so_far.given_mg)} mg "
        f"given + {show(rate_mg_per_h)} mg/h for the remaining {left} min of the planned time)"
    )
    rate_what = f"{RATE_LIMIT_NAME} {show(rate_mg_per_h)} mg/h"
    checks = (
        (RATE_LIMIT_NAME, rate_what, Fraction(rate_mg_per_h), rate_limit, "mg/h"),
        (TOTAL_LIMIT_NAME, total_what, projected, total_limit, "mg"),
    )
    hard = [
        f"{what} is above the hard limit of {show(limit.hard_max)} {unit}"
        for _, what, value, limit, unit in checks
        if value > Fraction(limit.hard_max)
    ]
    if hard:
        first = next(n for n, _, v, lim, _ in checks if v > Fraction(lim.hard_max))
        raise DoseOutOfRange("refused: " + "; ".join(hard), loc=("body", first))
    soft = [
        f"{what} is above the soft limit of {show(limit.soft_max)} {unit}"
        for _, what, value, limit, unit in checks
        if value > Fraction(limit.soft_max)
    ]
    if soft and not (reason and reason.strip()):
        raise DoseOutOfRange(
            "a reason is needed to go above the soft limit: " + "; ".join(soft),
            loc=("body", "reason"),
        )


def _minutes_text(seconds: Fraction) -> str:
    return show_fraction(seconds / 60)


# --- stopping early ------------------------------------------------------------------------------


class StopReason(StrEnum):
    SIDE_EFFECTS = "side_effects"
    PATIENT_REQUEST = "patient_request"
    EQUIPMENT = "equipment"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


def is_early(so_far: SoFar, ordered_mg: Decimal) -> bool:
    """Early = before the planned end (running time) *and* before the ordered dose is given. A
    rate raised so the dose is in before the end is not early; nor is the end of the planned
    time at a lowered rate."""
    return so_far.infused_s < so_far.planned_s and so_far.given_mg < Fraction(ordered_mg)


def stop_reason_problem(
    early: bool, category: StopReason | None, note: str | None
) -> tuple[str, str] | None:
    """``(field, message)`` when the stop's reason is not enough, else ``None``."""
    if not early:
        return None
    if category is None:
        choices = ", ".join(r.value for r in StopReason)
        return (
            "reason_category",
            f"the ordered dose has not all been given: say why you stop now ({choices})",
        )
    if category is StopReason.OTHER and not (note and note.strip()):
        return ("reason", "say what the other reason is")
    return None


def early_stop_text(given_mg: Decimal, ordered_mg: Decimal) -> str:
    """'stopped early: 1.3 of 20.5 mg given', to two decimals as the page shows doses."""
    return f"stopped early: {dose_text(given_mg)} of {dose_text(ordered_mg)} mg given"


def stop_record(
    early: bool, category: StopReason | None, given_mg: Decimal, ordered_mg: Decimal
) -> dict[str, object]:
    """What a stop event keeps: whether it was early and why, and the amounts the nurse was
    shown when confirming it (the given dose is final once the pump stops)."""
    record: dict[str, object] = {"early": early}
    if category is not None:
        record["reason_category"] = category.value
    if early:
        record |= {"given_mg": str(given_mg), "ordered_mg": str(ordered_mg)}
    return record


def stopped_early(data: Mapping[str, Any], note: str | None) -> str | None:
    """The line a stop event shows everywhere (timeline, course, report), e.g. 'stopped early:
    1.3 of 20.5 mg given (side effects: drowsy)'; ``None`` for a stop that was not early."""
    if not data.get("early") or "given_mg" not in data:
        return None
    text = early_stop_text(Decimal(str(data["given_mg"])), Decimal(str(data["ordered_mg"])))
    why = [StopReason(data["reason_category"]).label] if data.get("reason_category") else []
    why += [note.strip()] if note and note.strip() else []
    return f"{text} ({': '.join(why)})" if why else text


# --- showing numbers -----------------------------------------------------------------------------


def show(value: Decimal) -> str:
    """A decimal as written, without trailing zeros or an exponent ('7.20' → '7.2', '1E+1' →
    '10'); nothing is rounded."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def show_fraction(value: Fraction) -> str:
    """An exact amount: its decimal when it has one; otherwise 6 places, marked 'about'."""
    if value.denominator == 1 or _terminates(value.denominator):
        with localcontext(DOSE_CONTEXT):
            return show(Decimal(value.numerator) / Decimal(value.denominator))
    with localcontext(DOSE_CONTEXT):
        approx = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("1E-6"))
    return f"about {show(approx)}"


def _terminates(denominator: int) -> bool:
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def dose_text(mg: Decimal) -> str:
    """A given dose for people: two decimals at most, half-even (what the delivered tile shows)."""
    with localcontext(DOSE_CONTEXT) as context:
        context.rounding = "ROUND_HALF_EVEN"
        return show(mg.quantize(Decimal("0.01")))
