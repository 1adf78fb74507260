"""Adjunct limits: a dose at a limit is allowed, above it is refused with the limit named."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.errors import DoseOutOfRange, InvalidInput
from ketaclinic.monitoring.adjuncts import ADJUNCTS, BY_ID, check_adjunct

D = Decimal
ZERO = D("0")

# (drug, route, max single dose, max session dose) in mg, as written in the clinic's policy:
# ondansetron 8/16 mg IV; midazolam 2/4 mg IV (2 mg × 2 in [R26]); clonidine 0.1/0.2 mg PO;
# labetalol 20/40 mg IV.
LIMITS = [
    ("ondansetron", "IV", D("8"), D("16")),
    ("midazolam", "IV", D("2"), D("4")),
    ("clonidine", "PO", D("0.1"), D("0.2")),
    ("labetalol", "IV", D("20"), D("40")),
]


def test_the_formulary_holds_these_four_drugs() -> None:
    assert [a.id for a in ADJUNCTS] == ["ondansetron", "midazolam", "clonidine", "labetalol"]


@pytest.mark.parametrize(("drug", "route", "single", "session"), LIMITS)
def test_a_single_dose_at_the_limit_is_allowed(
    drug: str, route: str, single: Decimal, session: Decimal
) -> None:
    check_adjunct(drug, single, "mg", route, ZERO)


@pytest.mark.parametrize(("drug", "route", "single", "session"), LIMITS)
def test_a_single_dose_just_above_the_limit_is_refused_naming_the_limit(
    drug: str, route: str, single: Decimal, session: Decimal
) -> None:
    with pytest.raises(DoseOutOfRange) as caught:
        check_adjunct(drug, single + D("0.001"), "mg", route, ZERO)
    assert f"maximum single dose of {single} mg" in caught.value.msg
    assert "clinic policy" in caught.value.msg
    assert caught.value.loc == ("dose",)


@pytest.mark.parametrize(("drug", "route", "single", "session"), LIMITS)
def test_a_session_total_reaching_the_limit_is_allowed_and_past_it_refused(
    drug: str, route: str, single: Decimal, session: Decimal
) -> None:
    check_adjunct(drug, single, "mg", route, session - single)
    with pytest.raises(DoseOutOfRange) as caught:
        check_adjunct(drug, single, "mg", route, session - single + D("0.001"))
    assert f"maximum session dose of {session} mg" in caught.value.msg


def test_midazolam_may_be_given_twice_as_in_schwartzman_but_not_a_third_time() -> None:
    given_so_far = ZERO
    for _ in range(2):
        check_adjunct("midazolam", D("2"), "mg", "IV", given_so_far)
        given_so_far += D("2")
    with pytest.raises(DoseOutOfRange, match="session total to 6 mg"):
        check_adjunct("midazolam", D("2"), "mg", "IV", given_so_far)
    # A smaller top-up that stays within 4 mg is still refused once 4 mg have been given.
    with pytest.raises(DoseOutOfRange, match="maximum session dose of 4 mg"):
        check_adjunct("midazolam", D("0.5"), "mg", "IV", D("4"))
    check_adjunct("midazolam", D("0.5"), "mg", "IV", D("3.5"))


def test_labetalol_increments_of_10_to_20_mg_accumulate_to_40() -> None:
    check_adjunct("labetalol", D("10"), "mg", "IV", ZERO)
    check_adjunct("labetalol", D("20"), "mg", "IV", D("10"))
    check_adjunct("labetalol", D("10"), "mg", "IV", D("30"))
    with pytest.raises(DoseOutOfRange):
        check_adjunct("labetalol", D("10"), "mg", "IV", D("40"))


def test_doses_are_compared_exactly_without_rounding() -> None:
    with pytest.raises(DoseOutOfRange):
        check_adjunct("clonidine", D("0.1000000001"), "mg", "PO", ZERO)
    check_adjunct("clonidine", D("0.100"), "mg", "PO", ZERO)


def test_unconfirmed_doses_say_so() -> None:
    assert BY_ID["ondansetron"].typical_dose == D("4")
    assert "UNCONFIRMED" in BY_ID["ondansetron"].typical_dose_source
    assert BY_ID["labetalol"].typical_dose is None
    assert "UNCONFIRMED" in BY_ID["labetalol"].typical_dose_source
    assert "[R26]" in BY_ID["midazolam"].typical_dose_source
    assert "[R26]" in BY_ID["clonidine"].typical_dose_source
    for adjunct in ADJUNCTS:
        assert adjunct.limits_source.startswith("clinic policy"), adjunct.id


@pytest.mark.parametrize(
    ("drug", "dose", "unit", "route", "so_far", "field"),
    [
        ("ketorolac", D("15"), "mg", "IV", ZERO, "drug"),
        ("Ondansetron", D("4"), "mg", "IV", ZERO, "drug"),
        ("ondansetron", D("4"), "mg", "IM", ZERO, "route"),
        ("clonidine", D("0.1"), "mg", "IV", ZERO, "route"),
        ("midazolam", D("2"), "mcg", "IV", ZERO, "unit"),
        ("midazolam", D("2"), "mg/kg", "IV", ZERO, "unit"),
        ("midazolam", D("0"), "mg", "IV", ZERO, "dose"),
        ("midazolam", D("-1"), "mg", "IV", ZERO, "dose"),
        ("midazolam", D("NaN"), "mg", "IV", ZERO, "dose"),
        ("midazolam", 2.0, "mg", "IV", ZERO, "dose"),
        ("midazolam", D("1"), "mg", "IV", D("-1"), "given_so_far_in_session"),
        ("midazolam", D("1"), "mg", "IV", 0.0, "given_so_far_in_session"),
    ],
)
def test_it_refuses_unknown_names_and_malformed_doses_naming_the_field(
    drug: str, dose: Decimal, unit: str, route: str, so_far: Decimal, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_adjunct(drug, dose, unit, route, so_far)
    assert not isinstance(caught.value, DoseOutOfRange)
    assert caught.value.loc == (field,)


@given(
    st.sampled_from(LIMITS),
    st.decimals(min_value=D("0.001"), max_value=D("50"), places=3),
    st.decimals(min_value=D("0"), max_value=D("50"), places=3),
)
def test_a_dose_is_allowed_exactly_when_both_limits_hold(
    limits: tuple[str, str, Decimal, Decimal], dose: Decimal, so_far: Decimal
) -> None:
    drug, route, single, session = limits
    allowed = dose <= single and so_far + dose <= session
    try:
        check_adjunct(drug, dose, "mg", route, so_far)
    except DoseOutOfRange:
        assert not allowed
    else:
        assert allowed
