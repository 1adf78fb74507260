"""Properties of every plan, checked against an exact rational oracle (``examples.exact_order``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.dosing.checks import DOSE_CONTEXT
from ketaclinic.dosing.core import (
    DosePlan,
    FindingKind,
    HardLimitExceeded,
    SoftLimitNeedsOverride,
    calculate,
)
from ketaclinic.dosing.library import PROTOCOLS
from ketaclinic.dosing.protocol import DoseMode, Protocol
from ketaclinic.errors import DoseOutOfRange
from tests.dosing.examples import FIXED_RATE, exact_order, limits

ALL_PROTOCOLS = [*PROTOCOLS.values(), FIXED_RATE]
RESOLUTIONS_ML_PER_H = [Decimal("0.1"), Decimal("0.01"), Decimal("0.05"), Decimal(1)]


@dataclass(frozen=True)
class Order:
    protocol: Protocol
    weight_kg: Decimal
    dose: Decimal
    duration_min: int
    bolus_mg_per_kg: Decimal | None
    resolution_ml_per_h: Decimal

    def calculate(self, *, with_reasons: bool) -> DosePlan:
        names = self.protocol.limit_names() if with_reasons else ()
        return calculate(
            self.protocol,
            weight_kg=self.weight_kg,
            dose=self.dose,
            duration_min=self.duration_min,
            bolus_mg_per_kg=self.bolus_mg_per_kg,
            override_reasons=dict.fromkeys(names, "reviewed"),
            pump_resolution_ml_per_h=self.resolution_ml_per_h,
        )

    def exact(self) -> dict[str, Fraction]:
        return exact_order(
            self.protocol,
            weight_kg=self.weight_kg,
            dose=self.dose,
            duration_min=self.duration_min,
            bolus_mg_per_kg=self.bolus_mg_per_kg,
        )

    def pump_steps(self) -> int:
        """Whole pump steps the exact planned rate allows (0: the pump cannot run it)."""
        per_step = Fraction(self.protocol.concentration_mg_per_ml) * Fraction(
            self.resolution_ml_per_h
        )
        return int(self.exact()["rate_mg_per_h"] / per_step)


def _upper_dose(protocol: Protocol) -> Decimal:
    limit = protocol.dose_limit or protocol.rate_limit_mg_per_h
    return limit.hard_max * Decimal("1.3")


@st.composite
def orders(draw: st.DrawFn) -> Order:
    protocol = draw(st.sampled_from(ALL_PROTOCOLS))
    limit = protocol.dose_limit or protocol.rate_limit_mg_per_h
    dose = draw(
        st.one_of(
            st.sampled_from([limit.soft_max, limit.hard_max, protocol.default_dose]),
            st.decimals(Decimal("0.001"), _upper_dose(protocol), places=3),
        )
    )
    bolus = None
    if protocol.bolus is not None:
        bolus = draw(st.none() | st.decimals(Decimal("0.01"), Decimal("0.45"), places=3))
    return Order(
        protocol=protocol,
        weight_kg=draw(st.decimals(Decimal(30), Decimal(300), places=draw(st.integers(0, 3)))),
        dose=dose,
        duration_min=draw(st.integers(protocol.min_duration_min, protocol.max_duration_min)),
        bolus_mg_per_kg=bolus,
        resolution_ml_per_h=draw(st.sampled_from(RESOLUTIONS_ML_PER_H)),
    )


def _crosses(order: Order, bound: str) -> list[str]:
    exact, found = order.exact(), limits(order.protocol)
    return sorted(
        name for name, value in exact.items() if value > Fraction(getattr(found[name], bound))
    )


@given(orders())
def test_it_refuses_exactly_the_orders_above_a_hard_limit(order: Order) -> None:
    crossed = _crosses(order, "hard_max")
    if crossed:
        with pytest.raises(HardLimitExceeded) as caught:
            order.calculate(with_reasons=True)
        assert sorted(finding.limit for finding in caught.value.findings) == crossed
    elif order.pump_steps() == 0:
        with pytest.raises(DoseOutOfRange, match="round to 0 mL/h"):
            order.calculate(with_reasons=True)
    else:
        plan = order.calculate(with_reasons=True)
        assert _crosses(order, "soft_max") == sorted(
            f.limit for f in plan.findings if f.kind is FindingKind.SOFT
        )


@given(orders())
def test_without_reasons_it_refuses_exactly_the_orders_above_a_soft_limit(order: Order) -> None:
    if _crosses(order, "hard_max") or order.pump_steps() == 0:
        return
    crossed = _crosses(order, "soft_max")
    if crossed:
        with pytest.raises(SoftLimitNeedsOverride) as caught:
            order.calculate(with_reasons=False)
        assert sorted(finding.limit for finding in caught.value.findings) == crossed
    else:
        assert all(f.kind is FindingKind.CAP for f in order.calculate(with_reasons=False).findings)


def _accepted(order: Order) -> DosePlan | None:
    try:
        return order.calculate(with_reasons=True)
    except DoseOutOfRange:
        return None


@given(orders())
def test_no_accepted_plan_delivers_above_a_hard_limit_or_the_cap(order: Order) -> None:
    plan = _accepted(order)
    if plan is None:
        return
    protocol = order.protocol
    assert plan.rate_mg_per_h <= protocol.rate_limit_mg_per_h.hard_max
    assert plan.total_mg <= protocol.total_limit_mg.hard_max
    if protocol.cap_mg_per_h is not None:
        assert plan.rate_mg_per_h <= protocol.cap_mg_per_h
    if protocol.dose_limit is not None:
        per_kg = protocol.dose_limit.hard_max * plan.weight_basis_kg
        if protocol.dose_mode is DoseMode.MG_PER_KG_PER_H:
            assert plan.rate_mg_per_h <= per_kg
        else:
            assert plan.infusion_mg <= per_kg
    assert protocol.min_duration_min <= plan.duration_min <= protocol.max_duration_min


@given(orders())
def test_rounding_never_increases_the_dose_nor_crosses_a_limit_the_order_did_not(
    order: Order,
) -> None:
    plan = _accepted(order)
    if plan is None:
        return
    exact = order.exact()
    one_step_mg_per_h = Fraction(plan.pump_resolution_ml_per_h * plan.concentration_mg_per_ml)
    shortfall = exact["rate_mg_per_h"] - Fraction(plan.rate_mg_per_h)
    assert 0 <= shortfall < one_step_mg_per_h
    assert Fraction(plan.total_mg) <= exact["total_mg"]
    assert plan.rounding_mg_per_h >= 0 and plan.rounding_mg >= 0
    delivered = {"rate_mg_per_h": plan.rate_mg_per_h, "total_mg": plan.total_mg}
    for name, value in delivered.items():
        limit = limits(order.protocol)[name]
        for bound in (limit.soft_max, limit.hard_max):
            if exact[name] <= Fraction(bound):
                assert value <= bound


@given(orders())
def test_the_pump_rate_times_the_concentration_is_the_delivered_rate(order: Order) -> None:
    plan = _accepted(order)
    if plan is None:
        return
    assert plan.pump_rate_ml_per_h * plan.concentration_mg_per_ml == plan.rate_mg_per_h
    assert plan.pump_rate_ml_per_h % plan.pump_resolution_ml_per_h == 0
    assert plan.pump_rate_ml_per_h > 0


@given(orders())
def test_rate_times_time_is_the_total(order: Order) -> None:
    plan = _accepted(order)
    if plan is None:
        return
    hours = Fraction(plan.duration_min, 60)
    exact_mg = Fraction(plan.rate_mg_per_h) * hours
    exact_ml = Fraction(plan.pump_rate_ml_per_h) * hours
    # Exact whenever the quotient terminates in decimal; otherwise cut at 28 digits, never above.
    for shown, exact in ((plan.infusion_mg, exact_mg), (plan.infusion_ml, exact_ml)):
        terminates = _terminates(exact)
        assert (
            Fraction(shown) == exact if terminates else 0 < exact - Fraction(shown) < exact / 10**26
        )
    # The same sums in the package's documented Decimal context (28 digits, cut toward zero).
    with localcontext(DOSE_CONTEXT):
        assert plan.infusion_mg == plan.rate_mg_per_h * plan.duration_min / 60
        assert plan.total_mg == plan.infusion_mg + plan.bolus_mg
        assert plan.total_ml == plan.infusion_ml + plan.bolus_ml
    assert Fraction(plan.total_mg) <= exact_mg + Fraction(plan.bolus_mg)
    assert (plan.bags_needed - 1) * plan.bag_volume_ml < plan.total_ml
    assert plan.total_ml <= plan.bags_needed * plan.bag_volume_ml


def _terminates(value: Fraction) -> bool:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1
