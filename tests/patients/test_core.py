from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.patients.core import age_in_years, birth_date_problem
from ketaclinic.patients.icd10cm import UnknownCode, lookup, normalise


def test_age_counts_completed_years_only() -> None:
    assert age_in_years(date(2000, 6, 15), date(2018, 6, 14)) == 17
    assert age_in_years(date(2000, 6, 15), date(2018, 6, 15)) == 18


def test_a_leap_day_birthday_turns_a_year_older_on_the_first_of_march() -> None:
    assert age_in_years(date(2000, 2, 29), date(2018, 2, 28)) == 17
    assert age_in_years(date(2000, 2, 29), date(2018, 3, 1)) == 18


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 36500))
def test_age_never_decreases_with_time(birth: date, days: int) -> None:
    later = birth + timedelta(days=days)
    assert age_in_years(birth, later) <= age_in_years(birth, later + timedelta(days=1))


def test_it_refuses_a_birth_date_in_the_future() -> None:
    assert (
        birth_date_problem(date(2030, 1, 1), date(2026, 1, 1)) == "the birth date is in the future"
    )


def test_it_refuses_a_patient_one_day_short_of_eighteen() -> None:
    assert birth_date_problem(date(2008, 1, 2), date(2026, 1, 1)) is not None
    assert birth_date_problem(date(2008, 1, 1), date(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("typed", "code"), [("m79.7", "M79.7"), ("M797", "M79.7"), (" g90.50 ", "G90.50")]
)
def test_it_accepts_codes_typed_without_dot_or_in_lower_case(typed: str, code: str) -> None:
    assert normalise(typed) == code
    assert lookup(typed).code == code


def test_it_gives_the_official_title() -> None:
    assert lookup("G90.511").title == "Complex regional pain syndrome I of right upper limb"


def test_it_refuses_a_category_and_suggests_billable_codes() -> None:
    with pytest.raises(UnknownCode, match=r"M54\.5 is a category.*M54\.50"):
        lookup("M54.5")


@pytest.mark.parametrize("code", ["", "XX", "Z99.999", "M79.79"])
def test_it_refuses_codes_that_do_not_exist(code: str) -> None:
    with pytest.raises(UnknownCode):
        lookup(code)
