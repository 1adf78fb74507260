"""The pure rules of the controlled-substance chain: DEA numbers, NDCs, quantities, lots."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.errors import InvalidInput
from ketaclinic.inventory.core import (
    STOCK_SIGN,
    ExpiryFlag,
    Movement,
    Product,
    SessionChain,
    check_dea_number,
    check_drawable,
    check_witness,
    dea_check_digit,
    expiry_flag,
    normalise_ndc,
    quantity_of,
    waste_due_mg,
)

VIAL = Product(concentration_mg_per_ml=Decimal(50), container_ml=Decimal(10))


def test_it_accepts_a_dea_number_whose_check_digit_is_right() -> None:
    # 1 + 3 + 5 = 9; 2 × (2 + 4 + 6) = 24; 9 + 24 = 33 → check digit 3
    assert check_dea_number(" ab1234563 ") == "AB1234563"


def test_it_refuses_a_dea_number_with_a_wrong_check_digit_naming_the_right_one() -> None:
    with pytest.raises(InvalidInput, match="last digit should be 3"):
        check_dea_number("AB1234564")


@pytest.mark.parametrize("number", ["A1234563", "AB123456", "1B1234563", "AB12345X3", ""])
def test_it_refuses_a_dea_number_of_the_wrong_shape(number: str) -> None:
    with pytest.raises(InvalidInput, match="two letters and seven digits"):
        check_dea_number(number)


def test_it_checks_the_second_letter_against_the_registrants_name() -> None:
    assert check_dea_number("AL1234563", registrant_name="Ann Lee") == "AL1234563"
    assert check_dea_number("BD1234563", registrant_name="Demo Clinic") == "BD1234563"
    with pytest.raises(InvalidInput, match="should be A or L"):
        check_dea_number("AB1234563", registrant_name="Ann Lee")


@given(st.text(alphabet="0123456789", min_size=6, max_size=6), st.integers(0, 9))
def test_exactly_one_last_digit_passes_the_check(six: str, last: int) -> None:
    number = f"AB{six}{last}"
    passes = last == dea_check_digit(six)
    if passes:
        assert check_dea_number(number) == number
    else:
        with pytest.raises(InvalidInput):
            check_dea_number(number)


@pytest.mark.parametrize(
    ("ndc", "eleven"),
    [
        ("0409-2051-05", "00409205105"),  # 4-4-2: the labeler gains a leading zero
        ("42023-113-10", "42023011310"),  # 5-3-2: the product code does
        ("71872-7296-1", "71872729601"),  # 5-4-1: the package code does
        ("71872-7296-01", "71872729601"),
        ("71872729601", "71872729601"),
    ],
)
def test_it_normalises_every_ndc_configuration_to_eleven_digits(ndc: str, eleven: str) -> None:
    assert normalise_ndc(ndc) == eleven


@pytest.mark.parametrize(
    "ndc", ["0409205105", "0409-2051-5", "04O9-2051-05", "1-2-3", "123456789012"]
)
def test_it_refuses_an_ambiguous_or_malformed_ndc(ndc: str) -> None:
    with pytest.raises(InvalidInput, match="NDC"):
        normalise_ndc(ndc)


def test_containers_and_volumes_convert_to_mg_exactly() -> None:
    assert quantity_of(VIAL, containers=2).mg == Decimal(1000)
    assert quantity_of(VIAL, volume_ml=Decimal("0.41")).mg == Decimal("20.50")
    with pytest.raises(InvalidInput, match="either"):
        quantity_of(VIAL, containers=1, volume_ml=Decimal(1))
    with pytest.raises(InvalidInput, match="at least 1"):
        quantity_of(VIAL, containers=0)


def test_a_lot_is_usable_through_its_expiry_date_and_flagged_a_month_before() -> None:
    expiry = date(2027, 3, 31)
    assert expiry_flag(expiry, date(2027, 2, 28)) is ExpiryFlag.OK
    assert expiry_flag(expiry, date(2027, 3, 1)) is ExpiryFlag.EXPIRING
    assert expiry_flag(expiry, date(2027, 3, 31)) is ExpiryFlag.EXPIRING
    assert expiry_flag(expiry, date(2027, 4, 1)) is ExpiryFlag.EXPIRED


def test_it_refuses_a_draw_from_an_expired_lot() -> None:
    with pytest.raises(InvalidInput, match="expired on 2026-11-30"):
        check_drawable(
            lot_number="K1",
            expiry_date=date(2026, 11, 30),
            today=date(2026, 12, 1),
            wanted_mg=Decimal(1),
            on_hand_mg=Decimal(500),
        )


def test_it_refuses_a_draw_of_more_than_is_on_hand_naming_what_is_there() -> None:
    with pytest.raises(InvalidInput, match="holds 500 mg here; 1000 mg cannot"):
        check_drawable(
            lot_number="K1",
            expiry_date=date(2027, 11, 30),
            today=date(2026, 12, 1),
            wanted_mg=Decimal(1000),
            on_hand_mg=Decimal(500),
        )


def test_waste_is_what_was_drawn_and_neither_given_nor_returned() -> None:
    assert waste_due_mg(Decimal(500), Decimal("20.5"), Decimal(0)) == Decimal("479.5")
    with pytest.raises(InvalidInput, match="only 20 mg was drawn"):
        waste_due_mg(Decimal(20), Decimal("20.5"), Decimal(0))
    chain = SessionChain(Decimal(500), Decimal("20.5"), Decimal("479.5"), Decimal(0))
    assert chain.balanced


def test_a_witness_is_a_second_person() -> None:
    check_witness(1, 2, Movement.WASTE)
    check_witness(1, None, Movement.DRAW)  # a draw is charted by the nurse alone
    with pytest.raises(InvalidInput, match="second person"):
        check_witness(1, 1, Movement.WASTE)
    with pytest.raises(InvalidInput, match="needs a witness"):
        check_witness(1, None, Movement.WASTE)


def test_every_movement_has_a_stock_sign() -> None:
    assert set(STOCK_SIGN) == set(Movement)
    assert len(Movement) == 11
