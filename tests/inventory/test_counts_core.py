"""The pure rules of counts, discrepancies and disposal (``inventory.counts_core``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ketaclinic.errors import InvalidInput
from ketaclinic.inventory.core import Product
from ketaclinic.inventory.counts_core import (
    Counted,
    DisposalMethod,
    Resolution,
    amount_of,
    check_complete,
    check_disposal_details,
    check_disposal_witnesses,
    check_resolution,
    counted_mg,
    difference_mg,
)

#: 10 mL vials of 50 mg/mL: 500 mg each.
VIAL = Product(concentration_mg_per_ml=Decimal(50), container_ml=Decimal(10))


def test_a_count_is_sealed_containers_in_full_plus_the_opened_volume() -> None:
    # 2 × 500 mg + 3.25 mL × 50 mg/mL = 1000 + 162.5 mg
    assert counted_mg(VIAL, Counted(2, Decimal("3.25"), estimated=True)) == Decimal("1162.5")


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(InvalidInput):
        counted_mg(VIAL, Counted(-1, Decimal(0), estimated=False))


def test_the_difference_is_negative_when_stock_is_missing() -> None:
    assert difference_mg(Decimal(1000), Decimal(825)) == Decimal(-175)


def test_a_count_must_cover_every_lot_on_hand_at_the_locations_it_counts() -> None:
    names = {(2, 1): "lot K-2 at Safe A"}
    with pytest.raises(InvalidInput, match="lot K-2 at Safe A is on hand"):
        check_complete([(1, 1)], [(1, 1), (2, 1)], names)
    check_complete([(1, 1)], [(1, 1), (2, 9)], names)  # another location is not counted here


def test_a_count_listing_a_lot_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="counted twice") as refused:
        check_complete([(1, 1), (1, 1)], [(1, 1)], {})
    assert refused.value.loc == ("lines", 1)


def test_a_loss_explains_missing_stock_only() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_resolution(Resolution.LOSS, Decimal(10), significant=False, has_loss_type=False)
    assert refused.value.loc == ("resolution",)
    check_resolution(Resolution.LOSS, Decimal(-10), significant=False, has_loss_type=False)


def test_only_a_loss_with_its_type_can_be_significant() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_resolution(Resolution.FOUND, Decimal(-10), significant=True, has_loss_type=True)
    assert refused.value.loc == ("significant",)
    with pytest.raises(InvalidInput) as untyped:
        check_resolution(Resolution.LOSS, Decimal(-10), significant=True, has_loss_type=False)
    assert untyped.value.loc == ("loss_type",)


def test_an_amount_is_reported_in_full_containers_millilitres_and_milligrams() -> None:
    # 750 mg at 50 mg/mL = 15 mL: one full 500 mg vial and half of another
    amount = amount_of(VIAL, Decimal(750))
    assert (amount.containers, amount.ml, amount.mg) == (1, Decimal(15), Decimal(750))


@pytest.mark.parametrize(
    ("method", "witnesses", "message"),
    [
        (DisposalMethod.DESTROYED_ON_SITE, [2], "needs 2 witnesses"),
        (DisposalMethod.DESTROYED_ON_SITE, [2, 2], "two different people"),
        (DisposalMethod.DESTROYED_ON_SITE, [1, 2], "not the one who disposes"),
        (DisposalMethod.REVERSE_DISTRIBUTOR, [2, 3], "needs 1 witness"),
    ],
)
def test_a_disposal_refuses_the_wrong_witnesses(
    method: DisposalMethod, witnesses: list[int], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_disposal_witnesses(method, 1, witnesses)


def test_a_disposal_accepts_two_other_people_for_a_destruction() -> None:
    check_disposal_witnesses(DisposalMethod.DESTROYED_ON_SITE, 1, [2, 3])


def test_a_hand_over_names_its_distributor_and_a_destruction_its_method() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_disposal_details(
            DisposalMethod.REVERSE_DISTRIBUTOR, has_distributor=False, has_destruction_method=True
        )
    assert refused.value.loc == ("distributor",)
    with pytest.raises(InvalidInput) as unsaid:
        check_disposal_details(
            DisposalMethod.DESTROYED_ON_SITE, has_distributor=True, has_destruction_method=False
        )
    assert unsaid.value.loc == ("destruction_method",)
