"""FHIR search values: date precision and prefixes, tokens, refusals (FHIR R4 §3.1.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.interop.fhir_search import (
    SearchError,
    Span,
    date_matches,
    parse_date,
    parse_search,
    parse_tokens,
    span_of_text,
    token_matches,
)

CHICAGO = ZoneInfo("America/Chicago")
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


def test_partial_dates_cover_their_whole_precision_in_the_clinic_zone() -> None:
    day = span_of_text("2026-03-08", CHICAGO)  # the spring-forward day: 23 hours long
    assert day.end - day.start == timedelta(hours=23)
    assert day.start == datetime(2026, 3, 8, 6, tzinfo=UTC)
    month = span_of_text("2026-12", CHICAGO)
    assert (month.start.month, month.end.month, month.end.year) == (12, 1, 2027)
    year = span_of_text("2026", CHICAGO)
    assert year.end == span_of_text("2027-01-01", CHICAGO).start
    moment = span_of_text("2026-12-01T14:03:00Z", CHICAGO)
    assert moment.end - moment.start == timedelta(seconds=1)


def test_prefixes_on_a_day() -> None:
    inside = span_of_text("2026-12-01T15:00:00Z", UTC)
    before = span_of_text("2026-11-30T23:59:59Z", UTC)
    after = span_of_text("2026-12-02T00:00:00Z", UTC)

    def hits(prefix: str) -> list[bool]:
        wanted = parse_date(f"{prefix}2026-12-01", UTC)
        return [date_matches(wanted, s) for s in (before, inside, after)]

    assert hits("eq") == [False, True, False]
    assert hits("ne") == [True, False, True]
    assert hits("gt") == [False, False, True]
    assert hits("ge") == [False, True, True]
    assert hits("lt") == [True, False, False]
    assert hits("le") == [True, True, False]


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    st.sampled_from(["2026", "2026-06", "2026-06-15", "2026-06-15T10:30:00Z"]),
)
def test_every_moment_is_eq_or_ne_and_lt_ge_split_it(moment: datetime, value: str) -> None:
    target = Span(moment.replace(tzinfo=UTC), moment.replace(tzinfo=UTC) + timedelta(seconds=1))
    results = {p: date_matches(parse_date(p + value, UTC), target) for p in PREFIXES}
    assert results["eq"] != results["ne"]
    assert results["lt"] or results["ge"]
    assert results["le"] or results["gt"]
    assert not (results["lt"] and results["gt"])


def test_tokens() -> None:
    loinc = {"system": "http://loinc.org", "code": "8867-4"}
    assert token_matches(parse_tokens("8867-4", "code"), [loinc])
    assert token_matches(parse_tokens("http://loinc.org|8867-4", "code"), [loinc])
    assert token_matches(parse_tokens("http://loinc.org|", "code"), [loinc])
    assert not token_matches(parse_tokens("|8867-4", "code"), [loinc])
    assert token_matches(parse_tokens("9279-1,8867-4", "code"), [loinc])
    with pytest.raises(SearchError):
        parse_tokens("a,,b", "code")


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ([("date", "2026-02-30")], "date"),
        ([("date", "yesterday")], "date"),
        ([("_count", "0")], "_count"),
        ([("_count", "501")], "_count"),
        ([("_offset", "-1")], "_offset"),
        ([("patient", "Practitioner/3")], "patient"),
        ([("subject", "Patient/3")], "subject"),
    ],
)
def test_unusable_parameters_are_named(query: list[tuple[str, str]], param: str) -> None:
    with pytest.raises(SearchError) as refused:
        parse_search("Condition", [("patient", "1"), *query], UTC, in_compartment=True)
    assert refused.value.param == param
